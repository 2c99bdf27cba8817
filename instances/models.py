"""Operand instances: the custom resources (a MemcachedCluster, or another API an installed
CSV owns) the platform applied for a tenant, and what it read back about them."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant
from clusters.models import Cluster, TimelineEvent
from core.i18n import shown
from core.job_marks import JobMarks
from provisioning.models import Installation


class OperandInstance(JobMarks):
    """One custom resource the platform applied for a tenant, e.g. a MemcachedCluster.

    `pending → creating → running`, `degraded`, `failed`, `deleting → deleted` (DESIGN.md).
    `spec` is what we apply; phase, replicas, pods and services are what the last sync
    read from the cluster, so pages never call the cluster. External access (可集群外访问)
    is a Service we add in front of the mcrouter pods; its address is `access_address`.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CREATING = "creating", _("Creating")
        RUNNING = "running", _("Running")
        DEGRADED = "degraded", _("Degraded")
        FAILED = "failed", _("Failed")
        DELETING = "deleting", _("Deleting")
        DELETED = "deleted", _("Deleted")

    class Access(models.TextChoices):
        NONE = "none", _("Only inside the cluster")
        EXPOSING = "exposing", _("Opening external access")
        EXPOSED = "exposed", _("Reachable from outside the cluster")
        REMOVING = "removing", _("Removing external access")
        FAILED = "failed", _("External access failed")

    class Origin(models.TextChoices):
        OPERATOR = "operator", _("Operator page")
        CATALOG = "catalog", _("Service catalog")
        API = "api", _("API")

    UNFINISHED = (Status.PENDING, Status.CREATING, Status.DELETING)
    LIVE_EXCLUDED = (Status.DELETED,)

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="operand_instances")
    installation = models.ForeignKey(
        Installation, on_delete=models.PROTECT, related_name="instances"
    )
    # Copied from the installation: the uniqueness below is per cluster and namespace.
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="instances")
    namespace = models.CharField(_("namespace"), max_length=63)
    api_group = models.CharField(max_length=253)
    api_version = models.CharField(max_length=63)
    kind = models.CharField(_("kind"), max_length=63)
    name = models.CharField(_("name"), max_length=63)
    spec = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    request_key = models.CharField(max_length=100, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.OPERATOR)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.TextField(blank=True)
    # Our sentences among the English fields (failure_reason, verify_message,
    # verify_distribution_message) kept untranslated too (core.i18n.stored): pages show
    # them in the reader's language (`display_*`), the API keeps the English as well.
    failure_reason_text = models.JSONField(default=dict, blank=True)
    # As the cluster reports it.
    phase = models.CharField(_("phase"), max_length=32, blank=True)
    status_message = models.TextField(blank=True)
    ready_replicas = models.PositiveIntegerField(null=True, blank=True)
    desired_replicas = models.PositiveIntegerField(null=True, blank=True)
    pods = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True)
    # The router Service's spec.clusterIP:port: where a worker inside the cluster network
    # connects (the DNS name `router_address` resolves only inside the cluster).
    router_ip_address = models.CharField(max_length=300, blank=True)
    # A StatefulSet rollout that cannot go on by itself: a Pending pod of the old revision
    # (the controller waits for it forever); {} when none. See memcached.stuck_rollout.
    stuck_rollout = models.JSONField(default=dict, blank=True)
    # False while the platform waits for the cluster to settle (polled often).
    settled = models.BooleanField(default=False)
    synced_at = models.DateTimeField(null=True, blank=True)
    # When the apply job was last enqueued: a pending instance waiting for its operator has
    # none; one whose message was lost is enqueued again by the sync (like installs).
    enqueued_at = models.DateTimeField(null=True, blank=True)

    # 可集群外访问
    expose_requested = models.BooleanField(_("external access"), default=False)
    access_state = models.CharField(max_length=10, choices=Access.choices, default=Access.NONE)
    access_type = models.CharField(max_length=12, blank=True)  # NodePort | LoadBalancer
    access_service = models.CharField(max_length=63, blank=True)
    access_host = models.CharField(max_length=253, blank=True)
    access_address = models.CharField(_("service exit"), max_length=300, blank=True)
    # The route rule (应用路由) the buyer chose: which exit (none: the cluster's default),
    # which port on it (none: the cluster picks) and which Service it forwards to ("": the
    # mcrouter Service).
    route_exit = models.ForeignKey(
        "clusters.ClusterExit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routed_instances",
    )
    route_port = models.PositiveIntegerField(null=True, blank=True)
    route_target = models.CharField(max_length=63, blank=True)
    access_error = models.TextField(blank=True)
    access_error_text = models.JSONField(default=dict, blank=True)  # core.i18n.stored

    # 验证访问: the last verification by the worker.
    verify_running = models.BooleanField(default=False)
    verify_ok = models.BooleanField(null=True, blank=True)
    verify_message = models.TextField(blank=True)
    verify_address = models.CharField(max_length=300, blank=True)
    verify_ms = models.FloatField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # Which address the worker used: override | external | cluster-ip | dns.
    verify_source = models.CharField(max_length=12, blank=True)
    # The key read straight from each memcached pod: [{pod, address, holds, error}], where
    # `holds` is True, False or None (unreachable); `all` (replset) or `one` (sharded) must.
    verify_pods = models.JSONField(default=list, blank=True)
    verify_expectation = models.CharField(max_length=4, blank=True)
    verify_distribution_ok = models.BooleanField(null=True, blank=True)
    verify_distribution_message = models.TextField(blank=True)
    verify_message_text = models.JSONField(default=dict, blank=True)
    verify_distribution_message_text = models.JSONField(default=dict, blank=True)
    # Monitoring: the last stats poll, good or bad.
    stats_error = models.TextField(blank=True)
    stats_error_text = models.JSONField(default=dict, blank=True)  # core.i18n.stored
    stats_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    running_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("operand instance")
        verbose_name_plural = _("operand instances")
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace", "kind", "name"],
                condition=~Q(status="deleted"),
                name="operandinstance_one_live_per_name",
            ),
            models.UniqueConstraint(
                fields=["tenant", "request_key"],
                condition=~Q(request_key=""),
                name="operandinstance_unique_request_key",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending",
                        "creating",
                        "running",
                        "degraded",
                        "failed",
                        "deleting",
                        "deleted",
                    ]
                ),
                name="operandinstance_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["cluster", "status", "settled"])]

    def __str__(self):
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def display_failure_reason(self) -> str:
        return shown(self.failure_reason, self.failure_reason_text)

    @property
    def display_stats_error(self) -> str:
        return shown(self.stats_error, self.stats_error_text)

    @property
    def display_access_error(self) -> str:
        return shown(self.access_error, self.access_error_text)

    @property
    def display_verify_message(self) -> str:
        return shown(self.verify_message, self.verify_message_text)

    @property
    def display_verify_distribution_message(self) -> str:
        return shown(self.verify_distribution_message, self.verify_distribution_message_text)

    @property
    def display_verify_pods(self) -> list[dict[str, Any]]:
        """The pods of the last verification, each one's error in the active language."""
        return [
            {**row, "error_display": shown(row.get("error") or "", row.get("error_text"))}
            for row in self.verify_pods or []
        ]

    @property
    def api_version_full(self):
        return f"{self.api_group}/{self.api_version}" if self.api_group else self.api_version

    @property
    def is_memcached(self):
        return self.kind == "MemcachedCluster"

    @property
    def is_unfinished(self):
        return self.status in self.UNFINISHED or not self.settled or self.verify_running

    @property
    def setup(self):
        return (self.spec or {}).get("setup", "")

    @property
    def memcached_version(self):
        return (self.spec or {}).get("version", "")

    @property
    def replicas(self):
        return (self.spec or {}).get("replicas")

    @property
    def router_address(self):
        """In-cluster address of the mcrouter Service (what applications connect to)."""
        return f"{self.name}-mcrouter-service.{self.namespace}.svc:11211"


class InstanceEvent(TimelineEvent):
    OWNER_FIELD = "instance"

    instance = models.ForeignKey(OperandInstance, on_delete=models.CASCADE, related_name="events")

    class Meta(TimelineEvent.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "cluster_uid"],
                condition=~Q(cluster_uid=""),
                name="instanceevent_unique_cluster_event",
            )
        ]


class InstanceMetric(models.Model):
    """One `stats` reading of a memcached endpoint (counters are cumulative since start)."""

    instance = models.ForeignKey(OperandInstance, on_delete=models.CASCADE, related_name="metrics")
    time = models.DateTimeField()
    hits = models.BigIntegerField(default=0)
    misses = models.BigIntegerField(default=0)
    items = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    limit_maxbytes = models.BigIntegerField(default=0)
    curr_connections = models.IntegerField(default=0)
    evictions = models.BigIntegerField(default=0)
    uptime = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["time", "id"]
        indexes = [models.Index(fields=["instance", "time"]), models.Index(fields=["time"])]

    def __str__(self):
        return f"{self.instance_id} @ {self.time:%Y-%m-%d %H:%M}"

    @property
    def hit_ratio(self):
        """Hits over all lookups since the server started; None before the first lookup."""
        lookups = self.hits + self.misses
        return round(self.hits / lookups, 4) if lookups else None


class InstanceLog(models.Model):
    """The last log tail the worker fetched for one pod (日志); the page never calls the cluster."""

    instance = models.ForeignKey(OperandInstance, on_delete=models.CASCADE, related_name="logs")
    pod = models.CharField(max_length=253)
    container = models.CharField(max_length=63, blank=True)
    tail_lines = models.PositiveIntegerField(default=100)
    text = models.TextField(blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField()
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "pod", "container"], name="instancelog_one_per_container"
            )
        ]

    def __str__(self):
        return f"{self.pod}/{self.container}"

    @property
    def is_fetching(self):
        return self.fetched_at is None or self.fetched_at < self.requested_at


class InstanceSync(models.Model):
    """The lease of one cluster's instance sync: one run at a time across every worker
    replica (a row, not a cache key: a local cache is one process's own)."""

    cluster = models.OneToOneField(
        Cluster, on_delete=models.CASCADE, primary_key=True, related_name="instance_sync"
    )
    # A worker runs it until then (a killed worker's lease lapses).
    running_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"instance sync of cluster {self.cluster_id}"

"""Operators installed for buyers (one OLM Subscription each) and what happened to them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Project, Tenant
from assets.models import Asset, AssetVersion
from clusters.models import Cluster


class Installation(models.Model):
    """One operator installed into a project's namespace on a cluster.

    `pending → subscribing → requires_approval → installing → installed`, or `failed`
    (with the cluster's reason), `uninstalling → uninstalled` (DESIGN.md). What was
    chosen at purchase (catalog, package, channel) is kept here as a snapshot, so a
    later change of the asset never changes what runs.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUBSCRIBING = "subscribing", _("Subscribing")
        REQUIRES_APPROVAL = "requires_approval", _("Requires approval")
        INSTALLING = "installing", _("Installing")
        INSTALLED = "installed", _("Installed")
        FAILED = "failed", _("Failed")
        UNINSTALLING = "uninstalling", _("Uninstalling")
        UNINSTALLED = "uninstalled", _("Uninstalled")

    class Approval(models.TextChoices):
        AUTOMATIC = "Automatic", _("Automatic")
        MANUAL = "Manual", _("Manual")

    class Step(models.TextChoices):
        NAMESPACE = "namespace", _("Namespace")
        OPERATOR_GROUP = "operatorgroup", _("OperatorGroup")
        SUBSCRIPTION = "subscription", _("Subscription")
        INSTALL_PLAN = "installplan", _("InstallPlan")
        CSV = "csv", _("ClusterServiceVersion")
        DONE = "done", _("Done")

    UNFINISHED = (
        Status.PENDING,
        Status.SUBSCRIBING,
        Status.REQUIRES_APPROVAL,
        Status.INSTALLING,
        Status.UNINSTALLING,
    )

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="installations")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="installations")
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="installations")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="installations")
    version = models.ForeignKey(
        AssetVersion, on_delete=models.PROTECT, related_name="installations"
    )
    order_code = models.CharField(_("order"), max_length=40, blank=True, db_index=True)
    request_key = models.CharField(max_length=100, blank=True)
    namespace = models.CharField(_("namespace"), max_length=63)
    package = models.CharField(_("package"), max_length=253)
    channel = models.CharField(_("channel"), max_length=100)
    approval = models.CharField(
        _("update approval"), max_length=10, choices=Approval.choices, default=Approval.AUTOMATIC
    )
    catalog_source = models.CharField(max_length=253)
    catalog_namespace = models.CharField(max_length=63)
    starting_csv = models.CharField(max_length=253, blank=True)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    step = models.CharField(max_length=16, choices=Step.choices, default=Step.NAMESPACE)
    operator_group = models.CharField(max_length=253, blank=True)
    # When we last applied the Subscription: OLM conditions older than this are stale.
    subscribed_at = models.DateTimeField(null=True, blank=True)
    installed_csv = models.CharField(_("installed CSV"), max_length=253, blank=True)
    current_csv = models.CharField(_("current CSV"), max_length=253, blank=True)
    installed_version = models.CharField(_("installed version"), max_length=64, blank=True)
    # An InstallPlan waiting for 批准升级, and the CSVs it would install.
    pending_install_plan = models.CharField(max_length=253, blank=True)
    pending_csvs = models.JSONField(default=list, blank=True)
    # From the installed CSV, for the 详情 tab: displayName, description, provider, version,
    # owned APIs (so the page never calls the cluster).
    csv_info = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Long-pending installations are looked at less often (see tasks.sync_installations).
    next_sync_at = models.DateTimeField(null=True, blank=True)
    quiet_syncs = models.PositiveIntegerField(default=0)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    installed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("installation")
        verbose_name_plural = _("installations")
        constraints = [
            # OLM allows one Subscription per package in a namespace.
            models.UniqueConstraint(
                fields=["cluster", "namespace", "package"],
                condition=~Q(status="uninstalled"),
                name="installation_one_live_per_package_namespace",
            ),
            models.UniqueConstraint(
                fields=["tenant", "request_key"],
                condition=~Q(request_key=""),
                name="installation_unique_request_key",
            ),
            models.CheckConstraint(
                condition=Q(approval__in=["Automatic", "Manual"]),
                name="installation_approval_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_sync_at"])]

    def __str__(self):
        return f"{self.package} in {self.namespace}"

    @property
    def subscription_name(self):
        return self.package

    @property
    def is_unfinished(self):
        return self.status in self.UNFINISHED

    @property
    def needs_approval(self):
        return bool(self.pending_install_plan)


class EventSource(models.TextChoices):
    PLATFORM = "platform", _("Platform")
    CLUSTER = "cluster", _("Cluster")


class TimelineEvent(models.Model):
    """What installations and instances both record: our own steps and the cluster's
    Events, shown newest first."""

    source = models.CharField(
        max_length=10, choices=EventSource.choices, default=EventSource.PLATFORM
    )
    type = models.CharField(max_length=10, default="Normal")  # Normal | Warning
    reason = models.CharField(max_length=100)
    message = models.TextField(blank=True)
    involved_object = models.CharField(max_length=300, blank=True)
    # A cluster Event's uid, so re-reading events never duplicates them.
    cluster_uid = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["-occurred_at", "-id"]

    def __str__(self):
        return f"{self.reason}: {self.message[:60]}"


class InstallationEvent(TimelineEvent):
    Source = EventSource

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="events")

    class Meta(TimelineEvent.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "cluster_uid"],
                condition=~Q(cluster_uid=""),
                name="installationevent_unique_cluster_event",
            )
        ]


# --- Operand instances (MemcachedCluster and the other APIs an installed CSV owns) ---------


class OperandInstance(models.Model):
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
    # As the cluster reports it.
    phase = models.CharField(_("phase"), max_length=32, blank=True)
    status_message = models.TextField(blank=True)
    ready_replicas = models.PositiveIntegerField(null=True, blank=True)
    desired_replicas = models.PositiveIntegerField(null=True, blank=True)
    pods = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True)
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
    access_error = models.TextField(blank=True)

    # 验证访问: the last verification by the worker.
    verify_running = models.BooleanField(default=False)
    verify_ok = models.BooleanField(null=True, blank=True)
    verify_message = models.TextField(blank=True)
    verify_address = models.CharField(max_length=300, blank=True)
    verify_ms = models.FloatField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # Monitoring: the last stats poll, good or bad.
    stats_error = models.TextField(blank=True)
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
    def api_version_full(self):
        return f"{self.api_group}/{self.api_version}" if self.api_group else self.api_version

    @property
    def is_memcached(self):
        return self.kind == "MemcachedCluster"

    @property
    def is_live(self):
        return self.status != self.Status.DELETED

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

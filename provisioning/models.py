"""Operators installed for buyers (one OLM Subscription each) and what happened to them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Project, Tenant
from assets.models import Asset, AssetVersion
from clusters.models import Cluster, EventSource, TimelineEvent
from core.i18n import shown, shown_all
from core.job_marks import JobMarks


class Installation(JobMarks):
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
        UPGRADING = "upgrading", _("Upgrading")
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
        Status.UPGRADING,
        Status.UNINSTALLING,
    )
    # The operator runs and serves its APIs (during an upgrade the previous CSV still does).
    SERVING = (Status.INSTALLED, Status.UPGRADING)

    class Scope(models.TextChoices):
        # Into the project's own namespace, watching it (OwnNamespace / SingleNamespace).
        PROJECT = "project", _("Project")
        # Once per cluster by a platform admin, into the global operators namespace,
        # watching every namespace (operators that support only AllNamespaces).
        CLUSTER = "cluster", _("Cluster-wide")

    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.PROJECT)
    # A cluster-wide installation belongs to the platform: no tenant, no project.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="installations", null=True, blank=True
    )
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="installations", null=True, blank=True
    )
    # A project's use of a cluster-wide operator: no OLM objects of its own, its state is
    # the cluster-wide installation's, its operands live in the project's namespace.
    provided_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        related_name="project_uses",
        null=True,
        blank=True,
        verbose_name=_("provided by"),
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="installations")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="installations")
    version = models.ForeignKey(
        AssetVersion, on_delete=models.PROTECT, related_name="installations"
    )
    # The paid order that asked for it (none when installed from 已购资产).
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="installations",
        verbose_name=_("order"),
    )
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
    # What the cluster says that is worth knowing but stops nothing (deprecations, an
    # unhealthy catalog elsewhere in scope, a namespace-wide manual approval).
    notes = models.JSONField(default=list, blank=True)
    # `failure_reason` and `notes` are English (the worker's language, and the API's); our
    # sentences among them are kept untranslated here too (core.i18n.stored), so a page
    # shows them in the reader's language: `display_failure_reason`, `display_notes`.
    failure_reason_text = models.JSONField(default=dict, blank=True)
    notes_text = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)

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
            # A paid order installs once, however often its job runs.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(order__isnull=False),
                name="installation_one_per_order",
            ),
            models.CheckConstraint(
                condition=Q(approval__in=["Automatic", "Manual"]),
                name="installation_approval_valid",
            ),
            models.CheckConstraint(
                condition=Q(scope="cluster", tenant__isnull=True, project__isnull=True)
                | Q(scope="project", tenant__isnull=False, project__isnull=False),
                name="installation_owner_matches_scope",
            ),
        ]
        indexes = [models.Index(fields=["cluster", "status"])]

    def __str__(self):
        return f"{self.package} in {self.namespace}"

    @property
    def display_failure_reason(self) -> str:
        """The failure reason in the active language (the cluster's own words as it wrote
        them)."""
        return shown(self.failure_reason, self.failure_reason_text)

    @property
    def display_notes(self) -> list[str]:
        return shown_all(self.notes, self.notes_text)

    @property
    def subscription_name(self):
        return self.package

    @property
    def is_cluster_wide(self) -> bool:
        return self.scope == self.Scope.CLUSTER

    @property
    def is_provided(self) -> bool:
        """A project's use of a cluster-wide operator (nothing of its own in OLM)."""
        return self.provided_by_id is not None

    @property
    def is_unfinished(self):
        return self.status in self.UNFINISHED

    @property
    def is_serving(self) -> bool:
        return self.status in self.SERVING

    @property
    def needs_approval(self):
        return bool(self.pending_install_plan)


class ClusterSync(models.Model):
    """The installation sync of one cluster: at most one queued and one running at a time
    (so triggers from a burst of installs collapse into one), and looked at less often
    while nothing there changes."""

    cluster = models.OneToOneField(
        Cluster, on_delete=models.CASCADE, primary_key=True, related_name="installation_sync"
    )
    # A sync job is in the queue (sent at); cleared when a worker starts it.
    queued_at = models.DateTimeField(null=True, blank=True)
    # A worker runs it until then (a lease: a killed worker's lapses).
    running_until = models.DateTimeField(null=True, blank=True)
    quiet_ticks = models.PositiveIntegerField(default=0)
    # Beat's next look (None: every interval).
    next_tick_at = models.DateTimeField(null=True, blank=True)
    # When a tick last read every installation's Events (others read only the busy ones').
    events_swept_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"sync of cluster {self.cluster_id}"


class InstallationEvent(TimelineEvent):
    OWNER_FIELD = "installation"

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


class OrderInstallRefusal(models.Model):
    """A paid order whose operator could not be installed where the buyer asked (say, it
    already runs in that namespace). The order stays paid and the buyer installs elsewhere
    from 已购资产; the reason is shown on the order, and the reconciler stops retrying."""

    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, related_name="install_refusal"
    )
    code = models.CharField(max_length=40)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("order not installed")
        verbose_name_plural = _("orders not installed")

    def __str__(self):
        return f"{self.order_id}: {self.reason[:60]}"

"""Kubernetes clusters the platform deploys to, and the OLM catalogs served on them."""

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Project, Tenant, rfc1123_label_validator
from core.fields import EncryptedJSONField
from core.i18n import render


class Cluster(models.Model):
    """A registered Kubernetes API (集群). Credentials are encrypted at rest."""

    class AuthMethod(models.TextChoices):
        KUBECONFIG = "kubeconfig", _("kubeconfig")
        TOKEN = "token", _("Bearer token")

    class ConnectionState(models.TextChoices):
        UNKNOWN = "unknown", _("Not tested")
        TESTING = "testing", _("Testing…")
        CONNECTED = "connected", _("Connected")
        FAILED = "failed", _("Failed")

    class ExternalAccess(models.TextChoices):
        NODE_PORT = "NodePort", _("NodePort")
        LOAD_BALANCER = "LoadBalancer", _("LoadBalancer")

    name = models.CharField(_("name"), max_length=100, unique=True)
    api_url = models.URLField(_("API server URL"), max_length=300)
    auth_method = models.CharField(_("credentials"), max_length=12, choices=AuthMethod.choices)
    # {"token": ..., "ca_data": ..., "client_cert_data": ..., "client_key_data": ...,
    #  "kubeconfig": ...}; never rendered anywhere.
    credentials = EncryptedJSONField(_("credentials (encrypted)"))
    skip_tls_verify = models.BooleanField(
        _("skip TLS verification"),
        default=False,
        help_text=_("Insecure: the server's certificate is not checked."),
    )
    is_default = models.BooleanField(_("default cluster"), default=False)
    is_sandbox = models.BooleanField(
        _("simulated (sandbox)"),
        default=False,
        help_text=_(
            "A simulated cluster for development and demos: its memcached pods are real processes on the machine that runs the platform, other pods only report a status."
        ),
    )
    catalog_namespace = models.CharField(
        _("global catalog namespace"),
        max_length=63,
        default="olm",
        validators=[rfc1123_label_validator],
        help_text=_("Where the platform deploys CatalogSources (OLM's global namespace)."),
    )
    global_operators_namespace = models.CharField(
        _("global operators namespace"),
        max_length=63,
        default="operators",
        validators=[rfc1123_label_validator],
        help_text=_(
            "Where operators that watch all namespaces are installed, once per cluster "
            "(upstream OLM: operators; OpenShift: openshift-operators)."
        ),
    )
    external_access = models.CharField(
        _("external access"),
        max_length=12,
        choices=ExternalAccess.choices,
        default=ExternalAccess.NODE_PORT,
        help_text=_("How services are exposed outside the cluster."),
    )
    external_host = models.CharField(
        _("external host"),
        max_length=253,
        blank=True,
        help_text=_("Host name or IP users reach NodePorts on (e.g. the router node)."),
    )
    projects = models.ManyToManyField(
        Project,
        blank=True,
        related_name="clusters",
        verbose_name=_("projects"),
        help_text=_("Projects that may deploy to this cluster."),
    )
    connection_state = models.CharField(
        max_length=12, choices=ConnectionState.choices, default=ConnectionState.UNKNOWN
    )
    server_version = models.CharField(max_length=64, blank=True)
    olm_available = models.BooleanField(null=True)
    last_error = models.TextField(blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="cluster_single_default",
            ),
        ]

    def __str__(self):
        return self.name


NODE_PORT_RANGE = (30000, 32767)  # kube-apiserver's default --service-node-port-range


class ClusterExit(models.Model):
    """A named service exit (网络出口) of a cluster besides its default one (the cluster's own
    external_access / external_host): where buyers' route rules open a port, e.g. a NodePort
    exit on the public router node, or a LoadBalancer."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="exits")
    name = models.CharField(_("name"), max_length=63)
    kind = models.CharField(_("type"), max_length=12, choices=Cluster.ExternalAccess.choices)
    address = models.CharField(
        _("public address"),
        max_length=253,
        blank=True,
        help_text=_(
            "Host name or IP users reach the exit on (NodePort: the router node; "
            "LoadBalancer: leave empty to use the address the cluster assigns)."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("service exit")
        verbose_name_plural = _("service exits")
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="cluster_exit_unique_name")
        ]

    def __str__(self):
        return f"{self.name} ({self.kind})"

    @property
    def port_range(self) -> tuple[int, int]:
        """The ports a route rule may choose on this exit."""
        return NODE_PORT_RANGE if self.kind == Cluster.ExternalAccess.NODE_PORT else (1, 65535)


class CatalogSource(models.Model):
    """An OLM CatalogSource a provider submitted and the platform deploys on a cluster."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DEPLOYING = "deploying", _("Deploying")
        CONNECTING = "connecting", _("Connecting")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        DELETING = "deleting", _("Deleting")

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="catalog_sources")
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.PROTECT,
        related_name="catalog_sources",
        help_text=_("The provider tenant that submitted it and may use it."),
    )
    name = models.CharField(_("name"), max_length=63, validators=[rfc1123_label_validator])
    namespace = models.CharField(_("namespace"), max_length=63)
    display_name = models.CharField(_("display name"), max_length=100)
    image = models.CharField(_("registry image"), max_length=300)
    publisher = models.CharField(_("publisher"), max_length=100, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    last_observed_state = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    packages_synced_at = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster__name", "name"]
        verbose_name = _("CatalogSource")
        verbose_name_plural = _("CatalogSources")
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace", "name"], name="catalogsource_unique_per_cluster"
            ),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.name})"


class FoundCatalogSource(models.Model):
    """A CatalogSource someone applied to a provider's project namespace (`kubectl apply`, as
    the seed's step does), seen by the catalog sync. The platform never writes or deletes
    it; a provider picks it to submit the same image as a platform CatalogSource, which goes
    to the global catalog namespace because OLM resolves a Subscription only against
    catalogs in its own namespace and the global one."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="found_catalogs")
    namespace = models.CharField(_("namespace"), max_length=63)
    name = models.CharField(_("name"), max_length=253)
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    image = models.CharField(_("registry image"), max_length=300, blank=True)
    publisher = models.CharField(_("publisher"), max_length=200, blank=True)
    source_type = models.CharField(max_length=32, blank=True)
    last_observed_state = models.CharField(max_length=32, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["cluster__name", "namespace", "name"]
        verbose_name = _("CatalogSource found on a cluster")
        verbose_name_plural = _("CatalogSources found on clusters")
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace", "name"], name="foundcatalog_unique_per_cluster"
            ),
        ]

    def __str__(self):
        return f"{self.namespace}/{self.name}"


class CatalogPackage(models.Model):
    """A package a READY catalog serves, cached from its PackageManifest.

    The provider portal offers these without a live call to the cluster.
    `channels` is `[{"name", "current_csv", "version", "provided_apis": [{group, version,
    kind, name, display_name, description}]}]`.
    """

    catalog_source = models.ForeignKey(
        CatalogSource, on_delete=models.CASCADE, related_name="packages"
    )
    name = models.CharField(_("package"), max_length=253)
    display_name = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=200, blank=True)
    default_channel = models.CharField(_("default channel"), max_length=100)
    channels = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["catalog_source", "name"], name="catalogpackage_unique_per_catalog"
            )
        ]

    def __str__(self):
        return self.name

    def channel(self, name):
        return next((c for c in self.channels if c["name"] == name), None)


class EventSource(models.TextChoices):
    PLATFORM = "platform", _("Platform")
    CLUSTER = "cluster", _("Cluster")


class TimelineEvent(models.Model):
    """A timeline of something the platform runs on a cluster (an installation, an
    instance): our own steps and the cluster's Events about it, newest first."""

    source = models.CharField(
        max_length=10, choices=EventSource.choices, default=EventSource.PLATFORM
    )
    type = models.CharField(max_length=10, default="Normal")  # Normal | Warning
    reason = models.CharField(max_length=100)
    # Our own steps: `message` is the English sentence (what the API shows); `message_id`
    # and `message_args` keep it untranslated, so each reader gets it in their language
    # (`display_message`). A cluster's Events keep only `message`, as the cluster wrote it.
    message = models.TextField(blank=True)
    message_id = models.TextField(blank=True, default="")
    message_args = models.JSONField(blank=True, default=dict)
    involved_object = models.CharField(max_length=300, blank=True)
    # A cluster Event's uid, so re-reading events never duplicates them.
    cluster_uid = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()

    # The foreign key to what the timeline is about (set by each concrete model).
    OWNER_FIELD: ClassVar[str]

    class Meta:
        abstract = True
        ordering = ["-occurred_at", "-id"]

    def __str__(self):
        return f"{self.reason}: {self.message[:60]}"

    @property
    def display_message(self) -> str:
        """The message in the active language (ours), or as the cluster wrote it."""
        if not self.message_id:
            return self.message
        return render(self.message_id, self.message_args)

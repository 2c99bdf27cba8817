"""People, the tenants they act for, and the projects (namespaces) tenants own."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

# A Kubernetes namespace name is an RFC 1123 label.
RFC1123_LABEL_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
rfc1123_label_validator = RegexValidator(
    RFC1123_LABEL_RE,
    _(
        "Use lowercase letters, digits and '-', starting and ending with a letter or digit "
        "(an RFC 1123 label, as Kubernetes requires)."
    ),
    code="invalid_namespace",
)

# Namespaces Kubernetes or the platform keep for themselves.
RESERVED_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease", "olm"}


class User(AbstractUser):
    """Our own user model from the first migration, so it can grow without pain."""

    display_name = models.CharField(_("display name"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [("platform_admin", _("Can act as a platform administrator"))]

    def __str__(self):
        return self.display_name or self.username


class Tenant(models.Model):
    """An organisation (租户): it buys, and when it is a provider, it sells."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=63, unique=True)
    is_provider = models.BooleanField(
        _("is a provider"), default=False, help_text=_("Providers may register and sell assets.")
    )
    is_certified = models.BooleanField(
        _("certified provider"),
        default=False,
        help_text=_("Certified by the platform admins (shown as 已认证 on the storefront)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MEMBER = "member", _("Member")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__name"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tenant"], name="membership_unique_user_tenant"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "member"]), name="membership_role_valid"
            ),
        ]

    def __str__(self):
        return f"{self.user} @ {self.tenant} ({self.role})"


class Project(models.Model):
    """A tenant's project (项目); it deploys into one Kubernetes namespace.

    The namespace is unique platform-wide: two tenants sharing a namespace on a
    cluster would see each other's workloads.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(_("name"), max_length=100)
    namespace = models.CharField(
        _("namespace"),
        max_length=63,
        validators=[rfc1123_label_validator],
        help_text=_("The Kubernetes namespace this project deploys into."),
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["tenant__name", "name"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [
            models.UniqueConstraint(fields=["namespace"], name="project_unique_namespace"),
            models.UniqueConstraint("tenant", Lower("name"), name="project_unique_name_per_tenant"),
            models.CheckConstraint(
                condition=models.Q(namespace__regex=RFC1123_LABEL_RE),
                name="project_namespace_rfc1123",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.namespace})"


class AuditEntry(models.Model):
    """One state change: who did what to which object, from what to what, and why.

    Services write it in the same transaction as the change itself.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    action = models.CharField(_("action"), max_length=64)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    from_state = models.CharField(max_length=40, blank=True)
    to_state = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-created_at"])]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self):
        return f"{self.action} {self.object_repr}"


class Notification(models.Model):
    """One in-app message for one person (the header's unread count); e-mail is sent too."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self):
        return self.title

    @property
    def is_read(self):
        return self.read_at is not None

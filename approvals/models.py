"""The listing / delisting / revision review queue (审批): one ApprovalRequest per ask,
decided once. A revision request reviews the held changes of a listed asset's public
page (`assets.AssetRevision`); it has no version.

    pending → approved | rejected | withdrawn

The version a request is about moves through `assets.lifecycle`; the request records
who asked, why, who decided and why. Requests are history: they outlive a deleted
(draft or delisted) version, so they keep the asset and the version number themselves.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant
from assets.models import Asset, AssetRevision, AssetVersion


class ApprovalRequest(models.Model):
    class Kind(models.TextChoices):
        LISTING = "listing", _("Listing")
        DELISTING = "delisting", _("Delisting")
        REVISION = "revision", _("Listing changes")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="approval_requests", verbose_name=_("asset")
    )
    version = models.ForeignKey(
        AssetVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="approval_requests",
        verbose_name=_("asset version"),
    )
    revision = models.ForeignKey(
        AssetRevision,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approval_requests",
        verbose_name=_("asset revision"),
    )
    # The version number when asked, still shown once a draft or delisted version is deleted.
    version_number = models.CharField(_("asset version"), max_length=64)
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.PROTECT,
        related_name="approval_requests",
        verbose_name=_("tenant"),
        help_text=_("The provider tenant that asked."),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("applicant"),
    )
    reason = models.TextField(_("reason for the request"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reviewer's reason"), blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        indexes = [models.Index(fields=["status", "-created_at"], name="approval_status_created")]
        constraints = [
            # Decided once, asked once: a version has at most one open request.
            models.UniqueConstraint(
                fields=["version"],
                condition=models.Q(status="pending"),
                name="approval_one_pending_per_version",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "rejected", "withdrawn"]),
                name="approval_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["listing", "delisting", "revision"]),
                name="approval_kind_valid",
            ),
            # A revision request is about a revision, and only it is.
            models.CheckConstraint(
                condition=models.Q(kind="revision", revision__isnull=False)
                | (~models.Q(kind="revision") & models.Q(revision__isnull=True)),
                name="approval_revision_iff_kind",
            ),
            models.UniqueConstraint(
                fields=["revision"],
                condition=models.Q(status="pending"),
                name="approval_one_pending_per_revision",
            ),
            # A decision has a time; a rejection also has the reason the provider reads.
            models.CheckConstraint(
                condition=~models.Q(status__in=["approved", "rejected"])
                | models.Q(decided_at__isnull=False),
                name="approval_decision_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="rejected") | ~models.Q(decision_reason=""),
                name="approval_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="withdrawn") | models.Q(withdrawn_at__isnull=False),
                name="approval_withdrawal_has_time",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.asset.name} {self.version_number}"

    @property
    def is_pending(self):
        return self.status == self.Status.PENDING

    @property
    def is_listing(self):
        return self.kind == self.Kind.LISTING

    @property
    def is_revision(self):
        return self.kind == self.Kind.REVISION

    @property
    def status_display(self):
        """状态 as the queue shows it: 上架待审核, 下架待审核, …"""
        labels = {
            (self.Kind.LISTING, self.Status.PENDING): _("Listing pending review"),
            (self.Kind.DELISTING, self.Status.PENDING): _("Delisting pending review"),
            (self.Kind.LISTING, self.Status.APPROVED): _("Listing approved"),
            (self.Kind.DELISTING, self.Status.APPROVED): _("Delisting approved"),
            (self.Kind.LISTING, self.Status.REJECTED): _("Listing rejected"),
            (self.Kind.DELISTING, self.Status.REJECTED): _("Delisting rejected"),
            (self.Kind.LISTING, self.Status.WITHDRAWN): _("Listing request withdrawn"),
            (self.Kind.DELISTING, self.Status.WITHDRAWN): _("Delisting request withdrawn"),
            (self.Kind.REVISION, self.Status.PENDING): _("Listing changes pending review"),
            (self.Kind.REVISION, self.Status.APPROVED): _("Listing changes approved"),
            (self.Kind.REVISION, self.Status.REJECTED): _("Listing changes rejected"),
            (self.Kind.REVISION, self.Status.WITHDRAWN): _("Listing changes withdrawn"),
        }
        return labels.get((self.kind, self.status), self.get_status_display())

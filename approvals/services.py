"""Every write of the approvals app: keyword-only, one transaction each, audited.

Providers submit and withdraw; platform admins approve or reject, once. The version
moves only through `assets.lifecycle.transition_version`. Rows are locked in one order
everywhere: approval requests (by id), then the asset, then its versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.guards import is_member, require_member, require_platform_admin
from accounts.models import User
from accounts.services import notify, record_audit
from assets import services as asset_services
from assets.lifecycle import WITHDRAW, transition_version
from assets.models import Asset, AssetRevision, AssetVersion
from assets.selectors import listing_blockers, listing_checklist, version_images
from core.errors import NotPermitted, invalid

from . import selectors
from .errors import ApprovalsErrorCode
from .models import ApprovalRequest

Kind = ApprovalRequest.Kind
Status = ApprovalRequest.Status
VersionStatus = AssetVersion.Status

# What each kind asks for: the version's status before, while in review, and after a decision.
FLOW: dict[str, dict[str, str]] = {
    Kind.LISTING: {
        "from": VersionStatus.DRAFT,
        "review": VersionStatus.LISTING_REVIEW,
        "approved": VersionStatus.ON_SALE,
        "rejected": VersionStatus.DRAFT,
    },
    Kind.DELISTING: {
        "from": VersionStatus.ON_SALE,
        "review": VersionStatus.DELISTING_REVIEW,
        "approved": VersionStatus.DELISTED,
        "rejected": VersionStatus.ON_SALE,
    },
}


def _when(moment: datetime | None) -> str:
    # TIME_ZONE, also when the API asked (it speaks UTC): a message reads the site's time.
    return timezone.localtime(moment, timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M:%S")


def _require_decider(*, user: User, approval: ApprovalRequest) -> None:
    """Only platform admins decide, and never for a tenant they belong to."""
    require_platform_admin(
        user=user, message=_("Only platform administrators may approve or reject requests.")
    )
    if is_member(user=user, tenant=approval.tenant_id):
        raise NotPermitted(
            _(
                "You are a member of %(tenant)s, which asked for this: another platform "
                "administrator must decide it."
            )
            % {"tenant": approval.tenant},
            code=ApprovalsErrorCode.SELF_APPROVAL,
        )


def _closed_error(approval: ApprovalRequest) -> ValidationError:
    """Why a request can no longer change: who decided it and when, in plain words."""
    if approval.status == Status.WITHDRAWN:
        message = _("This request was already withdrawn by the provider at %(time)s.") % {
            "time": _when(approval.withdrawn_at)
        }
        return invalid(message, code=ApprovalsErrorCode.ALREADY_WITHDRAWN)
    message = _("This request was already decided by %(admin)s at %(time)s (%(decision)s).") % {
        "admin": approval.decided_by or _("a former administrator"),
        "time": _when(approval.decided_at),
        "decision": approval.get_status_display().lower(),
    }
    return invalid(message, code=ApprovalsErrorCode.ALREADY_DECIDED)


def _in_review(approval: ApprovalRequest) -> AssetVersion:
    """A pending request's version: a version in review cannot be deleted, so it is there."""
    assert approval.version is not None, "a version in review is never deleted"
    return approval.version


def _lock_pending(*, approval: ApprovalRequest) -> tuple[ApprovalRequest, list[ApprovalRequest]]:
    """Lock the request, and every other pending request of its asset, in id order.

    Approving a listing may supersede the version on sale; a pending delisting request of
    that version is closed in the same transaction, so it is locked before the asset too.
    """
    locked = {
        r.pk: r
        for r in ApprovalRequest.objects.select_for_update()
        .filter(Q(pk=approval.pk) | Q(asset_id=approval.asset_id, status=Status.PENDING))
        .order_by("pk")
    }
    return locked.pop(approval.pk), list(locked.values())


# --- the provider's side ----------------------------------------------------------------------


def submit_request(
    *, actor: User, version: AssetVersion, kind: str, reason: str = ""
) -> ApprovalRequest:
    """申请上架 / 申请下架: open a pending request and move the version into review.

    Listing needs a ready asset (the portal's checklist); the admins are told at once.
    """
    if kind not in (Kind.LISTING, Kind.DELISTING):
        raise invalid(
            _("Ask for listing or for delisting."),
            code=ApprovalsErrorCode.UNKNOWN_KIND,
            field="kind",
        )
    kind = Kind(kind)
    flow = FLOW[kind]
    reason = (reason or "").strip()
    asset = version.asset
    require_member(
        user=actor,
        tenant=asset.tenant,
        message=_("Only members of %(tenant)s can do this for its assets.")
        % {"tenant": asset.tenant},
    )
    if kind == Kind.LISTING:
        missing = [
            str(item["label"]) for item in listing_checklist(asset=asset) if not item["done"]
        ]
        if missing:
            raise invalid(
                _("%(asset)s is not ready for listing yet: %(missing)s.")
                % {"asset": asset.name, "missing": "; ".join(missing)},
                code=ApprovalsErrorCode.NOT_READY,
            )
    with transaction.atomic():
        Asset.objects.select_for_update().filter(pk=asset.pk).first()
        locked = AssetVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status != flow["from"]:
            if kind == Kind.LISTING:
                message = _(
                    "Only a draft version can be submitted for listing; "
                    "version %(version)s is “%(status)s”."
                )
            else:
                message = _(
                    "Only a version on sale can be submitted for delisting; "
                    "version %(version)s is “%(status)s”."
                )
            raise invalid(
                message % {"version": locked.version, "status": locked.get_status_display()},
                code=ApprovalsErrorCode.INVALID_STATE,
            )
        transition_version(version=locked, to=flow["review"], actor=actor, reason=reason)
        try:
            with transaction.atomic():
                approval = ApprovalRequest.objects.create(
                    kind=kind,
                    asset=asset,
                    version=locked,
                    version_number=locked.version,
                    tenant=asset.tenant,
                    requested_by=actor,
                    reason=reason,
                )
        except IntegrityError:
            raise invalid(
                _("This version already has a pending request."),
                code=ApprovalsErrorCode.DUPLICATE,
            ) from None
        record_audit(
            actor=actor,
            action=f"approval.{kind}_requested",
            obj=approval,
            tenant=asset.tenant,
            to_state=Status.PENDING,
            reason=reason,
        )
        title = (
            _("%(tenant)s asks to list %(asset)s %(version)s")
            if kind == Kind.LISTING
            else _("%(tenant)s asks to delist %(asset)s %(version)s")
        ) % {"tenant": asset.tenant, "asset": asset.name, "version": locked.version}
        notify(
            users=selectors.deciders(tenant=asset.tenant),
            title=title,
            body=_("Reason: %(reason)s") % {"reason": reason} if reason else "",
            url=reverse("approvals:approval-detail", args=[approval.pk]),
        )
    return approval


def _mark_withdrawn(*, approval: ApprovalRequest, actor: User | None) -> None:
    """A pending request (locked by the caller) becomes withdrawn, audited: the one way,
    whether the provider withdrew it or undid every change it was about."""
    approval.status = Status.WITHDRAWN
    approval.withdrawn_at = timezone.now()
    approval.save(update_fields=["status", "withdrawn_at", "updated_at"])
    record_audit(
        actor=actor,
        action="approval.withdrawn",
        obj=approval,
        tenant=approval.tenant,
        from_state=Status.PENDING,
        to_state=Status.WITHDRAWN,
    )


def withdraw_request(*, actor: User, approval: ApprovalRequest) -> ApprovalRequest:
    """撤回: the provider takes a pending request back; the version returns where it was."""
    require_member(
        user=actor,
        tenant=approval.tenant,
        message=_("Only members of %(tenant)s can do this for its assets.")
        % {"tenant": approval.tenant},
    )
    with transaction.atomic():
        locked = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if not locked.is_pending:
            raise _closed_error(locked)
        if locked.is_revision:
            assert locked.revision is not None
            asset_services.close_revision(
                actor=actor, revision=locked.revision, status=AssetRevision.Status.WITHDRAWN
            )
        else:
            transition_version(
                version=_in_review(locked), to=FLOW[locked.kind]["from"], actor=actor, via=WITHDRAW
            )
        _mark_withdrawn(approval=locked, actor=actor)
    return locked


# --- the admins' side -------------------------------------------------------------------------


def _decide(
    *, actor: User, approval: ApprovalRequest, approve: bool, reason: str
) -> ApprovalRequest:
    """Both decisions: checked, locked, moved, audited and told to the provider, at once."""
    _require_decider(user=actor, approval=approval)
    with transaction.atomic():
        locked, others = _lock_pending(approval=approval)
        if not locked.is_pending:
            raise _closed_error(locked)
        now = timezone.now()
        version = None
        if locked.is_revision:
            _decide_revision(actor=actor, approval=locked, approve=approve, reason=reason)
        else:
            flow = FLOW[locked.kind]
            reviewed = _in_review(locked)
            if approve and locked.kind == Kind.LISTING:
                _require_scans_below_limit(reviewed)
            version = transition_version(
                version=reviewed,
                to=flow["approved" if approve else "rejected"],
                actor=actor,
                reason=reason,
            )
        locked.status = Status.APPROVED if approve else Status.REJECTED
        locked.decided_by, locked.decided_at, locked.decision_reason = actor, now, reason
        locked.save(
            update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"]
        )
        record_audit(
            actor=actor,
            action=f"approval.{locked.status}",
            obj=locked,
            tenant=locked.tenant,
            from_state=Status.PENDING,
            to_state=locked.status,
            reason=reason,
        )
        if approve and locked.kind == Kind.LISTING and version is not None:
            _close_superseded(actor=actor, others=others, listed=version, now=now)
        _tell_provider(approval=locked)
    return locked


def _decide_revision(*, actor: User, approval: ApprovalRequest, approve: bool, reason: str) -> None:
    """A revision request: approving writes the held changes to the live asset; rejecting
    leaves the live asset as it is."""
    assert approval.revision is not None, "a revision request always has its revision"
    if approve:
        asset_services.apply_revision(actor=actor, revision=approval.revision)
    else:
        asset_services.close_revision(
            actor=actor,
            revision=approval.revision,
            status=AssetRevision.Status.REJECTED,
            reason=reason,
        )


def _require_scans_below_limit(version: AssetVersion) -> None:
    """LISTING_MAX_SEVERITY: no listing while an image has a finding above it (the same
    reasons show on the request and on the provider's version card)."""
    blockers = listing_blockers(images=version_images(version=version))
    if blockers:
        raise invalid(
            _(
                "This version cannot be approved: %(reasons)s Reject it with the reason, or "
                "wait for the provider to upload a new scan."
            )
            % {"reasons": " ".join(blockers)},
            code=ApprovalsErrorCode.SCAN_ABOVE_MAX_SEVERITY,
        )


def _close_superseded(
    *, actor: User, others: Sequence[ApprovalRequest], listed: AssetVersion, now: datetime
) -> None:
    """A pending delisting of the version this listing superseded has happened: it is approved."""
    superseded = set(
        AssetVersion.objects.filter(
            pk__in=[r.version_id for r in others if r.kind == Kind.DELISTING],
            status=VersionStatus.DELISTED,
        ).values_list("pk", flat=True)
    )
    reason = _("Superseded when version %(version)s was listed.") % {"version": listed.version}
    for other in others:
        if other.version_id in superseded:
            other.status = Status.APPROVED
            other.decided_by, other.decided_at, other.decision_reason = actor, now, reason
            other.save(
                update_fields=[
                    "status",
                    "decided_by",
                    "decided_at",
                    "decision_reason",
                    "updated_at",
                ]
            )
            record_audit(
                actor=actor,
                action="approval.approved",
                obj=other,
                tenant=other.tenant,
                from_state=Status.PENDING,
                to_state=Status.APPROVED,
                reason=reason,
            )
            _tell_provider(approval=other)


def _tell_provider(*, approval: ApprovalRequest) -> None:
    """The applicant and the tenant's owners hear of a decision, with the admin's reason."""
    titles: dict[tuple[str, str], str] = {
        (Kind.LISTING, Status.APPROVED): _("%(asset)s %(version)s is approved and on sale"),
        (Kind.LISTING, Status.REJECTED): _("Listing of %(asset)s %(version)s was rejected"),
        (Kind.DELISTING, Status.APPROVED): _("%(asset)s %(version)s is delisted"),
        (Kind.DELISTING, Status.REJECTED): _(
            "Delisting of %(asset)s %(version)s was rejected: it stays on sale"
        ),
        (Kind.REVISION, Status.APPROVED): _(
            "Your changes to %(asset)s are approved and now on the storefront"
        ),
        (Kind.REVISION, Status.REJECTED): _(
            "Your changes to %(asset)s were rejected: the storefront keeps the current page"
        ),
    }
    title = titles[(approval.kind, approval.status)] % {
        "asset": approval.asset.name,
        "version": approval.version_number,
    }
    body = (
        _("Reason: %(reason)s") % {"reason": approval.decision_reason}
        if approval.decision_reason
        else ""
    )
    notify(
        users=selectors.tenant_contacts(tenant=approval.tenant, also=approval.requested_by),
        title=title,
        body=body,
        url=reverse("assets:asset-detail", args=[approval.asset.code])
        + (f"#version-{approval.version_id}" if approval.version_id else ""),
    )


# --- revisions of a listed asset (assets.AssetRevision), opened by the assets service -------


def lock_pending_requests(*, asset_id: int) -> None:
    """A held edit of the asset is about to lock it: its pending requests first, by id."""
    list(
        ApprovalRequest.objects.select_for_update()
        .filter(asset_id=asset_id, status=Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def open_revision_request(*, actor: User, revision: AssetRevision) -> ApprovalRequest:
    """The queue row of a pending revision: opened on its first save, kept while the
    provider edits it (the admins are told once). Runs in the assets service's transaction."""
    asset = revision.asset
    # Already locked (lock_pending_requests, before the asset); one pending request per
    # revision is a constraint.
    existing = ApprovalRequest.objects.filter(revision=revision, status=Status.PENDING).first()
    if existing is not None:
        return existing
    approval = ApprovalRequest.objects.create(
        kind=Kind.REVISION,
        asset=asset,
        revision=revision,
        version_number="",
        tenant=asset.tenant,
        requested_by=actor,
    )
    record_audit(
        actor=actor,
        action="approval.revision_requested",
        obj=approval,
        tenant=asset.tenant,
        to_state=Status.PENDING,
    )
    notify(
        users=selectors.deciders(tenant=asset.tenant),
        title=_("%(tenant)s asks to change the public page of %(asset)s")
        % {"tenant": asset.tenant, "asset": asset.name},
        body="",
        url=reverse("approvals:approval-detail", args=[approval.pk]),
    )
    return approval


def close_revision_request(*, actor: User, revision: AssetRevision) -> None:
    """The provider undid every held change: the open request is withdrawn with it."""
    for approval in ApprovalRequest.objects.select_for_update().filter(
        revision=revision, status=Status.PENDING
    ):
        _mark_withdrawn(approval=approval, actor=actor)


def approve_request(*, actor: User, approval: ApprovalRequest, reason: str = "") -> ApprovalRequest:
    """通过: listing puts the version on sale (superseding the one before); delisting delists it."""
    return _decide(actor=actor, approval=approval, approve=True, reason=(reason or "").strip())


def reject_request(
    *, actor: User, approval: ApprovalRequest, reason: str | None
) -> ApprovalRequest:
    """拒绝: the version goes back (draft / on sale); the reason is what the provider reads."""
    reason = (reason or "").strip()
    if not reason:
        raise invalid(
            _("Give a reason: the provider reads it to fix the version."),
            code=ApprovalsErrorCode.REASON_REQUIRED,
            field="reason",
        )
    return _decide(actor=actor, approval=approval, approve=False, reason=reason)

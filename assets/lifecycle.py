"""The AssetVersion lifecycle of DESIGN.md, in one place.

    draft → listing_review → on_sale → delisting_review → delisted
    listing_review → draft          (listing rejected; the reviewer's reason is kept)
    delisting_review → on_sale      (delisting rejected; the reason is kept)
    listing_review → draft, delisting_review → on_sale   via "withdraw": the provider took
                                    the request back (its own audit action, no reason kept)

The provider portal only creates, edits and deletes versions; the approvals issue
moves them with `transition_version`, which refuses every other move.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.services import record_audit
from core.errors import invalid

from .errors import AssetsErrorCode
from .models import Asset, AssetVersion
from .shelf import refresh_storefront_fields

Status = AssetVersion.Status


@dataclass(frozen=True)
class Transition:
    action: str  # the audit action
    stamp: str | None = None  # the timestamp field set on arrival
    clears: tuple[str, ...] = ()  # timestamps reset (a rejection undoes a step)
    keeps_reason: bool = False  # a rejection stores the reviewer's reason


# A move reached another way than the default one is keyed (from, to, via).
WITHDRAW = "withdraw"

ALLOWED: dict[tuple[str, ...], Transition] = {
    (Status.DRAFT, Status.LISTING_REVIEW): Transition("version.listing_requested", "submitted_at"),
    (Status.LISTING_REVIEW, Status.ON_SALE): Transition("version.listed", "listed_at"),
    (Status.LISTING_REVIEW, Status.DRAFT): Transition(
        "version.listing_rejected", clears=("submitted_at",), keeps_reason=True
    ),
    (Status.ON_SALE, Status.DELISTING_REVIEW): Transition(
        "version.delisting_requested", "delisting_requested_at"
    ),
    (Status.DELISTING_REVIEW, Status.DELISTED): Transition("version.delisted", "delisted_at"),
    (Status.DELISTING_REVIEW, Status.ON_SALE): Transition(
        "version.delisting_rejected", clears=("delisting_requested_at",), keeps_reason=True
    ),
    (Status.LISTING_REVIEW, Status.DRAFT, WITHDRAW): Transition(
        "version.listing_withdrawn", clears=("submitted_at",)
    ),
    (Status.DELISTING_REVIEW, Status.ON_SALE, WITHDRAW): Transition(
        "version.delisting_withdrawn", clears=("delisting_requested_at",)
    ),
}

# The five steps of the seed's lifecycle bar: (status reached, label, timestamp field, hint).
STEPS = [
    (Status.DRAFT, gettext_lazy("Create version"), "created_at", ""),
    (
        Status.LISTING_REVIEW,
        gettext_lazy("Listing review"),
        "submitted_at",
        gettext_lazy("(1–2 working days)"),
    ),
    (Status.ON_SALE, gettext_lazy("On sale"), "listed_at", ""),
    (
        Status.DELISTING_REVIEW,
        gettext_lazy("Delisting review"),
        "delisting_requested_at",
        gettext_lazy("(1–2 working days)"),
    ),
    (Status.DELISTED, gettext_lazy("Delisted"), "delisted_at", ""),
]
STEP_OF_STATUS: dict[str, int] = {
    status: index for index, (status, *_rest) in enumerate(STEPS, start=1)
}


def allowed_targets(status: str) -> list[str]:
    """Where a version in `status` may go next (by any way), in the table's order."""
    return list(dict.fromkeys(key[1] for key in ALLOWED if key[0] == status))


def lifecycle_steps(version: AssetVersion) -> list[dict[str, Any]]:
    """The bar: each step done, current or to do, with when it happened."""
    current = STEP_OF_STATUS[version.status]
    steps = []
    for number, (_status, label, stamp, hint) in enumerate(STEPS, start=1):
        state = "done" if number < current else "current" if number == current else "todo"
        at = getattr(version, stamp) if number <= current else None
        steps.append({"number": number, "label": label, "state": state, "at": at, "hint": hint})
    return steps


def transition_version(
    *, version: AssetVersion, to: str, actor: User | None, reason: str = "", via: str = ""
) -> AssetVersion:
    """Move a version one allowed step, stamp when, and write the audit row.

    Callers (the approvals issue) decide who may do it; this guards the order of steps.
    Listing a version supersedes the asset's version on sale, or in delisting review
    (it becomes delisted), so
    the database's one-on-sale-per-asset constraint always holds. Rows are locked
    asset first, then versions, the same order everywhere. `via` names another way to
    make the same move (WITHDRAW: the provider took the request back).
    """
    to = Status(to)
    with transaction.atomic():
        Asset.objects.select_for_update().filter(pk=version.asset_id).first()
        locked = AssetVersion.objects.select_for_update().select_related("asset").get(pk=version.pk)
        step = ALLOWED.get((locked.status, to, via) if via else (locked.status, to))
        if step is None:
            raise invalid(
                _("A version cannot go from “%(from)s” to “%(to)s”.")
                % {"from": Status(locked.status).label, "to": to.label},
                code=AssetsErrorCode.INVALID_TRANSITION,
                field="status",
            )
        now = timezone.now()
        if to == Status.ON_SALE and locked.status == Status.LISTING_REVIEW:
            for previous in AssetVersion.objects.select_for_update().filter(
                asset_id=locked.asset_id, status__in=[Status.ON_SALE, Status.DELISTING_REVIEW]
            ):
                superseded_from = previous.status
                previous.status = Status.DELISTED
                previous.delisted_at = now
                previous.save(update_fields=["status", "delisted_at", "updated_at"])
                record_audit(
                    actor=actor,
                    action="version.superseded",
                    obj=previous,
                    tenant=locked.asset.tenant,
                    from_state=superseded_from,
                    to_state=Status.DELISTED,
                    reason=_("Superseded by version %(version)s.") % {"version": locked.version},
                )
        from_state = locked.status
        locked.status = to
        fields = ["status", "updated_at"]
        if step.stamp:
            setattr(locked, step.stamp, now)
            fields.append(step.stamp)
        for stamp in step.clears:
            setattr(locked, stamp, None)
            fields.append(stamp)
        if step.keeps_reason:
            locked.review_reason = reason
            fields.append("review_reason")
        locked.save(update_fields=fields)
        refresh_storefront_fields(asset_id=locked.asset_id)
        record_audit(
            actor=actor,
            action=step.action,
            obj=locked,
            tenant=locked.asset.tenant,
            from_state=from_state,
            to_state=to,
            reason=reason,
        )
    return locked

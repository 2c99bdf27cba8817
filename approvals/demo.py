"""Demo data for `manage.py seed_demo`: mem1's draft version waits in the queue. Idempotent."""

from __future__ import annotations

from accounts.models import Membership, User
from assets.models import AssetVersion
from assets.selectors import listing_checklist

from .models import ApprovalRequest
from .services import submit_request

DEMO_REASON = "首次上架 memcached operator"


def seed_demo_approvals(*, version: AssetVersion | None = None) -> ApprovalRequest | None:
    """Submit a draft version (by default zs-olm's newest mem1 draft) for listing, once,
    so the admin's queue (审批) has the seed's 上架待审核 row to show.

    Does nothing when there is no such version yet, when it was ever submitted, or while
    its asset is not ready for listing (the portal's checklist).
    """
    if version is None:
        version = (
            AssetVersion.objects.filter(
                asset__tenant__slug="zs-olm",
                asset__name__iexact="mem1",
                status=AssetVersion.Status.DRAFT,
            )
            .select_related("asset__tenant")
            .order_by("-created_at", "-id")
            .first()
        )
    if version is None or version.status != AssetVersion.Status.DRAFT:
        return None
    if ApprovalRequest.objects.filter(version=version).exists():
        return None
    if not all(item["done"] for item in listing_checklist(asset=version.asset)):
        return None  # e.g. no screenshot yet: the provider's checklist says what is missing
    provider = (
        User.objects.filter(
            memberships__tenant=version.asset.tenant, memberships__role=Membership.Role.OWNER
        )
        .order_by("pk")
        .first()
    )
    if provider is None:
        return None
    return submit_request(
        actor=provider, version=version, kind=ApprovalRequest.Kind.LISTING, reason=DEMO_REASON
    )

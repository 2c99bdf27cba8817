"""Answers the questions assets asks (assets.signals) without importing orders."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Count
from django.utils import timezone

from accounts.models import Tenant
from assets.models import Plan

from .models import Entitlement, Order, Wallet


def plan_is_ordered(sender: Any, plan: Plan, **kwargs: Any) -> bool:
    """An ordered plan may only be archived: orders keep pointing at it."""
    if plan.pk is None:
        return False
    return (
        Order.objects.filter(plan=plan).exists() or Entitlement.objects.filter(plan=plan).exists()
    )


def buyer_counts(sender: Any, asset_ids: Iterable[int], **kwargs: Any) -> dict[int, int]:
    """资产用户量: distinct buyer tenants holding an entitlement that has not ended."""
    rows = (
        Entitlement.objects.filter(asset_id__in=list(asset_ids), ends_at__gt=timezone.now())
        .values("asset_id")
        .annotate(buyers=Count("buyer_id", distinct=True))
    )
    return {row["asset_id"]: row["buyers"] for row in rows}


def open_wallet(
    sender: Any, instance: Tenant, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """Every tenant has its wallet from the start, so a payment never creates one while
    it holds the buyer's wallet locked (one INSERT … ON CONFLICT DO NOTHING)."""
    if created and not raw:
        Wallet.objects.bulk_create([Wallet(tenant=instance)], ignore_conflicts=True)

"""Answers the questions assets asks (assets.signals) without importing orders."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Count
from django.utils import timezone

from assets.models import Plan

from .models import Entitlement, Order


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

"""The storefront's stored keys of an asset: its lowest price and when it was listed.

The storefront filters and sorts on them for every page; computing them per asset per
request made a page cost grow with the catalogue. They are kept here, by one UPDATE that
the services changing plans (create, edit, archive, restore, delete, register) and the
version lifecycle (listing, delisting, superseding) run inside their own transaction.
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from .models import Asset, AssetVersion, Plan


def _cheapest_plan() -> QuerySet[Plan, Any]:
    return (
        Plan.objects.filter(asset=OuterRef("pk"), is_archived=False)
        .order_by("price", "id")
        .values("price")[:1]
    )


def _listed_at() -> QuerySet[AssetVersion, Any]:
    return AssetVersion.objects.filter(
        asset=OuterRef("pk"), status=AssetVersion.Status.ON_SALE
    ).values("listed_at")[:1]


def refresh_storefront_fields(*, asset_id: int) -> None:
    """Recompute `min_price` and `listed_at` of one asset from its plans and versions.

    One statement; `updated_at` is left alone (a price or listing is not an edit of the
    asset's page, and the 更新时间 sort must not move with it).
    """
    Asset.objects.filter(pk=asset_id).update(
        min_price=Subquery(_cheapest_plan()), listed_at=Subquery(_listed_at())
    )


def refresh_all_storefront_fields() -> int:
    """Every asset at once: the data migration and repairs after bulk loads."""
    return Asset.objects.update(
        min_price=Subquery(_cheapest_plan()), listed_at=Subquery(_listed_at())
    )

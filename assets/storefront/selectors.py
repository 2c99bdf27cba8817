"""Reads of the storefront (云市场): what buyers may see, filtered and sorted.

Only assets with a version on sale are listed. The price of a card is its cheapest
plan on sale; the price bands, the category, the keyword and the sort live in the
URL, so a view of the market can be shared. Counting a page view (浏览量) is a write:
it lives in `assets.storefront.services`.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _

from assets.models import Asset, AssetVersion, Category, Plan, Screenshot
from core.errors import NotFound

# 价格: 全部 / 免费 / 1 - 98 / 99 - 998 / 999 - 9998 / 9999 以上, on the cheapest plan.
# Bands are half-open so a price like 98.50 T still has a home.
PRICE_ALL = ""
PRICE_FREE = "free"
PRICE_BANDS: dict[str, Q] = {
    PRICE_FREE: Q(min_price=0),
    "1-98": Q(min_price__gt=0, min_price__lt=99),
    "99-998": Q(min_price__gte=99, min_price__lt=999),
    "999-9998": Q(min_price__gte=999, min_price__lt=9999),
    "9999+": Q(min_price__gte=9999),
}
PRICE_CHOICES = [
    (PRICE_ALL, _("All")),
    (PRICE_FREE, _("Free")),
    ("1-98", "1 - 98"),
    ("99-998", "99 - 998"),
    ("999-9998", "999 - 9998"),
    ("9999+", _("9999 and above")),
]

# 默认 / 价格 (both directions) / 更新时间 / 浏览量.
SORT_DEFAULT = ""
SORTS: dict[str, tuple[Any, ...]] = {
    SORT_DEFAULT: ("-listed_at", "-id"),
    "price": (F("min_price").asc(nulls_last=True), "-id"),
    "-price": (F("min_price").desc(nulls_last=True), "-id"),
    "updated": ("-updated_at", "-id"),
    "views": ("-view_count", "-id"),
}
SORT_CHOICES = [
    (SORT_DEFAULT, _("Default")),
    ("price", _("Price ↑")),
    ("-price", _("Price ↓")),
    ("updated", _("Updated")),
    ("views", _("Views")),
]

PAGE_SIZE = 12


def _on_sale() -> QuerySet[AssetVersion]:
    return AssetVersion.objects.filter(asset=OuterRef("pk"), status=AssetVersion.Status.ON_SALE)


def _cheapest_plan() -> QuerySet[Plan, Any]:
    return (
        Plan.objects.filter(asset=OuterRef("pk"), is_archived=False)
        .order_by("price", "id")
        .values("price")[:1]
    )


def listed_assets() -> QuerySet[Asset]:
    """Assets buyers see: a version on sale, with the cheapest plan and when it was listed."""
    return (
        Asset.objects.filter(Exists(_on_sale()))
        .select_related("tenant", "category")
        .annotate(
            min_price=Subquery(_cheapest_plan()),
            listed_at=Subquery(_on_sale().values("listed_at")[:1]),
        )
    )


def _search(assets: QuerySet[Asset], query: str) -> tuple[QuerySet[Asset], bool]:
    """PostgreSQL: full-text (stemmed, ranked) over name, summary and provider, plus a
    substring match so a Chinese word inside a name is found too. SQLite: substrings."""
    substring = (
        Q(name__icontains=query) | Q(summary__icontains=query) | Q(tenant__name__icontains=query)
    )
    if connection.vendor != "postgresql":
        return assets.filter(substring), False
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

    vector = (
        SearchVector("name", weight="A", config="english")
        + SearchVector("summary", weight="B", config="english")
        + SearchVector("tenant__name", weight="C", config="english")
    )
    terms = SearchQuery(query, search_type="websearch", config="english")
    assets = assets.annotate(search=vector, rank=SearchRank(vector, terms)).filter(
        Q(search=terms) | substring
    )
    return assets, True


def search_storefront(
    *,
    query: str = "",
    category: Category | None = None,
    price: str = PRICE_ALL,
    sort: str = SORT_DEFAULT,
) -> QuerySet[Asset]:
    """The storefront's list: filter, search and sort; unknown values mean "all"/"default"."""
    assets = listed_assets()
    if category is not None:
        assets = assets.filter(category=category)
    if price in PRICE_BANDS:
        assets = assets.filter(PRICE_BANDS[price])
    ranked = False
    query = (query or "").strip()
    if query:
        assets, ranked = _search(assets, query)
    order = SORTS.get(sort, SORTS[SORT_DEFAULT])
    if ranked and sort == SORT_DEFAULT:
        order = ("-rank", *order)
    return assets.order_by(*order)


def get_listed_asset(*, code: str) -> Asset:
    """An asset on sale, by its code; anything else is a 404."""
    try:
        return listed_assets().get(code=code)
    except Asset.DoesNotExist:
        raise NotFound("No such asset on sale.") from None


def get_asset_by_code(*, code: str) -> Asset:
    """Any asset by code, on sale or not: for holders of a delisted asset (renewals)."""
    asset = (
        Asset.objects.select_related("tenant", "category")
        .annotate(min_price=Subquery(_cheapest_plan()))
        .filter(code=code)
        .first()
    )
    if asset is None:
        raise NotFound("No such asset.")
    return asset


def on_sale_version(asset: Asset) -> AssetVersion | None:
    """The version buyers get (one per asset at most: a database constraint)."""
    return AssetVersion.objects.filter(asset=asset, status=AssetVersion.Status.ON_SALE).first()


def plans_on_sale(asset: Asset) -> QuerySet[Plan]:
    """What a buyer may order, cheapest first; archived plans are no longer sold."""
    return Plan.objects.filter(asset=asset, is_archived=False).order_by("price", "position", "id")


def screenshots_of(asset: Asset) -> QuerySet[Screenshot]:
    """The asset page's 截图 tab, in the provider's order (public: the asset is on sale)."""
    return Screenshot.objects.filter(asset=asset).order_by("position")

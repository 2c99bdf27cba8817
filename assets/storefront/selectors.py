"""Reads of the storefront (云市场): what buyers may see, filtered and sorted.

Only assets with a version on sale are listed. The price of a card is its cheapest
plan on sale; the price bands, the category, the keyword and the sort live in the
URL, so a view of the market can be shared. One write lives here too: counting a
page view (浏览量), atomically, at most once per visitor session per asset per hour.
"""

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from assets.models import Asset, AssetVersion, Plan, Screenshot
from core.errors import NotFound

# 价格: 全部 / 免费 / 1 - 98 / 99 - 998 / 999 - 9998 / 9999 以上, on the cheapest plan.
# Bands are half-open so a price like 98.50 T still has a home.
PRICE_ALL = ""
PRICE_FREE = "free"
PRICE_BANDS = {
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
SORTS = {
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

# A visitor's session counts one view per asset per hour.
VIEW_WINDOW_SECONDS = 3600
VIEWED_SESSION_KEY = "storefront_viewed"

PAGE_SIZE = 12


def _on_sale():
    return AssetVersion.objects.filter(asset=OuterRef("pk"), status=AssetVersion.Status.ON_SALE)


def _cheapest_plan():
    return (
        Plan.objects.filter(asset=OuterRef("pk"), is_archived=False)
        .order_by("price", "id")
        .values("price")[:1]
    )


def listed_assets():
    """Assets buyers see: a version on sale, with the cheapest plan and when it was listed."""
    return (
        Asset.objects.filter(Exists(_on_sale()))
        .select_related("tenant", "category")
        .annotate(
            min_price=Subquery(_cheapest_plan()),
            listed_at=Subquery(_on_sale().values("listed_at")[:1]),
        )
    )


def _search(assets, query):
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


def search_storefront(*, query="", category=None, price=PRICE_ALL, sort=SORT_DEFAULT):
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


def get_listed_asset(*, code):
    """An asset on sale, by its code; anything else is a 404."""
    try:
        return listed_assets().get(code=code)
    except Asset.DoesNotExist:
        raise NotFound("No such asset on sale.") from None


def get_asset_by_code(*, code):
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


def on_sale_version(asset):
    return AssetVersion.objects.filter(asset=asset, status=AssetVersion.Status.ON_SALE).first()


def plans_on_sale(asset):
    return Plan.objects.filter(asset=asset, is_archived=False).order_by("price", "position", "id")


def screenshots_of(asset):
    return Screenshot.objects.filter(asset=asset).order_by("position")


def count_view(*, session, asset):
    """浏览量 + 1 unless this session saw the asset within the hour; True when counted.

    An F() update, so concurrent visitors never lose a count; `updated_at` is untouched
    (a view is not an update of the asset).
    """
    now = timezone.now().timestamp()
    seen = {
        key: at
        for key, at in (session.get(VIEWED_SESSION_KEY) or {}).items()
        if now - at < VIEW_WINDOW_SECONDS
    }
    key = str(asset.pk)
    if key in seen:
        if seen != session.get(VIEWED_SESSION_KEY):
            session[VIEWED_SESSION_KEY] = seen
        return False
    Asset.objects.filter(pk=asset.pk).update(view_count=F("view_count") + 1)
    seen[key] = now
    session[VIEWED_SESSION_KEY] = seen
    asset.view_count = (asset.view_count or 0) + 1
    return True

"""Reads of the storefront (云市场): what buyers may see, filtered and sorted.

Only assets with a version on sale are listed. The price of a card is its cheapest
plan on sale; the price bands, the category, the keyword and the sort live in the
URL, so a view of the market can be shared. Counting a page view (浏览量) is a write:
it lives in `assets.storefront.services`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant
from assets.models import (
    NO_PLAN_PRICE_DOWN,
    NO_PLAN_PRICE_UP,
    Asset,
    AssetVersion,
    Category,
    Plan,
    Screenshot,
    shelf_price,
)
from core.errors import NotFound

# 价格: 全部 / 免费 / 1 - 98 / 99 - 998 / 999 - 9998 / 9999 以上, on the cheapest plan.
# Bands are half-open so a price like 98.50 T or 0.50 T still has a home, and the labels
# say so: the seed's "1 - 98" holds every paid price below 99 (0.50 too), so it reads
# "Under 99" (低于 99), and the next bands end at .99. The keys stay the seed's (links).
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
    ("1-98", _("Under 99")),
    ("99-998", "99 - 998.99"),
    ("999-9998", "999 - 9998.99"),
    ("9999+", _("9999 and above")),
]

# 默认 / 价格 (both directions) / 更新时间 / 浏览量.
SORT_DEFAULT = ""
SORTS: dict[str, tuple[Any, ...]] = {
    SORT_DEFAULT: ("-listed_at", "-id"),
    # No plan on sale sorts last both ways: a stand-in price (assets.models.shelf_price).
    "price": (shelf_price(NO_PLAN_PRICE_UP).desc(), "-id"),  # the price negated
    "-price": (shelf_price(NO_PLAN_PRICE_DOWN).desc(), "-id"),
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


def listed_assets() -> QuerySet[Asset]:
    """Assets buyers see: a version on sale (`listed_at` is stored on the asset, as is its
    cheapest plan, `min_price`: see `assets.shelf`)."""
    return Asset.objects.filter(listed_at__isnull=False).select_related("tenant", "category")


# Queries shorter than this cannot use the trigram index (a trigram needs three characters).
TRIGRAM_MIN = 3
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
# The stored document and the text the trigram index covers (migrations 0006 and 0010 of
# assets): name, summary and description.
_TEXT_SQL = (
    "lower(assets_asset.name::text || ' ' || assets_asset.summary::text"
    " || ' ' || assets_asset.description)"
)
# The provider arm: the ids of the providers the query names, as literals (see
# `_providers_named`), so that it is one more range of the tenant_id index in the BitmapOr.
_PROVIDER_SQL = "assets_asset.tenant_id = ANY(%s)"


def _providers_named(query: str) -> list[int]:
    """The tenants with assets on sale whose name holds the query, looked up first (one
    small query). In the asset query an `ARRAY(SELECT …)` of them is a value the planner
    cannot see: it guesses ten providers' worth of assets (40 % of the catalogue with
    20 providers), finds a sequential scan cheaper than the index arms and reads every
    row. As literals (or no arm when none matches) the tenant_id statistics answer."""
    listed = Asset.objects.filter(tenant=OuterRef("pk"), listed_at__isnull=False)
    return list(
        Tenant.objects.annotate(lowered=Lower("name"))
        .filter(lowered__contains=query.lower())
        .filter(Exists(listed))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _like(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _cjk_grams(query: str) -> str:
    """The query's CJK runs as the stored document spells them (single characters and
    bigrams, in the `simple` configuration), all required: a tsquery string."""
    grams: list[str] = []
    for run in _CJK.findall(query):
        grams.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return " & ".join(dict.fromkeys(grams))


def _match_postgres(query: str) -> tuple[RawSQL, RawSQL]:
    """(matches, rank): English words through the stored, stemmed tsvector; any substring
    of name, summary or description through the trigram index (a one- or two-character CJK word
    through the document's CJK grams, then checked as a substring); the provider's name
    as a substring. Every arm is served by an index, so a search reads its matches only."""
    like = _like(query)
    arms = ["assets_asset.search_document @@ websearch_to_tsquery('english', %s)"]
    params: list[Any] = [query]
    grams = _cjk_grams(query)
    if len(query) >= TRIGRAM_MIN:
        arms.append(f"{_TEXT_SQL} LIKE %s")
        params.append(like)
    elif grams:
        arms.append(
            f"(assets_asset.search_document @@ to_tsquery('simple', %s) AND {_TEXT_SQL} LIKE %s)"
        )
        params += [grams, like]
    else:  # one or two Latin characters: words that start with them
        prefix = re.sub(r"[^0-9a-z]", "", query.lower())
        if prefix:
            arms.append("assets_asset.search_document @@ to_tsquery('simple', %s)")
            params.append(f"{prefix}:*")
    providers = _providers_named(query)
    if providers:
        arms.append(_PROVIDER_SQL)
        params.append(providers)
    matches = RawSQL(f"({' OR '.join(arms)})", params, output_field=BooleanField())
    rank = RawSQL(
        "ts_rank(assets_asset.search_document, websearch_to_tsquery('english', %s))",
        [query],
        output_field=FloatField(),
    )
    return matches, rank


def _search(assets: QuerySet[Asset], query: str) -> tuple[QuerySet[Asset], bool]:
    """PostgreSQL: full-text (stemmed, ranked) over name, summary and description, plus
    substrings of those and of the provider (Chinese too), all through indexes. SQLite:
    substrings."""
    if connection.vendor != "postgresql":
        substring = (
            Q(name__icontains=query)
            | Q(summary__icontains=query)
            | Q(description__icontains=query)
            | Q(tenant__name__icontains=query)
        )
        return assets.filter(substring), False
    matches, rank = _match_postgres(query)
    return assets.filter(matches).alias(rank=rank), True


# What a card (and the API's list) shows and the sorts' keys: a page reads these columns
# only, not the descriptions and the other information of every asset on it.
CARD_FIELDS = [
    "id", "code", "name", "summary", "icon", "delivery_type", "min_price", "view_count",
    "listed_at", "updated_at", "tenant", "category",
    "tenant__id", "tenant__name", "tenant__is_certified",
    "category__id", "category__slug", "category__name_en", "category__name_zh",
]  # fmt: skip


def search_storefront(
    *,
    query: str = "",
    category: Category | None = None,
    price: str = PRICE_ALL,
    sort: str = SORT_DEFAULT,
    category_slug: str = "",
) -> QuerySet[Asset]:
    """The storefront's list: filter, search and sort; unknown values mean "all"/"default".

    Sorted by the sort's index order; `storefront_page` ranks a search by relevance when
    its matches are few enough to be counted (see there)."""
    assets = listed_assets().only(*CARD_FIELDS)
    if category is not None:
        assets = assets.filter(category=category)
    if category_slug:  # the API's: one query, no lookup of the category first
        assets = assets.filter(category__slug=category_slug)
    if price in PRICE_BANDS:
        assets = assets.filter(PRICE_BANDS[price])
    query = (query or "").strip()
    if query:
        assets, _ranked = _search(assets, query)
    return assets.order_by(*SORTS.get(sort, SORTS[SORT_DEFAULT]))


# --- pages --------------------------------------------------------------------------------

# Counting stops here: beyond it a page says "1,000+" and pages on by keyset ("next" after
# the last row shown), so no page ever reads or counts more rows than this.
COUNT_CAP = 1000

# Each sort's keyset: its key, read in its index's order (key, then id, both descending:
# the price going up is sorted on its negation), so a cursor is one row comparison. The
# price sorts' key is their stand-in expression, annotated as this name; `KEY_SQL` is the
# same key as SQL, for that comparison.
KEYSETS: dict[str, tuple[str, bool]] = {
    SORT_DEFAULT: ("listed_at", True),
    "price": ("shelf_price_up", True),
    "-price": ("shelf_price_down", True),
    "updated": ("updated_at", True),
    "views": ("view_count", True),
}
_KEY_EXPRESSIONS = {
    "shelf_price_up": lambda: shelf_price(NO_PLAN_PRICE_UP),
    "shelf_price_down": lambda: shelf_price(NO_PLAN_PRICE_DOWN),
}
KEY_SQL = {
    "listed_at": '"assets_asset"."listed_at"',
    "updated_at": '"assets_asset"."updated_at"',
    "view_count": '"assets_asset"."view_count"',
    "shelf_price_up": f'(COALESCE("assets_asset"."min_price", {NO_PLAN_PRICE_UP}) * -1)',
    "shelf_price_down": f'COALESCE("assets_asset"."min_price", {NO_PLAN_PRICE_DOWN})',
}
_NO_PLAN = {"shelf_price_up": -NO_PLAN_PRICE_UP, "shelf_price_down": NO_PLAN_PRICE_DOWN}


@dataclass
class ShelfPage:
    """One page of the storefront: its rows, a count bounded by COUNT_CAP, and how to get
    to the neighbouring pages (`page=N` inside the counted window, a cursor beyond)."""

    items: list[Asset]
    number: int
    count: int
    count_capped: bool
    per_page: int
    next_params: dict[str, str] | None = None
    previous_params: dict[str, str] | None = None

    @property
    def has_next(self) -> bool:
        return self.next_params is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_params is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def num_pages(self) -> int | None:
        """Known when the count is exact."""
        return None if self.count_capped else max(1, math.ceil(self.count / self.per_page))


def _encode_cursor(asset: Asset, field: str) -> str:
    value = getattr(asset, field)
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    raw = json.dumps([value, asset.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str, field: str) -> tuple[Any, int] | None:
    """A cursor from the URL, or None when it is not one of ours (then: page 1)."""
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(pk, int) or isinstance(pk, bool):
            return None
        if value is None:  # a price cursor of before the stand-in: no plan
            return (_NO_PLAN[field], pk) if field in _NO_PLAN else None
        if field in ("listed_at", "updated_at"):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return None
            return parsed, pk
        if field in _NO_PLAN:
            return Decimal(str(value)), pk
        return int(value), pk
    except (ValueError, TypeError, ArithmeticError, binascii.Error, UnicodeDecodeError):
        return None


def _keyed(assets: QuerySet[Asset], sort: str) -> QuerySet[Asset]:
    """The sort's key on every row (the price sorts' stand-in key is an expression)."""
    field = KEYSETS[sort][0]
    if field in _KEY_EXPRESSIONS and field not in assets.query.annotations:
        return assets.annotate(**{field: _KEY_EXPRESSIONS[field]()})
    return assets


def _seek(
    assets: QuerySet[Asset], sort: str, value: Any, pk: int, forward: bool
) -> QuerySet[Asset]:
    """The rows after (forward) or before a cursor in the sort's order: one row comparison
    on (key, id), one index range scan, however many rows share the cursor's key."""
    field, descending = KEYSETS[sort]
    op = "<" if descending == forward else ">"
    placeholder = "%s"
    if isinstance(value, datetime):  # as the column stores it (SQLite: UTC text)
        value = connection.ops.adapt_datetimefield_value(value)
    elif isinstance(value, Decimal) and connection.vendor == "sqlite":
        placeholder = "CAST(%s AS REAL)"  # an expression has no affinity to convert text
    after = RawSQL(
        f'({KEY_SQL[field]}, "assets_asset"."id") {op} ({placeholder}, %s)',
        [value, pk],
        output_field=BooleanField(),
    )
    return _keyed(assets, sort).filter(after)


def _ordered(assets: QuerySet[Asset], sort: str, *, reverse: bool) -> QuerySet[Asset]:
    """The sort's order, or its exact reverse (the same index read backwards); each row
    carries the sort's key (for its cursor)."""
    field, descending = KEYSETS[sort]
    assets = _keyed(assets, sort)
    if descending != reverse:
        return assets.order_by(F(field).desc(), "-id" if not reverse else "id")
    return assets.order_by(F(field).asc(), "-id" if not reverse else "id")


def _with_count(assets: QuerySet[Asset], counted: QuerySet[Asset]) -> QuerySet[Asset]:
    """Rows that also carry how many rows `counted` has, up to COUNT_CAP + 1: the count
    rides along in the same query (an uncorrelated subquery, run once)."""
    sql, params = counted.order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
    return assets.annotate(
        shelf_count=RawSQL(
            f"SELECT COUNT(*) FROM ({sql}) shelf_counted", params, output_field=IntegerField()
        )
    )


def _counted(rows: list[Asset]) -> int:
    """The bounded count the rows carry (see `_with_count`)."""
    return int(getattr(rows[0], "shelf_count"))  # noqa: B009 - an annotation


def _ranked_firsts(assets: QuerySet[Asset]) -> list[tuple[int, float]]:
    """A search's first COUNT_CAP + 1 matches (newest first, through the index) as
    (id, rank): best match first when they are all of them, else still newest first.

    Ids and ranks only, so the database reads the matches once and fetches nothing else;
    the page's cards are then read by their ids (`_cards`). Sorting on the rank keeps the
    newest-first order among equal ranks (a stable sort), as `ORDER BY rank DESC,
    listed_at DESC, id DESC` would."""
    newest = assets.annotate(shelf_rank=F("rank")).order_by(*SORTS[SORT_DEFAULT])
    firsts = list(newest.values_list("pk", "shelf_rank")[: COUNT_CAP + 1])
    if len(firsts) <= COUNT_CAP:
        firsts.sort(key=lambda row: -row[1])
    return firsts


def _cards(assets: QuerySet[Asset], ids: list[int]) -> list[Asset]:
    """The rows of `assets` with these ids, in this order (a primary-key lookup)."""
    by_id = {asset.pk: asset for asset in assets.filter(pk__in=ids).order_by()}
    return [by_id[pk] for pk in ids if pk in by_id]


def _page_number(page: str | int | None) -> int:
    try:
        return max(1, int(page or 1))
    except (TypeError, ValueError):
        return 1


def storefront_page(
    assets: QuerySet[Asset],
    *,
    sort: str = SORT_DEFAULT,
    page: str | int | None = None,
    after: str = "",
    before: str = "",
    per_page: int = PAGE_SIZE,
) -> ShelfPage:
    """A page of `search_storefront`'s rows whose cost does not grow with the catalogue.

    The count stops at COUNT_CAP. Pages inside the counted window are `page=N` (an
    out-of-range number shows the window's last page); beyond it "next" carries a cursor
    (`after`, the last row shown) and "previous" one back (`before`), each read as one
    index range scan. A search whose matches are all counted is ranked best match first
    (when no other sort was asked for); a bigger one keeps the newest-first order.

    One query: the rows carry the bounded count. A search in the default order reads its
    first matches' ids and ranks (whether it is ranked depends on their number), then the
    page's cards by id; beyond the counted window it counts, then reads the page by its
    cursor: two either way (`search_storefront` has looked up the providers its words
    name: one more). A page number or cursor that turns out not to fit the count is read
    again as the page it stands for.
    """
    if sort not in KEYSETS:
        sort = SORT_DEFAULT
    number = _page_number(page)
    token, forward = (after, True) if after else (before, False)
    cursor = _decode_cursor(token, KEYSETS[sort][0]) if token else None
    ranked = "rank" in assets.query.annotations and sort == SORT_DEFAULT
    if cursor is not None and ranked:
        # A search counts first on a cursor page too (the count decides whether it is
        # ranked): the same two queries as on its numbered pages, at any size.
        return _page(assets, sort, number, after, before, per_page, None)
    if cursor is not None:
        value, pk = cursor
        rows = list(
            _with_count(
                _ordered(_seek(assets, sort, value, pk, forward), sort, reverse=not forward), assets
            )[: per_page + 1]
        )
        if not rows:  # nothing there (any more): page 1
            return storefront_page(assets, sort=sort, per_page=per_page)
        if _counted(rows) > COUNT_CAP:
            return _cursor_page(assets, sort, number, forward, rows, per_page)
        # Everything is counted now: the numbered page the cursor's number stands for.
        return _page(assets, sort, number, "", "", per_page, _counted(rows))
    offset = (number - 1) * per_page
    if ranked:
        firsts = _ranked_firsts(assets)
        if not firsts:
            return _shelf([], 1, 0, per_page, has_next=False, has_previous=False, sort=sort)
        count = len(firsts)
        window = max(1, math.ceil(min(count, COUNT_CAP) / per_page))
        number = min(number, window)  # past the counted window: its last page
        offset = (number - 1) * per_page
        ids = [pk for pk, _rank in firsts[offset : offset + per_page + 1]]
        rows = _cards(assets, ids)
        if count > COUNT_CAP:  # more beyond the window: its last page goes on by cursor
            return _shelf(
                rows[:per_page], number, count, per_page, sort=sort, has_next=bool(rows),
                has_previous=number > 1, window=window,
            )  # fmt: skip
        return _numbered(rows, number, count, window, per_page, sort)
    ordered = _with_count(_ordered(assets, sort, reverse=False), assets)
    rows = list(ordered[offset : offset + per_page + 1])
    if not rows:
        return (
            _page(assets, sort, number, "", "", per_page, None)
            if number > 1
            else _shelf([], 1, 0, per_page, has_next=False, has_previous=False, sort=sort)
        )
    count = _counted(rows)
    window = max(1, math.ceil(min(count, COUNT_CAP) / per_page))
    if number > window:
        return _page(assets, sort, window, "", "", per_page, count)
    return _numbered(rows, number, count, window, per_page, sort)


def _page(
    assets: QuerySet[Asset],
    sort: str,
    number: int,
    after: str,
    before: str,
    per_page: int,
    count: int | None,
) -> ShelfPage:
    """The page when the count is known first (searches ranked by relevance, and the
    rare page number or cursor that did not fit)."""
    if count is None:
        count = assets.order_by().values("pk")[: COUNT_CAP + 1].count()
    capped = count > COUNT_CAP
    field = KEYSETS[sort][0]
    ranked = "rank" in assets.query.annotations and sort == SORT_DEFAULT and not capped
    window = max(1, math.ceil(min(count, COUNT_CAP) / per_page))
    cursor = None
    if capped:
        token, forward = (after, True) if after else (before, False)
        cursor = _decode_cursor(token, field) if token else None
    if cursor is not None:
        value, pk = cursor
        rows = list(
            _ordered(_seek(assets, sort, value, pk, forward), sort, reverse=not forward)[
                : per_page + 1
            ]
        )
        if not rows:
            return _page(assets, sort, 1, "", "", per_page, count)
        return _cursor_page(assets, sort, number, forward, rows, per_page, count=count)
    number = min(number, window)
    ordered = (
        _keyed(assets, sort).order_by("-rank", *SORTS[sort])
        if ranked
        else _ordered(assets, sort, reverse=False)
    )
    offset = (number - 1) * per_page
    rows = list(ordered[offset : offset + per_page + 1])
    return _numbered(rows, number, count, window, per_page, sort)


def _numbered(
    rows: list[Asset], number: int, count: int, window: int, per_page: int, sort: str
) -> ShelfPage:
    """A page inside the counted window (`rows`: up to one more than a page)."""
    capped = count > COUNT_CAP
    more = len(rows) > per_page
    return _shelf(
        rows[:per_page], number, count, per_page, sort=sort,
        has_next=number < window or (capped and more), has_previous=number > 1,
        window=window,
    )  # fmt: skip


def _cursor_page(
    assets: QuerySet[Asset],
    sort: str,
    number: int,
    forward: bool,
    rows: list[Asset],
    per_page: int,
    count: int = COUNT_CAP + 1,
) -> ShelfPage:
    """A page beyond the counted window, read from a cursor (`rows`: up to one more)."""
    more = len(rows) > per_page
    rows = rows[:per_page]
    if not forward:
        rows.reverse()
    number = max(number, 2) if forward else max(1, number)
    return _shelf(
        rows, number, count, per_page, sort=sort, cursor=True,
        has_next=more if forward else True, has_previous=True if forward else more,
        window=max(1, math.ceil(COUNT_CAP / per_page)),
    )  # fmt: skip


def _shelf(
    rows: list[Asset],
    number: int,
    count: int,
    per_page: int,
    *,
    sort: str,
    has_next: bool,
    has_previous: bool,
    window: int = 1,
    cursor: bool = False,
) -> ShelfPage:
    field = KEYSETS[sort][0]
    shelf = ShelfPage(
        items=rows, number=number, count=min(count, COUNT_CAP), count_capped=count > COUNT_CAP,
        per_page=per_page,
    )  # fmt: skip
    if has_next and rows:
        if number < window and not cursor:
            shelf.next_params = {"page": str(number + 1)}
        else:
            shelf.next_params = {"after": _encode_cursor(rows[-1], field), "page": str(number + 1)}
    if has_previous and rows:
        if number - 1 <= window:
            shelf.previous_params = {"page": str(number - 1)}
        else:
            shelf.previous_params = {
                "before": _encode_cursor(rows[0], field),
                "page": str(number - 1),
            }
    return shelf


_ON_SALE_ATTR = "_on_sale_version_read"


def get_listed_asset(*, code: str) -> Asset:
    """An asset on sale, by its code; anything else is a 404. Its version on sale comes
    in the same query (`on_sale_version` then asks nothing more)."""
    on_sale = FilteredRelation(
        "versions", condition=Q(versions__status=AssetVersion.Status.ON_SALE)
    )
    try:
        asset = (
            listed_assets().annotate(shelf_version=on_sale).select_related("shelf_version")  # type: ignore[misc]
        ).get(code=code)
    except Asset.DoesNotExist:
        raise NotFound("No such asset on sale.") from None
    setattr(asset, _ON_SALE_ATTR, getattr(asset, "shelf_version", None))
    return asset


def get_asset_by_code(*, code: str) -> Asset:
    """Any asset by code, on sale or not: for holders of a delisted asset (renewals)."""
    asset = Asset.objects.select_related("tenant", "category").filter(code=code).first()
    if asset is None:
        raise NotFound("No such asset.")
    return asset


def on_sale_version(asset: Asset) -> AssetVersion | None:
    """The version buyers get (one per asset at most: a database constraint)."""
    if hasattr(asset, _ON_SALE_ATTR):
        return getattr(asset, _ON_SALE_ATTR)
    return AssetVersion.objects.filter(asset=asset, status=AssetVersion.Status.ON_SALE).first()


def plans_on_sale(asset: Asset) -> QuerySet[Plan]:
    """What a buyer may order, cheapest first; archived plans are no longer sold."""
    return Plan.objects.filter(asset=asset, is_archived=False).order_by("price", "position", "id")


def screenshots_of(asset: Asset) -> QuerySet[Screenshot]:
    """The asset page's 截图 tab, in the provider's order (public: the asset is on sale)."""
    return Screenshot.objects.filter(asset=asset).order_by("position")

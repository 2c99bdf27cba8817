"""HTML views of the storefront (云市场): the cards and the asset page. Thin.

Reads come from assets.storefront.selectors; whether the buyer's tenant already holds an
asset (安装 instead of 购买) comes from the orders app's selectors. The one write, counting
a page view, lives in assets.storefront.services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from assets import selectors
from core.errors import NotFound
from core.pagination import paginate
from orders import selectors as order_selectors

from . import selectors as market
from . import services as market_services

TABS = [
    ("description", _("Description")),
    ("plans", _("Specs & pricing")),
    ("usage_help", _("Usage help")),
    ("terms", _("Terms of use")),
    ("customer_cases", _("Customer cases")),
    ("screenshots", _("Screenshots")),
    ("support_scope", _("Support scope")),
]


class StorefrontFilterForm(forms.Form):
    """The URL's filters; a bad value falls back to "all" rather than an error page."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label=_("Search"),
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name, summary or provider")}
        ),
    )
    category = forms.SlugField(required=False)
    price = forms.ChoiceField(required=False, choices=market.PRICE_CHOICES)
    sort = forms.ChoiceField(required=False, choices=market.SORT_CHOICES)

    def params(self, categories):
        data = self.cleaned_data if self.is_valid() else {}
        slug = data.get("category") or ""
        category = next((c for c in categories if c.slug == slug), None)
        return {
            "query": data.get("q") or "",
            "category": category,
            "price": data.get("price") or market.PRICE_ALL,
            "sort": data.get("sort") or market.SORT_DEFAULT,
        }


def _url(params: dict[str, Any], **changes: Any) -> str:
    """The current filters with some changed; the page always restarts at 1."""
    query = QueryDict(mutable=True)
    merged = {**params, **changes}
    for key in ("q", "category", "price", "sort"):
        if merged.get(key):
            query[key] = merged[key]
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def _page_url(query_string: str, params: dict[str, str] | None) -> str:
    """A neighbouring page's link: the filters, then the cursor and the page number."""
    if params is None:
        return ""
    pages = QueryDict(mutable=True)
    pages.update(params)
    return "?" + "&".join(part for part in (query_string, pages.urlencode()) if part)


# Each card's links, made by replacing the code in one reversed URL per kind (a
# `{% url %}` per card and kind cost more than the rest of the card).
CARD_LINKS = {
    "market_url": "storefront:storefront-asset",
    "buy_url": "orders:buy",
    "install_url": "provisioning:installation-create",
}
_SAMPLE_CODE = "ASID-00000000000"


def _code_url(route: str) -> Callable[[str], str]:
    sample = reverse(route, args=[_SAMPLE_CODE])
    return lambda code: sample.replace(_SAMPLE_CODE, code)


@login_required
def storefront(request):
    """云市场: cards with price, 已认证 and 购买 / 安装; filters, sorts and pages in the URL."""
    categories = list(selectors.categories())
    form = StorefrontFilterForm(request.GET or None)
    params = form.params(categories)
    current = {
        "q": params["query"],
        "category": params["category"].slug if params["category"] else "",
        "price": params["price"],
        "sort": params["sort"],
    }
    assets = order_selectors.with_entitlement_flag(
        market.search_storefront(**params), tenant=request.workspace.tenant
    )
    page = market.storefront_page(
        assets,
        sort=params["sort"],
        page=request.GET.get("page"),
        after=request.GET.get("after") or "",
        before=request.GET.get("before") or "",
    )
    assets = page.items
    links = {name: _code_url(route) for name, route in CARD_LINKS.items()}
    for asset in assets:
        for name, make in links.items():
            setattr(asset, name, make(asset.code))
    query_string = _url(current)[1:]
    price_sort = "-price" if current["sort"] == "price" else "price"
    return render(
        request,
        "assets/storefront/storefront.html",
        {
            "form": form,
            "page": page,
            "assets": assets,
            "tenant_id": request.workspace.tenant.pk if request.workspace.tenant else None,
            "current": current,
            "filtered": any(current[k] for k in ("q", "category", "price")),
            "price_links": [
                (value, label, _url(current, price=value)) for value, label in market.PRICE_CHOICES
            ],
            "category_links": [(None, _("All"), _url(current, category=""))]
            + [(c, c.name, _url(current, category=c.slug)) for c in categories],
            "sort_links": [
                ("", _("Default"), _url(current, sort=""), current["sort"] == ""),
                (
                    "price",
                    _("Price"),
                    _url(current, sort=price_sort),
                    current["sort"] in ("price", "-price"),
                ),
                (
                    "updated",
                    _("Updated"),
                    _url(current, sort="updated"),
                    current["sort"] == "updated",
                ),
                ("views", _("Views"), _url(current, sort="views"), current["sort"] == "views"),
            ],
            # The page links keep the filters as the other links spell them (known values
            # only, in one order), not the raw request's query string.
            "query_string": query_string,
            "next_url": _page_url(query_string, page.next_params),
            "previous_url": _page_url(query_string, page.previous_params),
        },
    )


def _asset_for_buyer(request, code):
    """On sale: anyone. Not on sale any more: only a tenant that holds it (to renew)."""
    try:
        return market.get_listed_asset(code=code), True
    except NotFound:
        asset = market.get_asset_by_code(code=code)
        held = order_selectors.entitlement_for_asset(
            user=request.user, tenant=request.workspace.tenant, asset=asset
        )
        if held is None:
            raise
        return asset, False


@login_required
def storefront_asset(request, code):
    """The asset page: header, tabs, the version on sale with its channels, 购买 / 安装."""
    asset, on_sale = _asset_for_buyer(request, code)
    market_services.count_view(session=request.session, asset=asset)
    tab = request.GET.get("tab") or "description"
    if tab not in dict(TABS):
        tab = "description"
    tenant = request.workspace.tenant
    # The workspace's tenant is one of the user's (see accounts.workspace): its entitlement
    # in one query, without asking again whether the user is a member.
    entitlement = (
        order_selectors.entitlements_for(user=request.user, tenant=tenant)
        .filter(asset=asset)
        .first()
        if tenant is not None
        else None
    )
    context = {
        "asset": asset,
        "on_sale": on_sale,
        "version": market.on_sale_version(asset) if on_sale else None,
        "tabs": TABS,
        "tab": tab,
        "entitlement": entitlement,
        "entitled": entitlement is not None and entitlement.is_active,
        "own_asset": tenant is not None and tenant.pk == asset.tenant_id,
    }
    if tab == "description":
        version = context["version"]
        context["images"] = selectors.version_images(version=version) if version else []
    elif tab == "plans":
        context["plans"] = list(market.plans_on_sale(asset))
    elif tab == "screenshots":
        context["screenshots"] = list(market.screenshots_of(asset))
    elif tab != "description":
        mode, text, link = (getattr(asset, f"{tab}_{part}") for part in ("mode", "markdown", "url"))
        context["info"] = {"label": dict(TABS)[tab], "mode": mode, "text": text, "url": link}
    return render(request, "assets/storefront/asset.html", context)


@login_required
def image_findings(request, code, image_id):
    """One image's findings (CVE, package, installed and fixed version), worst first."""
    image = selectors.get_image_for(user=request.user, image_id=image_id, asset_code=code)
    scan = selectors.scan_of(image)
    context = {"asset": image.version.asset, "image": image, "scan": scan}
    context.update(paginate(request, scan.findings if scan else [], per_page=50))
    return render(request, "assets/storefront/image_findings.html", context)

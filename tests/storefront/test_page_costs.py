"""What a storefront page costs: a fixed, small number of queries on every kind of page
(the header read with the user, the workspace in one query, the count inside the page's
query, the price sorts' last page too), and the API's list written as DRF would."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.backends import HeaderUserBackend
from accounts.workspace import SESSION_TENANT_KEY, resolve_workspace
from assets.storefront import selectors as market
from assets.storefront.api import StorefrontAssetSerializer
from orders import selectors as order_selectors
from tests.orders.fixtures import archive_on_sale

# session, user (with the header: admin flag, unread count, workspace), categories,
# the page's rows (with their bounded count)
HTML_QUERIES = 4
# session, user (with the workspace), the page's rows
API_QUERIES = 3
# A search looks up the providers its words name first (their ids, so the planner sees
# them: see `_providers_named`); in the default order (ranked) it then reads its first
# matches' ids and ranks, and the page's cards by id (beyond the counted window: counts,
# then reads the page by its cursor).
SEARCH_SORTED_QUERIES = 1
SEARCH_RANKED_QUERIES = 2
# session, user (with the workspace), the asset (with its version on sale), the tenant's
# entitlement, the version's images with their scans (资产镜像安全扫描结果)
ASSET_PAGE_QUERIES = 5


def plan(name, price):
    return {"name": name, "price": Decimal(price), "duration_value": 1, "duration_unit": "year"}


def queries(get):
    with CaptureQueriesContext(connection) as captured:
        response = get()
    assert response.status_code == 200
    return len(captured.captured_queries), response


def next_link(response):
    found = re.search(r'<a href="([^"]+)" rel="next">', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def shelf(make_listed_asset, monkeypatch, provider, buyer, place, fund, platform_admin):
    """29 assets, counting capped at 20; one without a plan on sale (last in the price
    sorts, on the last page), and the buyer holding one."""
    monkeypatch.setattr(market, "COUNT_CAP", 20)
    assets = [
        make_listed_asset(f"cache-{i:02}", plans=(plan("std", str(10 + i % 7)),)) for i in range(29)
    ]
    archive_on_sale(assets[3].plans.get(), actor=provider.owner, admin=platform_admin)
    fund(buyer, 100)
    place(buyer, assets[5], pay_now=True)
    return assets


@pytest.mark.parametrize("sort", ["", "price", "-price", "updated", "views"])
def test_every_page_of_every_sort_makes_the_same_few_queries(client, buyer, shelf, sort):
    client.force_login(buyer.owner)
    url = reverse("storefront:storefront")
    params = {"sort": sort} if sort else {}
    counts, response = [], None
    count, response = queries(lambda: client.get(url, params))
    counts.append(count)
    while (link := next_link(response)) is not None:  # page 2, then cursors to the last
        count, response = queries(lambda link=link: client.get(url + link))
        counts.append(count)
    assert len(counts) == 3
    if sort == "price":
        assert "cache-03" in response.content.decode()  # no plan: on the last page
    assert counts == [HTML_QUERIES] * 3

    api = APIClient()
    api.force_login(buyer.owner)
    api_counts = []
    count, response = queries(lambda: api.get("/api/v1/storefront/", {**params, "page_size": 10}))
    api_counts.append(count)
    while (link := response.json()["next"]) is not None:
        count, response = queries(lambda link=link: api.get(link))
        api_counts.append(count)
    assert api_counts == [API_QUERIES] * 3


def test_a_search_page_makes_a_fixed_number_of_queries(client, buyer, shelf):
    client.force_login(buyer.owner)
    url = reverse("storefront:storefront")
    ranked = HTML_QUERIES + SEARCH_RANKED_QUERIES
    for params, expected in [
        ({"q": "cache"}, ranked),  # capped: newest first
        ({"q": "cache-1"}, ranked),  # ranked
        ({"q": "zs-olm"}, ranked),  # the provider's name
        ({"q": "cache", "page": "2"}, ranked),
        ({"q": "cache", "sort": "-price"}, HTML_QUERIES + SEARCH_SORTED_QUERIES),
    ]:
        assert queries(lambda params=params: client.get(url, params))[0] == expected, params
    page_2 = client.get(url, {"q": "cache", "page": "2"})
    count, _response = queries(lambda: client.get(url + next_link(page_2)))  # by cursor
    assert count == ranked
    api = APIClient()
    api.force_login(buyer.owner)
    count, _response = queries(lambda: api.get("/api/v1/storefront/", {"q": "cache-1"}))
    assert count == API_QUERIES + SEARCH_RANKED_QUERIES


def test_the_asset_page_makes_a_fixed_number_of_queries(client, buyer, shelf):
    client.force_login(buyer.owner)
    held, other = shelf[5], shelf[6]
    for asset in (held, other):
        url = reverse("storefront:storefront-asset", args=[asset.code])
        client.get(url)  # the first view is counted (one more write)
        count, response = queries(lambda url=url: client.get(url))
        assert count == ASSET_PAGE_QUERIES
    assert 'data-testid="install-note"' not in response.content.decode()
    count, response = queries(
        lambda: client.get(reverse("storefront:storefront-asset", args=[held.code]))
    )
    assert 'data-testid="install-note"' in response.content.decode()


def test_the_header_is_read_with_the_user(client, buyer, platform_admin, shelf):
    """The admin's links and the unread badge come without queries of their own."""
    account_services.mark_notifications_read(user=platform_admin)  # the shelf's review
    account_services.notify(users=[platform_admin, platform_admin], title="one")
    account_services.notify(users=[platform_admin], title="two")
    url = reverse("storefront:storefront")
    client.force_login(buyer.owner)
    plain_count, plain = queries(lambda: client.get(url))
    assert reverse("approvals:approvals") not in plain.content.decode()
    client.force_login(platform_admin)
    admin_count, page = queries(lambda: client.get(url))
    html = page.content.decode()
    assert reverse("approvals:approvals") in html
    assert re.search(r'<span class="count"[^>]*>2</span>', html)
    assert admin_count <= plain_count
    account_services.mark_notifications_read(user=platform_admin)
    assert 'class="count"' not in client.get(url).content.decode()


def test_the_workspace_is_one_query_with_every_tenant_and_its_projects(buyer, other_buyer):
    account_services.add_member(
        actor=other_buyer.owner, tenant=other_buyer, user=buyer.owner, role="member"
    )
    empty = account_services.create_tenant(name="empty-co", owner=buyer.owner)
    request = RequestFactory().get("/")
    request.user = type(buyer.owner).objects.get(pk=buyer.owner.pk)
    request.session = {SESSION_TENANT_KEY: other_buyer.pk}
    with CaptureQueriesContext(connection) as captured:
        workspace = resolve_workspace(request)
    assert len(captured.captured_queries) == 1
    assert [m.tenant.name for m in workspace.memberships] == ["empty-co", "globex", "zs2-corp"]
    assert workspace.tenant == other_buyer and workspace.role == "member"
    assert [p.namespace for p in workspace.projects] == ["globex-apps"]
    assert workspace.project.tenant.name == "globex"
    request.session = {SESSION_TENANT_KEY: empty.pk}
    workspace = resolve_workspace(request)
    assert workspace.tenant == empty and workspace.projects == [] and workspace.project is None
    request.session = {}
    workspace = resolve_workspace(request)  # none chosen: the first by name
    assert workspace.tenant == empty

    # Signed in (the session's user loaded by the backend), the same workspace comes with
    # the user's own query: none more.
    def described(ws):
        return (
            [(m.pk, m.role, m.created_at, m.tenant.name, m.tenant.is_provider,
              m.tenant.created_at) for m in ws.memberships],
            [(p.pk, p.namespace, p.description, p.created_by_id, p.created_at, p.tenant.name)
             for p in ws.projects],
            ws.project.pk if ws.project else None,
        )  # fmt: skip

    for session in ({SESSION_TENANT_KEY: other_buyer.pk}, {SESSION_TENANT_KEY: buyer.pk}, {}):
        request.session = session
        request.user = type(buyer.owner).objects.get(pk=buyer.owner.pk)
        expected = described(resolve_workspace(request))
        request.user = HeaderUserBackend().get_user(buyer.owner.pk)
        with CaptureQueriesContext(connection) as captured:
            assert described(resolve_workspace(request)) == expected
        assert captured.captured_queries == []


def test_the_api_list_writes_each_asset_as_drf_would(buyer, shelf, make_listed_asset, provider):
    make_listed_asset("free-one", plans=(plan("free", "0"),))
    request = Request(RequestFactory().get("/api/v1/storefront/"))
    assets = order_selectors.with_entitlement_flag(market.search_storefront(), tenant=buyer)
    rows = list(assets)
    assert {a.min_price is None for a in rows} == {True, False}
    assert {bool(a.entitled) for a in rows} == {True, False}
    serializer = StorefrontAssetSerializer(context={"request": request})
    for asset in rows:
        assert serializer.to_representation(asset) == serializer.field_representation(asset)
    with_no_request = StorefrontAssetSerializer(context={})
    assert with_no_request.to_representation(rows[0]) == with_no_request.field_representation(
        rows[0]
    )


def test_the_api_category_filter_costs_no_lookup_of_its_own(buyer, shelf, category):
    from assets.models import Category

    api = APIClient()
    api.force_login(buyer.owner)
    count, response = queries(lambda: api.get("/api/v1/storefront/", {"category": category.slug}))
    assert count == API_QUERIES and response.json()["count"] == 20
    empty = Category.objects.create(slug="empty-shelf", name_en="Empty", name_zh="空")
    response = api.get("/api/v1/storefront/", {"category": empty.slug})
    assert response.status_code == 200 and response.json()["results"] == []
    response = api.get("/api/v1/storefront/", {"category": "no-such-shelf"})
    assert response.status_code == 400 and "category" in response.json()["fields"]

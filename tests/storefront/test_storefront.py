"""云市场: the cards, filters, sorts and pages; the asset page; views; the API twin."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from assets.lifecycle import transition_version
from assets.models import Asset, AssetVersion
from assets.storefront import services as storefront_services
from tests.assets.factories import CategoryFactory, ProviderFactory
from tests.orders.fixtures import PLAN_1, PLAN_100, PLAN_FREE, archive_on_sale


def plan(name, price):
    return {"name": name, "price": Decimal(price), "duration_value": 1, "duration_unit": "year"}


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer.owner)
    return client


@pytest.fixture
def api(buyer):
    client = APIClient()
    client.force_authenticate(buyer.owner)
    return client


def card_names(response):
    html = response.content.decode()
    return re.findall(r'<h3><a href="/market/ASID-\w+/">([^<]+)</a></h3>', html)


def api_names(response):
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["results"]]


@pytest.fixture
def shelf(make_listed_asset, category, provider, platform_admin):
    """Assets across the price bands; the cheapest active plan decides the band."""
    other = ProviderFactory(name="acme-labs", project_name="p", namespace="acme-p")
    databases = CategoryFactory(slug="databases", name_en="Databases", name_zh="数据库")
    assets = {
        "freebie": make_listed_asset("freebie", plans=(PLAN_FREE, PLAN_100)),
        "mem1": make_listed_asset("mem1", plans=(PLAN_1, PLAN_100)),
        "redis-ha": make_listed_asset(
            "redis-ha", plans=(plan("std", "98.50"),), summary="高性能缓存服务器"
        ),
        "pg": make_listed_asset(
            "pg", plans=(plan("std", "99"),), category=databases, summary="relational databases"
        ),
        "kafka": make_listed_asset("kafka", tenant=other, plans=(plan("std", "998.99"),)),
        "mongo": make_listed_asset("mongo", plans=(plan("std", "999"),), category=databases),
        "oracle": make_listed_asset(
            "oracle", plans=(plan("std", "9999"), plan("cheap", "5")), category=databases
        ),
    }
    # The cheapest plan, once archived, no longer sets the price.
    archived = assets["oracle"].plans.get(name="cheap")
    archive_on_sale(archived, actor=provider.owner, admin=platform_admin)
    make_listed_asset("draft-only", on_sale=False)
    return assets


# --- what is listed -----------------------------------------------------------------------


def test_only_assets_on_sale_are_listed(buyer_client, shelf, provider, platform_admin):
    names = card_names(buyer_client.get(reverse("storefront:storefront")))
    assert set(names) == set(shelf) and "draft-only" not in names
    version = AssetVersion.objects.get(asset=shelf["mem1"])
    transition_version(version=version, to="delisting_review", actor=provider.owner)
    transition_version(version=version, to="delisted", actor=platform_admin)
    assert "mem1" not in card_names(buyer_client.get(reverse("storefront:storefront")))


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("", {"freebie", "mem1", "redis-ha", "pg", "kafka", "mongo", "oracle"}),
        ("free", {"freebie"}),
        ("1-98", {"mem1", "redis-ha"}),
        ("99-998", {"pg", "kafka"}),
        ("999-9998", {"mongo"}),
        ("9999+", {"oracle"}),
        ("bogus", {"freebie", "mem1", "redis-ha", "pg", "kafka", "mongo", "oracle"}),
    ],
)
def test_price_bands_on_the_cheapest_plan_on_sale(buyer_client, api, shelf, price, expected):
    assert (
        set(card_names(buyer_client.get(reverse("storefront:storefront"), {"price": price})))
        == expected
    )
    if price != "bogus":
        assert set(api_names(api.get("/api/v1/storefront/", {"price": price}))) == expected


def test_category_and_keyword(buyer_client, api, shelf):
    names = card_names(
        buyer_client.get(reverse("storefront:storefront"), {"category": "databases"})
    )
    assert set(names) == {"pg", "mongo", "oracle"}
    both = {"category": "databases", "price": "999-9998"}
    assert card_names(buyer_client.get(reverse("storefront:storefront"), both)) == ["mongo"]
    assert set(api_names(api.get("/api/v1/storefront/", both))) == {"mongo"}
    # name, summary and provider; a Chinese word inside a summary too.
    for query, expected in [
        ("kafka", {"kafka"}),
        ("acme", {"kafka"}),
        ("缓存", {"redis-ha"}),
        ("relational", {"pg"}),
        ("nothing-like-it", set()),
    ]:
        assert (
            set(card_names(buyer_client.get(reverse("storefront:storefront"), {"q": query})))
            == expected
        )
        assert set(api_names(api.get("/api/v1/storefront/", {"q": query}))) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
def test_full_text_search_stems_words(buyer_client, shelf):
    # "database" finds the summary "relational databases" through the English stemmer.
    assert card_names(
        buyer_client.get(reverse("storefront:storefront"), {"q": "database relational"})
    ) == ["pg"]


def test_sorts(buyer_client, api, shelf):
    prices = ["freebie", "mem1", "redis-ha", "pg", "kafka", "mongo", "oracle"]
    assert (
        card_names(buyer_client.get(reverse("storefront:storefront"), {"sort": "price"})) == prices
    )
    assert (
        card_names(buyer_client.get(reverse("storefront:storefront"), {"sort": "-price"}))
        == prices[::-1]
    )
    assert api_names(api.get("/api/v1/storefront/", {"sort": "-price"})) == prices[::-1]
    Asset.objects.filter(pk=shelf["pg"].pk).update(view_count=50)
    Asset.objects.filter(pk=shelf["kafka"].pk).update(view_count=20)
    assert card_names(buyer_client.get(reverse("storefront:storefront"), {"sort": "views"}))[
        :2
    ] == [
        "pg",
        "kafka",
    ]
    Asset.objects.filter(pk=shelf["mem1"].pk).update(updated_at=timezone.now() + timedelta(days=1))
    assert (
        card_names(buyer_client.get(reverse("storefront:storefront"), {"sort": "updated"}))[0]
        == "mem1"
    )
    # 默认: the most recently listed first.
    assert card_names(buyer_client.get(reverse("storefront:storefront")))[0] == "oracle"


def test_filters_live_in_the_url_and_pages_keep_them(buyer_client, make_listed_asset):
    for i in range(14):
        make_listed_asset(f"cache-{i:02}")
    first = buyer_client.get(reverse("storefront:storefront"), {"price": "1-98", "sort": "price"})
    html = first.content.decode()
    assert len(card_names(first)) == 12 and "14 assets" in html
    assert "price=1-98&amp;sort=price&amp;page=2" in html
    second = buyer_client.get(
        reverse("storefront:storefront"), {"price": "1-98", "sort": "price", "page": 2}
    )
    assert len(card_names(second)) == 2
    # The other filters' links keep the current choices.
    assert 'href="?category=basic-apps&amp;price=1-98&amp;sort=price"' in html
    assert 'href="?price=1-98&amp;sort=-price"' in html  # 价格 again flips the direction


def test_page_links_keep_only_the_filters_the_market_knows(buyer_client, make_listed_asset):
    for i in range(13):
        make_listed_asset(f"cache-{i:02}")

    def pages(params):
        html = buyer_client.get(reverse("storefront:storefront"), params).content.decode()
        return re.search(r'<nav class="pagination".*?</nav>', html, flags=re.S).group(0)

    nav = pages({"sort": "price", "junk": "1"})
    assert 'href="?sort=price&amp;page=2" rel="next"' in nav and "junk" not in nav
    # A bad value makes the whole query fall back to "all", links included.
    nav = pages({"sort": "price", "price": "bogus"})
    assert 'href="?page=2" rel="next"' in nav and "bogus" not in nav


def test_cards_show_badge_free_buy_or_install(buyer_client, buyer, shelf, place, fund):
    fund(buyer, 5)
    place(buyer, shelf["mem1"], pay_now=True)
    html = buyer_client.get(reverse("storefront:storefront")).content.decode()
    cards = dict(re.findall(r'data-code="(ASID-\w+)">(.*?)</article>', html, flags=re.S))
    mem1, kafka, freebie = (cards[shelf[n].code] for n in ("mem1", "kafka", "freebie"))
    assert 'data-testid="install"' in mem1 and 'data-testid="buy"' not in mem1
    assert 'data-testid="buy"' in kafka and "Certified" not in kafka  # acme-labs: not certified
    assert "Certified" in mem1  # zs-olm is certified
    assert ">Free<" in freebie and "1 T" in mem1 and "998.99 T" in kafka
    api_items = {
        i["name"]: i for i in api_client_for(buyer).get("/api/v1/storefront/").json()["results"]
    }
    assert api_items["mem1"]["entitled"] and not api_items["kafka"]["entitled"]
    assert api_items["freebie"]["is_free"] and api_items["kafka"]["min_price"] == "998.99"
    assert api_items["mem1"]["provider"] == {
        "id": shelf["mem1"].tenant_id,
        "name": "zs-olm",
        "is_certified": True,
    }


def api_client_for(tenant):
    client = APIClient()
    client.force_login(tenant.owner)
    return client


def test_empty_states(buyer_client, make_listed_asset):
    assert (
        'data-testid="market-empty"'
        in buyer_client.get(reverse("storefront:storefront")).content.decode()
    )
    make_listed_asset("mem1")
    html = buyer_client.get(reverse("storefront:storefront"), {"q": "zzz"}).content.decode()
    assert 'data-testid="market-no-match"' in html and "Show all assets" in html


# --- the asset page -----------------------------------------------------------------------


def test_the_asset_page_has_header_tabs_and_version(buyer_client, make_listed_asset):
    asset = make_listed_asset(
        "mem1",
        plans=(PLAN_1, PLAN_100),
        usage_help_mode="link",
        usage_help_url="https://docs.example/mem",
        terms_markdown="**Use** it well",
        support_scope_markdown="服务热线: 010-0000",
    )
    url = reverse("storefront:storefront-asset", args=[asset.code])
    html = buyer_client.get(url).content.decode()
    assert "Certified" in html and "zs-olm" in html and "Basic applications" in html
    assert "<strong>fast</strong>" in html  # the Markdown description
    assert 'data-testid="channels"' in html and "stable · default" in html and "alpha" in html
    plans = buyer_client.get(url, {"tab": "plans"}).content.decode()
    assert "100¥/年" in plans and "100.00 T" in plans
    assert (
        "https://docs.example/mem" in buyer_client.get(url, {"tab": "usage_help"}).content.decode()
    )
    assert "<strong>Use</strong>" in buyer_client.get(url, {"tab": "terms"}).content.decode()
    assert "服务热线" in buyer_client.get(url, {"tab": "support_scope"}).content.decode()
    assert "No screenshot" in buyer_client.get(url, {"tab": "screenshots"}).content.decode()
    assert buyer_client.get(url, {"tab": "nonsense"}).status_code == 200


def test_an_asset_not_on_sale_is_a_404_unless_held(
    buyer_client, buyer, make_listed_asset, place, fund, provider, platform_admin
):
    draft = make_listed_asset("draft", on_sale=False)
    assert (
        buyer_client.get(reverse("storefront:storefront-asset", args=[draft.code])).status_code
        == 404
    )
    held = make_listed_asset("held")
    fund(buyer, 5)
    place(buyer, held, pay_now=True)
    version = AssetVersion.objects.get(asset=held)
    transition_version(version=version, to="delisting_review", actor=provider.owner)
    transition_version(version=version, to="delisted", actor=platform_admin)
    html = buyer_client.get(
        reverse("storefront:storefront-asset", args=[held.code])
    ).content.decode()
    assert 'data-testid="not-on-sale"' in html and "Renew" in html


def test_an_entitled_tenant_gets_install_into_a_project(buyer_client, buyer, mem1, place, fund):
    fund(buyer, 5)
    place(buyer, mem1, pay_now=True)
    html = buyer_client.get(
        reverse("storefront:storefront-asset", args=[mem1.code])
    ).content.decode()
    install_url = reverse("provisioning:installation-create", args=[mem1.code])
    assert 'data-testid="install-note"' in html and f'href="{install_url}"' in html
    form = buyer_client.get(install_url).content.decode()
    assert 'name="project"' in form and 'name="channel"' in form


# --- views (浏览量) ------------------------------------------------------------------------


def test_views_count_once_per_session_per_hour(client, buyer, other_buyer, mem1, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    updated = Asset.objects.get(pk=mem1.pk).updated_at
    url = reverse("storefront:storefront-asset", args=[mem1.code])
    client.force_login(buyer.owner)
    client.get(url)
    client.get(url, {"tab": "plans"})
    assert Asset.objects.get(pk=mem1.pk).view_count == 1
    time_machine.shift(timedelta(minutes=59))
    client.get(url)
    assert Asset.objects.get(pk=mem1.pk).view_count == 1
    time_machine.shift(timedelta(minutes=2))
    client.get(url)
    assert Asset.objects.get(pk=mem1.pk).view_count == 2
    from django.test import Client

    other = Client()
    other.force_login(other_buyer.owner)
    html = other.get(url).content.decode()
    assert re.search(r'data-testid="view-count">3<', html)
    assert Asset.objects.get(pk=mem1.pk).updated_at == updated  # a view is not an update


def test_count_view_is_a_service_remembered_by_the_session(mem1, time_machine):
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    time_machine.move_to(timezone.now(), tick=False)
    session = SessionStore()
    assert storefront_services.count_view(session=session, asset=mem1) is True
    assert storefront_services.count_view(session=session, asset=mem1) is False
    assert mem1.view_count == 1 and Asset.objects.get(pk=mem1.pk).view_count == 1
    assert storefront_services.count_view(session=SessionStore(), asset=mem1) is True
    assert Asset.objects.get(pk=mem1.pk).view_count == 2
    time_machine.shift(timedelta(hours=1, seconds=1))
    assert storefront_services.count_view(session=session, asset=mem1) is True
    assert Asset.objects.get(pk=mem1.pk).view_count == 3


# --- the API twin -------------------------------------------------------------------------


def test_api_bad_filters_name_the_parameter(api, shelf):
    for params, field in [
        ({"price": "cheap"}, "price"),
        ({"sort": "random"}, "sort"),
        ({"category": "no-such-shelf"}, "category"),
    ]:
        response = api.get("/api/v1/storefront/", params)
        assert response.status_code == 400 and field in response.json()["fields"]
        assert response.json()["code"] == "invalid"  # a query's shape, not a service refusal
        assert response.json()["detail"].startswith(f"{field}:")


def test_api_detail_by_code(api, shelf):
    mem1 = shelf["mem1"]
    body = api.get(f"/api/v1/storefront/{mem1.code}/").json()
    assert body["code"] == mem1.code and body["min_price"] == "1.00"
    assert [p["price"] for p in body["plans"]] == ["1.00", "100.00"]
    assert body["version"]["channels"] == ["stable", "alpha"]
    assert body["version"]["default_channel"] == "stable"
    assert "<strong>fast</strong>" in body["description_html"]
    assert body["other_info"]["support_scope"]["mode"] == "markdown"
    draft = Asset.objects.get(name="draft-only")
    assert api.get(f"/api/v1/storefront/{draft.code}/").status_code == 404


# --- query counts -------------------------------------------------------------------------


def test_storefront_page_and_api_keep_their_query_count(
    client, buyer, make_listed_asset, place, fund, django_assert_max_num_queries
):
    client.force_login(buyer.owner)
    api = APIClient()
    api.force_authenticate(buyer.owner)
    fund(buyer, 100)
    for i in range(2):
        place(buyer, make_listed_asset(f"a{i}"), pay_now=True)
    with django_assert_max_num_queries(10) as page_queries:
        client.get(reverse("storefront:storefront"))
    with django_assert_max_num_queries(10) as api_queries:
        api.get("/api/v1/storefront/")
    for i in range(2, 14):
        asset = make_listed_asset(f"a{i}")
        if i % 3 == 0:
            place(buyer, asset, pay_now=True)
    # A search: two more (the providers its words name; its first matches' ids and ranks).
    for params, more in [({}, 0), ({"q": "a1"}, 2), ({"price": "1-98", "sort": "-price"}, 0)]:
        with django_assert_max_num_queries(len(page_queries.captured_queries) + more):
            client.get(reverse("storefront:storefront"), params)
        with django_assert_max_num_queries(len(api_queries.captured_queries) + more):
            api.get("/api/v1/storefront/", params)

"""The storefront at any size: stored keys kept by the services, indexed search (Chinese
and English), a bounded count with cursor pages beyond it, constant query counts."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from assets import services as asset_services
from assets.lifecycle import transition_version
from assets.models import Asset, AssetVersion
from assets.storefront import selectors as market
from tests.orders.fixtures import archive_on_sale


def plan(name, price):
    return {"name": name, "price": Decimal(price), "duration_value": 1, "duration_unit": "year"}


def card_names(response):
    assert response.status_code == 200
    return re.findall(
        r'<h3><a href="/market/ASID-\w+/">([^<]+)</a></h3>', response.content.decode()
    )


def next_link(response):
    found = re.search(r'<a href="([^"]+)" rel="next">', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


def previous_link(response):
    found = re.search(r'<a href="([^"]+)" rel="prev">', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer.owner)
    return client


# --- the stored keys follow the services ----------------------------------------------------


def test_min_price_follows_every_plan_change(make_listed_asset, provider):
    # Not on sale, so the plan services write directly (a listed asset's new and changed
    # plans wait for review: tests/approvals/test_revisions.py).
    asset = make_listed_asset("mem1", plans=(plan("std", "50"),), on_sale=False)
    assert Asset.objects.get(pk=asset.pk).min_price == Decimal("50.00")
    cheap = asset_services.create_plan(actor=provider.owner, asset=asset, **plan("cheap", "5"))
    assert Asset.objects.get(pk=asset.pk).min_price == Decimal("5.00")
    asset_services.update_plan(actor=provider.owner, plan=cheap, price=Decimal("70"))
    assert Asset.objects.get(pk=asset.pk).min_price == Decimal("50.00")
    asset_services.update_plan(actor=provider.owner, plan=cheap, price=Decimal("0"))
    assert Asset.objects.get(pk=asset.pk).min_price == Decimal("0.00")
    asset_services.archive_plan(actor=provider.owner, plan=cheap)
    assert Asset.objects.get(pk=asset.pk).min_price == Decimal("50.00")
    asset_services.restore_plan(actor=provider.owner, plan=cheap)
    assert Asset.objects.get(pk=asset.pk).min_price == Decimal("0.00")
    asset_services.delete_plan(actor=provider.owner, plan=cheap)
    assert Asset.objects.get(pk=asset.pk).min_price == Decimal("50.00")
    only = asset.plans.get()
    asset_services.archive_plan(actor=provider.owner, plan=only)
    assert Asset.objects.get(pk=asset.pk).min_price is None  # "No plan on sale"


def test_the_cards_price_and_band_follow_a_price_change(
    buyer_client, make_listed_asset, provider, platform_admin
):
    from approvals import services as approvals
    from approvals.models import ApprovalRequest

    asset = make_listed_asset("mem1", plans=(plan("std", "50"),))
    url = reverse("storefront:storefront")
    assert card_names(buyer_client.get(url, {"price": "1-98"})) == ["mem1"]
    asset_services.update_plan(actor=provider.owner, plan=asset.plans.get(), price=Decimal("0"))
    # Held for review: the card keeps the live price until an admin approves.
    assert card_names(buyer_client.get(url, {"price": "1-98"})) == ["mem1"]
    review = ApprovalRequest.objects.get(asset=asset, kind="revision", status="pending")
    approvals.approve_request(actor=platform_admin, approval=review)
    assert card_names(buyer_client.get(url, {"price": "free"})) == ["mem1"]
    assert card_names(buyer_client.get(url, {"price": "1-98"})) == []


def test_listed_at_follows_the_version_lifecycle(
    buyer_client, make_listed_asset, provider, platform_admin
):
    asset = make_listed_asset("mem1")
    version = AssetVersion.objects.get(asset=asset)
    assert Asset.objects.get(pk=asset.pk).listed_at == version.listed_at is not None
    url = reverse("storefront:storefront")
    transition_version(version=version, to="delisting_review", actor=provider.owner)
    assert Asset.objects.get(pk=asset.pk).listed_at is None
    assert card_names(buyer_client.get(url)) == []
    transition_version(version=version, to="on_sale", actor=platform_admin, reason="keep it")
    assert Asset.objects.get(pk=asset.pk).listed_at == version.listed_at
    assert card_names(buyer_client.get(url)) == ["mem1"]
    transition_version(version=version, to="delisting_review", actor=provider.owner)
    transition_version(version=version, to="delisted", actor=platform_admin)
    assert Asset.objects.get(pk=asset.pk).listed_at is None
    # A new version listed: the asset is back, newest first by the new listing.
    newer = asset_services.create_version(
        actor=provider.owner,
        asset=asset,
        project=provider.project,
        cluster=version.cluster,
        catalog_source=version.catalog_source,
        package_name="memcached-operator",
        channels=["stable"],
        default_channel="stable",
    )
    transition_version(version=newer, to="listing_review", actor=provider.owner)
    newer = transition_version(version=newer, to="on_sale", actor=platform_admin)
    assert Asset.objects.get(pk=asset.pk).listed_at == newer.listed_at
    assert card_names(buyer_client.get(url)) == ["mem1"]


# --- keyword search -------------------------------------------------------------------------


@pytest.fixture
def shop(make_listed_asset):
    # Descriptions are searched too (see test_search_descriptions): each its own here.
    return {
        "redis-ha": make_listed_asset("redis-ha", summary="高性能缓存服务器", description="Redis"),
        "pg": make_listed_asset("pg", summary="relational databases for teams", description="PG"),
        "memcached": make_listed_asset("memcached", summary="a memory cache", description="mc"),
        "队列": make_listed_asset("消息队列", summary="message queue", description="MQ"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("缓存", {"redis-ha"}),  # two CJK characters inside a run
        ("性能缓存", {"redis-ha"}),  # four, through the trigram index
        ("存", {"redis-ha"}),  # one
        ("队列", {"消息队列"}),  # in the name
        ("缓服", set()),  # both characters there, but not next to each other
        ("emcach", {"memcached"}),  # a substring inside a word
        ("database", {"pg"}),  # an English word, stemmed
        ("teams", {"pg"}),
        ("queue", {"消息队列"}),
        ("nothing-like-it", set()),
    ],
)
def test_keyword_search_finds_chinese_substrings_and_english_words(
    buyer_client, buyer, shop, query, expected
):
    names = card_names(buyer_client.get(reverse("storefront:storefront"), {"q": query}))
    assert set(names) == expected
    api = APIClient()
    api.force_login(buyer.owner)
    body = api.get("/api/v1/storefront/", {"q": query}).json()
    assert {item["name"] for item in body["results"]} == expected


# --- deep pages -----------------------------------------------------------------------------


@pytest.fixture
def many(make_listed_asset, monkeypatch, provider, platform_admin):
    """29 assets, counting capped at 20 (the same code path as 1,000 at 50,000 assets);
    one has no plan on sale any more (its price sorts last)."""
    monkeypatch.setattr(market, "COUNT_CAP", 20)
    assets = [
        make_listed_asset(f"cache-{i:02}", plans=(plan("std", str(10 + i % 7)),)) for i in range(29)
    ]
    archive_on_sale(assets[3].plans.get(), actor=provider.owner, admin=platform_admin)
    return assets


@pytest.mark.parametrize("sort", ["", "price", "-price", "updated", "views"])
def test_deep_pages_go_on_by_cursor_and_back(buyer_client, many, sort):
    url = reverse("storefront:storefront")
    expected = [
        a.name for a in market.search_storefront(sort=sort)
    ]  # the sort's whole order, read without pages
    first = buyer_client.get(url, {"sort": sort} if sort else {})
    html = first.content.decode()
    assert "More than 20 assets" in html and "Page 1 · more than 20 items" in html
    seen, pages, response = card_names(first), [first], first
    while (link := next_link(response)) is not None:
        response = buyer_client.get(url + link)
        seen += card_names(response)
        pages.append(response)
    assert seen == expected  # every asset once, in order, through page=2 then cursors
    assert len(pages) == 3 and "after=" in next_link(pages[1])
    assert "Page 3 ·" in pages[-1].content.decode()
    # Back from the last page, by cursor, to page 2's rows.
    back = buyer_client.get(url + previous_link(pages[-1]))
    assert card_names(back) == card_names(pages[1])
    if sort == "price":
        assert seen[-1] == "cache-03"  # no plan on sale: last


def test_a_page_number_past_the_counted_window_shows_its_last_page(buyer_client, many):
    response = buyer_client.get(reverse("storefront:storefront"), {"page": 99})
    assert len(card_names(response)) == 12 and "Page 2 ·" in response.content.decode()
    assert "after=" in next_link(response)
    bad = buyer_client.get(reverse("storefront:storefront"), {"after": "not-a-cursor"})
    assert bad.status_code == 200 and len(card_names(bad)) == 12


def test_api_deep_pages_by_cursor(many, buyer):
    api = APIClient()
    api.force_login(buyer.owner)
    body = api.get("/api/v1/storefront/", {"page_size": 10}).json()
    assert body["count"] == 20 and body["count_capped"] is True
    names = [i["name"] for i in body["results"]]
    while body["next"]:
        body = api.get(body["next"]).json()
        names += [i["name"] for i in body["results"]]
    assert names == [a.name for a in market.search_storefront()]
    assert api.get("/api/v1/storefront/", {"after": "%%%"}).status_code == 200


def test_query_counts_stay_the_same_on_every_kind_of_page(buyer_client, many, buyer):
    """Page 1, a numbered page, a cursor page and a search: each constant and at most 10."""
    url = reverse("storefront:storefront")
    second = buyer_client.get(url, {"page": 2})
    third_url = url + next_link(second)
    api = APIClient()
    api.force_login(buyer.owner)
    counts = {}
    for name, get in {
        "page 1": lambda: buyer_client.get(url),
        "page 2": lambda: buyer_client.get(url, {"page": 2}),
        "cursor page": lambda: buyer_client.get(third_url),
        "search": lambda: buyer_client.get(url, {"q": "cache", "sort": "-price"}),
        "api": lambda: api.get("/api/v1/storefront/"),
        "api cursor": lambda: api.get("/api/v1/storefront/", {"page": 2}),
    }.items():
        with CaptureQueriesContext(connection) as captured:
            assert get().status_code == 200
        counts[name] = len(captured.captured_queries)
    assert max(counts.values()) <= 10, counts
    assert counts["page 1"] == counts["page 2"] == counts["cursor page"], counts


def test_the_admin_check_every_page_makes_is_one_query_per_request(
    platform_admin, buyer, django_assert_num_queries
):
    from accounts.models import User
    from accounts.permissions import is_platform_admin

    admin, plain = User.objects.get(pk=platform_admin.pk), User.objects.get(pk=buyer.owner.pk)
    with django_assert_num_queries(1):
        assert is_platform_admin(admin) and is_platform_admin(admin)
    with django_assert_num_queries(1):
        assert not is_platform_admin(plain) and not is_platform_admin(plain)

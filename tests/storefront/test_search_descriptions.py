"""云市场 search reads descriptions, Chinese included; a 0.50 T plan has an honest band."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from assets.storefront import selectors as market

from .test_storefront import card_names, plan


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer.owner)
    return client


@pytest.fixture
def described(make_listed_asset):
    return {
        "redis-ha": make_listed_asset(
            "redis-ha",
            summary="in-memory store",
            description="# Redis\n\n高可用的分布式缓存服务, with automatic failover.",
            plans=(plan("mini", "0.50"),),
        ),
        "pg": make_listed_asset(
            "pg", summary="relational", description="事务型数据库", plans=(plan("std", "99"),)
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("缓存", {"redis-ha"}),  # two characters: the CJK grams of the stored document
        ("分布式缓存", {"redis-ha"}),  # longer: the trigram index
        ("事务", {"pg"}),
        ("failover", {"redis-ha"}),  # an English word of a description, stemmed
        ("automatic failovers", {"redis-ha"}),
        ("缓存数据库", set()),  # both words in no single description
    ],
)
def test_a_word_of_a_description_finds_the_asset(buyer_client, buyer, described, query, expected):
    page = buyer_client.get(reverse("storefront:storefront"), {"q": query})
    assert set(card_names(page)) == expected
    api = APIClient()
    api.force_authenticate(buyer.owner)
    body = api.get("/api/v1/storefront/", {"q": query}).json()
    assert {item["name"] for item in body["results"]} == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes are PostgreSQL's")
def test_description_search_uses_the_indexes(described):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname IN "
            "('asset_search_trigram', 'asset_search_document') ORDER BY indexname"
        )
        document, trigram = (row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef JOIN pg_attribute "
            "ON attrelid = adrelid AND attnum = adnum "
            "WHERE adrelid = 'assets_asset'::regclass AND attname = 'search_document'"
        )
        (generated,) = cursor.fetchone()
    assert "gin_trgm_ops" in trigram and "description" in trigram
    assert "search_document" in document and "description" in generated


def test_a_half_a_t_plan_sits_in_the_band_under_99(buyer_client, described):
    url = reverse("storefront:storefront")
    assert card_names(buyer_client.get(url, {"price": "1-98"})) == ["redis-ha"]
    assert "redis-ha" not in card_names(buyer_client.get(url, {"price": "free"}))
    html = buyer_client.get(url).content.decode()
    assert "Under 99" in html and ">1 - 98<" not in html  # the label says what it holds


# --- a description's Chinese word and a provider's name, in one search ----------------------


@pytest.fixture
def two_providers(make_listed_asset, described):
    from tests.assets.factories import ProviderFactory

    cloud = ProviderFactory(name="云缓存科技", project_name="yun", namespace="yun")
    described["kafka"] = make_listed_asset(
        "kafka", tenant=cloud, summary="event streams", description="消息队列"
    )
    return described


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # 缓存 is in redis-ha's description and in the name of kafka's provider: both.
        ("缓存", {"redis-ha", "kafka"}),
        ("云缓存", {"kafka"}),  # three characters: the provider's name only
        ("zs-olm", {"redis-ha", "pg"}),  # the other provider, by its whole name
        ("OLM", {"redis-ha", "pg"}),  # in any case
        ("消息队列", {"kafka"}),  # kafka's own description
        ("科技数据库", set()),
    ],
)
def test_a_description_word_and_a_providers_name_both_find_their_assets(
    buyer_client, buyer, two_providers, query, expected
):
    page = buyer_client.get(reverse("storefront:storefront"), {"q": query})
    assert set(card_names(page)) == expected
    api = APIClient()
    api.force_authenticate(buyer.owner)
    body = api.get("/api/v1/storefront/", {"q": query}).json()
    assert {item["name"] for item in body["results"]} == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner is PostgreSQL's")
def test_a_search_is_planned_from_the_providers_its_words_name(provider, category):
    """20 providers and 200 assets on sale, 缓存 in 10 descriptions and in no provider's name.
    The planner must expect about the 10 rows, not the 40 % of the catalogue it guesses for
    "assets of some providers" when the providers are a subquery (then it reads the whole
    table instead of the indexes)."""
    from django.utils import timezone

    from accounts.models import Tenant
    from assets.models import Asset

    tenants = [provider] + Tenant.objects.bulk_create(
        [
            Tenant(name=f"provider-{i:02}", slug=f"provider-{i:02}", is_provider=True)
            for i in range(19)
        ]
    )
    now = timezone.now()
    Asset.objects.bulk_create(
        [
            Asset(
                tenant=tenants[i % 20], category=category, name=f"op-{i}", summary=f"operator {i}",
                description="分布式缓存" if i % 20 == 7 else f"asset number {i}",
                icon="assets/test/icon.png", min_price=Decimal("1"), listed_at=now,
            )
            for i in range(200)
        ]
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE assets_asset")
        cursor.execute("ANALYZE accounts_tenant")
    found = market.search_storefront(query="缓存").values("pk")
    assert found.count() == 10
    sql, params = found.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan_json,) = cursor.fetchone()
    plan_json = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
    assert plan_json[0]["Plan"]["Plan Rows"] < 40, plan_json

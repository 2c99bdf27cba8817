"""云市场 search reads descriptions, Chinese included; a 0.50 T plan has an honest band."""

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

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

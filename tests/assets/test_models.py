"""Invariants the database itself keeps."""

import re
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from assets.models import (
    ASSET_CODE_RE,
    Asset,
    AssetVersion,
    Category,
    Plan,
    Screenshot,
    generate_asset_code,
)


def test_asset_codes_are_asid_plus_eleven_base62():
    codes = {generate_asset_code() for _ in range(500)}
    assert len(codes) == 500
    assert all(re.fullmatch(ASSET_CODE_RE, code) for code in codes)


def test_asset_code_is_unique_and_immutable(provider, make_asset):
    asset = make_asset(provider)
    assert re.fullmatch(ASSET_CODE_RE, asset.code)
    reloaded = Asset.objects.get(pk=asset.pk)
    reloaded.code = generate_asset_code()
    with pytest.raises(ValueError, match="immutable"):
        reloaded.save()
    other = make_asset(provider, name="mem2")
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.filter(pk=other.pk).update(code=asset.code)


def test_database_refuses_a_malformed_code(provider, make_asset):
    asset = make_asset(provider)
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.filter(pk=asset.pk).update(code="ASID-short")


def test_the_seven_seed_categories_exist_in_both_languages(db):
    names = list(Category.objects.order_by("position").values_list("name_zh", flat=True))
    assert names == [
        "基础应用",
        "网站建设",
        "企业应用",
        "数据库中间件集群",
        "API 服务",
        "物联网",
        "人工智能",
    ]
    category = Category.objects.get(slug="basic-apps")
    with translation.override("zh-hans"):
        assert str(category) == "基础应用"
    with translation.override("en"):
        assert str(category) == "Basic applications"


def test_only_one_version_per_asset_is_on_sale(provider, make_asset, make_version):
    asset = make_asset(provider)
    first, second = make_version(asset), make_version(asset)
    AssetVersion.objects.filter(pk=first.pk).update(status="on_sale")
    with pytest.raises(IntegrityError), transaction.atomic():
        AssetVersion.objects.filter(pk=second.pk).update(status="on_sale")
    other_asset = make_asset(provider, name="mem2")
    third = make_version(other_asset)
    AssetVersion.objects.filter(pk=third.pk).update(status="on_sale")  # another asset: fine


def test_database_keeps_version_status_to_the_lifecycle(provider, make_asset, make_version):
    version = make_version(make_asset(provider))
    with pytest.raises(IntegrityError), transaction.atomic():
        AssetVersion.objects.filter(pk=version.pk).update(status="approved")


@pytest.mark.parametrize(
    "changes",
    [
        {"price": Decimal("-0.01")},
        {"duration_value": 0},
        {"duration_unit": "week"},
    ],
)
def test_database_refuses_bad_plans(provider, make_asset, changes):
    asset = make_asset(provider)
    fields = {"name": "p", "price": Decimal("1"), "duration_value": 1, "duration_unit": "year"}
    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.create(asset=asset, **{**fields, **changes})


def test_plan_names_are_unique_among_active_plans_only(provider, make_asset):
    asset = make_asset(provider)
    Plan.objects.create(asset=asset, name="Basic", price=1, is_archived=True)
    Plan.objects.create(asset=asset, name="basic", price=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.create(asset=asset, name="BASIC", price=2)


def test_database_allows_two_screenshots_at_most(provider, make_asset):
    asset = make_asset(provider)
    Screenshot.objects.create(asset=asset, image="a.png", position=0)
    Screenshot.objects.create(asset=asset, image="b.png", position=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Screenshot.objects.create(asset=asset, image="c.png", position=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Screenshot.objects.create(asset=asset, image="d.png", position=1)


@pytest.mark.parametrize(
    ("value", "unit", "english"),
    [(1, "year", "1 year"), (2, "year", "2 years"), (1, "day", "1 day"), (30, "day", "30 days")],
)
def test_plan_duration_reads_naturally(value, unit, english):
    plan = Plan(name="p", price=Decimal("0"), duration_value=value, duration_unit=unit)
    with translation.override("en"):
        assert plan.duration_display == english
    assert plan.is_free


def test_asset_names_are_unique_per_tenant_ignoring_case(provider, other_provider, make_asset):
    make_asset(provider, name="mem1")
    make_asset(other_provider, name="MEM1")  # another tenant may use it
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.create(
            tenant=provider,
            category_id=Category.objects.first().pk,
            name="Mem1",
            summary="s",
            description="d",
            icon="x.png",
        )

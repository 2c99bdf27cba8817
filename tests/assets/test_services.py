"""The rules of the provider portal, as the services keep them (web and API share them)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError

from accounts import services as account_services
from accounts.errors import AccountsErrorCode
from accounts.models import AuditEntry
from assets import services
from assets.errors import AssetsErrorCode
from assets.models import Asset, AssetVersion, Plan, Screenshot
from clusters.models import CatalogSource
from core.errors import NotPermitted, error_code

from .factories import PLAN_100, ClusterFactory


def _files(media_root):
    return (
        sorted(p.name for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []
    )


def _audit(action):
    return AuditEntry.objects.filter(action=action)


# --- registration -------------------------------------------------------------------------


def test_register_asset_with_plans_and_screenshots_in_one_go(
    provider, make_asset, image_file, media_root
):
    asset = make_asset(
        provider,
        plans=[
            PLAN_100,
            {
                **PLAN_100,
                "name": "Free",
                "price": Decimal("0"),
                "duration_value": 30,
                "duration_unit": "day",
            },
        ],
        screenshots=[image_file(264, 146, "PNG"), image_file(528, 292, "JPEG")],
    )
    assert asset.code.startswith("ASID-") and asset.tenant == provider
    assert asset.icon.name.startswith(f"assets/{asset.code}/icon-")
    assert [p.name for p in asset.plans.all()] == ["100¥/年", "Free"]
    shots = list(asset.screenshots.order_by("position"))
    assert [(s.position, s.width, s.height) for s in shots] == [(0, 264, 146), (1, 528, 292)]
    assert shots[1].image.name.endswith(".jpg")
    assert asset.support_scope_markdown == ""  # the example is a placeholder, not data
    entry = _audit("asset.created").get()
    assert entry.actor == provider.owner and entry.tenant == provider
    assert entry.changes["plans"][0].startswith("100¥/年: 100.00 T")
    assert entry.changes["screenshots"] == 2
    assert len(_files(media_root)) == 3


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field cannot be blank."),
        ({"summary": ""}, "summary", "This field cannot be blank."),
        ({"description": ""}, "description", "This field cannot be blank."),
        ({"category": None}, "category", "Choose a category."),
        ({"delivery_type": "zip"}, "delivery_type", "not a valid choice"),
        ({"website": "not a url"}, "website", "valid URL"),
        ({"terms_mode": "link"}, "terms_url", "enter its address"),
        (
            {"usage_help_mode": "link", "usage_help_url": "javascript:alert(1)"},
            "usage_help_url",
            "valid URL",
        ),
    ],
)
def test_bad_asset_input_names_the_field_and_saves_nothing(
    provider, make_asset, media_root, overrides, field, message
):
    with pytest.raises(ValidationError) as caught:
        make_asset(provider, **overrides)
    assert message in " ".join(caught.value.message_dict[field])
    assert not Asset.objects.exists() and not _audit("asset.created").exists()
    assert _files(media_root) == []


def test_icon_is_required_and_checked(provider, category, image_file):
    with pytest.raises(ValidationError) as caught:
        services.register_asset(
            actor=provider.owner,
            tenant=provider,
            icon=None,
            category=category,
            name="x",
            summary="s",
            description="d",
        )
    assert "96×96" in caught.value.message_dict["icon"][0]
    with pytest.raises(ValidationError) as caught:
        services.register_asset(
            actor=provider.owner,
            tenant=provider,
            icon=image_file(120, 80, "GIF"),
            category=category,
            name="x",
            summary="s",
            description="d",
        )
    assert "got 120×80 GIF" in caught.value.message_dict["icon"][0]


def test_all_errors_are_reported_at_once(provider, make_asset, image_file):
    with pytest.raises(ValidationError) as caught:
        make_asset(
            provider,
            name="",
            icon=image_file(10, 10),
            screenshots=[image_file(1, 1, "GIF")],
            plans=[{**PLAN_100, "price": Decimal("-1")}],
        )
    assert {"name", "icon", "screenshots", "plans"} <= set(caught.value.message_dict)


def _codes(exc):
    return {field: [e.code for e in errors] for field, errors in exc.error_dict.items()}


def test_each_refusal_keeps_its_code_on_its_field(provider, make_asset, image_file):
    make_asset(provider, name="taken")
    with pytest.raises(ValidationError) as caught:
        make_asset(
            provider,
            name="TAKEN",
            terms_mode="link",
            icon=image_file(10, 10),
            screenshots=[image_file(1, 1, "GIF"), _not_an_image()],
            plans=[{**PLAN_100, "price": Decimal("-1")}, PLAN_100, PLAN_100],
        )
    assert _codes(caught.value) == {
        "terms_url": ["link_url_required"],
        "name": ["asset_name_taken"],
        "icon": ["bad_icon"],
        "screenshots": ["bad_screenshot", "not_an_image"],
        "plans": ["plan_invalid", "plan_name_duplicate", "plan_name_duplicate"],
    }
    assert error_code(caught.value) == "link_url_required"  # the API's code: the first one
    with pytest.raises(ValidationError) as caught:
        make_asset(provider, name="other", category=None, icon=None)
    assert _codes(caught.value)["category"] == ["category_required"]
    with pytest.raises(ValidationError) as caught:
        make_asset(provider, name="", screenshots=[image_file(264, 146)] * 3)
    assert _codes(caught.value) == {
        "name": ["asset_invalid"],
        "screenshots": ["too_many_screenshots"],
    }


def _not_an_image():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("shot.png", b"#!/bin/sh\n", content_type="image/png")


def test_at_most_two_screenshots(provider, make_asset, image_file, media_root):
    with pytest.raises(ValidationError) as caught:
        make_asset(provider, screenshots=[image_file(264, 146) for _ in range(3)])
    assert caught.value.message_dict["screenshots"] == ["At most 2 screenshots; got 3."]
    assert _files(media_root) == []


def test_duplicate_plan_names_in_one_registration(provider, make_asset):
    with pytest.raises(ValidationError) as caught:
        make_asset(provider, plans=[PLAN_100, {**PLAN_100, "name": "100¥/年"}])
    assert "Two plans are called" in caught.value.message_dict["plans"][0]


def test_asset_names_clash_per_tenant_only(provider, other_provider, make_asset):
    make_asset(provider, name="mem1")
    make_asset(other_provider, name="mem1")
    with pytest.raises(ValidationError) as caught:
        make_asset(provider, name="MEM1")
    assert "already has an asset called" in caught.value.message_dict["name"][0]


def test_a_failure_after_files_were_written_leaves_no_file(
    provider, make_asset, image_file, media_root, monkeypatch
):
    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "record_audit", boom)
    with pytest.raises(RuntimeError):
        make_asset(provider, screenshots=[image_file(264, 146)])
    assert not Asset.objects.exists() and not Screenshot.objects.exists()
    assert _files(media_root) == []


def test_only_members_of_a_provider_tenant_register(
    provider, make_asset, tenant_with_owner, make_user
):
    buyer_tenant, buyer = tenant_with_owner("zs2-corp")
    with pytest.raises(NotPermitted, match="provider") as caught:
        make_asset(buyer_tenant, actor=buyer)
    assert caught.value.code == AssetsErrorCode.NOT_A_PROVIDER
    assert str(caught.value) == "Only provider tenants can register and sell assets."
    with pytest.raises(NotPermitted, match="not a member") as caught:
        make_asset(provider, actor=make_user("stranger"))
    assert caught.value.code == AccountsErrorCode.NOT_A_MEMBER
    assert str(caught.value) == "You are not a member of zs-olm."
    member = make_user("member")
    account_services.add_member(actor=provider.owner, tenant=provider, user=member)
    assert make_asset(provider, actor=member).created_by == member


# --- editing ------------------------------------------------------------------------------


def test_update_asset_audits_what_changed_and_keeps_the_code(provider, make_asset):
    asset = make_asset(provider)
    code = asset.code
    updated = services.update_asset(
        actor=provider.owner,
        asset=asset,
        summary="memcached cluster operator",
        terms_mode="link",
        terms_url="https://tenxcloud.com/terms",
    )
    assert updated.code == code and updated.summary == "memcached cluster operator"
    entry = _audit("asset.updated").get()
    assert entry.changes == {
        "summary": ["memcached cluster", "memcached cluster operator"],
        "terms_mode": ["markdown", "link"],
        "terms_url": ["", "https://tenxcloud.com/terms"],
    }


def test_update_refuses_bad_input_and_changes_nothing(provider, make_asset, image_file):
    asset = make_asset(provider)
    make_asset(provider, name="other")
    with pytest.raises(ValidationError) as caught:
        services.update_asset(
            actor=provider.owner, asset=asset, name="Other", icon=image_file(64, 64)
        )
    assert {"name", "icon"} == set(caught.value.message_dict)
    asset.refresh_from_db()
    assert asset.name == "mem1" and not _audit("asset.updated").exists()


def test_a_new_icon_replaces_the_old_file(
    provider, make_asset, image_file, media_root, django_capture_on_commit_callbacks
):
    asset = make_asset(provider)
    old = asset.icon.name
    with django_capture_on_commit_callbacks(execute=True):
        asset = services.update_asset(
            actor=provider.owner, asset=asset, icon=image_file(96, 96, "JPEG")
        )
    assert asset.icon.name != old and asset.icon.name.endswith(".jpg")
    assert _files(media_root) == [asset.icon.name.rsplit("/", 1)[1]]
    assert _audit("asset.updated").get().changes["icon"][0] == old


def test_screenshots_can_be_added_up_to_two_and_removed(
    provider, make_asset, image_file, media_root, django_capture_on_commit_callbacks
):
    asset = make_asset(provider, screenshots=[image_file(264, 146)])
    second = services.add_screenshot(actor=provider.owner, asset=asset, image=image_file(264, 146))
    assert second.position == 1
    with pytest.raises(ValidationError, match="at most 2 screenshots") as caught:
        services.add_screenshot(actor=provider.owner, asset=asset, image=image_file(264, 146))
    assert _codes(caught.value) == {"image": ["too_many_screenshots"]}
    for image, code in [(None, "image_required"), (image_file(264, 146, "GIF"), "bad_screenshot")]:
        with pytest.raises(ValidationError) as caught:
            services.add_screenshot(actor=provider.owner, asset=asset, image=image)
        assert _codes(caught.value) == {"image": [code]}
    first = asset.screenshots.get(position=0)
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_screenshot(actor=provider.owner, screenshot=first)
    assert not (media_root / first.image.name).exists()
    third = services.add_screenshot(actor=provider.owner, asset=asset, image=image_file(264, 146))
    assert third.position == 0
    assert _audit("asset.screenshot_added").count() == 2
    assert _audit("asset.screenshot_removed").count() == 1


# --- plans --------------------------------------------------------------------------------


def test_plans_are_created_edited_archived_and_restored(provider, make_asset):
    asset = make_asset(provider)
    plan = services.create_plan(actor=provider.owner, asset=asset, **PLAN_100)
    assert plan.price == Decimal("100.00") and plan.duration_display == "1 year"
    plan = services.update_plan(actor=provider.owner, plan=plan, price=Decimal("120"))
    assert plan.price == Decimal("120.00")
    assert _audit("plan.updated").get().changes == {"price": ["100.00", "120.00"]}
    plan = services.archive_plan(actor=provider.owner, plan=plan)
    assert plan.is_archived and plan.archived_at
    # An archived plan's name is free again; restoring then clashes.
    services.create_plan(actor=provider.owner, asset=asset, **PLAN_100)
    with pytest.raises(ValidationError, match="already has a plan") as caught:
        services.restore_plan(actor=provider.owner, plan=plan)
    assert _codes(caught.value) == {"name": ["plan_name_taken"]}
    assert Plan.objects.get(pk=plan.pk).is_archived
    assert [
        e.action
        for e in AuditEntry.objects.filter(
            object_id=str(plan.pk), action__startswith="plan."
        ).order_by("id")
    ] == [
        "plan.created",
        "plan.updated",
        "plan.archived",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": Decimal("-1")}, "price"),
        ({"price": Decimal("1.234")}, "price"),
        ({"price": "abc"}, "price"),
        ({"duration_value": 0}, "duration_value"),
        ({"duration_value": 36501}, "duration_value"),
        ({"duration_unit": "month"}, "duration_unit"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_plans_name_the_field(provider, make_asset, changes, field):
    asset = make_asset(provider)
    with pytest.raises(ValidationError) as caught:
        services.create_plan(actor=provider.owner, asset=asset, **{**PLAN_100, **changes})
    assert field in caught.value.message_dict
    assert error_code(caught.value) == AssetsErrorCode.PLAN_INVALID
    assert not Plan.objects.exists()


def test_free_plans_are_fine(provider, make_asset):
    plan = services.create_plan(
        actor=provider.owner,
        asset=make_asset(provider),
        name="Free",
        price=Decimal("0"),
        duration_value=30,
        duration_unit="day",
    )
    assert plan.is_free and plan.duration_display == "30 days"


def test_plan_is_ordered_is_the_orders_hook():
    assert services.plan_is_ordered(Plan()) is False
    assert "plan_usage" in services.plan_is_ordered.__doc__


def test_an_unordered_plan_can_be_deleted_an_ordered_one_cannot(provider, make_asset, monkeypatch):
    asset = make_asset(provider, plans=[PLAN_100, {**PLAN_100, "name": "B"}])
    first, second = asset.plans.order_by("position")
    services.delete_plan(actor=provider.owner, plan=first)
    assert not Plan.objects.filter(pk=first.pk).exists()
    assert _audit("plan.deleted").get().changes["name"] == "100¥/年"
    monkeypatch.setattr(services, "plan_is_ordered", lambda plan: True)
    with pytest.raises(ValidationError, match="archive it instead") as caught:
        services.delete_plan(actor=provider.owner, plan=second)
    assert _codes(caught.value) == {"plan": ["plan_ordered"]}  # the code survives the field
    assert Plan.objects.filter(pk=second.pk).exists()


def test_plans_of_another_tenant_cannot_be_touched(provider, other_provider, make_asset):
    plan = services.create_plan(actor=provider.owner, asset=make_asset(provider), **PLAN_100)
    for call in (
        lambda: services.update_plan(actor=other_provider.owner, plan=plan, price=0),
        lambda: services.archive_plan(actor=other_provider.owner, plan=plan),
        lambda: services.delete_plan(actor=other_provider.owner, plan=plan),
    ):
        with pytest.raises(NotPermitted) as caught:
            call()
        assert caught.value.code == AccountsErrorCode.NOT_A_MEMBER


# --- versions -----------------------------------------------------------------------------


def test_version_takes_its_number_from_the_default_channels_csv(provider, make_asset, make_version):
    asset = make_asset(provider)
    version = make_version(asset, channels=("alpha", "stable"), default_channel="stable")
    assert version.status == AssetVersion.Status.DRAFT
    assert (version.version, version.csv_name) == ("0.0.2", "memcached-operator.v0.0.2")
    assert version.channels == ["stable", "alpha"]  # the package's order
    assert version.api_kinds == ["MemcachedCluster"]
    alpha = make_version(asset, channels=("alpha",), default_channel="alpha")
    assert alpha.version == "0.1.0"  # no `version` in the channel: from the CSV name
    entry = _audit("version.created").first()
    assert entry.to_state == "draft" and entry.tenant == provider


def _version_kwargs(provider, catalog, on_cluster, **overrides):
    return {
        "project": provider.project,
        "cluster": on_cluster,
        "catalog_source": catalog,
        "package_name": "memcached-operator",
        "channels": ["stable"],
        "default_channel": "stable",
        **overrides,
    }


def test_version_choices_must_fit_together(
    provider, other_provider, make_asset, make_catalog, default_cluster
):
    asset = make_asset(provider)
    catalog = make_catalog(provider)
    foreign_catalog = make_catalog(other_provider, name="theirs")
    private = ClusterFactory(name="private")
    pending = make_catalog(provider, name="pending", state="deploying")
    no_csv = make_catalog(provider, name="no-csv", channels=[{"name": "stable", "current_csv": ""}])
    cases = [
        (
            {"project": other_provider.project},
            "project",
            "Choose a project of zs-olm",
            "project_not_of_tenant",
        ),
        ({"cluster": private}, "cluster", "may not use the cluster private", "cluster_not_open"),
        (
            {"catalog_source": foreign_catalog},
            "catalog_source",
            "Choose a CatalogSource of zs-olm",
            "catalog_not_of_tenant",
        ),
        ({"catalog_source": pending}, "catalog_source", "not READY", "catalog_not_ready"),
        (
            {"package_name": "redis"},
            "package_name",
            "does not serve a package “redis”",
            "package_not_found",
        ),
        ({"channels": []}, "channels", "at least one channel", "channel_required"),
        ({"channels": ["beta"]}, "channels", "has no channel beta", "channel_unknown"),
        (
            {"channels": ["stable"], "default_channel": "alpha"},
            "default_channel",
            "one of the chosen",
            "default_channel_not_chosen",
        ),
        (
            {"catalog_source": no_csv},
            "default_channel",
            "has no current CSV",
            "channel_without_csv",
        ),
        ({"project": None, "cluster": None}, "project", "required", "version_field_required"),
    ]
    for overrides, field, message, code in cases:
        with pytest.raises(ValidationError) as caught:
            services.create_version(
                actor=provider.owner,
                asset=asset,
                **_version_kwargs(provider, catalog, default_cluster, **overrides),
            )
        assert message in " ".join(caught.value.message_dict[field]), (overrides, caught.value)
        assert _codes(caught.value)[field] == [code], (overrides, caught.value)
    assert not AssetVersion.objects.exists()


def test_a_cluster_linked_to_the_project_may_be_used(
    provider, make_asset, make_catalog, default_cluster
):
    linked = ClusterFactory(name="linked", projects=[provider.project])
    catalog = make_catalog(provider, cluster=linked)
    version = services.create_version(
        actor=provider.owner,
        asset=make_asset(provider),
        **_version_kwargs(provider, catalog, linked),
    )
    assert version.cluster == linked
    with pytest.raises(ValidationError, match="not on the cluster") as caught:
        services.create_version(
            actor=provider.owner,
            asset=version.asset,
            **_version_kwargs(provider, catalog, default_cluster),
        )
    assert _codes(caught.value) == {"catalog_source": ["catalog_not_on_cluster"]}


def test_only_operator_assets_have_versions(provider, make_asset, make_catalog, default_cluster):
    asset = make_asset(provider, delivery_type="helm_chart")
    with pytest.raises(ValidationError, match="Only Operator assets") as caught:
        services.create_version(
            actor=provider.owner,
            asset=asset,
            **_version_kwargs(provider, make_catalog(provider), default_cluster),
        )
    assert _codes(caught.value) == {"non_field_errors": ["not_an_operator"]}


def test_only_drafts_are_edited(provider, make_asset, make_version, default_cluster):
    version = make_version(make_asset(provider))
    kwargs = _version_kwargs(
        provider,
        version.catalog_source,
        default_cluster,
        channels=["stable", "alpha"],
        default_channel="alpha",
    )
    edited = services.update_version(actor=provider.owner, version=version, **kwargs)
    assert edited.version == "0.1.0" and edited.default_channel == "alpha"
    assert _audit("version.updated").get().changes["default_channel"] == ["stable", "alpha"]
    AssetVersion.objects.filter(pk=version.pk).update(status="listing_review")
    with pytest.raises(ValidationError, match="Only a draft version can be edited") as caught:
        services.update_version(actor=provider.owner, version=version, **kwargs)
    assert error_code(caught.value) == AssetsErrorCode.VERSION_NOT_EDITABLE


@pytest.mark.parametrize(
    ("status", "deletable"),
    [
        ("draft", True),
        ("listing_review", False),
        ("on_sale", False),
        ("delisting_review", False),
        ("delisted", True),
    ],
)
def test_only_draft_and_delisted_versions_are_deleted(
    provider, make_asset, make_version, status, deletable
):
    version = make_version(make_asset(provider))
    AssetVersion.objects.filter(pk=version.pk).update(status=status)
    version.refresh_from_db()
    if deletable:
        services.delete_version(actor=provider.owner, version=version)
        assert not AssetVersion.objects.exists()
        assert _audit("version.deleted").get().from_state == status
    else:
        with pytest.raises(ValidationError, match="Only draft or delisted") as caught:
            services.delete_version(actor=provider.owner, version=version)
        assert error_code(caught.value) == AssetsErrorCode.VERSION_NOT_DELETABLE
        assert AssetVersion.objects.filter(pk=version.pk).exists()


def test_a_catalog_source_in_use_cannot_be_deleted(provider, make_asset, make_version):
    from clusters.services import catalog_source_users

    version = make_version(make_asset(provider))
    catalog = version.catalog_source
    with pytest.raises(ProtectedError):
        CatalogSource.objects.filter(pk=catalog.pk).delete()
    reasons = catalog_source_users(catalog)
    assert reasons == ["version 0.0.2 of mem1 (Draft)"]


def test_other_tenants_cannot_manage_versions(provider, other_provider, make_asset, make_version):
    version = make_version(make_asset(provider))
    with pytest.raises(NotPermitted) as caught:
        services.delete_version(actor=other_provider.owner, version=version)
    assert caught.value.code == AccountsErrorCode.NOT_A_MEMBER


# --- categories ---------------------------------------------------------------------------


def test_categories_are_for_platform_admins(make_user, provider, make_asset, category):
    admin = make_user("root")
    account_services.grant_platform_admin(user=admin)
    with pytest.raises(NotPermitted) as caught:
        services.create_category(actor=provider.owner, slug="x", name_en="X", name_zh="叉")
    assert caught.value.code == AccountsErrorCode.NOT_PLATFORM_ADMIN
    assert str(caught.value) == "Only platform administrators may do this."
    created = services.create_category(actor=admin, slug="games", name_en="Games", name_zh="游戏")
    with pytest.raises(ValidationError, match="exists") as caught:
        services.create_category(actor=admin, slug="games", name_en="G", name_zh="G")
    assert _codes(caught.value) == {"slug": ["category_slug_taken"]}
    with pytest.raises(ValidationError) as caught:
        services.update_category(actor=admin, category=created, name_en="")
    assert _codes(caught.value) == {"name_en": ["category_invalid"]}
    services.update_category(actor=admin, category=created, name_en="Gaming")
    services.delete_category(actor=admin, category=created)
    make_asset(provider)
    with pytest.raises(ValidationError, match="move them to another category") as caught:
        services.delete_category(actor=admin, category=category)
    assert error_code(caught.value) == AssetsErrorCode.CATEGORY_IN_USE

"""The provider portal screens: 资产管理, 添加资产 and the asset page's tabs."""

import re

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from assets import services
from assets.models import Asset, AssetVersion, Plan

from .factories import PLAN_100


@pytest.fixture
def provider_client(client, provider):
    client.force_login(provider.owner)
    client.tenant = provider
    return client


def _asset_post(chosen_category, image_file, **overrides):
    data = {
        "delivery_type": "operator",
        "category": chosen_category.pk,
        "name": "mem1",
        "summary": "memcached cluster",
        "description": "# Memcached\n\n**fast** <script>alert(1)</script>",
        "icon": image_file(96, 96, "PNG"),
        "screenshots": [image_file(264, 146, "PNG"), image_file(264, 146, "JPEG")],
        "website": "https://tenxcloud.com",
        "plans-TOTAL_FORMS": "3",
        "plans-INITIAL_FORMS": "0",
        "plans-MIN_NUM_FORMS": "0",
        "plans-MAX_NUM_FORMS": "1000",
        "plans-0-name": "100¥/年",
        "plans-0-price": "100.00",
        "plans-0-duration_value": "1",
        "plans-0-duration_unit": "year",
        "plans-1-name": "Free",
        "plans-1-price": "0",
        "plans-1-duration_value": "30",
        "plans-1-duration_unit": "day",
        # An untouched extra row is ignored.
        "plans-2-name": "",
        "plans-2-price": "",
        "plans-2-duration_value": "1",
        "plans-2-duration_unit": "year",
    }
    for prefix in ("usage_help", "terms", "customer_cases", "support_scope"):
        data[f"{prefix}_mode"] = "markdown"
        data[f"{prefix}_markdown"] = ""
        data[f"{prefix}_url"] = ""
    data["usage_help_markdown"] = "memcached"
    data["terms_mode"] = "link"
    data["terms_url"] = "https://tenxcloud.com/terms"
    data.update(overrides)
    return data


def test_nav_link_leads_to_the_asset_list(provider_client):
    assert reverse("assets:provider-assets") == "/provider/assets/"
    html = provider_client.get(reverse("home")).content.decode()
    assert 'href="/provider/assets/"' in html
    response = provider_client.get("/provider/assets/")
    assert response.status_code == 200 and "Coming soon" not in response.content.decode()


def test_empty_list_invites_the_first_asset(provider_client):
    html = provider_client.get(reverse("assets:provider-assets")).content.decode()
    assert 'data-testid="assets-empty"' in html and "Add the first asset" in html


def test_buyers_learn_the_portal_is_for_providers(client, tenant_with_owner):
    _tenant, buyer = tenant_with_owner("zs2-corp")
    client.force_login(buyer)
    for url in (reverse("assets:provider-assets"), reverse("assets:asset-create")):
        response = client.get(url)
        assert response.status_code == 403
        assert "for provider tenants" in response.content.decode()


def test_a_provider_member_in_another_workspace_is_offered_the_switch(client, provider):
    from accounts import services as account_services

    user = account_services.create_tenant(name="aaa-buyer", owner=make_member(provider)).name
    member = provider.memberships.get(role="member").user
    client.force_login(member)  # the buyer tenant sorts first: it is the active workspace
    response = client.get(reverse("assets:provider-assets"))
    assert response.status_code == 403
    html = response.content.decode()
    assert f"The active tenant {user} is not a provider" in html
    assert "Switch to one of your provider tenants" in html and ">zs-olm</button>" in html


def make_member(provider):
    from accounts import services as account_services
    from accounts.models import User

    user = User.objects.create_user("dual", password="x")
    account_services.add_member(actor=provider.owner, tenant=provider, user=user)
    return user


def test_register_an_asset_through_the_form(provider_client, category, image_file):
    response = provider_client.post(
        reverse("assets:asset-create"), _asset_post(category, image_file), follow=True
    )
    assert response.status_code == 200
    asset = Asset.objects.get()
    assert response.redirect_chain[-1][0] == reverse("assets:asset-detail", args=[asset.code])
    html = response.content.decode()
    assert f"registered as {asset.code}" in html
    assert [(p.name, str(p.price), p.duration_display) for p in asset.plans.all()] == [
        ("100¥/年", "100.00", "1 year"),
        ("Free", "0.00", "30 days"),
    ]
    assert asset.screenshots.count() == 2 and asset.terms_url == "https://tenxcloud.com/terms"
    assert AuditEntry.objects.filter(action="asset.created", actor=provider_client.tenant.owner)


def test_create_form_shows_the_seed_fields_and_defaults(provider_client):
    html = provider_client.get(reverse("assets:asset-create")).content.decode()
    for label in [
        "Delivery type",
        "Asset category",
        "Asset name",
        "Summary",
        "Description",
        "Asset icon",
        "Specs & pricing",
        "Provider website",
        "Usage help",
        "Terms of use",
        "Customer cases",
        "Platform support scope",
        "Asset screenshots",
    ]:
        assert label in html, label
    # The support scope's example is a placeholder, never pre-filled text.
    scope = re.search(
        r"<textarea[^>]*name=\"support_scope_markdown\"[^>]*>([^<]*)</textarea>", html
    )
    assert scope is not None and scope.group(1).strip() == ""
    assert 'placeholder="服务时间: 7*24 小时' in scope.group(0)
    assert "markdownx" in html and "/provider/assets/markdown/preview/" in html
    assert "Container image" in html and "Helm chart" in html and "API service" in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"icon": None}, "icon", "This field is required."),
        ({"category": "999999"}, "category", "Select a valid choice"),
        ({"plans-0-price": "-5"}, "plans-0-price", "greater than or equal to 0"),
        ({"plans-0-duration_value": "0"}, "plans-0-duration_value", "greater than or equal to 1"),
        ({"plans-0-price": "1.999"}, "plans-0-price", "2 decimal places"),
        ({"terms_url": ""}, "terms_url", "enter its address"),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(
    provider_client, category, image_file, overrides, field, message
):
    data = _asset_post(category, image_file, **overrides)
    if data.get("icon") is None:
        data.pop("icon")
    response = provider_client.post(reverse("assets:asset-create"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-field="{field}"' in html and message in html
    assert "every problem found is shown" in html
    assert not Asset.objects.exists() and not Plan.objects.exists()


def test_icon_error_says_what_was_received(provider_client, category, image_file):
    data = _asset_post(category, image_file, icon=image_file(120, 80, "GIF"))
    html = provider_client.post(reverse("assets:asset-create"), data).content.decode()
    assert "got 120×80 GIF" in html
    assert not Asset.objects.exists()


def test_three_screenshots_are_refused(provider_client, category, image_file):
    data = _asset_post(category, image_file, screenshots=[image_file(264, 146) for _ in range(3)])
    html = provider_client.post(reverse("assets:asset-create"), data).content.decode()
    assert "At most 2 screenshots; got 3." in html
    assert not Asset.objects.exists()


def test_list_shows_the_seed_columns(provider_client, make_asset, make_version):
    asset = make_asset(provider_client.tenant)
    make_version(asset)
    html = provider_client.get(reverse("assets:provider-assets")).content.decode()
    for column in [
        "Asset name",
        "Asset code",
        "Asset version/API",
        "Delivery type",
        "Asset category",
        "Asset version status",
        "Approval status",
        "Listed at",
        "Actions",
    ]:
        assert f"<th>{column}</th>" in html, column
    assert asset.code in html and "0.0.2" in html and "MemcachedCluster" in html
    assert "Basic applications" in html and "Draft" in html and "Define Operator" in html


def test_search_and_status_filter(provider_client, make_asset, make_version):
    tenant = provider_client.tenant
    mem = make_asset(tenant, name="mem1")
    make_version(mem)
    redis = make_asset(tenant, name="redis")
    url = reverse("assets:provider-assets")
    html = provider_client.get(url, {"q": "RED"}).content.decode()
    assert "redis" in html and ">mem1<" not in html
    html = provider_client.get(url, {"q": mem.code[-6:]}).content.decode()
    assert ">mem1<" in html and ">redis<" not in html
    html = provider_client.get(url, {"status": "draft"}).content.decode()
    assert ">mem1<" in html and ">redis<" not in html
    html = provider_client.get(url, {"status": "none"}).content.decode()
    assert ">redis<" in html and ">mem1<" not in html
    html = provider_client.get(url, {"status": "on_sale"}).content.decode()
    assert 'data-testid="assets-no-match"' in html
    assert provider_client.get(url, {"status": "bogus", "page": "x"}).status_code == 200
    assert redis.code in provider_client.get(url).content.decode()


def test_list_is_paginated(provider_client, make_asset):
    for i in range(23):
        make_asset(provider_client.tenant, name=f"asset-{i:02d}")
    html = provider_client.get(reverse("assets:provider-assets")).content.decode()
    assert html.count('class="asset-name"') == 20 and "Page 1 of 2" in html
    html = provider_client.get(reverse("assets:provider-assets"), {"page": 2, "q": "asset"}).content
    html = html.decode()
    assert html.count('class="asset-name"') == 3 and "q=asset&amp;page=1" in html


def test_list_pages_through_the_one_pagination_helper(provider_client, make_asset, monkeypatch):
    from core import pagination

    monkeypatch.setattr(pagination, "PAGE_SIZE", 2)
    for i in range(3):
        make_asset(provider_client.tenant, name=f"asset-{i}")
    url = reverse("assets:provider-assets")
    html = provider_client.get(url, {"q": "asset"}).content.decode()
    assert html.count('class="asset-name"') == 2 and "Page 1 of 2" in html
    assert 'href="?q=asset&amp;page=2" rel="next"' in html


def test_list_shows_only_the_active_tenants_assets(provider_client, other_provider, make_asset):
    make_asset(other_provider, name="theirs")
    html = provider_client.get(reverse("assets:provider-assets")).content.decode()
    assert "theirs" not in html


def test_asset_list_query_count_stays_constant(
    provider_client, make_asset, make_version, django_assert_max_num_queries
):
    tenant = provider_client.tenant
    for i in range(2):
        make_version(make_asset(tenant, name=f"a{i}"))
    with django_assert_max_num_queries(12) as few:
        provider_client.get(reverse("assets:provider-assets"))
    for i in range(2, 12):
        make_version(make_asset(tenant, name=f"a{i}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        provider_client.get(reverse("assets:provider-assets"))


def test_asset_tabs_render(provider_client, make_asset, make_version, image_file):
    asset = make_asset(
        provider_client.tenant,
        plans=[PLAN_100],
        screenshots=[image_file(264, 146)],
        usage_help_mode="link",
        usage_help_url="https://docs.example/mem",
        support_scope_markdown="服务邮箱: help@zs-olm.example",
    )
    make_version(asset)
    html = provider_client.get(reverse("assets:asset-detail", args=[asset.code])).content.decode()
    assert "Operator definition" in html and 'data-testid="lifecycle"' in html
    for step in ["Create version", "Listing review", "On sale", "Delisting review", "Delisted"]:
        assert step in html
    assert re.search(r"\d+\xa0minutes? ago|0\xa0minutes ago", html)
    assert "Delete version" in html and "Edit" in html
    assert "Apply for listing" in html  # the approvals app's review buttons (ready asset)
    html = provider_client.get(reverse("assets:asset-info", args=[asset.code])).content.decode()
    assert "<h1>Memcached</h1>" in html and "<strong>fast</strong>" in html
    assert 'href="https://docs.example/mem" rel="noopener nofollow"' in html
    assert "服务邮箱: help@zs-olm.example" in html and "(1/2)" in html
    html = provider_client.get(reverse("assets:asset-plans", args=[asset.code])).content.decode()
    assert "100.00 T" in html and "1 year" in html and "+ Add plan" in html
    html = provider_client.get(reverse("assets:asset-users", args=[asset.code])).content.decode()
    assert 'data-testid="users-empty"' in html and "No buyer yet." in html


def test_script_in_description_is_not_executable_on_the_page(provider_client, make_asset):
    asset = make_asset(provider_client.tenant, description="hi <script>alert(1)</script>")
    html = provider_client.get(reverse("assets:asset-info", args=[asset.code])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_non_operator_assets_say_how_they_are_delivered(provider_client, make_asset):
    asset = make_asset(provider_client.tenant, delivery_type="helm_chart")
    html = provider_client.get(reverse("assets:asset-detail", args=[asset.code])).content.decode()
    assert "How a Helm chart is delivered" in html and "chart repository" in html
    response = provider_client.get(reverse("assets:version-create", args=[asset.code]))
    assert response.status_code == 302


def test_another_tenants_asset_is_a_404_everywhere(
    provider_client, other_provider, make_asset, make_version
):
    theirs = make_asset(other_provider, name="theirs", plans=[PLAN_100])
    version = make_version(theirs)
    plan = theirs.plans.get()
    code = theirs.code
    urls = [
        reverse("assets:asset-detail", args=[code]),
        reverse("assets:asset-info", args=[code]),
        reverse("assets:asset-edit", args=[code]),
        reverse("assets:asset-plans", args=[code]),
        reverse("assets:asset-users", args=[code]),
        reverse("assets:plan-create", args=[code]),
        reverse("assets:plan-edit", args=[code, plan.pk]),
        reverse("assets:plan-archive", args=[code, plan.pk]),
        reverse("assets:plan-delete", args=[code, plan.pk]),
        reverse("assets:version-create", args=[code]),
        reverse("assets:version-fields", args=[code]),
        reverse("assets:version-edit", args=[code, version.pk]),
        reverse("assets:version-delete", args=[code, version.pk]),
    ]
    for url in urls:
        assert provider_client.get(url).status_code == 404, url
        assert provider_client.post(url, {}).status_code == 404, url
    assert (
        provider_client.post(reverse("assets:screenshot-add", args=[code]), {}).status_code == 404
    )
    assert AssetVersion.objects.get(pk=version.pk) and Plan.objects.get(pk=plan.pk)


def test_edit_asset_info(provider_client, make_asset, category):
    asset = make_asset(provider_client.tenant)
    url = reverse("assets:asset-edit", args=[asset.code])
    html = provider_client.get(url).content.decode()
    assert 'value="mem1"' in html and "Current icon" in html
    data = {
        "delivery_type": "operator",
        "category": category.pk,
        "name": "mem1",
        "summary": "better summary",
        "description": "new",
        "website": "",
        **{
            f"{p}_{part}": "markdown" if part == "mode" else ""
            for p in ("usage_help", "terms", "customer_cases", "support_scope")
            for part in ("mode", "markdown", "url")
        },
    }
    response = provider_client.post(url, data, follow=True)
    assert "Asset information saved." in response.content.decode()
    asset.refresh_from_db()
    assert asset.summary == "better summary" and asset.icon


def test_screenshot_upload_and_confirmed_removal(provider_client, make_asset, image_file):
    asset = make_asset(provider_client.tenant)
    url = reverse("assets:screenshot-add", args=[asset.code])
    response = provider_client.post(url, {"image": image_file(100, 100, "GIF")})
    assert response.status_code == 400 and "got 100×100 GIF" in response.content.decode()
    provider_client.post(url, {"image": image_file(264, 146)})
    shot = asset.screenshots.get()
    delete_url = reverse("assets:screenshot-delete", args=[asset.code, shot.pk])
    assert "Remove this screenshot?" in provider_client.get(delete_url).content.decode()
    assert asset.screenshots.exists()
    provider_client.post(delete_url)
    assert not asset.screenshots.exists()


def test_plan_pages(provider_client, make_asset):
    asset = make_asset(provider_client.tenant)
    url = reverse("assets:plan-create", args=[asset.code])
    html = provider_client.post(url, {**PLAN_100, "price": "-1"}).content.decode()
    assert 'data-field="price"' in html
    provider_client.post(url, PLAN_100)
    plan = asset.plans.get()
    edit = reverse("assets:plan-edit", args=[asset.code, plan.pk])
    provider_client.post(edit, {**PLAN_100, "price": "88.50"})
    plan.refresh_from_db()
    assert str(plan.price) == "88.50"
    archive = reverse("assets:plan-archive", args=[asset.code, plan.pk])
    assert "Existing orders keep it" in provider_client.get(archive).content.decode()
    provider_client.post(archive)
    plan.refresh_from_db()
    assert plan.is_archived
    html = provider_client.get(reverse("assets:asset-plans", args=[asset.code])).content.decode()
    assert "Archived plans" in html and 'data-testid="plans-empty"' in html
    provider_client.post(reverse("assets:plan-restore", args=[asset.code, plan.pk]))
    plan.refresh_from_db()
    assert not plan.is_archived
    delete = reverse("assets:plan-delete", args=[asset.code, plan.pk])
    assert "cannot be undone" in provider_client.get(delete).content.decode()
    provider_client.post(delete)
    assert not Plan.objects.exists()


def test_an_ordered_plan_is_not_deleted_and_the_page_says_why(
    provider_client, make_asset, monkeypatch
):
    asset = make_asset(provider_client.tenant, plans=[PLAN_100])
    plan = asset.plans.get()
    monkeypatch.setattr(services, "plan_is_ordered", lambda plan: True)
    delete = reverse("assets:plan-delete", args=[asset.code, plan.pk])
    response = provider_client.post(delete, follow=True)
    assert response.redirect_chain[-1][0] == reverse("assets:asset-plans", args=[asset.code])
    assert "This plan has been ordered, so it cannot be deleted; archive it instead." in (
        response.content.decode()
    )
    assert Plan.objects.filter(pk=plan.pk).exists()


def test_a_plan_of_another_asset_is_a_404_under_this_one(provider_client, make_asset):
    mine = make_asset(provider_client.tenant, name="mine", plans=[PLAN_100])
    other = make_asset(provider_client.tenant, name="other", plans=[PLAN_100])
    plan = other.plans.get()
    for name in ("assets:plan-edit", "assets:plan-archive", "assets:plan-delete"):
        assert provider_client.get(reverse(name, args=[mine.code, plan.pk])).status_code == 404
    assert (
        provider_client.get(reverse("assets:plan-edit", args=[other.code, plan.pk])).status_code
        == 200
    )


def test_plans_tab_query_count_stays_constant(
    provider_client, make_asset, django_assert_max_num_queries
):
    asset = make_asset(provider_client.tenant)
    url = reverse("assets:asset-plans", args=[asset.code])

    def add(names):
        for name in names:
            services.create_plan(
                actor=provider_client.tenant.owner, asset=asset, **{**PLAN_100, "name": name}
            )

    add(["a", "b"])
    with django_assert_max_num_queries(12) as few:
        provider_client.get(url)
    add([f"p{i}" for i in range(10)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        provider_client.get(url)


def test_versions_tab_query_count_stays_constant(
    provider_client, make_asset, make_version, django_assert_max_num_queries
):
    asset = make_asset(provider_client.tenant)
    url = reverse("assets:asset-detail", args=[asset.code])
    make_version(asset)
    with django_assert_max_num_queries(15) as few:
        provider_client.get(url)
    for _ in range(8):
        make_version(asset)
    with django_assert_max_num_queries(len(few.captured_queries)):
        provider_client.get(url)


# --- the version form -------------------------------------------------------------------------


def test_version_form_preselects_and_creates(provider_client, make_asset, make_catalog):
    tenant = provider_client.tenant
    asset = make_asset(tenant)
    catalog = make_catalog(tenant)
    url = reverse("assets:version-create", args=[asset.code])
    html = provider_client.get(url).content.decode()
    # Sole options are chosen for the provider; the default channel is preselected.
    assert re.search(rf'<option value="{tenant.project.pk}" selected>one', html)
    assert re.search(rf'<option value="{catalog.pk}" selected>mem-01', html)
    assert re.search(r'value="stable"[^>]*checked', html) or re.search(
        r'checked[^>]*value="stable"', html
    )
    assert "0.0.2" in html and "zs-olm" in html
    data = {
        "project": tenant.project.pk,
        "cluster": catalog.cluster_id,
        "catalog_source": catalog.pk,
        "package_name": "memcached-operator",
        "channels": ["stable", "alpha"],
        "default_channel": "stable",
    }
    response = provider_client.post(url, data, follow=True)
    assert "Version 0.0.2 created as a draft." in response.content.decode()
    version = AssetVersion.objects.get()
    assert version.channels == ["stable", "alpha"]


def test_version_form_errors_name_the_field(provider_client, make_asset, make_catalog):
    tenant = provider_client.tenant
    asset = make_asset(tenant)
    catalog = make_catalog(tenant)
    url = reverse("assets:version-create", args=[asset.code])
    data = {
        "project": tenant.project.pk,
        "cluster": catalog.cluster_id,
        "catalog_source": catalog.pk,
        "package_name": "memcached-operator",
        "channels": ["alpha"],
        "default_channel": "stable",
    }
    html = provider_client.post(url, data).content.decode()
    assert 'data-field="default_channel"' in html and "one of the chosen channels" in html
    html = provider_client.post(url, {**data, "catalog_source": "abc"}).content.decode()
    assert 'data-field="catalog_source"' in html
    assert not AssetVersion.objects.exists()


def test_version_fields_refresh_over_htmx(provider_client, make_asset, make_catalog):
    tenant = provider_client.tenant
    asset = make_asset(tenant)
    url = reverse("assets:version-fields", args=[asset.code])
    html = provider_client.get(url, {"project": tenant.project.pk}, HTTP_HX_REQUEST="true")
    html = html.content.decode()
    assert html.lstrip().startswith('<div id="version-fields"')
    assert "has no READY CatalogSource" in html
    catalog = make_catalog(tenant)
    html = provider_client.get(
        url, {"project": tenant.project.pk, "catalog_source": catalog.pk}
    ).content.decode()
    assert "memcached-operator.v0.0.2" in html and "<html" not in html
    html = provider_client.get(url, {"project": "junk", "cluster": "-1"}).content.decode()
    assert 'id="version-fields"' in html


def test_edit_and_delete_a_draft_version(provider_client, make_asset, make_version):
    asset = make_asset(provider_client.tenant)
    version = make_version(asset)
    edit = reverse("assets:version-edit", args=[asset.code, version.pk])
    html = provider_client.get(edit).content.decode()
    assert "Edit version 0.0.2" in html
    delete = reverse("assets:version-delete", args=[asset.code, version.pk])
    assert "Delete version 0.0.2?" in provider_client.get(delete).content.decode()
    assert AssetVersion.objects.exists()  # GET only asks
    response = provider_client.post(delete, follow=True)
    assert "Version 0.0.2 deleted." in response.content.decode()
    assert not AssetVersion.objects.exists()


def test_a_version_in_review_can_be_neither_edited_nor_deleted(
    provider_client, make_asset, make_version
):
    asset = make_asset(provider_client.tenant)
    version = make_version(asset)
    AssetVersion.objects.filter(pk=version.pk).update(status="listing_review")
    html = provider_client.get(reverse("assets:asset-detail", args=[asset.code])).content.decode()
    assert "Delete version" not in html and "Listing review" in html
    for name in ("assets:version-edit", "assets:version-delete"):
        response = provider_client.get(reverse(name, args=[asset.code, version.pk]), follow=True)
        assert "Only" in response.content.decode()
    provider_client.post(reverse("assets:version-delete", args=[asset.code, version.pk]))
    assert AssetVersion.objects.filter(pk=version.pk).exists()

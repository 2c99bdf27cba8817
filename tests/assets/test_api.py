"""REST twins of the provider portal: same rules, one error shape, tenant isolation."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import AuditEntry
from assets import services
from assets.models import Asset, AssetVersion, Category, Plan, Screenshot

from .factories import PLAN_100


@pytest.fixture
def api(provider):
    client = APIClient()
    client.force_authenticate(provider.owner)
    client.tenant = provider
    return client


def _asset_payload(chosen_category, image_file, **overrides):
    return {
        "category": chosen_category.pk,
        "delivery_type": "operator",
        "name": "mem1",
        "summary": "memcached cluster",
        "description": "**fast**",
        "icon": image_file(96, 96),
        **overrides,
    }


def assert_error(response, status, field, code="invalid"):
    """The one error shape; `code` is the service's reason ("invalid": a serializer's shape)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert field in body["fields"], body
    assert body["detail"].startswith(f"{field}:") or field == "non_field_errors"
    return body


# --- assets -------------------------------------------------------------------------------


def test_register_an_asset_over_multipart(api, category, image_file):
    response = api.post("/api/v1/assets/", _asset_payload(category, image_file), format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    asset = Asset.objects.get()
    assert body["code"] == asset.code and body["tenant"] == api.tenant.pk
    assert body["icon"].startswith("http://testserver/media/assets/")
    assert body["current_version"] is None and body["screenshots"] == []
    assert body["support_scope_markdown"] == ""  # the example is a placeholder, not data
    assert asset.support_scope_markdown == ""
    assert AuditEntry.objects.filter(action="asset.created").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message", "code"),
    [
        ({"icon": None}, "icon", "96×96", "icon_required"),
        ({"name": ""}, "name", "", "invalid"),
        ({"category": 999999}, "category", "", "invalid"),
        ({"delivery_type": "zip"}, "delivery_type", "", "invalid"),
        ({"terms_mode": "link"}, "terms_url", "enter its address", "link_url_required"),
        ({"website": "javascript:alert(1)"}, "website", "", "invalid"),
    ],
)
def test_bad_asset_input_is_a_400_naming_the_field(
    api, category, image_file, overrides, field, message, code
):
    payload = _asset_payload(category, image_file, **overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    response = api.post("/api/v1/assets/", payload, format="multipart")
    body = assert_error(response, 400, field, code)
    assert message in body["fields"][field][0]
    assert not Asset.objects.exists()


def test_icon_error_over_the_api_says_what_it_got(api, category, image_file):
    payload = _asset_payload(category, image_file, icon=image_file(120, 80, "GIF"))
    response = api.post("/api/v1/assets/", payload, format="multipart")
    body = assert_error(response, 400, "icon", "bad_icon")
    assert "got 120×80 GIF" in body["detail"]


def test_an_asset_name_clash_says_so_by_its_code(api, make_asset, category, image_file):
    make_asset(api.tenant, name="mem1")
    payload = _asset_payload(category, image_file, name="MEM1")
    response = api.post("/api/v1/assets/", payload, format="multipart")
    assert (
        "already has an asset" in assert_error(response, 400, "name", "asset_name_taken")["detail"]
    )
    not_an_image = SimpleUploadedFile("icon.png", b"#!/bin/sh\n", content_type="image/png")
    payload = _asset_payload(category, image_file, name="other", icon=not_an_image)
    response = api.post("/api/v1/assets/", payload, format="multipart")
    assert_error(response, 400, "icon", "not_an_image")


def test_tenant_must_be_yours_and_a_provider(api, category, image_file, tenant_with_owner):
    foreign, _owner = tenant_with_owner("foreign", is_provider=True)
    payload = _asset_payload(category, image_file, tenant=foreign.pk)
    assert_error(api.post("/api/v1/assets/", payload, format="multipart"), 400, "tenant")
    buyer_tenant, buyer = tenant_with_owner("buyers")
    client = APIClient()
    client.force_authenticate(buyer)
    payload = _asset_payload(category, image_file, tenant=buyer_tenant.pk)
    # One of yours, but not a provider: the service's refusal, by its code.
    response = client.post("/api/v1/assets/", payload, format="multipart")
    assert response.status_code == 403 and response.json()["code"] == "not_a_provider"


def test_tenant_is_required_when_you_have_two_providers(api, category, image_file):
    second = account_services.create_tenant(name="second", owner=api.tenant.owner, is_provider=True)
    payload = _asset_payload(category, image_file)
    body = assert_error(api.post("/api/v1/assets/", payload, format="multipart"), 400, "tenant")
    assert "tenant is required" in body["detail"] and "several provider tenants" in body["detail"]
    payload = _asset_payload(category, image_file, tenant=second.pk)
    assert api.post("/api/v1/assets/", payload, format="multipart").status_code == 201


def test_patch_an_asset_keeps_its_code_and_tenant(api, make_asset, other_provider):
    asset = make_asset(api.tenant)
    response = api.patch(
        f"/api/v1/assets/{asset.pk}/",
        {"summary": "new", "code": "ASID-00000000000", "tenant": other_provider.pk},
        format="json",
    )
    assert response.status_code == 200, response.json()
    asset.refresh_from_db()
    assert response.json()["code"] == asset.code != "ASID-00000000000"
    assert asset.summary == "new" and asset.tenant == api.tenant
    assert api.delete(f"/api/v1/assets/{asset.pk}/").status_code == 405


def test_another_tenants_assets_are_invisible(
    api, other_provider, make_asset, make_version, image_file
):
    theirs = make_asset(
        other_provider, name="theirs", plans=[PLAN_100], screenshots=[image_file(264, 146)]
    )
    version = make_version(theirs)
    assert api.get("/api/v1/assets/").json()["results"] == []
    for url in [
        f"/api/v1/assets/{theirs.pk}/",
        f"/api/v1/plans/{theirs.plans.get().pk}/",
        f"/api/v1/versions/{version.pk}/",
        f"/api/v1/screenshots/{theirs.screenshots.get().pk}/",
    ]:
        response = api.get(url)
        assert response.status_code == 404 and response.json()["code"] == "not_found", url
        if "/screenshots/" not in url:
            assert api.patch(url, {}, format="json").status_code == 404, url
    assert api.delete(f"/api/v1/versions/{version.pk}/").status_code == 404
    assert api.post(f"/api/v1/plans/{theirs.plans.get().pk}/archive/").status_code == 404
    response = api.post("/api/v1/plans/", {**PLAN_100, "asset": theirs.pk}, format="json")
    assert_error(response, 400, "asset")
    options = api.get("/api/v1/versions/options/", {"asset": theirs.pk})
    assert options.status_code == 404 and options.json()["code"] == "not_found"


def test_asset_list_filters(api, make_asset, make_version):
    mem = make_asset(api.tenant, name="mem1")
    make_version(mem)
    make_asset(api.tenant, name="redis", delivery_type="helm_chart")

    def names(**params):
        return [a["name"] for a in api.get("/api/v1/assets/", params).json()["results"]]

    assert names() == ["redis", "mem1"]
    assert names(search="RED") == ["redis"] and names(search=mem.code) == ["mem1"]
    assert names(status="draft") == ["mem1"] and names(status="none") == ["redis"]
    assert names(delivery_type="helm_chart") == ["redis"]
    listed = api.get("/api/v1/assets/", {"search": "mem"}).json()["results"][0]
    assert listed["current_version"]["version"] == "0.0.2"
    assert listed["current_version"]["status"] == "draft"
    assert api.get("/api/v1/assets/", {"status": "bogus"}).status_code == 400


def test_asset_list_query_count_stays_constant(
    api, make_asset, make_version, image_file, django_assert_num_queries
):
    def make(start, count):
        for i in range(start, start + count):
            asset = make_asset(api.tenant, name=f"a{i}", screenshots=[image_file(264, 146)])
            make_version(asset)

    make(0, 2)
    with django_assert_num_queries(4) as few:  # count, page, screenshots, current versions
        assert api.get("/api/v1/assets/").json()["count"] == 2
    make(2, 25)
    with django_assert_num_queries(len(few.captured_queries)):
        page = api.get("/api/v1/assets/?page=2").json()
    assert page["count"] == 27 and len(page["results"]) == 7


# --- plans --------------------------------------------------------------------------------


def test_plans_crud_archive_and_restore(api, make_asset):
    asset = make_asset(api.tenant)
    response = api.post("/api/v1/plans/", {**PLAN_100, "asset": asset.pk}, format="json")
    assert response.status_code == 201, response.json()
    plan = response.json()
    assert plan["price"] == "100.00" and plan["duration"] == "1 year"
    url = f"/api/v1/plans/{plan['id']}/"
    assert api.patch(url, {"price": "99.90"}, format="json").json()["price"] == "99.90"
    assert api.post(url + "archive/").json()["is_archived"] is True
    assert api.get("/api/v1/plans/", {"is_archived": "false"}).json()["count"] == 0
    assert api.post(url + "restore/").json()["is_archived"] is False
    assert api.delete(url).status_code == 204
    assert not Plan.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"price": "-1"}, "price"),
        ({"price": "1.234"}, "price"),
        ({"price": "free"}, "price"),
        ({"duration_value": 0}, "duration_value"),
        ({"duration_value": 10**12}, "duration_value"),
        ({"price": "1" * 20}, "price"),
        ({"duration_unit": "month"}, "duration_unit"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_bad_plans_are_400s(api, make_asset, payload, field):
    asset = make_asset(api.tenant)
    response = api.post("/api/v1/plans/", {**PLAN_100, "asset": asset.pk, **payload}, format="json")
    assert_error(response, 400, field)
    assert not Plan.objects.exists()


def test_duplicate_plan_name_and_ordered_plan_delete(api, make_asset, monkeypatch):
    asset = make_asset(api.tenant, plans=[PLAN_100])
    response = api.post("/api/v1/plans/", {**PLAN_100, "asset": asset.pk}, format="json")
    assert "already has a plan" in assert_error(response, 400, "name", "plan_name_taken")["detail"]
    monkeypatch.setattr(services, "plan_is_ordered", lambda plan: True)
    response = api.delete(f"/api/v1/plans/{asset.plans.get().pk}/")
    assert "archive it instead" in assert_error(response, 400, "plan", "plan_ordered")["detail"]


def test_plan_list_query_count_stays_constant(api, make_asset, django_assert_num_queries):
    asset = make_asset(api.tenant)
    for i in range(2):
        services.create_plan(actor=api.tenant.owner, asset=asset, **{**PLAN_100, "name": f"{i}"})
    with django_assert_num_queries(2) as few:  # count, page
        api.get("/api/v1/plans/")
    for i in range(2, 30):
        services.create_plan(actor=api.tenant.owner, asset=asset, **{**PLAN_100, "name": f"{i}"})
    with django_assert_num_queries(len(few.captured_queries)):
        assert api.get("/api/v1/plans/").json()["count"] == 30


# --- screenshots --------------------------------------------------------------------------


def test_screenshots_over_multipart(api, make_asset, image_file):
    asset = make_asset(api.tenant)
    for _ in range(2):
        response = api.post(
            "/api/v1/screenshots/",
            {"asset": asset.pk, "image": image_file(264, 146)},
            format="multipart",
        )
        assert response.status_code == 201, response.json()
    assert response.json()["position"] == 1 and response.json()["width"] == 264
    response = api.post(
        "/api/v1/screenshots/",
        {"asset": asset.pk, "image": image_file(264, 146)},
        format="multipart",
    )
    body = assert_error(response, 400, "image", "too_many_screenshots")
    assert "at most 2 screenshots" in body["detail"]
    response = api.post(
        "/api/v1/screenshots/",
        {"asset": asset.pk, "image": image_file(264, 146, "GIF")},
        format="multipart",
    )
    assert_error(response, 400, "image", "bad_screenshot")
    shot = Screenshot.objects.first()
    assert api.delete(f"/api/v1/screenshots/{shot.pk}/").status_code == 204
    assert Screenshot.objects.count() == 1


def test_screenshot_list_query_count_stays_constant(
    api, make_asset, image_file, django_assert_num_queries
):
    make_asset(api.tenant, name="a", screenshots=[image_file(264, 146)])
    with django_assert_num_queries(2) as few:
        api.get("/api/v1/screenshots/")
    for i in range(6):
        make_asset(api.tenant, name=f"b{i}", screenshots=[image_file(264, 146)] * 2)
    with django_assert_num_queries(len(few.captured_queries)):
        assert api.get("/api/v1/screenshots/").json()["count"] == 13


# --- versions -----------------------------------------------------------------------------


def test_version_options_walk_the_cascade(api, make_asset, make_catalog, default_cluster):
    asset = make_asset(api.tenant)
    catalog = make_catalog(api.tenant)
    options = api.get("/api/v1/versions/options/", {"asset": asset.pk}).json()
    assert [p["name"] for p in options["projects"]] == ["one"]
    assert [c["name"] for c in options["clusters"]] == ["默认集群"]
    assert [c["name"] for c in options["catalog_sources"]] == ["mem-registry"]
    package = options["packages"][0]
    assert package["name"] == "memcached-operator" and package["default_channel"] == "stable"
    assert package["channels"][0] == {
        "name": "stable",
        "current_csv": "memcached-operator.v0.0.2",
        "version": "0.0.2",
    }
    explicit = api.get(
        "/api/v1/versions/options/",
        {
            "asset": asset.pk,
            "project": api.tenant.project.pk,
            "cluster": default_cluster.pk,
            "catalog_source": catalog.pk,
        },
    ).json()
    assert explicit["packages"] == options["packages"]
    # An asset that is not the caller's is "not found"; no asset at all is a bad request.
    assert api.get("/api/v1/versions/options/", {"asset": 999999}).status_code == 404


@pytest.mark.parametrize("query", [{}, {"asset": ""}, {"asset": "abc"}])
def test_version_options_without_an_asset_name_the_parameter(api, query):
    assert_error(api.get("/api/v1/versions/options/", query), 400, "asset")


def test_options_requests_describe_versions_and_their_timeline(api, make_asset, make_version):
    """HTTP OPTIONS is DRF's metadata answer on every version route (the `options/` list
    action must not shadow it), and GET /versions/options/ still lists the choices."""
    version = make_version(make_asset(api.tenant))
    for url in (
        "/api/v1/versions/",
        f"/api/v1/versions/{version.pk}/",
        f"/api/v1/versions/{version.pk}/timeline/",
        "/api/v1/versions/options/",
    ):
        response = api.options(url)
        assert response.status_code == 200, (url, response.content)
        assert response.json()["name"], url
        assert "GET" in response["Allow"], url
    assert "PATCH" in api.options(f"/api/v1/versions/{version.pk}/")["Allow"]
    assert api.get("/api/v1/versions/options/", {"asset": version.asset_id}).status_code == 200


def test_versions_create_edit_delete(api, make_asset, make_catalog, default_cluster):
    asset = make_asset(api.tenant)
    catalog = make_catalog(api.tenant)
    payload = {
        "asset": asset.pk,
        "project": api.tenant.project.pk,
        "cluster": default_cluster.pk,
        "catalog_source": catalog.pk,
        "package_name": "memcached-operator",
        "channels": ["stable"],
        "default_channel": "stable",
    }
    response = api.post("/api/v1/versions/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["version"], body["status"]) == ("0.0.2", "draft")
    assert [s["state"] for s in body["lifecycle"]] == ["current", "todo", "todo", "todo", "todo"]
    url = f"/api/v1/versions/{body['id']}/"
    patched = api.patch(
        url, {"channels": ["stable", "alpha"], "default_channel": "alpha"}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["version"] == "0.1.0"
    response = api.patch(url, {"default_channel": "beta"}, format="json")
    assert_error(response, 400, "default_channel", "default_channel_not_chosen")
    AssetVersion.objects.filter(pk=body["id"]).update(status="on_sale")
    assert_error(api.delete(url), 400, "non_field_errors", "version_not_deletable")
    response = api.patch(url, {"default_channel": "alpha"}, format="json")
    assert_error(response, 400, "non_field_errors", "version_not_editable")
    AssetVersion.objects.filter(pk=body["id"]).update(status="delisted")
    assert api.delete(url).status_code == 204


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"channels": []}, "channels", "invalid"),
        ({"package_name": "redis"}, "package_name", "package_not_found"),
        ({"channels": ["beta"]}, "channels", "channel_unknown"),
        ({"catalog_source": 999999}, "catalog_source", "invalid"),
        ({"project": None}, "project", "invalid"),
    ],
)
def test_bad_versions_are_400s(
    api, make_asset, make_catalog, default_cluster, changes, field, code
):
    asset = make_asset(api.tenant)
    catalog = make_catalog(api.tenant)
    payload = {
        "asset": asset.pk,
        "project": api.tenant.project.pk,
        "cluster": default_cluster.pk,
        "catalog_source": catalog.pk,
        "package_name": "memcached-operator",
        "channels": ["stable"],
        "default_channel": "stable",
        **changes,
    }
    assert_error(api.post("/api/v1/versions/", payload, format="json"), 400, field, code)
    assert not AssetVersion.objects.exists()


def test_a_version_on_a_catalog_not_ready_is_refused_by_its_code(
    api, make_asset, make_catalog, default_cluster
):
    asset = make_asset(api.tenant)
    catalog = make_catalog(api.tenant, state="deploying")
    payload = {
        "asset": asset.pk,
        "project": api.tenant.project.pk,
        "cluster": default_cluster.pk,
        "catalog_source": catalog.pk,
        "package_name": "memcached-operator",
        "channels": ["stable"],
        "default_channel": "stable",
    }
    response = api.post("/api/v1/versions/", payload, format="json")
    assert (
        "not READY" in assert_error(response, 400, "catalog_source", "catalog_not_ready")["detail"]
    )


def test_version_list_query_count_stays_constant(
    api, make_asset, make_version, django_assert_num_queries
):
    asset = make_asset(api.tenant)
    make_version(asset)
    with django_assert_num_queries(3) as few:
        api.get("/api/v1/versions/", {"asset": asset.pk})
    for _ in range(10):
        make_version(asset)
    with django_assert_num_queries(len(few.captured_queries)):
        assert api.get("/api/v1/versions/", {"asset": asset.pk}).json()["count"] == 11


# --- categories ---------------------------------------------------------------------------


def test_categories_are_readable_by_all_and_written_by_admins(api, make_user, category, make_asset):
    body = api.get("/api/v1/categories/").json()
    assert body["count"] >= 1 and {"name", "name_en", "name_zh"} <= set(body["results"][0])
    zh = api.get("/api/v1/categories/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert any(c["name"] == "基础应用" for c in zh["results"])
    payload = {"slug": "games", "name_en": "Games", "name_zh": "游戏", "position": 9}
    response = api.post("/api/v1/categories/", payload, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    admin = make_user("root")
    account_services.grant_platform_admin(user=admin)
    admin_api = APIClient()
    admin_api.force_authenticate(admin)
    created = admin_api.post("/api/v1/categories/", payload, format="json")
    assert created.status_code == 201, created.json()
    response = admin_api.post("/api/v1/categories/", payload, format="json")
    assert_error(response, 400, "slug", "category_slug_taken")
    url = f"/api/v1/categories/{created.json()['id']}/"
    assert admin_api.patch(url, {"name_en": "Gaming"}, format="json").json()["name_en"] == "Gaming"
    assert admin_api.delete(url).status_code == 204
    assert not Category.objects.filter(slug="games").exists()
    make_asset(api.tenant, category=category)
    response = admin_api.delete(f"/api/v1/categories/{category.pk}/")
    assert (
        "move them to another category"
        in assert_error(response, 400, "non_field_errors", "category_in_use")["detail"]
    )


def test_category_list_query_count_stays_constant(api, django_assert_num_queries, category):
    with django_assert_num_queries(2) as few:
        api.get("/api/v1/categories/")
    for i in range(15):
        Category.objects.create(slug=f"c{i}", name_en=f"C{i}", name_zh=f"类{i}")
    with django_assert_num_queries(len(few.captured_queries)):
        api.get("/api/v1/categories/")


# --- schema -------------------------------------------------------------------------------


def test_the_schema_documents_asset_creation_as_multipart_with_a_required_icon(client, db):
    schema = client.get("/api/schema/?format=json").json()
    body = schema["paths"]["/api/v1/assets/"]["post"]["requestBody"]
    assert list(body["content"]) == ["multipart/form-data"] and body["required"] is True
    ref = body["content"]["multipart/form-data"]["schema"]["$ref"]
    request = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert request["properties"]["icon"]["type"] == "string"
    assert request["properties"]["icon"]["format"] == "binary"
    assert "icon" in request["required"] and "tenant" not in request["required"]
    # A PATCH still takes JSON, the icon optional.
    patch = schema["paths"]["/api/v1/assets/{id}/"]["patch"]["requestBody"]["content"]
    assert "application/json" in patch


def test_json_without_an_icon_is_a_400_naming_the_icon(api, category, image_file):
    payload = {k: v for k, v in _asset_payload(category, image_file).items() if k != "icon"}
    response = api.post("/api/v1/assets/", payload, format="json")
    body = assert_error(response, 400, "icon", "icon_required")
    assert "96×96" in body["fields"]["icon"][0]
    assert not Asset.objects.exists()


def test_openapi_schema_documents_the_provider_api_without_warnings(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in [
        "/api/v1/assets/",
        "/api/v1/plans/{id}/archive/",
        "/api/v1/screenshots/",
        "/api/v1/versions/",
        "/api/v1/versions/options/",
        "/api/v1/categories/",
    ]:
        assert path in paths, path
    assert "multipart/form-data" in paths["/api/v1/screenshots/"]["post"]["requestBody"]["content"]
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")

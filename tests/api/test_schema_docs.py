"""The OpenAPI document is one a developer can use alone: operations by resource with a
summary, every error status with its body, examples of the main bodies, enums' case; and
the API's own conventions it documents: UTC timestamps, slugs that are slugs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import jsonschema  # type: ignore[import-untyped]
import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.test import APIClient

from core.schema import REQUEST_EXAMPLES

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document():
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_each_operation_is_tagged_by_its_resource_and_has_a_one_line_summary(document):
    for path, method, operation in _operations(document):
        resource = path.split("/")[3]
        expected = "accounts" if resource in ("me", "auth") else resource
        assert operation["tags"] == [expected], (method, path)
        summary = operation.get("summary", "")
        assert summary and "\n" not in summary and "v1" not in summary, (method, path, summary)


def test_every_operation_documents_its_errors_with_the_one_error_body(document):
    error_ref = "#/components/schemas/Error"
    assert set(document["components"]["schemas"]["Error"]["required"]) == {
        "status",
        "code",
        "detail",
    }
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        errors = {code for code in responses if code.startswith("4")}
        if path != "/api/v1/auth/token/":  # the anonymous door asks for no credentials
            assert {"401", "403", "429"} <= errors, (method, path)
            assert "WWW-Authenticate" in responses["401"]["headers"]
        if "{" in path:
            assert "404" in errors, (method, path)
        if method != "get":
            assert "400" in errors, (method, path)
        for code in errors - {"400", "429"} if path == "/api/v1/auth/token/" else errors:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": error_ref}, (method, path, code)


def test_the_main_request_bodies_have_valid_examples(document):
    by_id = {op["operationId"]: op for _path, _method, op in _operations(document)}
    assert set(REQUEST_EXAMPLES) <= set(by_id)
    for operation_id in REQUEST_EXAMPLES:
        content = by_id[operation_id]["requestBody"]["content"]["application/json"]
        example = next(iter(content["examples"].values()))["value"]
        schema = {**content["schema"], "components": document["components"]}
        jsonschema.validate(example, schema)


def test_enums_say_their_values_are_case_sensitive(document):
    schemas = document["components"]["schemas"]
    assert "`Automatic`, not `automatic`" in schemas["ApprovalEnum"]["description"]
    assert "`pending`, not `PENDING`" in schemas["ApprovalStatusEnum"]["description"]
    for name, schema in schemas.items():
        if any(isinstance(v, str) and v.strip() for v in schema.get("enum", [])):
            assert "Case-sensitive" in schema["description"], name


def test_tenant_slugs_match_the_documented_pattern(document, db):
    call_command("seed_demo", verbosity=0)
    pattern = document["components"]["schemas"]["Tenant"]["properties"]["slug"]["pattern"]
    Tenant = apps.get_model("accounts", "Tenant")
    slugs = list(Tenant.objects.values_list("slug", flat=True))
    assert "platform-ops" in slugs
    assert all(re.match(pattern, slug) for slug in slugs), slugs


def test_the_migration_turns_stored_non_slugs_into_slugs(db):
    from importlib import import_module

    Tenant = apps.get_model("accounts", "Tenant")
    Tenant.objects.create(name="Platform Ops", slug="Platform Ops")
    Tenant.objects.create(name="taken", slug="platform-ops")
    import_module("accounts.migrations.0003_tenant_slugs_valid").fix_slugs(apps, None)
    assert set(Tenant.objects.values_list("slug", flat=True)) == {"platform-ops", "platform-ops-2"}


def test_the_api_speaks_utc_while_pages_keep_the_local_time_zone(db, make_user, settings):
    from accounts.services import create_tenant

    assert settings.TIME_ZONE == "Asia/Shanghai"
    owner = make_user("owner")
    tenant = create_tenant(name="acme", owner=owner)
    api = APIClient()
    api.force_authenticate(owner)
    created = api.post(
        "/api/v1/projects/", {"tenant": tenant.pk, "name": "p", "namespace": "p-ns"}, format="json"
    ).json()["created_at"]
    assert created.endswith("Z"), created
    listed = api.get("/api/v1/projects/").json()["results"][0]["created_at"]
    assert listed == created
    moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    assert moment.tzinfo == UTC
    # The API call left the request's time zone as it was: pages still speak TIME_ZONE.
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"


def test_messages_keep_the_site_time_zone_when_the_api_asks():
    """The API's UTC is how it writes timestamps; a sentence it stores (a notification, a
    timeline entry) still reads the site's time, as when the page wrote it."""
    from orders.services import format_when

    moment = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)
    with timezone.override(UTC):
        assert format_when(moment) == "2026-12-02 00:30"


def test_a_missing_required_query_parameter_is_a_400_that_names_it(document, db, make_user):
    """Every required query parameter of a collection route (a detail route answers 404 for
    an id first): without it, a 400 whose `fields` name it."""
    api = APIClient()
    api.force_authenticate(make_user("someone"))
    checked = 0
    for path, method, operation in _operations(document):
        required = [
            p["name"]
            for p in operation.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        ]
        if not required or "{" in path:
            continue
        response = getattr(api, method)(path)
        body = response.json()
        assert response.status_code == 400, (path, response.status_code, body)
        assert set(required) <= set(body["fields"]), (path, body)
        checked += 1
    assert checked >= 2  # /versions/options/ (asset), /instances/form-schema/ (installation, kind)

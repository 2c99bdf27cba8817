"""Every API create endpoint that takes a `tenant` infers it the same way (accounts.api_tenancy):
left out, the caller's only tenant of the right kind; with several, "tenant is required";
a tenant the caller is not a member of (or none at all) is refused on the field.

Endpoints whose tenant follows from another field take none: orders (the project's),
instances (the installation's), versions, plans and screenshots (the asset's).
"""

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from tests.assets.factories import CategoryFactory, ClusterFactory, image_upload

pytestmark = pytest.mark.django_db

ASSETS, CATALOGS, PROJECTS, INSTALLS = (
    "/api/v1/assets/",
    "/api/v1/catalog-sources/",
    "/api/v1/projects/",
    "/api/v1/installations/",
)
# (endpoint, needs a provider tenant)
ENDPOINTS = [(ASSETS, True), (CATALOGS, True), (PROJECTS, False), (INSTALLS, False)]


@pytest.fixture
def cluster():
    return ClusterFactory(name="default", api_url="https://sandbox.invalid", is_default=True)


def _payload(path, cluster):
    """A request that names no tenant; the other fields are good where it is cheap."""
    if path == ASSETS:
        return {
            "category": CategoryFactory().pk,
            "delivery_type": "operator",
            "name": "mem1",
            "summary": "memcached cluster",
            "description": "fast",
            "icon": image_upload(96, 96),
        }
    if path == CATALOGS:
        # The service refuses the image: reaching it proves the tenant was chosen.
        return {"cluster": cluster.pk, "name": "mem", "display_name": "mem", "image": "no image"}
    if path == PROJECTS:
        return {"name": "cache", "namespace": "cache-ns"}
    return {"project": 999999, "cluster": cluster.pk, "version": 999999}


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _post(client, path, payload):
    return client.post(path, payload, format="multipart")


@pytest.mark.parametrize(("path", "provider"), ENDPOINTS)
def test_the_callers_only_tenant_is_used_when_none_is_named(
    path, provider, tenant_with_owner, cluster
):
    tenant, owner = tenant_with_owner("only", is_provider=provider)
    if provider:
        account_services.create_tenant(name="also-a-buyer", owner=owner)  # not of the kind
    response = _post(_client(owner), path, _payload(path, cluster))
    body = response.json()
    assert "tenant" not in body.get("fields", {}), body
    if path in (ASSETS, PROJECTS):
        assert response.status_code == 201, body
        assert body["tenant"] == tenant.pk
    elif path == CATALOGS:
        assert response.status_code == 400 and list(body["fields"]) == ["image"], body


@pytest.mark.parametrize(("path", "provider"), ENDPOINTS)
def test_a_caller_of_several_tenants_must_name_one(path, provider, tenant_with_owner, cluster):
    first, owner = tenant_with_owner("first", is_provider=provider)
    second = account_services.create_tenant(name="second", owner=owner, is_provider=provider)
    client = _client(owner)
    response = _post(client, path, _payload(path, cluster))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and "tenant" in body["fields"], body
    if path != INSTALLS:  # the installation's payload has bad ids besides
        assert list(body["fields"]) == ["tenant"], body
    kind = "provider tenants" if provider else "tenants"
    assert body["fields"]["tenant"] == [
        f"tenant is required: you are a member of several {kind}; name one."
    ]
    assert body["detail"].startswith("tenant: tenant is required")
    if path in (ASSETS, PROJECTS):
        named = _post(client, path, {**_payload(path, cluster), "tenant": second.pk})
        assert named.status_code == 201 and named.json()["tenant"] == second.pk, named.json()


@pytest.mark.parametrize(("path", "provider"), ENDPOINTS)
def test_a_tenant_you_are_not_a_member_of_is_refused_on_the_field(
    path, provider, tenant_with_owner, cluster
):
    _mine, owner = tenant_with_owner("mine", is_provider=provider)
    foreign, _other = tenant_with_owner("foreign", is_provider=provider)
    client = _client(owner)
    for tenant_id in (foreign.pk, 987654):  # another's and none at all: the same words
        response = _post(client, path, {**_payload(path, cluster), "tenant": tenant_id})
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["fields"]["tenant"] == [
            f"You are not a member of a tenant with id {tenant_id}."
        ]
    response = _post(client, path, {**_payload(path, cluster), "tenant": "zs-olm"})
    assert "tenant is the id (a number)" in response.json()["fields"]["tenant"][0]


@pytest.mark.parametrize(("path", "provider"), ENDPOINTS)
def test_a_caller_with_no_tenant_of_the_kind_is_told_so(path, provider, make_user, cluster):
    if provider:
        _tenant, user = None, make_user("buyer-only")
        account_services.create_tenant(name="buyers", owner=user)
    else:
        user = make_user("nobody")
    response = _post(_client(user), path, _payload(path, cluster))
    assert response.status_code == 400, response.content
    kind = "provider tenant" if provider else "tenant"
    assert response.json()["fields"]["tenant"] == [
        f"tenant is required, and you are not a member of any {kind}."
    ]


def test_an_update_keeps_its_tenant_without_asking(tenant_with_owner, cluster):
    """PATCH never infers: a provider of two tenants edits an asset without naming one."""
    first, owner = tenant_with_owner("first", is_provider=True)
    account_services.create_tenant(name="second", owner=owner, is_provider=True)
    client = _client(owner)
    created = _post(client, ASSETS, {**_payload(ASSETS, cluster), "tenant": first.pk}).json()
    response = client.patch(f"{ASSETS}{created['id']}/", {"summary": "new"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["tenant"] == first.pk and response.json()["summary"] == "new"


def test_the_schema_says_tenant_may_be_left_out(client):
    schemas = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    for name in ("AssetCreateRequest", "CatalogSourceRequest", "ProjectRequest"):
        assert "tenant" not in schemas[name].get("required", []), name
        assert "left out" in schemas[name]["properties"]["tenant"]["description"]
    assert "tenant" not in schemas["InstallationCreateRequest"].get("required", [])

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Project


@pytest.fixture
def api(tenant_with_owner):
    tenant, owner = tenant_with_owner("acme")
    client = APIClient()
    client.force_authenticate(owner)
    client.tenant, client.user = tenant, owner
    return client


def test_token_authentication_reaches_me(make_user):
    make_user("alice", password="right-Password-1")
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "right-Password-1"}
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/me/").json()
    assert me["username"] == "alice" and me["is_platform_admin"] is False


def test_bad_credentials_get_a_field_error(make_user):
    make_user("alice", password="right-Password-1")
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "no"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "non_field_errors" in body["fields"]


def test_anonymous_requests_get_the_standard_error_body(db):
    """401 with the challenge to answer (RFC 9110 §15.5.2), not 403: who you are is missing."""
    response = APIClient().get("/api/v1/projects/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert set(body) == {"status", "code", "detail"}
    assert body["code"] == "not_authenticated" and body["status"] == 401


def test_a_rejected_token_is_a_401_and_a_forbidden_user_still_a_403(make_user, client):
    response = APIClient(HTTP_AUTHORIZATION="Token not-a-token").get("/api/v1/me/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "authentication_failed"
    # Signed in (by token or by the browser's session) but not allowed: 403, no challenge.
    user = make_user("carol")
    token = APIClient().post(
        "/api/v1/auth/token/", {"username": "carol", "password": user.raw_password}
    )
    by_token = APIClient(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert by_token.get("/api/v1/me/").json()["username"] == "carol"
    forbidden = by_token.post("/api/v1/clusters/", {"name": "x"})
    assert forbidden.status_code == 403 and "WWW-Authenticate" not in forbidden
    client.force_login(user)
    assert client.get("/api/v1/me/").json()["username"] == "carol"
    assert client.post("/api/v1/clusters/", {"name": "x"}).status_code == 403


def test_me_lists_tenants_with_roles(api):
    me = api.get("/api/v1/me/").json()
    assert me["tenants"] == [
        {
            "id": api.tenant.pk,
            "name": "acme",
            "slug": "acme",
            "is_provider": False,
            "is_certified": False,
            "role": "owner",
        }
    ]


def test_create_project_over_the_api(api):
    response = api.post(
        "/api/v1/projects/", {"tenant": api.tenant.pk, "name": "Cache", "namespace": "my-mem"}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["namespace"] == "my-mem"
    assert Project.objects.get().tenant == api.tenant


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        # The service refuses these, with its own codes ...
        ({"name": "Cache", "namespace": "Bad_NS"}, "namespace", "project_invalid"),
        ({"name": "Cache", "namespace": "kube-system"}, "namespace", "namespace_reserved"),
        # ... the serializer these (missing or blank input).
        ({"name": "", "namespace": "ok"}, "name", "invalid"),
        ({"name": "Cache"}, "namespace", "invalid"),
    ],
)
def test_bad_project_input_names_the_field_and_creates_nothing(api, payload, field, code):
    response = api.post("/api/v1/projects/", {"tenant": api.tenant.pk, **payload})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and field in body["fields"]
    assert not Project.objects.exists()


def test_duplicate_project_is_a_400_naming_the_field(api):
    services.create_project(actor=api.user, tenant=api.tenant, name="Cache", namespace="cache")
    response = api.post(
        "/api/v1/projects/", {"tenant": api.tenant.pk, "name": "cache", "namespace": "cache"}
    )
    assert response.status_code == 400
    body = response.json()
    fields = body["fields"]
    assert "already used" in fields["namespace"][0]
    assert "already has a project" in fields["name"][0]
    assert body["code"] == "namespace_taken"  # the first of the refusals
    response = api.post(
        "/api/v1/projects/", {"tenant": api.tenant.pk, "name": "cache", "namespace": "other"}
    )
    assert response.status_code == 400 and response.json()["code"] == "project_name_taken"


def test_only_owners_create_projects_over_the_api(api, make_user):
    member = make_user("bob")
    services.add_member(actor=api.user, tenant=api.tenant, user=member)
    client = APIClient()
    client.force_authenticate(member)
    response = client.post(
        "/api/v1/projects/", {"tenant": api.tenant.pk, "name": "x", "namespace": "x"}
    )
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "not_an_owner"
    assert body["detail"] == "Only an owner of acme can do this."
    assert not Project.objects.exists()


def test_project_in_a_foreign_tenant_cannot_be_created_or_seen(api, tenant_with_owner):
    foreign, foreign_owner = tenant_with_owner("globex")
    theirs = services.create_project(actor=foreign_owner, tenant=foreign, name="g", namespace="g")
    response = api.post("/api/v1/projects/", {"tenant": foreign.pk, "name": "x", "namespace": "x"})
    assert response.status_code == 400 and "tenant" in response.json()["fields"]
    response = api.get(f"/api/v1/projects/{theirs.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api.get("/api/v1/projects/").json()["results"] == []


def test_project_list_is_paginated_with_constant_queries(api, django_assert_num_queries):
    def make(n, start=0):
        for i in range(start, start + n):
            services.create_project(
                actor=api.user, tenant=api.tenant, name=f"p{i}", namespace=f"p{i}"
            )

    make(2)
    with django_assert_num_queries(2) as small:  # count + page
        assert api.get("/api/v1/projects/").json()["count"] == 2
    make(30, start=2)
    with django_assert_num_queries(len(small.captured_queries)):
        page = api.get("/api/v1/projects/?page=2").json()
    assert page["count"] == 32 and len(page["results"]) == 12


def test_unknown_api_url_is_a_json_404(api):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_openapi_schema_and_docs_need_no_cdn(client, db):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/projects/" in schema.json()["paths"]
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert cdn not in docs
    assert "/static/drf_spectacular_sidecar/" in docs

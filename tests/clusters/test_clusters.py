import base64
import logging

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts import services as account_services
from clusters import kube, services
from clusters.errors import ClustersErrorCode as Code
from clusters.models import Cluster
from core import crypto
from core.errors import NotPermitted
from tests.conftest import SANDBOX_TOKEN

SECRET_TOKEN = "eyJhbGciOiJSUzI1NiJ9.very-secret-service-account-token"


def _kubeconfig(server, token=SECRET_TOKEN, **user_extra):
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "admin@prod",
            "clusters": [{"name": "prod", "cluster": {"server": server}}],
            "users": [{"name": "admin", "user": {"token": token, **user_extra}}],
            "contexts": [{"name": "admin@prod", "context": {"cluster": "prod", "user": "admin"}}],
        }
    )


def _register(actor, **overrides):
    kwargs = {
        "name": "prod",
        "auth_method": "token",
        "api_url": "https://10.0.0.1:6443",
        "token": SECRET_TOKEN,
    }
    kwargs.update(overrides)
    return services.register_cluster(actor=actor, **kwargs)


def codes(exc):
    """{field: [code, ...]} of a service's ValidationError."""
    return {field: [e.code for e in errors] for field, errors in exc.error_dict.items()}


def _raw_credentials_column(cluster):
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM clusters_cluster WHERE id = %s", [cluster.pk])
        return cursor.fetchone()[0]


def test_credentials_are_encrypted_at_rest_and_never_shown(platform_admin, client):
    cluster = _register(platform_admin, ca_data="")
    raw = _raw_credentials_column(cluster)
    assert SECRET_TOKEN not in raw and "very-secret" not in raw
    assert Cluster.objects.get(pk=cluster.pk).credentials["token"] == SECRET_TOKEN
    client.force_login(platform_admin)
    for url in ("/clusters/", f"/clusters/{cluster.pk}/", f"/clusters/{cluster.pk}/edit/"):
        assert SECRET_TOKEN not in client.get(url).content.decode()
    api = APIClient()
    api.force_authenticate(platform_admin)
    body = api.get(f"/api/v1/clusters/{cluster.pk}/").content.decode()
    assert (
        SECRET_TOKEN not in body
        and "token" not in api.get("/api/v1/clusters/").json()["results"][0]
    )
    from accounts.models import AuditEntry

    assert all(SECRET_TOKEN not in str(e.changes) for e in AuditEntry.objects.all())


def test_rotated_keys_still_decrypt_and_rotate_moves_to_the_new_key(platform_admin, settings):
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[1], settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    cluster = _register(platform_admin)
    token_under_old_key = _raw_credentials_column(cluster)
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert Cluster.objects.get(pk=cluster.pk).credentials["token"] == SECRET_TOKEN
    rotated = crypto.rotate(token_under_old_key)
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert SECRET_TOKEN in crypto.decrypt(rotated)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token_under_old_key)


def test_kubeconfig_brings_server_and_token(platform_admin):
    cluster = _register(
        platform_admin,
        auth_method="kubeconfig",
        api_url="",
        token="",
        kubeconfig=_kubeconfig("https://k8s.example.com:6443"),
    )
    assert cluster.api_url == "https://k8s.example.com:6443"
    stored = Cluster.objects.get(pk=cluster.pk).credentials
    assert stored["token"] == SECRET_TOKEN and stored["context"] == "admin@prod"


def test_kubeconfig_with_inline_ca_is_decoded(platform_admin):
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    config = yaml.safe_load(_kubeconfig("https://k8s.example.com"))
    config["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
        pem.encode()
    ).decode()
    cluster = _register(
        platform_admin, auth_method="kubeconfig", token="", kubeconfig=yaml.safe_dump(config)
    )
    assert Cluster.objects.get(pk=cluster.pk).credentials["ca_data"] == pem


@pytest.mark.parametrize(
    ("kubeconfig", "why"),
    [
        ("clusters: [unclosed", "not valid YAML"),
        ("kind: Pod", "not a kubeconfig"),
        (_kubeconfig("https://x", exec={"command": "aws"}), "exec and auth-provider"),
        (
            yaml.safe_dump({"kind": "Config", "current-context": "nope", "contexts": []}),
            "no current-context",
        ),
        (_kubeconfig("https://x", token=""), "no token or client certificate"),
    ],
)
def test_unusable_kubeconfig_is_refused_on_its_field(platform_admin, kubeconfig, why):
    with pytest.raises(ValidationError) as exc:
        _register(platform_admin, auth_method="kubeconfig", token="", kubeconfig=kubeconfig)
    assert why in exc.value.message_dict["kubeconfig"][0]
    assert codes(exc.value) == {"kubeconfig": [Code.KUBECONFIG_INVALID]}
    assert not Cluster.objects.exists()


def test_a_missing_kubeconfig_is_asked_for(platform_admin):
    with pytest.raises(ValidationError) as exc:
        _register(platform_admin, auth_method="kubeconfig", token="", kubeconfig="  ")
    assert exc.value.message_dict == {"kubeconfig": ["Paste or upload a kubeconfig."]}
    assert codes(exc.value) == {"kubeconfig": [Code.KUBECONFIG_MISSING]}


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"token": ""}, "token", Code.TOKEN_MISSING),
        ({"api_url": "ftp://x"}, "api_url", Code.API_URL_INVALID),
        ({"api_url": ""}, "api_url", Code.API_URL_MISSING),
        ({"ca_data": "not a pem"}, "ca_data", Code.CA_BUNDLE_INVALID),
        ({"name": ""}, "name", Code.CLUSTER_NAME_MISSING),
        ({"catalog_namespace": "Bad_NS"}, "catalog_namespace", Code.CATALOG_NAMESPACE_INVALID),
        ({"auth_method": "password"}, "auth_method", Code.AUTH_METHOD_INVALID),
    ],
)
def test_bad_cluster_input_names_the_field(platform_admin, overrides, field, code):
    with pytest.raises(ValidationError) as exc:
        _register(platform_admin, **overrides)
    assert field in exc.value.message_dict
    assert code in codes(exc.value)[field]
    assert not Cluster.objects.exists()


def test_only_platform_admins_register_clusters(make_user):
    with pytest.raises(PermissionDenied) as exc:
        _register(make_user("someone"))
    assert isinstance(exc.value, NotPermitted) and exc.value.code == "not_platform_admin"
    assert str(exc.value) == "Only platform administrators may manage clusters."


def test_only_platform_admins_change_test_and_delete_clusters(platform_admin, make_user):
    cluster = _register(platform_admin)
    someone = make_user("someone")
    with pytest.raises(NotPermitted, match="Only platform administrators may manage clusters."):
        services.request_connection_test(actor=someone, cluster=cluster)
    with pytest.raises(NotPermitted, match="Only platform administrators may manage clusters."):
        services.delete_cluster(actor=someone, cluster=cluster)
    assert Cluster.objects.filter(pk=cluster.pk).exists()


def test_one_default_cluster_at_a_time(platform_admin):
    first = _register(platform_admin, name="a", is_default=True)
    second = _register(platform_admin, name="b", is_default=True)
    first.refresh_from_db()
    assert second.is_default and not first.is_default
    assert Cluster.objects.filter(is_default=True).count() == 1


def test_cluster_names_are_unique_ignoring_case(platform_admin):
    _register(platform_admin, name="Prod")
    with pytest.raises(ValidationError) as exc:
        _register(platform_admin, name="prod")
    assert "already exists" in exc.value.message_dict["name"][0]
    assert codes(exc.value) == {"name": [Code.CLUSTER_NAME_TAKEN]}


# --- connection test against the sandbox (the worker's task runs inline on commit) ----------


def test_connection_test_records_version_and_olm(sandbox_cluster):
    assert sandbox_cluster.connection_state == Cluster.ConnectionState.CONNECTED
    assert sandbox_cluster.server_version.startswith("v1.")
    assert sandbox_cluster.olm_available is True
    assert sandbox_cluster.last_error == ""


def test_wrong_token_is_reported_in_plain_words(
    platform_admin, sandbox, django_capture_on_commit_callbacks, caplog
):
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        cluster = _register(platform_admin, api_url=sandbox.url, token=SECRET_TOKEN)
    cluster.refresh_from_db()
    assert cluster.connection_state == Cluster.ConnectionState.FAILED
    assert cluster.last_error == "401 Unauthorized: token rejected"
    assert SECRET_TOKEN not in caplog.text


def test_closed_port_is_connection_refused(platform_admin, django_capture_on_commit_callbacks):
    from tests.conftest import free_port

    with django_capture_on_commit_callbacks(execute=True):
        cluster = _register(platform_admin, api_url=f"http://127.0.0.1:{free_port()}")
    cluster.refresh_from_db()
    assert cluster.connection_state == Cluster.ConnectionState.FAILED
    assert cluster.last_error == "connection refused"


def test_untrusted_certificate_is_named(
    platform_admin, django_capture_on_commit_callbacks, tls_server
):
    with django_capture_on_commit_callbacks(execute=True):
        cluster = _register(platform_admin, api_url=tls_server)
    cluster.refresh_from_db()
    assert cluster.last_error.startswith("certificate not trusted")
    # With verification off, the TLS handshake passes and the (fake) server is reached.
    with django_capture_on_commit_callbacks(execute=True):
        insecure = _register(
            platform_admin, name="insecure", api_url=tls_server, skip_tls_verify=True
        )
    insecure.refresh_from_db()
    assert "certificate" not in insecure.last_error


def test_retesting_through_the_api_and_the_page(
    sandbox_cluster, platform_admin, sandbox_faults, django_capture_on_commit_callbacks, client
):
    api = APIClient()
    api.force_authenticate(platform_admin)
    sandbox_faults.down = True
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/clusters/{sandbox_cluster.pk}/test-connection/")
    assert response.status_code == 202 and response.json()["connection_state"] == "testing"
    sandbox_cluster.refresh_from_db()
    assert sandbox_cluster.last_error == "connection refused"
    sandbox_faults.down = False
    client.force_login(platform_admin)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(f"/clusters/{sandbox_cluster.pk}/test/", HTTP_HX_REQUEST="true")
    assert "Testing" in page.content.decode()  # the panel polls until the worker is done
    html = client.get(f"/clusters/{sandbox_cluster.pk}/connection/").content.decode()
    assert "Connected" in html and "connection refused" not in html


def test_non_admins_cannot_see_cluster_admin_pages(client, make_user, sandbox_cluster):
    client.force_login(make_user("nosy"))
    assert client.get("/clusters/").status_code == 403
    assert client.get(f"/clusters/{sandbox_cluster.pk}/").status_code == 403
    assert client.post(f"/clusters/{sandbox_cluster.pk}/test/").status_code == 403
    api = APIClient()
    api.force_authenticate(make_user("nosy2"))
    assert api.post("/api/v1/clusters/", {"name": "x"}).status_code == 403


def test_cluster_form_shows_field_errors_and_registers(client, platform_admin, sandbox):
    client.force_login(platform_admin)
    response = client.post(
        "/clusters/new/",
        {
            "name": "k",
            "auth_method": "kubeconfig",
            "kubeconfig": "kind: Pod",
            "catalog_namespace": "olm",
            "external_access": "NodePort",
        },
    )
    assert response.status_code == 200
    assert "This kubeconfig cannot be used: not a kubeconfig" in response.content.decode()
    assert not Cluster.objects.exists()
    response = client.post(
        "/clusters/new/",
        {
            "name": "k",
            "auth_method": "token",
            "api_url": sandbox.url,
            "token": SANDBOX_TOKEN,
            "catalog_namespace": "olm",
            "external_access": "NodePort",
            "skip_tls_verify": "on",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "registered" in html and "TLS verification is off" in html
    assert SANDBOX_TOKEN not in html


def test_cluster_api_validation_errors_name_the_field(platform_admin):
    api = APIClient()
    api.force_authenticate(platform_admin)
    response = api.post(
        "/api/v1/clusters/", {"name": "x", "auth_method": "token", "api_url": "https://x"}
    )
    assert response.status_code == 400 and "token" in response.json()["fields"]
    assert response.json()["code"] == "token_missing"
    response = api.post(
        "/api/v1/clusters/",
        {"name": "x", "auth_method": "kubeconfig", "kubeconfig": "kind: Pod"},
    )
    assert response.status_code == 400 and response.json()["code"] == "kubeconfig_invalid"
    assert response.json()["fields"]["kubeconfig"] == [
        "This kubeconfig cannot be used: not a kubeconfig (kind: Config)."
    ]


def test_a_cluster_in_use_is_not_deleted(platform_admin, tenant_with_owner, client):
    from clusters.models import CatalogSource

    cluster = _register(platform_admin)
    tenant, _owner = tenant_with_owner("sellers", is_provider=True)
    CatalogSource.objects.create(
        cluster=cluster, tenant=tenant, name="c", namespace="olm", display_name="c", image="i"
    )
    api = APIClient()
    api.force_authenticate(platform_admin)
    response = api.delete(f"/api/v1/clusters/{cluster.pk}/")
    assert response.status_code == 400
    assert response.json()["code"] == "cluster_in_use"
    assert response.json()["detail"] == (
        "This cluster still has CatalogSources or installations; delete them first."
    )
    client.force_login(platform_admin)
    page = client.post(f"/clusters/{cluster.pk}/delete/", follow=True)
    assert "This cluster still has CatalogSources or installations" in page.content.decode()
    assert Cluster.objects.filter(pk=cluster.pk).exists()


def test_a_cluster_a_user_may_not_use_is_not_found(platform_admin, make_user):
    hidden = _register(platform_admin, name="hidden")
    api = APIClient()
    api.force_authenticate(make_user("outsider"))
    response = api.get(f"/api/v1/clusters/{hidden.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_project_links_decide_who_sees_a_cluster(platform_admin, tenant_with_owner):
    tenant, owner = tenant_with_owner("buyers")
    project = account_services.create_project(actor=owner, tenant=tenant, name="p", namespace="p")
    linked = _register(platform_admin, name="linked", projects=[project])
    _register(platform_admin, name="hidden")
    api = APIClient()
    api.force_authenticate(owner)
    names = [c["name"] for c in api.get("/api/v1/clusters/").json()["results"]]
    assert names == ["linked"]
    assert list(project.clusters.all()) == [linked]
    # An admin links projects through the API; the page of the cluster lists them.
    admin_api = APIClient()
    admin_api.force_authenticate(platform_admin)
    other = account_services.create_project(actor=owner, tenant=tenant, name="q", namespace="q")
    response = admin_api.patch(
        f"/api/v1/clusters/{linked.pk}/", {"projects": [project.pk, other.pk]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["projects"]) == sorted([project.pk, other.pk])
    assert set(linked.projects.all()) == {project, other}


def test_non_admins_see_only_what_they_need_to_choose_the_default_cluster(
    platform_admin, tenant_with_owner
):
    """The default cluster is open to every tenant: the others' project ids linked to it, its
    internal API URL, namespaces and last error are the platform's business, not theirs."""
    rival, rival_owner = tenant_with_owner("rival")
    theirs = account_services.create_project(
        actor=rival_owner, tenant=rival, name="secret", namespace="rival-secret"
    )
    default = _register(platform_admin, name="shared", is_default=True, projects=[theirs])
    Cluster.objects.filter(pk=default.pk).update(
        connection_state="connected", olm_available=True, last_error="dial 10.0.0.1:6443"
    )
    _, owner = tenant_with_owner("buyers")
    api = APIClient()
    api.force_authenticate(owner)
    detail = api.get(f"/api/v1/clusters/{default.pk}/")
    assert detail.status_code == 200
    assert detail.json() == {
        "id": default.pk,
        "name": "shared",
        "is_default": True,
        "is_sandbox": False,
        "skip_tls_verify": False,
        "external_access": "NodePort",
        "connection_state": "connected",
        "olm_available": True,
        "ready": True,
    }
    listed = api.get("/api/v1/clusters/").json()["results"]
    assert listed == [detail.json()]
    assert "10.0.0.1" not in api.get("/api/v1/clusters/").content.decode()
    # The HTML pages of a cluster are the admins' alone.
    client = Client()
    client.force_login(owner)
    assert client.get(f"/clusters/{default.pk}/").status_code == 403
    # Admins still see everything.
    admin_api = APIClient()
    admin_api.force_authenticate(platform_admin)
    full = admin_api.get(f"/api/v1/clusters/{default.pk}/").json()
    assert full["api_url"] == "https://10.0.0.1:6443" and full["projects"] == [theirs.pk]
    assert full["last_error"] == "dial 10.0.0.1:6443" and full["catalog_namespace"] == "olm"


def test_cluster_list_queries_stay_constant(platform_admin, client, django_assert_max_num_queries):
    client.force_login(platform_admin)
    _register(platform_admin, name="c0")
    with django_assert_max_num_queries(20) as few:
        client.get("/clusters/")
    for i in range(1, 8):
        _register(platform_admin, name=f"c{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/clusters/")
    api = APIClient()
    api.force_authenticate(platform_admin)
    with django_assert_max_num_queries(8):
        assert api.get("/api/v1/clusters/").json()["count"] == 8


def test_production_refuses_to_run_without_encryption_keys():
    from core.checks import field_encryption_keys

    with override_settings(DEBUG=False, FIELD_ENCRYPTION_KEYS=[]):
        assert [e.id for e in field_encryption_keys(None)] == ["marketplace.E001"]
    with override_settings(DEBUG=False, FIELD_ENCRYPTION_KEYS=["not-a-key"]):
        assert [e.id for e in field_encryption_keys(None)] == ["marketplace.E002"]


def test_gateway_is_reused_per_cluster_until_credentials_change(sandbox_cluster, sandbox):
    first = kube.gateway_for(sandbox_cluster)
    assert kube.gateway_for(Cluster.objects.get(pk=sandbox_cluster.pk)) is first
    sandbox_cluster.credentials = {"token": "other"}
    assert kube.gateway_for(sandbox_cluster) is not first


def test_editing_a_cluster_on_its_page_links_projects(platform_admin, tenant_with_owner, client):
    tenant, owner = tenant_with_owner("buyers")
    project = account_services.create_project(actor=owner, tenant=tenant, name="p", namespace="p")
    cluster = _register(platform_admin)
    client.force_login(platform_admin)
    form = client.get(f"/clusters/{cluster.pk}/edit/").content.decode()
    assert f'value="{project.pk}"' in form  # every project may be linked
    response = client.post(
        f"/clusters/{cluster.pk}/edit/",
        {
            "name": "prod",
            "auth_method": "token",
            "catalog_namespace": "olm",
            "external_access": "NodePort",
            "projects": [project.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()
    assert list(cluster.projects.all()) == [project]
    assert Cluster.objects.get(pk=cluster.pk).credentials["token"] == SECRET_TOKEN  # kept
    html = client.get(f"/clusters/{cluster.pk}/").content.decode()
    assert "buyers / p (<code>p</code>)" in html
    response = client.post(
        f"/clusters/{cluster.pk}/edit/",
        {
            "name": "prod",
            "auth_method": "token",
            "catalog_namespace": "Bad_NS",
            "external_access": "NodePort",
        },
    )
    assert response.status_code == 200 and "RFC 1123" in response.content.decode()

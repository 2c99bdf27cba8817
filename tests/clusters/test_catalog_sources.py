import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework.test import APIClient

from accounts import services as account_services
from clusters import services, signals, tasks
from clusters.models import CatalogPackage, CatalogSource
from tests.conftest import sandbox_object, wait_until

SEED_IMAGE = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"


@pytest.fixture
def provider(tenant_with_owner):
    tenant, owner = tenant_with_owner("zs-olm", is_provider=True)
    return tenant, owner


def _submit(provider, cluster, capture, **overrides):
    tenant, owner = provider
    kwargs = {
        "name": "mem-registry",
        "display_name": "mem-01",
        "image": SEED_IMAGE,
        "publisher": "TenxCloud",
    }
    kwargs.update(overrides)
    with capture(execute=True):
        return services.submit_catalog_source(actor=owner, tenant=tenant, cluster=cluster, **kwargs)


def _sync_until(catalog, state, timeout=10):
    def reached():
        tasks.sync_catalog_sources()
        catalog.refresh_from_db()
        return catalog.state == state

    wait_until(reached, timeout=timeout, message=f"catalog to become {state}")
    return catalog


def test_submitted_catalog_becomes_ready_and_lists_its_packages(
    provider, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    catalog = _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)
    # The worker applied it with server-side apply in the cluster's catalog namespace.
    applied = sandbox_object(
        sandbox, "operators.coreos.com/v1alpha1", "CatalogSource", "olm", "mem-registry"
    )
    assert applied["spec"]["sourceType"] == "grpc" and applied["spec"]["image"] == SEED_IMAGE
    assert catalog.namespace == "olm"
    _sync_until(catalog, CatalogSource.State.READY)
    wait_until(lambda: (tasks.sync_catalog_sources(), catalog.packages.exists())[1])
    package = CatalogPackage.objects.get(catalog_source=catalog)
    assert package.name == "memcached-cluster-operator"
    assert package.default_channel == "stable"
    assert {c["name"] for c in package.channels} == {"alpha", "stable"}
    stable = package.channel("stable")
    assert stable["current_csv"].startswith("memcached-cluster-operator.v")
    assert stable["version"]
    assert stable["provided_apis"][0]["kind"] == "MemcachedCluster"


def test_unknown_image_fails_with_the_reason(
    provider, sandbox_cluster, django_capture_on_commit_callbacks
):
    catalog = _submit(
        provider,
        sandbox_cluster,
        django_capture_on_commit_callbacks,
        name="nope",
        image="registry.example.com/unknown/catalog:v9",
    )
    _sync_until(catalog, CatalogSource.State.FAILED)
    assert catalog.last_observed_state == "TRANSIENT_FAILURE"
    assert catalog.message
    assert not catalog.packages.exists()


def test_sync_costs_list_calls_per_cluster_not_gets_per_catalog(
    provider, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    catalogs = [
        _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks, name=f"cat-{i}")
        for i in range(4)
    ]
    for catalog in catalogs:
        _sync_until(catalog, CatalogSource.State.READY)
    sandbox.clear_request_log()
    tasks.sync_catalog_sources()
    calls = [(r.method, r.path) for r in sandbox.request_log]
    api_calls = [c for c in calls if "/namespaces/" in c[1]]
    assert api_calls == [
        ("GET", "/apis/operators.coreos.com/v1alpha1/namespaces/olm/catalogsources"),
        ("GET", "/apis/packages.operators.coreos.com/v1/namespaces/olm/packagemanifests"),
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "Mem_Registry"}, "name"),
        ({"name": ""}, "name"),
        ({"display_name": " "}, "display_name"),
        ({"image": "not an image"}, "image"),
        ({"image": ""}, "image"),
    ],
)
def test_bad_catalog_input_names_the_field(
    provider, sandbox_cluster, django_capture_on_commit_callbacks, overrides, field
):
    with pytest.raises(ValidationError) as exc:
        _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks, **overrides)
    assert field in exc.value.message_dict
    assert not CatalogSource.objects.exists()


def test_duplicate_catalog_name_on_a_cluster_is_refused(
    provider, sandbox_cluster, django_capture_on_commit_callbacks
):
    _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as exc:
        _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)
    assert "already exists" in exc.value.message_dict["name"][0]


def test_only_provider_members_submit_catalogs(tenant_with_owner, sandbox_cluster, make_user):
    buyer_tenant, buyer = tenant_with_owner("buyers")
    with pytest.raises(PermissionDenied):
        services.submit_catalog_source(
            actor=buyer,
            tenant=buyer_tenant,
            cluster=sandbox_cluster,
            name="x",
            display_name="x",
            image=SEED_IMAGE,
        )
    provider_tenant, _owner = tenant_with_owner("sellers", is_provider=True)
    with pytest.raises(PermissionDenied):
        services.submit_catalog_source(
            actor=make_user("stranger"),
            tenant=provider_tenant,
            cluster=sandbox_cluster,
            name="x",
            display_name="x",
            image=SEED_IMAGE,
        )


def test_a_cluster_the_tenant_may_not_use_is_refused(
    provider, platform_admin, sandbox, django_capture_on_commit_callbacks
):
    other = services.register_cluster(
        actor=platform_admin, name="private", auth_method="token", api_url=sandbox.url, token="t"
    )
    with pytest.raises(ValidationError) as exc:
        _submit(provider, other, django_capture_on_commit_callbacks)
    assert "cluster" in exc.value.message_dict


def test_transient_errors_are_retried_then_reported(
    provider, sandbox_cluster, sandbox_faults, django_capture_on_commit_callbacks
):
    sandbox_faults.error_rate = 1.0
    catalog = _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)
    catalog.refresh_from_db()
    # Retries (immediate in eager mode) ran out: failed, with the cluster's words.
    assert catalog.state == CatalogSource.State.FAILED
    assert "500" in catalog.message
    sandbox_faults.reset()
    tasks.deploy_catalog_source.delay(catalog.pk)
    _sync_until(catalog, CatalogSource.State.READY)


def test_deletion_is_refused_while_something_uses_the_catalog(
    provider, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    catalog = _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)
    _tenant, owner = provider

    def in_use(sender, catalog_source, **kwargs):
        return [f"version 1.1.0 of mem1 (on sale) uses {catalog_source.name}"]

    signals.catalog_source_usage.connect(in_use, dispatch_uid="test-in-use")
    try:
        with pytest.raises(ValidationError) as exc:
            services.delete_catalog_source(actor=owner, catalog_source=catalog)
        assert "version 1.1.0 of mem1 (on sale)" in exc.value.messages[0]
    finally:
        signals.catalog_source_usage.disconnect(dispatch_uid="test-in-use")
    assert CatalogSource.objects.filter(pk=catalog.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_catalog_source(actor=owner, catalog_source=catalog)
    assert not CatalogSource.objects.filter(pk=catalog.pk).exists()
    assert (
        sandbox_object(
            sandbox, "operators.coreos.com/v1alpha1", "CatalogSource", "olm", "mem-registry"
        )
        is None
    )


def test_catalog_api_and_tenant_isolation(
    provider, sandbox_cluster, tenant_with_owner, django_capture_on_commit_callbacks
):
    tenant, owner = provider
    api = APIClient()
    api.force_authenticate(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/catalog-sources/",
            {
                "tenant": tenant.pk,
                "cluster": sandbox_cluster.pk,
                "name": "mem-registry",
                "display_name": "mem-01",
                "image": SEED_IMAGE,
            },
        )
    assert response.status_code == 201, response.json()
    catalog_id = response.json()["id"]
    bad = api.post(
        "/api/v1/catalog-sources/",
        {
            "tenant": tenant.pk,
            "cluster": sandbox_cluster.pk,
            "name": "BAD",
            "display_name": "x",
            "image": SEED_IMAGE,
        },
    )
    assert bad.status_code == 400 and "name" in bad.json()["fields"]
    _sync_until(CatalogSource.objects.get(pk=catalog_id), CatalogSource.State.READY)
    tasks.sync_catalog_sources()
    packages = api.get(f"/api/v1/catalog-sources/{catalog_id}/packages/").json()
    assert packages[0]["name"] == "memcached-cluster-operator"

    _other_tenant, stranger = tenant_with_owner("globex", is_provider=True)
    api.force_authenticate(stranger)
    assert api.get(f"/api/v1/catalog-sources/{catalog_id}/").status_code == 404
    assert api.get("/api/v1/catalog-sources/").json()["count"] == 0


def test_catalog_pages(provider, sandbox_cluster, client, django_capture_on_commit_callbacks):
    tenant, owner = provider
    client.force_login(owner)
    assert (
        "Submit the first CatalogSource"
        in client.get("/clusters/catalog-sources/").content.decode()
    )
    response = client.post(
        "/clusters/catalog-sources/new/",
        {
            "cluster": sandbox_cluster.pk,
            "name": "Bad Name",
            "display_name": "x",
            "image": SEED_IMAGE,
        },
    )
    assert "RFC 1123" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/clusters/catalog-sources/new/",
            {
                "cluster": sandbox_cluster.pk,
                "name": "mem-registry",
                "display_name": "mem-01",
                "image": SEED_IMAGE,
            },
            follow=True,
        )
    assert "the platform is deploying it" in response.content.decode()
    catalog = CatalogSource.objects.get()
    _sync_until(catalog, CatalogSource.State.READY)
    tasks.sync_catalog_sources()
    html = client.get(f"/clusters/catalog-sources/{catalog.pk}/").content.decode()
    assert "memcached-cluster-operator" in html and "Ready" in html


def test_buyers_cannot_open_the_catalog_pages(client, tenant_with_owner):
    _tenant, buyer = tenant_with_owner("buyers")
    client.force_login(buyer)
    assert client.get("/clusters/catalog-sources/").status_code == 403


def test_catalog_list_queries_stay_constant(
    provider,
    sandbox_cluster,
    client,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    _tenant, owner = provider
    client.force_login(owner)
    _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks, name="c-0")
    with django_assert_max_num_queries(30) as few:
        client.get("/clusters/catalog-sources/")
    for i in range(1, 6):
        _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks, name=f"c-{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/clusters/catalog-sources/")


def test_seed_demo_registers_the_sandbox_and_the_seed_catalog(db, monkeypatch, sandbox):
    from django.core.management import call_command

    from clusters.models import Cluster

    monkeypatch.setenv("SANDBOX_PORT", sandbox.url.rsplit(":", 1)[1])
    monkeypatch.setenv("SANDBOX_TOKEN", "sandbox-test-token")
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    cluster = Cluster.objects.get()
    assert cluster.is_sandbox and cluster.is_default and cluster.api_url == sandbox.url
    assert CatalogSource.objects.get().image == SEED_IMAGE
    assert set(cluster.projects.values_list("namespace", flat=True)) >= {"my-mem", "one"}
    assert account_services  # the demo projects come from accounts' part of seed_demo

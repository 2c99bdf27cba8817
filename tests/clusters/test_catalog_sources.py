from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework.test import APIClient

from accounts import services as account_services
from clusters import records, services, signals, tasks
from clusters.errors import ClustersErrorCode as Code
from clusters.models import CatalogPackage, CatalogSource
from core.errors import NotPermitted
from tests.conftest import free_port, sandbox_object, wait_until

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


def codes(exc):
    """{field: [code, ...]} of a service's ValidationError."""
    return {field: [e.code for e in errors] for field, errors in exc.error_dict.items()}


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
    provider, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
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
    # As on a real cluster, a global catalog that cannot be listed stops OLM resolving in
    # every namespace: the provider deletes it (and this test must not leave it behind).
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_catalog_source(actor=provider[1], catalog_source=catalog)
    wait_until(
        lambda: (
            sandbox_object(sandbox, "operators.coreos.com/v1alpha1", "CatalogSource", "olm", "nope")
            is None
        ),
        message="the broken catalog to be gone from the cluster",
    )


def test_sync_costs_list_calls_per_cluster_not_gets_per_catalog(
    provider, sandbox_cluster, sandbox, django_capture_on_commit_callbacks, settings
):
    catalogs = [
        _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks, name=f"cat-{i}")
        for i in range(4)
    ]
    for catalog in catalogs:
        _sync_until(catalog, CatalogSource.State.READY)
    expected = [
        ("GET", "/apis/operators.coreos.com/v1alpha1/namespaces/olm/catalogsources"),
        ("GET", "/apis/packages.operators.coreos.com/v1/namespaces/olm/packagemanifests"),
    ]
    # Through the periodic task (which enqueues the cluster's job) and the job itself.
    for run in (
        tasks.sync_catalog_sources,
        lambda: tasks.sync_cluster_catalogs(sandbox_cluster.pk),
    ):
        sandbox.clear_request_log()
        run()
        calls = [(r.method, r.path) for r in sandbox.request_log]
        api_calls = [c for c in calls if "/namespaces/" in c[1]]
        assert api_calls == expected
        # Only our catalogs' packages, selected by packageserver's labels, in pages.
        (listed,) = [r.query for r in sandbox.request_log if r.path.endswith("packagemanifests")]
        names = ",".join(sorted(c.name for c in catalogs))
        assert listed["labelSelector"] == f"catalog in ({names}),catalog-namespace=olm"
        assert listed["limit"] == str(settings.KUBE_LIST_PAGE_SIZE)
    # Idempotent: a second run finds nothing to change.
    states = {c.pk: (c.state, c.message) for c in CatalogSource.objects.all()}
    assert tasks.sync_cluster_catalogs(sandbox_cluster.pk) == 4
    assert {c.pk: (c.state, c.message) for c in CatalogSource.objects.all()} == states
    assert tasks.sync_cluster_catalogs(sandbox_cluster.pk + 1000) == 0  # no such cluster


def test_periodic_sync_fans_out_per_cluster_and_a_down_cluster_holds_up_no_other(
    provider,
    platform_admin,
    sandbox_cluster,
    sandbox,
    settings,
    django_capture_on_commit_callbacks,
):
    tenant, owner = provider
    project = account_services.create_project(
        actor=owner, tenant=tenant, name="down", namespace="down"
    )
    with django_capture_on_commit_callbacks(execute=True):
        down = services.register_cluster(
            actor=platform_admin,
            name="down",
            auth_method="token",
            api_url=f"http://127.0.0.1:{free_port()}",
            token="t",
            projects=[project],
        )
    # The apply fails (connection refused), is retried, and the catalog is failed.
    stuck = _submit(provider, down, django_capture_on_commit_callbacks)
    stuck.refresh_from_db()
    assert (stuck.state, stuck.message) == (CatalogSource.State.FAILED, "connection refused")
    catalog = _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)

    job = tasks.sync_cluster_catalogs
    sandbox.clear_request_log()
    with mock.patch.object(job, "apply_async") as enqueued:
        assert tasks.sync_catalog_sources() == 2
    assert sandbox.request_log == []  # the periodic task talks to no cluster itself
    assert sorted(call.kwargs["args"][0] for call in enqueued.call_args_list) == sorted(
        [down.pk, sandbox_cluster.pk]
    )
    # Jobs piled up behind a busy worker are dropped after a few intervals, not one: with
    # one, every job of a worker that stays busy longer was dropped and catalogs starved.
    assert {call.kwargs["expires"] for call in enqueued.call_args_list} == {
        settings.CATALOG_SYNC_EXPIRES
    }
    assert settings.CATALOG_SYNC_EXPIRES >= 3 * settings.CATALOG_SYNC_INTERVAL

    # Run for real (eagerly): the down cluster's job is logged and left for the next run,
    # the other's catalog gets to READY with its packages.
    assert tasks.sync_cluster_catalogs(down.pk) == 0
    _sync_until(catalog, CatalogSource.State.READY)
    wait_until(lambda: (tasks.sync_catalog_sources(), catalog.packages.exists())[1])
    stuck.refresh_from_db()
    assert (stuck.state, stuck.message) == (CatalogSource.State.FAILED, "connection refused")


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"name": "Mem_Registry"}, "name", Code.CATALOG_NAME_INVALID),
        ({"name": ""}, "name", Code.CATALOG_NAME_MISSING),
        ({"display_name": " "}, "display_name", Code.DISPLAY_NAME_MISSING),
        ({"image": "not an image"}, "image", Code.IMAGE_INVALID),
        ({"image": ""}, "image", Code.IMAGE_INVALID),
    ],
)
def test_bad_catalog_input_names_the_field(
    provider, sandbox_cluster, django_capture_on_commit_callbacks, overrides, field, code
):
    with pytest.raises(ValidationError) as exc:
        _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks, **overrides)
    assert field in exc.value.message_dict
    assert codes(exc.value) == {field: [code]}
    assert not CatalogSource.objects.exists()


def test_an_empty_catalog_name_is_asked_for_once(
    provider, sandbox_cluster, django_capture_on_commit_callbacks
):
    with pytest.raises(ValidationError) as exc:
        _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks, name="  ")
    assert exc.value.message_dict == {"name": ["Enter a name."]}


def test_duplicate_catalog_name_on_a_cluster_is_refused(
    provider, sandbox_cluster, django_capture_on_commit_callbacks
):
    _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as exc:
        _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)
    assert "already exists" in exc.value.message_dict["name"][0]
    assert codes(exc.value) == {"name": [Code.CATALOG_NAME_TAKEN]}


def test_only_provider_members_submit_catalogs(tenant_with_owner, sandbox_cluster, make_user):
    buyer_tenant, buyer = tenant_with_owner("buyers")
    with pytest.raises(PermissionDenied) as refused:
        services.submit_catalog_source(
            actor=buyer,
            tenant=buyer_tenant,
            cluster=sandbox_cluster,
            name="x",
            display_name="x",
            image=SEED_IMAGE,
        )
    assert isinstance(refused.value, NotPermitted) and refused.value.code == "not_a_provider"
    assert str(refused.value) == "Only provider tenants can submit CatalogSources."
    provider_tenant, _owner = tenant_with_owner("sellers", is_provider=True)
    with pytest.raises(PermissionDenied) as refused:
        services.submit_catalog_source(
            actor=make_user("stranger"),
            tenant=provider_tenant,
            cluster=sandbox_cluster,
            name="x",
            display_name="x",
            image=SEED_IMAGE,
        )
    assert isinstance(refused.value, NotPermitted) and refused.value.code == "not_a_member"
    assert str(refused.value) == "You are not a member of sellers."


def test_a_cluster_the_tenant_may_not_use_is_refused(
    provider, platform_admin, sandbox, django_capture_on_commit_callbacks
):
    other = services.register_cluster(
        actor=platform_admin, name="private", auth_method="token", api_url=sandbox.url, token="t"
    )
    with pytest.raises(ValidationError) as exc:
        _submit(provider, other, django_capture_on_commit_callbacks)
    assert "cluster" in exc.value.message_dict
    assert codes(exc.value) == {"cluster": [Code.CLUSTER_NOT_OPEN]}


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
        assert codes(exc.value) == {"non_field_errors": [Code.CATALOG_IN_USE]}
        api = APIClient()
        api.force_authenticate(owner)
        response = api.delete(f"/api/v1/catalog-sources/{catalog.pk}/")
        assert response.status_code == 400 and response.json()["code"] == "catalog_in_use"
        assert "version 1.1.0 of mem1 (on sale)" in response.json()["detail"]
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
    assert bad.json()["code"] == "catalog_name_invalid"
    _sync_until(CatalogSource.objects.get(pk=catalog_id), CatalogSource.State.READY)
    tasks.sync_catalog_sources()
    packages = api.get(f"/api/v1/catalog-sources/{catalog_id}/packages/").json()
    # A page like every other list (the schema said so; it used to be a bare list).
    assert packages["count"] == len(packages["results"]) >= 1
    assert packages["results"][0]["name"] == "memcached-cluster-operator"

    _other_tenant, stranger = tenant_with_owner("globex", is_provider=True)
    api.force_authenticate(stranger)
    assert api.get(f"/api/v1/catalog-sources/{catalog_id}/").status_code == 404
    assert api.get("/api/v1/catalog-sources/").json()["count"] == 0
    for response in (
        api.get(f"/api/v1/catalog-sources/{catalog_id}/packages/"),
        api.delete(f"/api/v1/catalog-sources/{catalog_id}/"),
    ):
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert CatalogSource.objects.get(pk=catalog_id).state == CatalogSource.State.READY


def test_the_api_names_who_may_not_submit(
    tenant_with_owner, sandbox_cluster, django_capture_on_commit_callbacks
):
    buyer_tenant, buyer = tenant_with_owner("buyers")
    api = APIClient()
    api.force_authenticate(buyer)
    response = api.post(
        "/api/v1/catalog-sources/",
        {
            "tenant": buyer_tenant.pk,
            "cluster": sandbox_cluster.pk,
            "name": "mem-registry",
            "display_name": "mem-01",
            "image": SEED_IMAGE,
        },
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_provider"
    assert response.json()["detail"] == "Only provider tenants can submit CatalogSources."
    assert not CatalogSource.objects.exists()


def test_only_members_and_platform_admins_delete_a_catalog(
    provider, sandbox_cluster, tenant_with_owner, platform_admin, django_capture_on_commit_callbacks
):
    catalog = _submit(provider, sandbox_cluster, django_capture_on_commit_callbacks)
    _other, stranger = tenant_with_owner("globex", is_provider=True)
    with pytest.raises(NotPermitted) as refused:
        services.delete_catalog_source(actor=stranger, catalog_source=catalog)
    assert str(refused.value) == "You cannot delete this CatalogSource."
    assert refused.value.code == "not_a_member"
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_catalog_source(actor=platform_admin, catalog_source=catalog)
    assert not CatalogSource.objects.filter(pk=catalog.pk).exists()


def test_catalog_pages(
    provider, sandbox_cluster, client, tenant_with_owner, django_capture_on_commit_callbacks
):
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
    _other, stranger = tenant_with_owner("globex", is_provider=True)
    client.force_login(stranger)
    assert client.get(f"/clusters/catalog-sources/{catalog.pk}/").status_code == 404
    assert client.post(f"/clusters/catalog-sources/{catalog.pk}/delete/").status_code == 404


def test_catalog_list_pages_keep_the_state_filter(
    provider, sandbox_cluster, client, monkeypatch, django_capture_on_commit_callbacks
):
    _tenant, owner = provider
    for i in range(3):
        catalog = _submit(
            provider, sandbox_cluster, django_capture_on_commit_callbacks, name=f"c-{i}"
        )
        if i:
            records.record_catalog_state(
                catalog_source_id=catalog.pk, state=CatalogSource.State.FAILED, message="x"
            )
    monkeypatch.setattr("core.pagination.PAGE_SIZE", 1)
    client.force_login(owner)
    html = client.get("/clusters/catalog-sources/?state=failed").content.decode()
    assert "c-1" in html and "c-0" not in html and "c-2" not in html
    assert "?state=failed&amp;page=2" in html
    html = client.get("/clusters/catalog-sources/?state=failed&page=2").content.decode()
    assert "c-2" in html and "c-1" not in html


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
    monkeypatch.delenv("SANDBOX_CA_FILE", raising=False)  # the session's sandbox is HTTP
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    cluster = Cluster.objects.get()
    assert cluster.is_sandbox and cluster.is_default and cluster.api_url == sandbox.url
    assert CatalogSource.objects.get().image == SEED_IMAGE
    assert set(cluster.projects.values_list("namespace", flat=True)) >= {"my-mem", "one"}
    assert account_services  # the demo projects come from accounts' part of seed_demo


def test_a_catalog_failing_too_long_is_withdrawn_then_redeployed(
    provider, sandbox_cluster, sandbox, settings, django_capture_on_commit_callbacks
):
    # OLM's resolver fails every namespace that sees a catalog it cannot list
    # (resolver.go: namespacedCache.Error()), so a broken global catalog must not stay.
    settings.CATALOG_WITHDRAW_AFTER = 300
    catalog = _submit(
        provider,
        sandbox_cluster,
        django_capture_on_commit_callbacks,
        name="broken",
        image="registry.example.com/broken/catalog:v1",
    )
    _sync_until(catalog, CatalogSource.State.FAILED)
    cs = ("operators.coreos.com/v1alpha1", "CatalogSource", "olm", "broken")
    tasks.sync_cluster_catalogs(sandbox_cluster.pk)
    assert sandbox_object(sandbox, *cs) is not None  # young failures may still recover
    with time_machine.travel(catalog.state_changed_at + timedelta(seconds=301), tick=False):
        tasks.sync_cluster_catalogs(sandbox_cluster.pk)
    catalog.refresh_from_db()
    assert sandbox_object(sandbox, *cs) is None
    assert catalog.state == CatalogSource.State.FAILED
    assert catalog.last_observed_state == records.WITHDRAWN
    assert "stops installs and upgrades in every namespace" in catalog.message
    tasks.sync_cluster_catalogs(sandbox_cluster.pk)  # gone stays gone: not applied again
    assert sandbox_object(sandbox, *cs) is None

    # The provider fixed the image (here: it is still broken) and redeploys, over the API.
    api = APIClient()
    api.force_authenticate(provider[1])
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/catalog-sources/{catalog.pk}/redeploy/")
    assert answer.status_code == 202, answer.content
    assert sandbox_object(sandbox, *cs) is not None
    again = api.post(f"/api/v1/catalog-sources/{catalog.pk}/redeploy/")
    assert again.status_code == 400 and again.json()["code"] == "catalog_not_failed"
    _sync_until(catalog, CatalogSource.State.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_catalog_source(actor=provider[1], catalog_source=catalog)
    wait_until(lambda: sandbox_object(sandbox, *cs) is None, message="the catalog removed")

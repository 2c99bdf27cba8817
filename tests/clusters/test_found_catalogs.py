"""The seed's first step: a provider applies `memcached.yaml` (a CatalogSource) with kubectl
into a namespace of its own, here `love-story`; the catalog sync finds it and the provider
portal offers it, so submitting it takes one click. The platform's copy goes to the global
catalog namespace, the only one (besides a Subscription's own) OLM resolves from."""

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from clusters import kube, tasks
from clusters.models import CatalogSource, FoundCatalogSource
from tests.conftest import wait_until

SEED_IMAGE = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"


def _kubectl_apply(cluster, manifest):
    """What `kubectl apply --server-side` does, with another field manager than ours."""
    return kube.gateway_for(cluster).apply(manifest, field_manager="kubectl")


def _seed_catalog(namespace, name="mem-registry"):
    return {
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "CatalogSource",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"sourceType": "grpc", "image": SEED_IMAGE, "displayName": "mem-01"},
    }


@pytest.fixture
def provider_with_project(tenant_with_owner):
    tenant, owner = tenant_with_owner("zs-olm", is_provider=True)
    account_services.create_project(
        actor=owner, tenant=tenant, name="love story", namespace="love-story"
    )
    return tenant, owner


def _found(namespace="love-story", name="mem-registry", state="READY"):
    def seen():
        tasks.sync_catalog_sources()
        row = FoundCatalogSource.objects.filter(namespace=namespace, name=name).first()
        return row if row and row.last_observed_state == state else None

    return wait_until(seen, timeout=15, message=f"{namespace}/{name} found {state}")


def test_a_catalog_applied_in_the_providers_namespace_is_offered_and_submitted_in_one_click(
    provider_with_project, sandbox_cluster, client, django_capture_on_commit_callbacks
):
    tenant, owner = provider_with_project
    _kubectl_apply(
        sandbox_cluster,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "love-story"}},
    )
    _kubectl_apply(sandbox_cluster, _seed_catalog("love-story"))
    found = _found()
    assert (found.image, found.display_name, found.source_type) == (SEED_IMAGE, "mem-01", "grpc")

    client.force_login(owner)
    page = client.get("/clusters/catalog-sources/new/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "love-story" in body and f"?found={found.pk}" in body

    prefilled = client.get(f"/clusters/catalog-sources/new/?found={found.pk}")
    form = prefilled.context["form"]
    assert form.initial["image"] == SEED_IMAGE
    assert form.initial["name"] == "mem-registry"
    assert form.initial["display_name"] == "mem-01"
    assert form.initial["cluster"] == sandbox_cluster.pk

    with django_capture_on_commit_callbacks(execute=True):
        submitted = client.post(
            "/clusters/catalog-sources/new/",
            {
                "cluster": sandbox_cluster.pk,
                "name": "mem-registry",
                "display_name": "mem-01",
                "image": SEED_IMAGE,
            },
        )
    assert submitted.status_code == 302
    catalog = CatalogSource.objects.get(tenant=tenant, name="mem-registry")
    assert catalog.namespace == sandbox_cluster.catalog_namespace  # buyers can resolve it

    def ready():
        tasks.sync_catalog_sources()
        catalog.refresh_from_db()
        return catalog.state == CatalogSource.State.READY

    wait_until(ready, timeout=15, message="the platform copy READY")
    again = client.get("/clusters/catalog-sources/new/").content.decode()
    assert "submitted as mem-registry" in again and f"?found={found.pk}" not in again


def test_found_catalogs_are_only_the_tenants_own_and_follow_the_cluster(
    provider_with_project, tenant_with_owner, sandbox_cluster
):
    tenant, owner = provider_with_project
    other, other_owner = tenant_with_owner("other-provider", is_provider=True)
    account_services.create_project(
        actor=other_owner, tenant=other, name="theirs", namespace="their-ns"
    )
    for namespace in ("love-story", "their-ns", "nobodys-ns"):
        _kubectl_apply(
            sandbox_cluster,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        _kubectl_apply(sandbox_cluster, _seed_catalog(namespace, name=f"cat-{namespace}"))
    _found("love-story", "cat-love-story")
    _found("their-ns", "cat-their-ns")
    # Not in any provider project's namespace: never recorded.
    assert not FoundCatalogSource.objects.filter(namespace="nobodys-ns").exists()
    # The platform's own catalogs (labelled) are followed, not found.
    assert not FoundCatalogSource.objects.filter(namespace=sandbox_cluster.catalog_namespace)

    api = APIClient()
    api.force_authenticate(owner)
    listed = api.get("/api/v1/catalog-sources/found/")
    assert listed.status_code == 200
    rows = {(r["namespace"], r["name"]): r for r in listed.json()["results"]}
    # Only its own namespace's (the session's sandbox may hold other tests' catalogs there).
    assert {namespace for namespace, _name in rows} == {"love-story"}
    assert rows[("love-story", "cat-love-story")]["submitted_as"] is None
    assert rows[("love-story", "cat-love-story")]["image"] == SEED_IMAGE

    # A foreign found catalog cannot be picked: the same 404 as an unknown id.
    theirs = FoundCatalogSource.objects.get(namespace="their-ns")
    api_client_page = APIClient()
    api_client_page.force_login(owner)
    assert api_client_page.get(f"/clusters/catalog-sources/new/?found={theirs.pk}").status_code == (
        404
    )
    assert api_client_page.get("/clusters/catalog-sources/new/?found=nope").status_code == 404

    # Deleted on the cluster: gone from the portal at the next sync.
    kube.gateway_for(sandbox_cluster).delete(
        "operators.coreos.com/v1alpha1", "CatalogSource", "cat-love-story", "love-story"
    )

    def forgotten():
        tasks.sync_catalog_sources()
        return not FoundCatalogSource.objects.filter(name="cat-love-story").exists()

    wait_until(forgotten, timeout=15, message="the deleted catalog forgotten")

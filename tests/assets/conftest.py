"""Fixtures of the provider portal's tests; tests/approvals reuses them by name."""

import pytest

from .factories import (
    AssetFactory,
    CatalogSourceFactory,
    CategoryFactory,
    ClusterFactory,
    ProviderFactory,
    image_upload,
)


@pytest.fixture
def image_file():
    """`image_file(120, 80, "GIF")` → an upload as a browser would send it."""
    return image_upload


@pytest.fixture
def category(db):
    return CategoryFactory()


@pytest.fixture
def provider(db):
    """The seed's provider: tenant zs-olm (a provider) with its project `one`."""
    return ProviderFactory()


@pytest.fixture
def other_provider(db):
    return ProviderFactory(name="globex", project_name="g", namespace="globex-g")


@pytest.fixture
def make_asset(category):
    """`make_asset(tenant, plans=[...], screenshots=[...], **fields)`: mem1 by default."""

    def make(tenant, *, actor=None, **overrides):
        if overrides.get("icon") is None:
            overrides.pop("icon", None)  # None means "a good icon", as a test rarely cares
        if actor is not None:
            overrides["actor"] = actor
        return AssetFactory(tenant=tenant, **{"category": category, **overrides})

    return make


@pytest.fixture
def default_cluster(db):
    return ClusterFactory(
        name="默认集群", api_url="https://sandbox.invalid", is_default=True, is_sandbox=True
    )


@pytest.fixture
def make_catalog(default_cluster):
    """A CatalogSource of `tenant` on a cluster, READY by default, serving memcached-operator."""

    def make(tenant, *, cluster=None, name="mem-registry", state="ready", channels=None):
        package = {} if channels is None else {"package__channels": channels}
        return CatalogSourceFactory(
            tenant=tenant, cluster=cluster or default_cluster, name=name, state=state, **package
        )

    return make


@pytest.fixture
def make_version(make_catalog, default_cluster):
    """A draft version of `asset` on the tenant's mem-registry catalog (made if missing)."""
    from assets import services

    def make(asset, *, catalog=None, channels=("stable",), default_channel="stable"):
        tenant = asset.tenant
        catalog = (
            catalog
            or tenant.catalog_sources.filter(name="mem-registry").first()
            or make_catalog(tenant)
        )
        return services.create_version(
            actor=tenant.owner,
            asset=asset,
            project=tenant.project,
            cluster=default_cluster,
            catalog_source=catalog,
            package_name="memcached-operator",
            channels=list(channels),
            default_channel=default_channel,
        )

    return make

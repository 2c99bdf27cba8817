from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import services as account_services

from .factories import MEMCACHED_CHANNELS, make_image_bytes


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads of a test go to its own folder, never into the work tree."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def image_file():
    """`image_file(120, 80, "GIF")` → an upload as a browser would send it."""

    def make(width=96, height=96, fmt="PNG", name=None, **save_options):
        extension = {"JPEG": "jpg"}.get(fmt, fmt.lower())
        return SimpleUploadedFile(
            name or f"image.{extension}",
            make_image_bytes(width, height, fmt, **save_options),
            content_type=f"image/{extension}",
        )

    return make


@pytest.fixture
def category(db):
    from assets.models import Category

    # get_or_create: a transactional test elsewhere may have flushed the data migration's rows.
    category, _created = Category.objects.get_or_create(
        slug="basic-apps", defaults={"name_en": "Basic applications", "name_zh": "基础应用"}
    )
    return category


@pytest.fixture
def provider(tenant_with_owner):
    """The seed's provider: tenant zs-olm (a provider) with its project `one`."""
    tenant, owner = tenant_with_owner("zs-olm", is_provider=True)
    project = account_services.create_project(
        actor=owner, tenant=tenant, name="one", namespace="one"
    )
    tenant.owner, tenant.project = owner, project
    return tenant


@pytest.fixture
def other_provider(tenant_with_owner):
    tenant, owner = tenant_with_owner("globex", is_provider=True)
    project = account_services.create_project(
        actor=owner, tenant=tenant, name="g", namespace="globex-g"
    )
    tenant.owner, tenant.project = owner, project
    return tenant


ASSET_DEFAULTS = {
    "delivery_type": "operator",
    "name": "mem1",
    "summary": "memcached cluster",
    "description": "# Memcached\n\nA **fast** cache.",
}


@pytest.fixture
def make_asset(category, image_file):
    from assets import services

    def make(tenant, *, actor=None, plans=(), screenshots=(), **overrides):
        fields = {**ASSET_DEFAULTS, "category": category, **overrides}
        return services.register_asset(
            actor=actor or tenant.owner,
            tenant=tenant,
            icon=fields.pop("icon", None) or image_file(),
            plans=plans,
            screenshots=screenshots,
            **fields,
        )

    return make


PLAN_100 = {
    "name": "100¥/年",
    "price": Decimal("100.00"),
    "duration_value": 1,
    "duration_unit": "year",
}


@pytest.fixture
def default_cluster(db):
    from clusters.models import Cluster

    return Cluster.objects.create(
        name="默认集群",
        api_url="https://sandbox.invalid",
        auth_method="token",
        credentials={"token": "t"},
        is_default=True,
        is_sandbox=True,
    )


@pytest.fixture
def make_catalog(default_cluster):
    """A CatalogSource of `tenant` on a cluster, READY by default, serving memcached-operator."""
    from clusters.models import CatalogPackage, CatalogSource

    def make(tenant, *, cluster=None, name="mem-registry", state="ready", channels=None):
        catalog = CatalogSource.objects.create(
            cluster=cluster or default_cluster,
            tenant=tenant,
            name=name,
            namespace="olm",
            display_name="mem-01",
            image="dev-registry.tenxcloud.com/system_containers/memcached-registry:v1",
            state=state,
        )
        CatalogPackage.objects.create(
            catalog_source=catalog,
            name="memcached-operator",
            display_name="Memcached Operator",
            provider="tenxcloud",
            default_channel="stable",
            channels=channels if channels is not None else MEMCACHED_CHANNELS,
        )
        return catalog

    return make


@pytest.fixture
def make_version(make_catalog, default_cluster):
    from assets import services

    def make(asset, *, catalog=None, channels=("stable",), default_channel="stable"):
        from clusters.models import CatalogSource

        tenant = asset.tenant
        catalog = (
            catalog
            or CatalogSource.objects.filter(tenant=tenant, name="mem-registry").first()
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

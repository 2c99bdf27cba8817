"""Fixtures shared by the orders and storefront tests: a provider selling mem1 on the
storefront, a buyer tenant with two projects, wallets and helpers to buy."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import services as account_services
from tests.assets.factories import MEMCACHED_CHANNELS, make_image_bytes

PLAN_1 = {"name": "1T/年", "price": Decimal("1.00"), "duration_value": 1, "duration_unit": "year"}
PLAN_100 = {
    "name": "100¥/年",
    "price": Decimal("100.00"),
    "duration_value": 1,
    "duration_unit": "year",
}
PLAN_FREE = {
    "name": "Free trial",
    "price": Decimal("0"),
    "duration_value": 30,
    "duration_unit": "day",
}


def icon():
    return SimpleUploadedFile("icon.png", make_image_bytes(96, 96), content_type="image/png")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def category(db):
    from assets.models import Category

    category, _created = Category.objects.get_or_create(
        slug="basic-apps", defaults={"name_en": "Basic applications", "name_zh": "基础应用"}
    )
    return category


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
def provider(tenant_with_owner):
    """The seed's provider zs-olm (certified), with its project `one`."""
    tenant, owner = tenant_with_owner("zs-olm", is_provider=True)
    tenant.is_certified = True
    tenant.save(update_fields=["is_certified"])
    tenant.project = account_services.create_project(
        actor=owner, tenant=tenant, name="one", namespace="one"
    )
    tenant.owner = owner
    return tenant


def _buyer(tenant_with_owner, name, namespaces):
    tenant, owner = tenant_with_owner(name)
    projects = [
        account_services.create_project(actor=owner, tenant=tenant, name=ns, namespace=ns)
        for ns in namespaces
    ]
    tenant.owner, tenant.project, tenant.projects_list = owner, projects[0], projects
    return tenant


@pytest.fixture
def buyer(tenant_with_owner):
    """The seed's buyer zs2-corp with projects my-mem and two."""
    return _buyer(tenant_with_owner, "zs2-corp", ["my-mem", "two"])


@pytest.fixture
def other_buyer(tenant_with_owner):
    return _buyer(tenant_with_owner, "globex", ["globex-apps"])


@pytest.fixture
def make_listed_asset(provider, category, default_cluster, platform_admin):
    """An asset of `tenant` (the provider by default) with a version on sale."""
    from assets import services
    from assets.lifecycle import transition_version
    from clusters.models import CatalogPackage, CatalogSource

    def make(
        name="mem1",
        *,
        tenant=None,
        plans=(PLAN_1,),
        on_sale=True,
        channels=("stable", "alpha"),
        summary="memcached cluster",
        **fields,
    ):
        tenant = tenant or provider
        asset = services.register_asset(
            actor=tenant.owner,
            tenant=tenant,
            icon=icon(),
            plans=list(plans),
            delivery_type="operator",
            category=fields.pop("category", category),
            name=name,
            summary=summary,
            description=fields.pop("description", "# Memcached\n\nA **fast** cache."),
            **fields,
        )
        catalog = CatalogSource.objects.filter(tenant=tenant).first()
        if catalog is None:
            catalog = CatalogSource.objects.create(
                cluster=default_cluster,
                tenant=tenant,
                name=f"mem-registry-{tenant.pk}",
                namespace="olm",
                display_name="mem-01",
                image="dev-registry.tenxcloud.com/system_containers/memcached-registry:v1",
                state="ready",
            )
            CatalogPackage.objects.create(
                catalog_source=catalog,
                name="memcached-operator",
                display_name="Memcached Operator",
                default_channel="stable",
                channels=MEMCACHED_CHANNELS,
            )
        version = services.create_version(
            actor=tenant.owner,
            asset=asset,
            project=tenant.project,
            cluster=default_cluster,
            catalog_source=catalog,
            package_name="memcached-operator",
            channels=list(channels),
            default_channel="stable",
        )
        if on_sale:
            transition_version(version=version, to="listing_review", actor=tenant.owner)
            transition_version(version=version, to="on_sale", actor=platform_admin)
        asset.refresh_from_db()
        return asset

    return make


@pytest.fixture
def mem1(make_listed_asset):
    """mem1 on sale with a 1 T plan and a 100 T plan."""
    return make_listed_asset("mem1", plans=(PLAN_1, PLAN_100))


@pytest.fixture
def fund(platform_admin):
    from orders import services

    def top_up(tenant, amount, reason="test credit"):
        return services.top_up_wallet(
            actor=platform_admin, tenant=tenant, amount=Decimal(str(amount)), reason=reason
        )

    return top_up


@pytest.fixture
def place(default_cluster):
    """place(buyer, asset, plan_name=None, **kw): an order from the buyer's owner."""
    from orders import services

    def do(buyer_tenant, asset, plan=None, **kwargs):
        plan = plan or asset.plans.filter(is_archived=False).order_by("price").first()
        kwargs.setdefault("project", buyer_tenant.project)
        return services.place_order(actor=buyer_tenant.owner, plan=plan, **kwargs)

    return do


def plan_named(asset, name):
    return asset.plans.get(name=name)

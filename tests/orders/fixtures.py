"""Fixtures shared by the orders and storefront tests: a provider selling mem1 on the
storefront, a buyer tenant with two projects, wallets and helpers to buy."""

from decimal import Decimal

import pytest

from tests.assets.factories import PLAN_100, AssetFactory, CategoryFactory, ProviderFactory

from .factories import BuyerFactory, DefaultClusterFactory, ProviderCatalogFactory

PLAN_1 = {"name": "1T/年", "price": Decimal("1.00"), "duration_value": 1, "duration_unit": "year"}
PLAN_FREE = {
    "name": "Free trial",
    "price": Decimal("0"),
    "duration_value": 30,
    "duration_unit": "day",
}


@pytest.fixture
def category(db):
    return CategoryFactory()


@pytest.fixture
def default_cluster(db):
    return DefaultClusterFactory()


@pytest.fixture
def provider(db):
    """The seed's provider zs-olm (certified), with its project `one`."""
    return ProviderFactory(is_certified=True)


@pytest.fixture
def buyer(db):
    """The seed's buyer zs2-corp with projects my-mem and two."""
    return BuyerFactory()


@pytest.fixture
def other_buyer(db):
    return BuyerFactory(name="globex", namespaces=["globex-apps"])


@pytest.fixture
def make_listed_asset(provider, category, default_cluster, platform_admin):
    """An asset of `tenant` (the provider by default) with a version on sale."""
    from assets import services
    from assets.lifecycle import transition_version
    from clusters.models import CatalogSource

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
        fields.setdefault("category", category)
        asset = AssetFactory(tenant=tenant, name=name, summary=summary, plans=list(plans), **fields)
        catalog = CatalogSource.objects.filter(tenant=tenant).first() or ProviderCatalogFactory(
            cluster=default_cluster, tenant=tenant
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


def archive_on_sale(plan, *, actor, admin):
    """Archive a plan of a listed asset: the archiving waits for review, then is approved."""
    from approvals import services as approvals
    from approvals.models import ApprovalRequest
    from assets import services as asset_services

    asset_services.archive_plan(actor=actor, plan=plan)
    review = ApprovalRequest.objects.get(asset_id=plan.asset_id, kind="revision", status="pending")
    approvals.approve_request(actor=admin, approval=review)

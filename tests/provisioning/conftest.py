import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.assets.factories import make_image_bytes
from tests.conftest import wait_until

SEED_IMAGE = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"
PACKAGE = "memcached-cluster-operator"


@pytest.fixture
def list_operator(
    sandbox_cluster, tenant_with_owner, django_capture_on_commit_callbacks, platform_admin
):
    """A provider's operator on sale: its catalog deployed on the sandbox and READY, a
    version of `package` listed and approved. Returns a factory."""
    from accounts import services as account_services
    from assets import services as asset_services
    from assets.lifecycle import transition_version
    from assets.models import Category
    from clusters import services as cluster_services
    from clusters import tasks as cluster_tasks

    def make(*, image=SEED_IMAGE, package=PACKAGE, name="mem1", catalog="mem-registry",
             channels=("stable", "alpha"), default_channel="stable", provider="zs-olm"):  # fmt: skip
        tenant, owner = tenant_with_owner(provider, is_provider=True)
        project = account_services.create_project(
            actor=owner, tenant=tenant, name="one", namespace=f"one-{uuid.uuid4().hex[:6]}"
        )
        with django_capture_on_commit_callbacks(execute=True):
            catalog_source = cluster_services.submit_catalog_source(
                actor=owner,
                tenant=tenant,
                cluster=sandbox_cluster,
                name=catalog,
                display_name=catalog,
                image=image,
            )

        def ready():
            cluster_tasks.sync_catalog_sources()
            catalog_source.refresh_from_db()
            return catalog_source.state == "ready" and catalog_source.packages.exists()

        wait_until(ready, timeout=15, message=f"the catalog {image} to be READY")
        category, _ = Category.objects.get_or_create(
            slug="basic-apps", defaults={"name_en": "Basic applications", "name_zh": "基础应用"}
        )
        asset = asset_services.register_asset(
            actor=owner,
            tenant=tenant,
            icon=SimpleUploadedFile(
                "i.png", make_image_bytes(96, 96, "PNG"), content_type="image/png"
            ),
            delivery_type="operator",
            category=category,
            name=name,
            summary=f"{name} operator",
            description=name,
            plans=[
                {
                    "name": "year",
                    "price": Decimal("1.00"),
                    "duration_value": 1,
                    "duration_unit": "year",
                }
            ],
        )
        version = asset_services.create_version(
            actor=owner,
            asset=asset,
            project=project,
            cluster=sandbox_cluster,
            catalog_source=catalog_source,
            package_name=package,
            channels=list(channels),
            default_channel=default_channel,
        )
        version = transition_version(version=version, to="listing_review", actor=owner)
        return transition_version(version=version, to="on_sale", actor=platform_admin)

    return make


@pytest.fixture
def on_sale_version(list_operator):
    """mem1 on sale, its version pointing at the seed catalog deployed on the sandbox."""
    return list_operator()


@pytest.fixture
def buyer(tenant_with_owner, on_sale_version):
    """A buyer tenant with a project, holding an active entitlement to mem1."""
    from django.utils import timezone

    from accounts import services as account_services
    from orders.models import Entitlement

    tenant, owner = tenant_with_owner(f"buyer-{uuid.uuid4().hex[:4]}")
    project = account_services.create_project(
        actor=owner, tenant=tenant, name="my-mem", namespace=f"my-mem-{uuid.uuid4().hex[:6]}"
    )
    now = timezone.now()
    Entitlement.objects.create(
        buyer=tenant,
        asset=on_sale_version.asset,
        plan=on_sale_version.asset.plans.first(),
        starts_at=now,
        ends_at=now + timezone.timedelta(days=365),
    )
    tenant.owner, tenant.project = owner, project
    return tenant


def channel_head(sandbox, channel="stable"):
    """The CSV a channel serves now (tests may have published newer ones into it)."""
    return sandbox.catalog.package(SEED_IMAGE, PACKAGE).head(channel)


@pytest.fixture
def shopper(tenant_with_owner, platform_admin):
    """A buyer tenant with a project and 100 T, holding nothing yet."""
    from accounts import services as account_services
    from orders import services as order_services

    tenant, owner = tenant_with_owner(f"shop-{uuid.uuid4().hex[:4]}")
    tenant.owner = owner
    tenant.project = account_services.create_project(
        actor=owner, tenant=tenant, name="apps", namespace=f"apps-{uuid.uuid4().hex[:6]}"
    )
    order_services.top_up_wallet(
        actor=platform_admin, tenant=tenant, amount=Decimal("100.00"), reason="test credit"
    )
    return tenant


def buy_now(shopper, version, cluster, capture, *, channel="stable"):
    """The shopper buys `version` for its project on `cluster` and pays at once (直接支付)."""
    from orders import services as order_services

    with capture(execute=True):
        return order_services.place_order(
            actor=shopper.owner,
            plan=version.asset.plans.first(),
            project=shopper.project,
            cluster=cluster,
            channel=channel,
            pay_now=True,
            idempotency_key=uuid.uuid4().hex,
        )


def follow(installation, until, *, timeout=15):
    """Runs the cluster's sync until the installation reaches one of `until`."""
    from provisioning import tasks

    def reached():
        tasks.sync_cluster(installation.cluster_id, force=True)
        installation.refresh_from_db()
        return installation.status in until

    wait_until(reached, timeout=timeout, message=f"{installation} to reach {until}")
    return installation


@pytest.fixture
def installed_on_two_clusters(
    sandbox,
    sandbox_cluster,
    buyer,
    on_sale_version,
    platform_admin,
    django_capture_on_commit_callbacks,
):
    """The buyer's operator recorded as installed on the sandbox and on a second cluster
    registered against the same sandbox: (first cluster, second cluster)."""
    from clusters import services as cluster_services
    from provisioning.models import Installation
    from tests.conftest import SANDBOX_TOKEN

    with django_capture_on_commit_callbacks(execute=True):
        second = cluster_services.register_cluster(
            actor=platform_admin,
            name="sandbox-2",
            auth_method="token",
            api_url=sandbox.url,
            token=SANDBOX_TOKEN,
        )
    for cluster in (sandbox_cluster, second):
        Installation.objects.create(
            tenant=buyer,
            project=buyer.project,
            cluster=cluster,
            asset=on_sale_version.asset,
            version=on_sale_version,
            namespace=buyer.project.namespace,
            package="memcached-cluster-operator",
            channel="stable",
            catalog_source="mem-registry",
            catalog_namespace="olm",
            status=Installation.Status.INSTALLED,
        )
    return sandbox_cluster, second

"""The demo, for `manage.py seed_demo`: people, tenants and projects, then each app's demo
data, then the story across apps (mem1 listed through the approval queue), so every
screen has something to show. Idempotent: each step looks for what it would create.

This is the one place outside the tests that knows the sandbox cluster's insides: it
reads the sandbox's catalog file to fill the package cache before the worker's first sync.
"""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils.translation import gettext_lazy
from PIL import Image, ImageDraw

from accounts.models import Membership, Project, Tenant, User
from accounts.services import grant_platform_admin
from clusters.models import CatalogSource

DEMO_PASSWORD = "demo"

DEMO_USERS = [
    # username, display name, tenant slug (a slug: the API's pattern), tenant name, is provider
    ("admin", "Platform Admin", "platform-ops", "Platform Ops", False),
    ("provider", "zs (provider)", "zs-olm", "zs-olm", True),
    ("buyer", "zs2 (buyer)", "zs2-corp", "zs2-corp", False),
]

# What each demo login is for, as the DEBUG login page says it.
DEMO_ROLES = {
    "admin": gettext_lazy("platform admin: approvals, clusters"),
    "provider": gettext_lazy("provider: its asset mem1 is on sale"),
    "buyer": gettext_lazy("buyer: 1000 T in its wallet, projects my-mem and two"),
}


def demo_logins() -> list[tuple[str, str]]:
    """The demo logins that exist here, for the DEBUG login page (never shown in production)."""
    present = set(
        User.objects.filter(username__in=[row[0] for row in DEMO_USERS]).values_list(
            "username", flat=True
        )
    )
    return [(name, str(DEMO_ROLES[name])) for name, *_rest in DEMO_USERS if name in present]


DEMO_PROJECTS = [
    # tenant, project name, namespace
    ("zs-olm", "one", "one"),
    # The seed applies its CatalogSource with kubectl here (README: the seed's steps).
    ("zs-olm", "love-story", "love-story"),
    ("zs2-corp", "my-mem", "my-mem"),
    ("zs2-corp", "two", "two"),
]


def seed_people() -> None:
    for username, display_name, tenant_slug, tenant_name, is_provider in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"display_name": display_name}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.email = f"{username}@example.com"
            user.save()
        tenant, _created = Tenant.objects.get_or_create(
            slug=tenant_slug,
            defaults={"name": tenant_name, "is_provider": is_provider, "is_certified": is_provider},
        )
        Membership.objects.get_or_create(
            user=user, tenant=tenant, defaults={"role": Membership.Role.OWNER}
        )
    admin = User.objects.get(username="admin")
    grant_platform_admin(user=admin)
    if not admin.is_staff:
        admin.is_staff = True
        admin.is_superuser = True  # may also use the Django admin site
        admin.save(update_fields=["is_staff", "is_superuser"])
    for tenant_slug, name, namespace in DEMO_PROJECTS:
        tenant = Tenant.objects.get(slug=tenant_slug)
        Project.objects.get_or_create(
            namespace=namespace, defaults={"tenant": tenant, "name": name}
        )


def prime_sandbox_catalog(catalog: CatalogSource) -> CatalogSource:
    """Fills the package cache of a catalog on the *sandbox* from the PackageManifests the
    sandbox would serve for it, read the product's own way, so the demo can define versions
    before the worker's first sync (which then confirms the same data). Never used for a
    real cluster."""
    from clusters import records
    from clusters.manifests import packages_from_manifests
    from sandbox.catalog import Catalog
    from sandbox.olm import package_manifest

    if not catalog.cluster.is_sandbox or catalog.packages.exists():
        return catalog
    source = {
        "metadata": {
            "name": catalog.name,
            "namespace": catalog.namespace,
            "creationTimestamp": catalog.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": {"displayName": catalog.display_name, "publisher": catalog.publisher},
    }
    manifests = [
        package_manifest(source, package, None)
        for package in Catalog.load().packages(catalog.image)
    ]
    if manifests:
        records.record_observed_catalog(catalog_source_id=catalog.pk, observed="READY")
        records.store_catalog_packages(
            catalog_source_id=catalog.pk, packages=packages_from_manifests(manifests)
        )
    return catalog


def _screenshot(title: str, color: tuple[int, int, int]) -> SimpleUploadedFile:
    image = Image.new("RGB", (264, 146), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 263, 24), fill=(20, 33, 61))
    draw.text((8, 6), title, fill="white")
    for row in range(3):
        draw.rectangle((12, 36 + row * 34, 252, 60 + row * 34), outline="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile(f"{title}.png", buffer.getvalue(), content_type="image/png")


def list_mem1():
    """Screenshots, a version from the sandbox catalog, and listing through 审批."""
    from approvals.demo import seed_demo_approvals
    from approvals.models import ApprovalRequest
    from approvals.services import approve_request
    from assets import services as assets
    from assets.models import Asset, AssetVersion

    provider = User.objects.get(username="provider")
    admin = User.objects.get(username="admin")
    asset = Asset.objects.filter(tenant__slug="zs-olm", name__iexact="mem1").first()
    catalog = CatalogSource.objects.filter(tenant__slug="zs-olm", name="mem-registry").first()
    if asset is None or catalog is None or not catalog.packages.exists():
        return None
    for index, color in enumerate([(36, 104, 242), (31, 157, 85)][asset.screenshots.count() :]):
        assets.add_screenshot(
            actor=provider, asset=asset, image=_screenshot(f"mem1-{index + 1}", color)
        )
    version = asset.versions.order_by("-created_at").first()
    if version is None:
        package = catalog.packages.get(name="memcached-cluster-operator")
        version = assets.create_version(
            actor=provider,
            asset=asset,
            project=Project.objects.get(namespace="one"),
            cluster=catalog.cluster,
            catalog_source=catalog,
            package_name=package.name,
            channels=[c["name"] for c in package.channels],
            default_channel=package.default_channel,
        )
    if version.status == AssetVersion.Status.DRAFT:
        request = seed_demo_approvals(version=version)
        if request is not None:
            approve_request(actor=admin, approval=request, reason="")
    pending = ApprovalRequest.objects.filter(version=version, status="pending").first()
    if pending is not None:
        approve_request(actor=admin, approval=pending, reason="")
    return version


@transaction.atomic
def seed_demo() -> None:
    from assets.demo import seed_demo_assets
    from clusters.demo import seed_demo_clusters
    from orders.demo import seed_demo_orders

    seed_people()
    admin = User.objects.get(username="admin")
    provider = User.objects.get(username="provider")
    _cluster, catalog = seed_demo_clusters(admin=admin, provider=provider)
    prime_sandbox_catalog(catalog)
    seed_demo_assets(provider=provider)
    seed_demo_orders()
    list_mem1()

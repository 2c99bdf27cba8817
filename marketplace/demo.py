"""The demo's story across apps, for `manage.py seed_demo`: mem1 is listed through the
approval queue, so the storefront, the audit trail and the notifications all have data.
Idempotent: each step looks for what it would create."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from accounts.models import Project, Tenant, User


def _screenshot(title, color):
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
    from clusters.models import CatalogSource

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


def seed_demo_story():
    if Tenant.objects.filter(slug="zs-olm").exists():
        list_mem1()

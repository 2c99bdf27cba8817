"""Reads of the assets app, always scoped to the acting user.

A provider's assets are visible to the members of that provider tenant only; any
other user gets a 404 for them, never a 403.
"""

from django.db.models import Case, IntegerField, OuterRef, Q, Subquery, Value, When

from accounts.models import Project, Tenant
from clusters.models import CatalogPackage, CatalogSource
from core.errors import NotFound

from .models import Asset, AssetVersion, Category, Plan, Screenshot

NO_VERSION = "none"  # the status filter's value for assets without any version


def provider_tenants_for(*, user):
    """The provider tenants whose assets the user may see and change."""
    if not user.is_authenticated:
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user, is_provider=True).order_by("name")


def categories():
    return Category.objects.order_by("position", "name_en")


def _current_versions():
    """The version an asset is known by: the one on sale, else the newest."""
    return AssetVersion.objects.filter(asset=OuterRef("pk")).order_by(
        Case(
            When(status=AssetVersion.Status.ON_SALE, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        "-created_at",
        "-id",
    )


def assets_for(*, user, tenant=None):
    """Assets of the user's provider tenants, with their current version's id and status."""
    assets = Asset.objects.filter(
        tenant__in=provider_tenants_for(user=user).values("pk")
    ).select_related("tenant", "category")
    if tenant is not None:
        assets = assets.filter(tenant=tenant)
    current = _current_versions()
    return assets.annotate(
        current_version_id=Subquery(current.values("pk")[:1]),
        current_status=Subquery(current.values("status")[:1]),
    ).order_by("-created_at", "-id")


def search_assets(assets, *, query="", status=""):
    """资产管理's search box (name or code) and status filter."""
    query = (query or "").strip()
    if query:
        assets = assets.filter(Q(name__icontains=query) | Q(code__icontains=query))
    if status == NO_VERSION:
        assets = assets.filter(current_status__isnull=True)
    elif status in AssetVersion.Status.values:
        assets = assets.filter(current_status=status)
    return assets


def attach_current_versions(assets):
    """One query for a whole page: sets `asset.current_version` (or None)."""
    assets = list(assets)
    ids = [a.current_version_id for a in assets if a.current_version_id]
    versions = AssetVersion.objects.in_bulk(ids) if ids else {}
    for asset in assets:
        asset.current_version = versions.get(asset.current_version_id)
    return assets


def get_asset_for(*, user, code=None, asset_id=None):
    try:
        lookup = {"code": code} if code is not None else {"pk": asset_id}
        return assets_for(user=user).get(**lookup)
    except (Asset.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such asset.") from None


def plans_for(*, user, asset=None, include_archived=True):
    plans = Plan.objects.filter(
        asset__tenant__in=provider_tenants_for(user=user).values("pk")
    ).select_related("asset")
    if asset is not None:
        plans = plans.filter(asset=asset)
    if not include_archived:
        plans = plans.filter(is_archived=False)
    return plans.order_by("asset_id", "is_archived", "position", "id")


def get_plan_for(*, user, plan_id):
    try:
        return plans_for(user=user).get(pk=plan_id)
    except (Plan.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such plan.") from None


def screenshots_for(*, user, asset=None):
    screenshots = Screenshot.objects.filter(
        asset__tenant__in=provider_tenants_for(user=user).values("pk")
    ).select_related("asset")
    if asset is not None:
        screenshots = screenshots.filter(asset=asset)
    return screenshots.order_by("asset_id", "position")


def get_screenshot_for(*, user, screenshot_id):
    try:
        return screenshots_for(user=user).get(pk=screenshot_id)
    except (Screenshot.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such screenshot.") from None


def versions_for(*, user, asset=None):
    versions = AssetVersion.objects.filter(
        asset__tenant__in=provider_tenants_for(user=user).values("pk")
    ).select_related("asset", "asset__tenant", "project", "cluster", "catalog_source", "created_by")
    if asset is not None:
        versions = versions.filter(asset=asset)
    return versions.order_by("-created_at", "-id")


def get_version_for(*, user, version_id, asset=None):
    try:
        return versions_for(user=user, asset=asset).get(pk=version_id)
    except (AssetVersion.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such version.") from None


# --- What a version may point at (the cascading choices of the version form) ----------


def version_projects(*, tenant):
    return Project.objects.filter(tenant=tenant).order_by("name")


def version_catalog_sources(*, tenant, cluster):
    """READY CatalogSources the provider tenant submitted to that cluster."""
    if cluster is None:
        return CatalogSource.objects.none()
    return CatalogSource.objects.filter(
        tenant=tenant, cluster=cluster, state=CatalogSource.State.READY
    ).order_by("display_name", "name")


def version_packages(*, catalog_source):
    if catalog_source is None:
        return CatalogPackage.objects.none()
    return CatalogPackage.objects.filter(catalog_source=catalog_source).order_by("name")


def listing_checklist(*, asset):
    """What the asset still needs before a version can ask for listing (the approvals issue)."""
    from django.utils.translation import gettext as _

    items = [
        (_("At least one plan on sale"), asset.plans.filter(is_archived=False).exists()),
        (_("At least one screenshot"), asset.screenshots.exists()),
    ]
    if asset.is_operator:
        items.append((_("A version (Operator definition)"), asset.versions.exists()))
    return [{"label": label, "done": done} for label, done in items]

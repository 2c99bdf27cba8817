"""Reads of the assets app, always scoped to the acting user.

A provider's assets are visible to the members of that provider tenant only; any
other user gets a 404 for them, never a 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import (
    Case,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils.translation import gettext as _

from accounts.models import Project, Tenant, User
from accounts.permissions import is_platform_admin
from clusters.models import CatalogPackage, CatalogSource, Cluster
from core.errors import NotFound

from .models import (
    SEVERITIES,
    Asset,
    AssetVersion,
    Category,
    ImageScan,
    Plan,
    Screenshot,
    VersionImage,
)

NO_VERSION = "none"  # the status filter's value for assets without any version

# Who is asking: a signed-in user, or the anonymous one (who sees no provider's assets).
Viewer = User | AnonymousUser


def provider_tenants_for(*, user: Viewer) -> QuerySet[Tenant]:
    """The provider tenants whose assets the user may see and change."""
    if not isinstance(user, User) or not user.is_authenticated:
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user, is_provider=True).order_by("name")


def categories() -> QuerySet[Category]:
    """Every shelf, in the platform admins' order: anyone may read them."""
    return Category.objects.order_by("position", "name_en")


def category_by_slug(slug: str) -> Category | None:
    """A category named in a URL (the storefront's filter); None when there is none."""
    return categories().filter(slug=slug).first()


def _current_versions() -> QuerySet[AssetVersion]:
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


def assets_for(*, user: Viewer, tenant: Tenant | None = None) -> QuerySet[Asset]:
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


def with_screenshots(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    """The API shows each asset's screenshots: one more query for a whole page, in order."""
    return assets.prefetch_related(
        Prefetch("screenshots", queryset=Screenshot.objects.order_by("position"))
    )


def search_assets(
    assets: QuerySet[Asset], *, query: str | None = "", status: str | None = ""
) -> QuerySet[Asset]:
    """资产管理's search box (name or code) and status filter."""
    query = (query or "").strip()
    if query:
        assets = assets.filter(Q(name__icontains=query) | Q(code__icontains=query))
    if status == NO_VERSION:
        assets = assets.filter(Q(current_status__isnull=True))  # an annotation
    elif status in AssetVersion.Status.values:
        assets = assets.filter(Q(current_status=status))
    return assets


def attach_current_versions(assets: Iterable[Asset]) -> list[Asset]:
    """One query for a whole page: sets `asset.current_version` (or None).

    The assets come from `assets_for`, which annotates `current_version_id`.
    """
    rows: list[Any] = list(assets)
    ids = [a.current_version_id for a in rows if a.current_version_id]
    versions = AssetVersion.objects.in_bulk(ids) if ids else {}
    for asset in rows:
        asset.current_version = versions.get(asset.current_version_id)
    return rows


def get_asset_for(
    *, user: Viewer, code: str | None = None, asset_id: int | str | None = None
) -> Asset:
    """One asset of the user's provider tenants, by code or id; another tenant's is "not found"."""
    try:
        lookup: dict[str, Any] = {"code": code} if code is not None else {"pk": asset_id}
        return assets_for(user=user).get(**lookup)
    except (Asset.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such asset.") from None


def plans_for(
    *, user: Viewer, asset: Asset | None = None, include_archived: bool = True
) -> QuerySet[Plan]:
    """Plans of the user's provider tenants: per asset, active before archived, in page order."""
    plans = Plan.objects.filter(
        asset__tenant__in=provider_tenants_for(user=user).values("pk")
    ).select_related("asset")
    if asset is not None:
        plans = plans.filter(asset=asset)
    if not include_archived:
        plans = plans.filter(is_archived=False)
    return plans.order_by("asset_id", "is_archived", "position", "id")


def get_plan_for(*, user: Viewer, plan_id: int | str, asset: Asset | None = None) -> Plan:
    """A plan of the user's provider tenants (of `asset`, when given); else "not found"."""
    try:
        return plans_for(user=user, asset=asset).get(pk=plan_id)
    except (Plan.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such plan.") from None


def screenshots_for(*, user: Viewer, asset: Asset | None = None) -> QuerySet[Screenshot]:
    """Screenshots of the user's provider tenants' assets, in their order on the page."""
    screenshots = Screenshot.objects.filter(
        asset__tenant__in=provider_tenants_for(user=user).values("pk")
    ).select_related("asset")
    if asset is not None:
        screenshots = screenshots.filter(asset=asset)
    return screenshots.order_by("asset_id", "position")


def get_screenshot_for(*, user: Viewer, screenshot_id: int | str) -> Screenshot:
    """One screenshot the user may manage; another tenant's is "not found"."""
    try:
        return screenshots_for(user=user).get(pk=screenshot_id)
    except (Screenshot.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such screenshot.") from None


def versions_for(*, user: Viewer, asset: Asset | None = None) -> QuerySet[AssetVersion]:
    """Versions of the user's provider tenants' assets, newest first, with what they point at."""
    versions = AssetVersion.objects.filter(
        asset__tenant__in=provider_tenants_for(user=user).values("pk")
    ).select_related("asset", "asset__tenant", "project", "cluster", "catalog_source", "created_by")
    if asset is not None:
        versions = versions.filter(asset=asset)
    return versions.order_by("-created_at", "-id")


def get_version_for(
    *, user: Viewer, version_id: int | str, asset: Asset | None = None
) -> AssetVersion:
    """One version the user may manage (of `asset`, when given); else "not found"."""
    try:
        return versions_for(user=user, asset=asset).get(pk=version_id)
    except (AssetVersion.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such version.") from None


# --- What a version may point at (the cascading choices of the version form) ----------


def version_projects(*, tenant: Tenant) -> QuerySet[Project]:
    """The projects a version of this tenant's asset may name (the version form's first select)."""
    return Project.objects.filter(tenant=tenant).order_by("name")


def version_projects_for(*, user: Viewer) -> QuerySet[Project]:
    """Projects a version of any of the user's assets may name (the service checks the tenant)."""
    return Project.objects.filter(tenant__in=provider_tenants_for(user=user).values("pk")).order_by(
        "name"
    )


def version_catalog_sources_for(*, user: Viewer) -> QuerySet[CatalogSource]:
    """CatalogSources of the user's provider tenants, in any state (the service asks READY)."""
    return CatalogSource.objects.filter(
        tenant__in=provider_tenants_for(user=user).values("pk")
    ).order_by("name")


def version_catalog_sources(*, tenant: Tenant, cluster: Cluster | None) -> QuerySet[CatalogSource]:
    """READY CatalogSources the provider tenant submitted to that cluster."""
    if cluster is None:
        return CatalogSource.objects.none()
    return CatalogSource.objects.filter(
        tenant=tenant, cluster=cluster, state=CatalogSource.State.READY
    ).order_by("display_name", "name")


def version_packages(*, catalog_source: CatalogSource | None) -> QuerySet[CatalogPackage]:
    """The packages a CatalogSource serves, as the clusters app cached them."""
    if catalog_source is None:
        return CatalogPackage.objects.none()
    return CatalogPackage.objects.filter(catalog_source=catalog_source).order_by("name")


def listing_checklist(*, asset: Asset) -> list[dict[str, Any]]:
    """What the asset still needs before a version can ask for listing (the approvals issue)."""
    items = [
        (_("At least one plan on sale"), asset.plans.filter(is_archived=False).exists()),
        (_("At least one screenshot"), asset.screenshots.exists()),
    ]
    if asset.is_operator:
        items.append((_("A version (Operator definition)"), asset.versions.exists()))
    return [{"label": label, "done": done} for label, done in items]


def versions_on_catalog_source(*, catalog_source: CatalogSource) -> QuerySet[AssetVersion]:
    """The versions that point at a CatalogSource (which therefore cannot be deleted)."""
    return (
        AssetVersion.objects.filter(catalog_source=catalog_source)
        .select_related("asset")
        .order_by("asset__name", "-created_at")
    )


# --- image scans (资产镜像安全扫描结果) ----------------------------------------------------


def version_images(*, version: AssetVersion) -> list[VersionImage]:
    """The version's images with their scans, in the bundle's order (one query)."""
    return list(VersionImage.objects.filter(version=version).select_related("scan"))


def get_image_for(*, user: Viewer, image_id: int | str, asset_code: str) -> VersionImage:
    """One image with its findings: public once its version is on sale (the storefront
    shows it), else for the provider's members and platform admins; else "not found"."""
    try:
        image = VersionImage.objects.select_related("scan", "version__asset__tenant").get(
            pk=image_id, version__asset__code=asset_code
        )
    except (VersionImage.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such image.") from None
    public = image.version.status in (
        AssetVersion.Status.ON_SALE,
        AssetVersion.Status.DELISTING_REVIEW,
    )
    if public or is_platform_admin(user):
        return image
    if provider_tenants_for(user=user).filter(pk=image.version.asset.tenant_id).exists():
        return image
    raise NotFound("No such image.")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def listing_blockers(
    *, images: Iterable[VersionImage], max_severity: str | None = None
) -> list[str]:
    """Why LISTING_MAX_SEVERITY blocks approving a listing: one sentence per image with a
    finding above it; [] when nothing does (or the setting is off). An image not scanned
    does not block: it is shown as "not scanned" for the admin to weigh."""
    limit = settings.LISTING_MAX_SEVERITY if max_severity is None else max_severity
    if limit not in SEVERITIES:
        return []
    above = [s for s in SEVERITIES if severity_rank(s) > severity_rank(limit)]
    reasons = []
    for image in images:
        scan = scan_of(image)
        if scan is None:
            continue
        counts = [(s, getattr(scan, s.lower())) for s in reversed(above)]
        found = ", ".join(f"{n} {s}" for s, n in counts if n)
        if found:
            reasons.append(
                _("%(image)s has findings above %(limit)s: %(found)s.")
                % {"image": image.reference, "limit": limit, "found": found}
            )
    return reasons


def scan_of(image: VersionImage) -> ImageScan | None:
    """The image's scan, or None ("not scanned"): the reverse one-to-one raises instead."""
    try:
        return image.scan
    except ImageScan.DoesNotExist:
        return None


def scan_summaries(*, version_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Per version, in one query: its images, how many are not scanned, the totals by
    severity (worst first) and the LISTING_MAX_SEVERITY reasons, for lists of versions."""
    images: dict[int, list[VersionImage]] = {}
    for image in VersionImage.objects.filter(version_id__in=list(version_ids)).select_related(
        "scan"
    ):
        images.setdefault(image.version_id, []).append(image)
    out: dict[int, dict[str, Any]] = {}
    for version_id, rows in images.items():
        scans = [s for s in (scan_of(i) for i in rows) if s is not None]
        out[version_id] = {
            "images": len(rows),
            "not_scanned": len(rows) - len(scans),
            "totals": [
                (s, sum(getattr(scan, s.lower()) for scan in scans)) for s in reversed(SEVERITIES)
            ],
            "blockers": listing_blockers(images=rows),
        }
    return out

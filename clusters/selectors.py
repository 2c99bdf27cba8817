"""Reads of the clusters app, scoped to the acting user."""

from django.db.models import Count, Q, QuerySet

from accounts.models import Project, Tenant
from accounts.permissions import is_platform_admin
from core.errors import NotFound

from .models import CatalogPackage, CatalogSource, Cluster


def clusters_for(*, user):
    """Admins see every cluster; others see those their projects may deploy to, and the default."""
    clusters = Cluster.objects.annotate(catalog_count=Count("catalog_sources", distinct=True))
    if is_platform_admin(user):
        return clusters.order_by("-is_default", "name")
    return (
        clusters.filter(Q(is_default=True) | Q(projects__tenant__memberships__user=user))
        .distinct()
        .order_by("-is_default", "name")
    )


def clusters_open_to(
    *,
    project: Project | None = None,
    tenant: Tenant | None = None,
    tenants: QuerySet[Tenant] | None = None,
) -> QuerySet[Cluster]:
    """Where a project (or any project of a tenant, or of several) may deploy: the clusters
    linked to it, and the default cluster. The one answer to "which clusters may this use"."""
    if project is not None:
        linked = Q(projects=project)
    elif tenant is not None:
        linked = Q(projects__tenant=tenant)
    elif tenants is not None:
        linked = Q(projects__tenant__in=tenants)
    else:
        return Cluster.objects.none()
    return (
        Cluster.objects.filter(linked | Q(is_default=True))
        .distinct()
        .order_by("-is_default", "name")
    )


def get_cluster_for(*, user, cluster_id):
    try:
        return clusters_for(user=user).get(pk=cluster_id)
    except (Cluster.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such cluster.") from None


def catalog_sources_for(*, user, tenant=None):
    catalogs = CatalogSource.objects.select_related("cluster", "tenant").annotate(
        package_count=Count("packages")
    )
    if not is_platform_admin(user):
        catalogs = catalogs.filter(tenant__memberships__user=user)
    if tenant is not None:
        catalogs = catalogs.filter(tenant=tenant)
    return catalogs.order_by("cluster__name", "name")


def get_catalog_source_for(*, user, catalog_source_id):
    try:
        return catalog_sources_for(user=user).get(pk=catalog_source_id)
    except (CatalogSource.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such CatalogSource.") from None


def ready_catalog_sources(*, tenant, cluster=None):
    """What a provider may pick for a version: READY catalogs of its own tenant."""
    catalogs = CatalogSource.objects.filter(tenant=tenant, state=CatalogSource.State.READY)
    if cluster is not None:
        catalogs = catalogs.filter(cluster=cluster)
    return catalogs.select_related("cluster").order_by("name")


def packages_of(*, catalog_source):
    return CatalogPackage.objects.filter(catalog_source=catalog_source).order_by("name")

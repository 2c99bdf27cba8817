"""Reads of the clusters app, scoped to the acting user.

A cluster or CatalogSource the user may not see is "not found" (a 404), never "forbidden".
"""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from accounts.models import Project, Tenant, User
from accounts.permissions import is_platform_admin
from core.errors import NotFound

from .models import CatalogPackage, CatalogSource, Cluster, ClusterExit, FoundCatalogSource


def clusters_for(*, user: User) -> QuerySet[Cluster]:
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


def default_cluster_in(clusters: QuerySet[Cluster]) -> Cluster | None:
    """The default cluster, if it is among `clusters` (what a form preselects)."""
    return clusters.filter(is_default=True).first()


def get_cluster_for(*, user: User, cluster_id: int | str) -> Cluster:
    try:
        return clusters_for(user=user).get(pk=cluster_id)
    except (Cluster.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such cluster.") from None


def linkable_projects(*, user: User) -> QuerySet[Project]:
    """The projects a platform admin may link to a cluster: all of them (nobody else links)."""
    if not is_platform_admin(user):
        return Project.objects.none()
    return Project.objects.select_related("tenant").order_by("tenant__name", "name")


def projects_of(*, cluster: Cluster) -> QuerySet[Project]:
    """The projects that may deploy to a cluster, as its page lists them."""
    return cluster.projects.select_related("tenant").order_by("tenant__name", "name")


def catalog_sources_for(
    *,
    user: User,
    tenant: Tenant | None = None,
    cluster: Cluster | None = None,
    state: str | None = None,
) -> QuerySet[CatalogSource]:
    """Admins see every catalog; providers those of their tenants (narrowed by the filters)."""
    catalogs = CatalogSource.objects.select_related("cluster", "tenant").annotate(
        package_count=Count("packages")
    )
    if not is_platform_admin(user):
        catalogs = catalogs.filter(tenant__memberships__user=user)
    if tenant is not None:
        catalogs = catalogs.filter(tenant=tenant)
    if cluster is not None:
        catalogs = catalogs.filter(cluster=cluster)
    if state:
        catalogs = catalogs.filter(state=state)
    return catalogs.order_by("cluster__name", "name")


def get_catalog_source_for(*, user: User, catalog_source_id: int | str) -> CatalogSource:
    try:
        return catalog_sources_for(user=user).get(pk=catalog_source_id)
    except (CatalogSource.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such CatalogSource.") from None


def packages_of(*, catalog_source: CatalogSource) -> QuerySet[CatalogPackage]:
    return CatalogPackage.objects.filter(catalog_source=catalog_source).order_by("name")


def _provider_projects_on(cluster: Cluster) -> QuerySet[Project]:
    projects = Project.objects.filter(tenant__is_provider=True)
    return projects if cluster.is_default else projects.filter(clusters=cluster)


def provider_namespaces_on(*, cluster: Cluster) -> set[str]:
    """Where providers may apply their own CatalogSources on a cluster: their projects'."""
    return set(_provider_projects_on(cluster).values_list("namespace", flat=True))


def clusters_with_provider_projects() -> set[int]:
    """Clusters on which some provider project may deploy (so the sync looks for catalogs)."""
    if not Project.objects.filter(tenant__is_provider=True).exists():
        return set()
    linked = set(
        Cluster.objects.filter(projects__tenant__is_provider=True).values_list("pk", flat=True)
    )
    return linked | set(Cluster.objects.filter(is_default=True).values_list("pk", flat=True))


def found_catalog_sources_for(*, tenants: QuerySet[Tenant]) -> QuerySet[FoundCatalogSource]:
    """CatalogSources applied in the tenants' project namespaces on clusters they may use, with
    `submitted_as`: the name of their platform CatalogSource of the same image, if any."""
    provider_tenants = tenants.filter(is_provider=True)
    namespaces = Project.objects.filter(tenant__in=provider_tenants).values("namespace")
    same_image = CatalogSource.objects.filter(
        tenant__in=provider_tenants, cluster=OuterRef("cluster"), image=OuterRef("image")
    ).exclude(state=CatalogSource.State.DELETING)
    return (
        FoundCatalogSource.objects.filter(
            cluster__in=clusters_open_to(tenants=provider_tenants), namespace__in=namespaces
        )
        .select_related("cluster")
        .annotate(submitted_as=Subquery(same_image.order_by("pk").values("name")[:1]))
        .order_by("cluster__name", "namespace", "name")
    )


def get_found_catalog_source_for(*, tenant: Tenant, found_id: int | str) -> FoundCatalogSource:
    try:
        tenants = Tenant.objects.filter(pk=tenant.pk)
        return found_catalog_sources_for(tenants=tenants).get(pk=found_id)
    except (FoundCatalogSource.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such CatalogSource found on your clusters.") from None


def exits_of(*, cluster: Cluster) -> list[ClusterExit]:
    """A cluster's named service exits (its default one is the cluster's own setting)."""
    return list(ClusterExit.objects.filter(cluster=cluster).order_by("name"))

"""Reads of the provisioning app, scoped to the acting user's tenants (another's is a 404)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from accounts.models import Tenant, User
from accounts.permissions import is_platform_admin
from assets.models import Asset, AssetVersion
from clusters.manifests import ALL_NAMESPACES, install_mode_problem, installs_into_own_namespace
from clusters.models import Cluster
from core.errors import NotFound
from orders.models import Order

from .models import Installation, InstallationEvent, OrderInstallRefusal

FOLLOWED = (*Installation.UNFINISHED, Installation.Status.INSTALLED, Installation.Status.FAILED)


def installations_for(
    *, user: User, tenant: Tenant | None = None, include_uninstalled: bool = False
) -> QuerySet[Installation]:
    mine = Q(tenant__memberships__user=user)
    if tenant is None and is_platform_admin(user):
        mine |= Q(scope=Installation.Scope.CLUSTER)  # the platform's own, for its admins
    installations = (
        Installation.objects.filter(mine)
        .distinct()
        .select_related("asset", "project", "cluster", "tenant", "order")
    )
    if tenant is not None:
        installations = installations.filter(tenant=tenant)
    if not include_uninstalled:
        installations = installations.exclude(status=Installation.Status.UNINSTALLED)
    return installations.order_by("-created_at", "-id")


def filter_installations(
    installations: QuerySet[Installation], *, status: str = ""
) -> QuerySet[Installation]:
    if status in Installation.Status.values:
        installations = installations.filter(status=status)
    return installations


def get_installation_for(*, user: User, installation_id: int | str) -> Installation:
    try:
        return (
            installations_for(user=user, include_uninstalled=True)
            .select_related("version")
            .get(pk=installation_id)
        )
    except (Installation.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such installation.")) from None


def events_of(*, installation: Installation, limit: int = 200) -> QuerySet[InstallationEvent]:
    return InstallationEvent.objects.filter(installation=installation).order_by(
        "-occurred_at", "-id"
    )[:limit]


STEPS = [
    (Installation.Step.OPERATOR_GROUP, "OperatorGroup"),
    (Installation.Step.SUBSCRIPTION, "Subscription"),
    (Installation.Step.INSTALL_PLAN, "InstallPlan"),
    (Installation.Step.CSV, "CSV"),
]
_ORDER: list[str] = [
    Installation.Step.NAMESPACE,
    *[step for step, _label in STEPS],
    Installation.Step.DONE,
]


def step_indicator(installation: Installation) -> list[dict[str, str]]:
    """OperatorGroup → Subscription → InstallPlan → CSV, each done, current or to do."""
    current = _ORDER.index(installation.step) if installation.step in _ORDER else 0
    failed = installation.status == Installation.Status.FAILED
    steps = []
    for step, label in STEPS:
        index = _ORDER.index(step)
        if index < current or installation.step == Installation.Step.DONE:
            state = "done"
        elif index == current:
            state = "failed" if failed else "current"
        else:
            state = "todo"
        steps.append({"label": label, "state": state})
    return steps


def installable_version(*, asset: Asset) -> AssetVersion | None:
    """What a holder installs: the version on sale, else the last one sold (delisted)."""
    statuses = [AssetVersion.Status.ON_SALE, AssetVersion.Status.DELISTING_REVIEW]
    version = asset.versions.filter(status__in=statuses).order_by("-listed_at").first()
    if version is None:
        version = (
            asset.versions.filter(status=AssetVersion.Status.DELISTED)
            .exclude(listed_at=None)
            .order_by("-listed_at")
            .first()
        )
    return version


def saleable_versions() -> QuerySet[AssetVersion]:
    """Versions a holder may install: on sale, in delisting review, or delisted."""
    return AssetVersion.objects.filter(
        status__in=[
            AssetVersion.Status.ON_SALE,
            AssetVersion.Status.DELISTING_REVIEW,
            AssetVersion.Status.DELISTED,
        ]
    ).select_related("asset", "catalog_source")


def installation_for_order(*, order: Order) -> Installation | None:
    return Installation.objects.filter(order=order).first()


def install_refusal_for_order(*, order: Order) -> OrderInstallRefusal | None:
    """Why a paid order's operator was not installed where the buyer asked, if it was not."""
    return OrderInstallRefusal.objects.filter(order=order).first()


def live_installation(*, cluster_id: int, namespace: str, package: str) -> Installation | None:
    """The one installation of a package in a namespace that is not uninstalled (OLM allows
    one Subscription per package there)."""
    return (
        Installation.objects.filter(cluster_id=cluster_id, namespace=namespace, package=package)
        .exclude(status=Installation.Status.UNINSTALLED)
        .first()
    )


def cluster_wide_installation(*, cluster_id: int, package: str) -> Installation | None:
    """The platform's one live installation of `package` watching all namespaces."""
    return (
        Installation.objects.filter(
            cluster_id=cluster_id, package=package, scope=Installation.Scope.CLUSTER
        )
        .exclude(status=Installation.Status.UNINSTALLED)
        .first()
    )


def cluster_wide_installations() -> QuerySet[Installation]:
    """The platform admins' page: every cluster-wide operator, newest first."""
    return (
        Installation.objects.filter(scope=Installation.Scope.CLUSTER)
        .select_related("cluster", "asset", "version")
        .annotate(
            project_count=Count("project_uses", filter=~Q(project_uses__status="uninstalled"))
        )
        # Meta.ordering does not apply to a GROUP BY query: pages need it said.
        .order_by("-created_at", "-id")
    )


def cluster_wide_candidates() -> QuerySet[AssetVersion]:
    """Versions on sale whose operator watches all namespaces and cannot watch a project's
    own (what a platform admin may install cluster-wide)."""
    ids = [
        v.pk
        for v in saleable_versions()
        if any(
            ALL_NAMESPACES in (v.install_modes(c) or ())
            and not installs_into_own_namespace(v.install_modes(c))
            for c in v.channels
        )
    ]
    return AssetVersion.objects.filter(pk__in=ids).select_related("asset").order_by("asset__name")


def project_install_problem(*, version: AssetVersion, channel: str, cluster_id: int | None) -> str:
    """Why a project cannot get this operator on that cluster, in a person's words; "" if it
    can: into its own namespace, or through the platform's cluster-wide installation."""
    modes = version.install_modes(channel)
    if installs_into_own_namespace(modes):
        return ""
    if ALL_NAMESPACES in set(modes or ()):
        platform = (
            cluster_wide_installation(cluster_id=cluster_id, package=version.package_name)
            if cluster_id is not None
            else None
        )
        if platform is not None and platform.status == Installation.Status.FAILED:
            return _(
                "This operator runs cluster-wide on this cluster, but its installation "
                "failed: %(reason)s A platform admin must fix it first."
            ) % {"reason": platform.display_failure_reason or platform.get_status_display()}
        if platform is not None:
            return ""
        return _(
            "This operator only watches all namespaces (install mode AllNamespaces), so it "
            "is installed once per cluster by the platform, not into a project; it is not "
            "installed on this cluster yet. Ask a platform admin to install it cluster-wide "
            "(Operators → Cluster-wide), or choose a cluster where it is."
        )
    return install_mode_problem(modes)


# --- for the worker ---------------------------------------------------------------------------


def _followed() -> QuerySet[Installation]:
    return Installation.objects.filter(status__in=FOLLOWED, provided_by__isnull=True).exclude(
        status=Installation.Status.UNINSTALLING
    )


def installations_to_follow(*, cluster_id: int) -> list[Installation]:
    """What one cluster's sync looks at: unfinished, installed and failed ones (failed ones
    heal when OLM recovers), except those being uninstalled. All of them each time: the
    lists are cluster-wide anyway, and an unchanged one costs no write. The cluster is
    read once for all of them (a join would decrypt its credentials once per row)."""
    installations = list(_followed().filter(cluster_id=cluster_id))
    if installations:
        cluster = Cluster.objects.get(pk=cluster_id)
        for installation in installations:
            installation.cluster = cluster
    return installations


def clusters_to_follow(*, now: datetime) -> Iterable[int]:
    """Clusters with installations to follow whose sync is due (quiet ones back off)."""
    return (
        _followed()
        .filter(
            Q(cluster__installation_sync__isnull=True)
            | Q(cluster__installation_sync__next_tick_at__isnull=True)
            | Q(cluster__installation_sync__next_tick_at__lte=now)
        )
        .values_list("cluster_id", flat=True)
        .distinct()
        .order_by("cluster_id")
    )


def known_event_uids(*, cluster_id: int) -> set[str]:
    return set(
        InstallationEvent.objects.filter(installation__cluster_id=cluster_id)
        .exclude(cluster_uid="")
        .values_list("cluster_uid", flat=True)
    )


def paid_orders_awaiting_installation(*, paid_before: datetime, limit: int = 200) -> list[int]:
    """Paid new purchases that name a target but have neither an installation nor a recorded
    refusal: their job was lost (a process died between commit and enqueue, a broker
    dropped it). Oldest first."""
    orders: QuerySet[Any] = (
        Order.objects.filter(
            status=Order.Status.PAID,
            kind=Order.Kind.NEW,
            paid_at__lt=paid_before,
            project__isnull=False,
            cluster__isnull=False,
            version__isnull=False,
            installations__isnull=True,
            install_refusal__isnull=True,
        )
        .order_by("paid_at", "id")
        .values_list("id", flat=True)
    )
    return list(orders[:limit])

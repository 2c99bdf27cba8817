"""Reads of operand instances, scoped to the acting user's tenants (another tenant's is a 404)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Tenant, User
from assets.models import Asset, AssetVersion
from core.errors import NotFound
from core.timestamps import iso_utc
from orders.models import Entitlement
from orders.selectors import active_entitlement
from provisioning.models import Installation

from . import memcached
from .models import InstanceEvent, InstanceLog, InstanceMetric, OperandInstance

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
MAX_POINTS = 240


def instances_for(
    *, user: User, tenant: Tenant | None = None, include_deleted: bool = False
) -> QuerySet[OperandInstance]:
    instances = OperandInstance.objects.filter(tenant__memberships__user=user).select_related(
        "installation", "installation__asset", "installation__project", "cluster"
    )
    if tenant is not None:
        instances = instances.filter(tenant=tenant)
    if not include_deleted:
        instances = instances.exclude(status=OperandInstance.Status.DELETED)
    return instances.order_by("-created_at", "-id")


def filter_instances(
    instances: QuerySet[OperandInstance], *, status: str = ""
) -> QuerySet[OperandInstance]:
    if status in OperandInstance.Status.values:
        instances = instances.filter(status=status)
    return instances


def get_instance_for(*, user: User, instance_id: int | str) -> OperandInstance:
    try:
        return instances_for(user=user, include_deleted=True).get(pk=instance_id)
    except (OperandInstance.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such instance.") from None


def instances_of(*, installation: Installation) -> QuerySet[OperandInstance]:
    return (
        OperandInstance.objects.filter(installation=installation)
        .exclude(status=OperandInstance.Status.DELETED)
        .select_related("cluster")
        .order_by("-created_at", "-id")
    )


def live_instance_count(*, installation: Installation) -> int:
    return (
        OperandInstance.objects.filter(installation=installation)
        .exclude(status=OperandInstance.Status.DELETED)
        .count()
    )


# --- for the worker ---------------------------------------------------------------------------


def _due(now: datetime) -> Q:
    settled_every = timedelta(seconds=settings.INSTANCE_SETTLED_SYNC_INTERVAL)
    return (
        Q(settled=False)
        | Q(synced_at__isnull=True)
        | Q(synced_at__lte=now - settled_every)
        | Q(status=OperandInstance.Status.PENDING)
    )


def _live(cluster_id: int) -> QuerySet[OperandInstance]:
    return OperandInstance.objects.filter(cluster_id=cluster_id).exclude(
        status=OperandInstance.Status.DELETED
    )


def waiting_instances(*, cluster_id: int) -> list[OperandInstance]:
    """Instances not applied yet (their operator may still be installing)."""
    return list(
        _live(cluster_id)
        .filter(status=OperandInstance.Status.PENDING)
        .select_related("installation")
    )


def created_instances(*, cluster_id: int) -> QuerySet[OperandInstance]:
    return (
        _live(cluster_id)
        .exclude(status=OperandInstance.Status.PENDING)
        .select_related("installation", "cluster")
    )


def instances_due(*, cluster_id: int, now: datetime) -> QuerySet[OperandInstance]:
    """Applied instances that want a look: unsettled, or settled but not read for a while."""
    return created_instances(cluster_id=cluster_id).filter(_due(now))


def clusters_to_follow(*, now: datetime) -> Iterable[int]:
    return (
        OperandInstance.objects.exclude(status=OperandInstance.Status.DELETED)
        .filter(_due(now))
        .values_list("cluster_id", flat=True)
        .distinct()
        .order_by("cluster_id")
    )


def known_event_uids(*, instances: Iterable[OperandInstance]) -> set[str]:
    return set(
        InstanceEvent.objects.filter(instance__in=list(instances))
        .exclude(cluster_uid="")
        .values_list("cluster_uid", flat=True)
    )


def instances_to_poll() -> QuerySet[OperandInstance]:
    """监控: the MemcachedClusters whose `stats` are read (running or degraded)."""
    return OperandInstance.objects.filter(
        kind=memcached.KIND,
        status__in=[OperandInstance.Status.RUNNING, OperandInstance.Status.DEGRADED],
    ).select_related("cluster")


# --- for the pages ----------------------------------------------------------------------------


def events_of(*, instance: OperandInstance, limit: int = 200) -> QuerySet[InstanceEvent]:
    return InstanceEvent.objects.filter(instance=instance).order_by("-occurred_at", "-id")[:limit]


def logs_of(*, instance: OperandInstance) -> dict[tuple[str, str], InstanceLog]:
    return {(log.pod, log.container): log for log in InstanceLog.objects.filter(instance=instance)}


def entitlement_state(
    *, tenant: Tenant, asset: Asset
) -> tuple[Entitlement | None, Entitlement | None]:
    """(active entitlement or None, the ended one or None): a renew link needs the latter's id."""
    active = active_entitlement(tenant, asset)
    if active is not None:
        return active, None
    return None, Entitlement.objects.filter(buyer=tenant, asset=asset).first()


def best_csv_info(*, tenant: Tenant, asset: Asset) -> dict[str, Any]:
    """What the form knows of an operator before it is installed: the tenant's last install."""
    installation = (
        Installation.objects.filter(tenant=tenant, asset=asset)
        .exclude(csv_info={})
        .order_by("-installed_at", "-id")
        .first()
    )
    return installation.csv_info if installation else {}


def memcached_offerings(*, tenant: Tenant | None) -> QuerySet[Asset]:
    """平台服务目录: the assets the tenant may use now whose operator provides MemcachedCluster.

    A tenant holds few entitlements, so their versions' provided APIs are read here rather
    than queried inside JSON (which SQLite cannot do).
    """
    if tenant is None:
        return Asset.objects.none()
    entitled = Entitlement.objects.filter(buyer=tenant, ends_at__gt=timezone.now()).values(
        "asset_id"
    )
    ids = {
        version.asset_id
        for version in AssetVersion.objects.filter(
            asset_id__in=entitled,
            status__in=[
                AssetVersion.Status.ON_SALE,
                AssetVersion.Status.DELISTING_REVIEW,
                AssetVersion.Status.DELISTED,
            ],
        ).only("asset_id", "provided_apis")
        if any(api.get("kind") == memcached.KIND for api in version.provided_apis or [])
    }
    return Asset.objects.filter(pk__in=ids).select_related("tenant").order_by("name")


@dataclass
class Target:
    """Where the worker connects to reach an instance (`source` says which address it is)."""

    address: str = ""
    source: str = ""  # override | external | cluster-ip | dns
    problem: str = ""

    @property
    def label(self) -> str:
        return target_label(self.source)


def target_label(source: str) -> str:
    """What a verification's address was, in words (the result says which one was used)."""
    return {
        "override": _("the test override (MEMCACHED_ACCESS_OVERRIDES)"),
        "external": _("the service exit"),
        "cluster-ip": _("the router Service's ClusterIP"),
        "dns": _("the router Service's DNS name"),
    }.get(source, source)


def access_target(instance: OperandInstance) -> Target:
    """Where the worker reaches the router: an override (only for clusters the platform
    cannot reach), else the service exit when exposed, else the router Service's ClusterIP
    as the cluster reports it (the worker runs in the cluster network; `x.ns.svc` names
    resolve only inside the cluster), else that DNS name as a last resort."""
    override = (settings.MEMCACHED_ACCESS_OVERRIDES or {}).get(
        f"{instance.namespace}/{instance.name}"
    )
    if override:
        return Target(address=override, source="override")
    if instance.access_address and instance.access_state == OperandInstance.Access.EXPOSED:
        return Target(address=instance.access_address, source="external")
    if instance.router_ip_address:
        return Target(address=instance.router_ip_address, source="cluster-ip")
    return Target(address=instance.router_address, source="dns")


def memcached_pods(instance: OperandInstance) -> list[dict[str, Any]]:
    """The memcached pods the last sync read, with the address each serves on (podIP:port as
    the cluster reports them; "" while a pod has no IP yet)."""
    return [
        {
            "name": pod["name"],
            "address": memcached.join_address(pod["ip"], pod.get("port") or memcached.PORT)
            if pod.get("ip")
            else "",
        }
        for pod in instance.pods or []
        if pod.get("role") == "memcached"
    ]


def pod_addresses(instance: OperandInstance) -> list[str]:
    """Each memcached pod's stable in-cluster address (StatefulSet + headless Service)."""
    return [
        f"{pod['name']}.{instance.name}-memcached.{instance.namespace}.svc:{memcached.PORT}"
        for pod in instance.pods or []
        if pod.get("role") == "memcached"
    ]


def _delta(current: int, previous: int | None) -> int | None:
    if previous is None:
        return None
    return current - previous if current >= previous else current  # restarted: counts anew


def metrics_of(
    *, instance: OperandInstance, range_name: str = "1h", now: datetime | None = None
) -> dict[str, Any]:
    """监控: the chart series of a range, per-interval rates for counters, at most 240 points."""
    span = RANGES.get(range_name) or RANGES["1h"]
    now = now or timezone.now()
    start = now - span
    points: list[dict[str, Any]] = [
        dict(point)
        for point in InstanceMetric.objects.filter(
            instance=instance, time__gte=start, time__lte=now
        )
        .order_by("time", "id")
        .values(
            "time",
            "hits",
            "misses",
            "items",
            "bytes",
            "limit_maxbytes",
            "curr_connections",
            "evictions",
            "uptime",
        )
    ]
    width = span / MAX_POINTS
    buckets: dict[int, dict[str, Any]] = {}
    previous: dict[str, Any] | None = None
    for point in points:
        index = int((point["time"] - start) / width)
        bucket = buckets.setdefault(
            index,
            {"time": point["time"], "hits": None, "misses": None, "evictions": None},
        )
        bucket.update(
            {
                "time": point["time"],
                **{
                    k: point[k]
                    for k in ("items", "bytes", "limit_maxbytes", "curr_connections", "uptime")
                },
            }
        )
        for counter in ("hits", "misses", "evictions"):
            delta = _delta(point[counter], previous[counter] if previous else None)
            if delta is not None:
                bucket[counter] = (bucket[counter] or 0) + delta
        previous = point
    series = [buckets[k] for k in sorted(buckets)]
    zone = timezone.get_current_timezone()
    label_format = "%m-%d %H:%M" if span > timedelta(days=1) else "%H:%M"

    def ratio(b: dict[str, Any]) -> float | None:
        lookups = (b["hits"] or 0) + (b["misses"] or 0)
        return round(100 * b["hits"] / lookups, 1) if lookups and b["hits"] is not None else None

    latest = points[-1] if points else None
    lookups = (latest["hits"] + latest["misses"]) if latest else 0
    return {
        "range": range_name if range_name in RANGES else "1h",
        "interval_seconds": settings.MEMCACHED_STATS_INTERVAL,
        "labels": [b["time"].astimezone(zone).strftime(label_format) for b in series],
        "times": [iso_utc(b["time"]) for b in series],
        "hits": [b["hits"] for b in series],
        "misses": [b["misses"] for b in series],
        "hit_ratio": [ratio(b) for b in series],
        "items": [b["items"] for b in series],
        "bytes": [b["bytes"] for b in series],
        "limit_maxbytes": [b["limit_maxbytes"] for b in series],
        "curr_connections": [b["curr_connections"] for b in series],
        "evictions": [b["evictions"] for b in series],
        "latest": {
            **{k: v for k, v in latest.items() if k != "time"},
            "time": iso_utc(latest["time"]),
            "hit_ratio": round(latest["hits"] / lookups, 4) if lookups else None,
        }
        if latest
        else None,
    }


def catalog_steps(instance: OperandInstance) -> list[dict[str, str]]:
    """平台服务目录 progress: operator installed → cluster created → pods ready → access."""
    installation = instance.installation
    failed = instance.status == OperandInstance.Status.FAILED

    def state(done: bool, current: bool, broken: bool = False) -> str:
        return "done" if done else ("failed" if broken else ("current" if current else "todo"))

    installed = installation.is_serving
    applied = instance.status not in (OperandInstance.Status.PENDING,) and not (
        failed and instance.ready_replicas is None and not instance.phase
    )
    running = instance.status == OperandInstance.Status.RUNNING
    steps = [
        {
            "key": "operator",
            "label": _("Install the operator"),
            "detail": installation.get_status_display(),
            "state": state(
                installed, True, installation.status == Installation.Status.FAILED or failed
            ),
        },
        {
            "key": "create",
            "label": _("Create the MemcachedCluster"),
            "detail": instance.phase or instance.get_status_display(),
            "state": state(applied, installed, failed and not applied),
        },
        {
            "key": "ready",
            "label": _("Start the memcached pods"),
            "detail": (
                f"{instance.ready_replicas or 0}/{instance.desired_replicas or instance.replicas}"
                if applied
                else ""
            ),
            "state": state(running, applied, failed and applied),
        },
    ]
    if instance.expose_requested:
        exposed = instance.access_state == OperandInstance.Access.EXPOSED
        steps.append(
            {
                "key": "access",
                "label": _("Open external access"),
                "detail": instance.access_address or instance.get_access_state_display(),
                "state": state(
                    exposed,
                    applied,
                    instance.access_state == OperandInstance.Access.FAILED,
                ),
            }
        )
    return steps


def catalog_done(steps: list[dict[str, str]]) -> bool:
    return all(step["state"] == "done" for step in steps)

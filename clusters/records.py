"""What the worker learnt from a cluster about clusters and catalogs, written down: one
transaction each, audited. The jobs (tasks) call these; nothing here enqueues work."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models, transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import record_audit
from core.i18n import Text

from .models import (
    CatalogPackage,
    CatalogSource,
    Cluster,
    EventSource,
    FoundCatalogSource,
    TimelineEvent,
)

if TYPE_CHECKING:
    from .kube import ConnectionReport

TimelineEventT = TypeVar("TimelineEventT", bound=TimelineEvent)

# OLM's lastObservedState → our state.
OBSERVED_TO_STATE = {
    "READY": CatalogSource.State.READY,
    "CONNECTING": CatalogSource.State.CONNECTING,
    "IDLE": CatalogSource.State.CONNECTING,
    "TRANSIENT_FAILURE": CatalogSource.State.FAILED,
    "SHUTDOWN": CatalogSource.State.FAILED,
}


def record_connection_result(*, cluster_id: int, report: ConnectionReport) -> Cluster:
    """Called by the worker with what `kube.probe` found; the audit keeps each change."""
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster_id)
        previous = cluster.connection_state
        cluster.connection_state = (
            Cluster.ConnectionState.CONNECTED if report.ok else Cluster.ConnectionState.FAILED
        )
        cluster.last_checked_at = timezone.now()
        cluster.last_error = report.error
        if report.ok:
            cluster.server_version = report.server_version
            cluster.olm_available = report.olm_available
        cluster.save(
            update_fields=[
                "connection_state",
                "last_checked_at",
                "last_error",
                "server_version",
                "olm_available",
                "updated_at",
            ]
        )
        if previous != cluster.connection_state:
            record_audit(
                actor=None,
                action="cluster.connection",
                obj=cluster,
                from_state=previous,
                to_state=cluster.connection_state,
                reason=report.error,
            )
    return cluster


# last_observed_state of a catalog the worker withdrew from its cluster.
WITHDRAWN = "WITHDRAWN"


def record_catalog_state(
    *, catalog_source_id: int, state: str, observed: str = "", message: str = ""
) -> CatalogSource:
    """The worker reports what the cluster says; the audit keeps each change."""
    with transaction.atomic():
        catalog = CatalogSource.objects.select_for_update().get(pk=catalog_source_id)
        if catalog.state == CatalogSource.State.DELETING:
            return catalog
        changed = catalog.state != state
        if not changed and catalog.last_observed_state == observed and catalog.message == message:
            return catalog
        previous = catalog.state
        catalog.state = state
        catalog.last_observed_state = observed
        catalog.message = message
        if changed:
            catalog.state_changed_at = timezone.now()
            record_audit(
                actor=None,
                action="catalogsource.state",
                obj=catalog,
                tenant=catalog.tenant,
                from_state=previous,
                to_state=state,
                reason=message,
            )
        catalog.save()
    return catalog


def record_observed_catalog(
    *, catalog_source_id: int, observed: str, message: str = ""
) -> CatalogSource:
    """OLM's `lastObservedState` read into our state (OBSERVED_TO_STATE), with a reason."""
    state = OBSERVED_TO_STATE.get(observed, CatalogSource.State.CONNECTING)
    if state == CatalogSource.State.FAILED and not message:
        message = _("The catalog image could not be served (%(state)s).") % {"state": observed}
    return record_catalog_state(
        catalog_source_id=catalog_source_id, state=state, observed=observed, message=message
    )


def store_catalog_packages(
    *, catalog_source_id: int, packages: Iterable[dict[str, Any]]
) -> CatalogSource:
    """Replaces the cached packages of a catalog with what its PackageManifests say."""
    with transaction.atomic():
        catalog = CatalogSource.objects.select_for_update().get(pk=catalog_source_id)
        seen: set[str] = set()
        for package in packages:
            seen.add(package["name"])
            CatalogPackage.objects.update_or_create(
                catalog_source=catalog,
                name=package["name"],
                defaults={
                    "display_name": package.get("display_name", ""),
                    "provider": package.get("provider", ""),
                    "default_channel": package.get("default_channel", ""),
                    "channels": package.get("channels", []),
                },
            )
        catalog.packages.exclude(name__in=seen).delete()
        catalog.packages_synced_at = timezone.now()
        catalog.save(update_fields=["packages_synced_at", "updated_at"])
    return catalog


def forget_catalog_source(*, catalog_source_id: int) -> None:
    """After the cluster object is gone; the database row goes too, unless still referenced."""
    with transaction.atomic():
        catalog = CatalogSource.objects.select_for_update().filter(pk=catalog_source_id).first()
        if catalog is None:
            return
        record_audit(actor=None, action="catalogsource.deleted", obj=catalog, tenant=catalog.tenant)
        try:
            with transaction.atomic():
                catalog.delete()
        except ProtectedError:
            catalog.state = CatalogSource.State.FAILED
            catalog.message = _("Removed from the cluster, but versions still refer to it.")
            catalog.save(update_fields=["state", "message", "updated_at"])


# --- timelines of what runs on a cluster (installations, instances) ------------------------


def add_timeline_event(
    model: type[TimelineEventT],
    *,
    owner: models.Model,
    reason: str,
    message: str | Text = "",
    type: str = "Normal",
    source: str = EventSource.PLATFORM,
    occurred_at: datetime | None = None,
) -> TimelineEventT:
    """One step of ours on the timeline of `owner` (the model's OWNER_FIELD). A `Text`
    message is kept untranslated too, so each reader reads it in their language; a plain
    string (an error the cluster gave) is shown as it is."""
    text = message if isinstance(message, Text) else None
    return model._default_manager.create(
        **{model.OWNER_FIELD: owner},
        reason=reason,
        message=text.english() if text else message,
        message_id=text.msgid if text else "",
        message_args=text.to_json() if text else {},
        type=type,
        source=source,
        occurred_at=occurred_at or timezone.now(),
    )


def import_cluster_events(
    model: type[TimelineEvent], *, owner_id: int, rows: list[dict[str, Any]]
) -> None:
    """The cluster's Events about `owner`, once each (rows from clusters.events)."""
    if rows:
        model._default_manager.bulk_create(
            [model(**{f"{model.OWNER_FIELD}_id": owner_id}, **row) for row in rows],
            ignore_conflicts=True,
        )


def record_catalog_withdrawn(*, catalog_source_id: int) -> CatalogSource:
    """The worker took a failing catalog off the cluster: it stays failed here, saying why."""
    return record_catalog_state(
        catalog_source_id=catalog_source_id,
        state=CatalogSource.State.FAILED,
        observed=WITHDRAWN,
        message=_(
            "Withdrawn from the cluster: while OLM cannot list this catalog it stops "
            "installs and upgrades in every namespace that sees it. Fix the image, then "
            "redeploy the CatalogSource."
        ),
    )


def record_found_catalogs(*, cluster_id: int, found: Iterable[dict[str, str]]) -> None:
    """Replaces what the last sync found on the cluster: gone ones go, changed ones are
    updated (`seen_at` says when it was found or last changed), unchanged ones are not
    written."""
    now = timezone.now()
    rows = {(f["namespace"], f["name"]): f for f in found if f.get("namespace") and f.get("name")}
    with transaction.atomic():
        existing = {
            (row.namespace, row.name): row
            for row in FoundCatalogSource.objects.select_for_update().filter(cluster_id=cluster_id)
        }
        gone = [row.pk for key, row in existing.items() if key not in rows]
        if gone:
            FoundCatalogSource.objects.filter(pk__in=gone).delete()
        for key, fields in rows.items():
            row = existing.get(key)
            if row is None:
                FoundCatalogSource.objects.create(cluster_id=cluster_id, seen_at=now, **fields)
            elif any(getattr(row, field) != value for field, value in fields.items()):
                FoundCatalogSource.objects.filter(pk=row.pk).update(**fields, seen_at=now)

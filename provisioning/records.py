"""What the worker learnt from a cluster, written down: one transaction each, audited.

The jobs (tasks) call these; nothing here enqueues work or talks to a cluster.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from accounts.services import record_audit
from clusters.records import add_timeline_event, import_cluster_events
from core.i18n import Text, english, stored

from .models import ClusterSync, Installation, InstallationEvent
from .olm import Assessment

Status = Installation.Status


def _status_label(installation: Installation) -> Text:
    """Its status as a label translated when the event is read, never the raw code."""
    return Text.label(Status(installation.status).label)


def add_event(*, installation: Installation, **fields: Any) -> InstallationEvent:
    return add_timeline_event(InstallationEvent, owner=installation, **fields)


def record_cluster_events(*, installation_id: int, rows: list[dict[str, Any]]) -> None:
    import_cluster_events(InstallationEvent, owner_id=installation_id, rows=rows)


def set_status(
    installation: Installation, status: str, *, actor: User | None = None, reason: str = ""
) -> bool:
    previous = installation.status
    if previous == status:
        return False
    installation.status = status
    installation.status_changed_at = timezone.now()
    record_audit(
        actor=actor,
        action="installation.status",
        obj=installation,
        tenant=installation.tenant,
        from_state=previous,
        to_state=status,
        reason=reason,
    )
    return True


def record_step(*, installation_id: int, step: str, operator_group: str = "") -> Installation:
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED):
            return installation
        installation.step = step
        if operator_group:
            installation.operator_group = operator_group
        if step == Installation.Step.SUBSCRIPTION:
            installation.subscribed_at = timezone.now()
            if installation.status == Status.PENDING:
                set_status(installation, Status.SUBSCRIBING)
        installation.attempts += 1 if step == Installation.Step.NAMESPACE else 0
        installation.save()
    return installation


_STATUS_REASONS = {
    "installed": "Installed",
    "failed": "InstallFailed",
    "installing": "Installing",
    "upgrading": "Upgrading",
    "requires_approval": "RequiresApproval",
    "subscribing": "Subscribing",
}


def record_assessment(*, installation_id: int, assessment: Assessment) -> bool:
    """Applies what the cluster says; returns whether anything changed (for back-off)."""
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED, Status.PENDING):
            return False
        if installation.status == Status.FAILED and assessment.status in (
            Status.FAILED,
            Status.SUBSCRIBING,
        ):
            # Failed stays failed until the cluster shows progress again (OLM recovered,
            # e.g. a catalog became healthy) or the user retries.
            return False
        before = (
            installation.status,
            installation.step,
            installation.installed_csv,
            installation.current_csv,
            installation.pending_install_plan,
            installation.failure_reason,
            list(installation.notes or []),
        )
        changed_status = set_status(installation, assessment.status, reason=assessment.message)
        installation.step = assessment.step
        failed = assessment.status == Status.FAILED
        installation.failure_reason = assessment.message if failed else ""
        installation.failure_reason_text = (
            stored(assessment.message_text) if failed and assessment.message_text else {}
        )
        if assessment.installed_csv:
            if (
                installation.installed_csv
                and assessment.installed_csv != installation.installed_csv
            ):
                add_event(
                    installation=installation,
                    reason="Upgraded",
                    message=Text(
                        gettext_noop("Upgraded from %(old)s to %(new)s."),
                        old=installation.installed_csv,
                        new=assessment.installed_csv,
                    ),
                )
            installation.installed_csv = assessment.installed_csv
            installation.installed_version = (
                assessment.installed_version or installation.installed_version
            )
        installation.current_csv = assessment.current_csv or installation.current_csv
        if assessment.csv_info:
            installation.csv_info = assessment.csv_info
        if assessment.pending_install_plan and not installation.pending_install_plan:
            add_event(
                installation=installation,
                reason="RequiresApproval",
                message=Text(
                    gettext_noop("InstallPlan %(plan)s waits for approval to install %(csvs)s."),
                    plan=assessment.pending_install_plan,
                    csvs=", ".join(assessment.pending_csvs),
                ),
            )
        installation.pending_install_plan = assessment.pending_install_plan
        installation.pending_csvs = assessment.pending_csvs
        installation.notes = list(assessment.notes)
        installation.notes_text = [stored(text) for text in assessment.note_texts]
        if changed_status:
            add_event(
                installation=installation,
                reason=_STATUS_REASONS.get(assessment.status, "StatusChanged"),
                message=assessment.message_text
                or assessment.message
                or Text(gettext_noop("Now %(status)s."), status=_status_label(installation)),
                type="Warning" if assessment.status == Status.FAILED else "Normal",
            )
        if assessment.status == Status.INSTALLED and installation.installed_at is None:
            installation.installed_at = timezone.now()
        after = (
            installation.status,
            installation.step,
            installation.installed_csv,
            installation.current_csv,
            installation.pending_install_plan,
            installation.failure_reason,
            list(installation.notes or []),
        )
        installation.save()
    return before != after


def assessment_changes(installation: Installation, assessment: Assessment) -> bool:
    """Whether `record_assessment` would write anything, judged on the row the sync already
    holds: an installation whose state did not change costs the sync no query at all."""
    if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED, Status.PENDING):
        return False
    if installation.status == Status.FAILED and assessment.status in (
        Status.FAILED,
        Status.SUBSCRIBING,
    ):
        return False
    if assessment.status == Status.INSTALLED and installation.installed_at is None:
        return True
    projected: dict[str, Any] = {
        "status": assessment.status,
        "step": assessment.step,
        "failure_reason": assessment.message if assessment.status == Status.FAILED else "",
        "current_csv": assessment.current_csv or installation.current_csv,
        "pending_install_plan": assessment.pending_install_plan,
        "pending_csvs": list(assessment.pending_csvs),
        "notes": list(assessment.notes),
    }
    if assessment.installed_csv:
        projected["installed_csv"] = assessment.installed_csv
        projected["installed_version"] = (
            assessment.installed_version or installation.installed_version
        )
    if assessment.csv_info:
        projected["csv_info"] = assessment.csv_info
    return any(getattr(installation, name) != value for name, value in projected.items())


# What a project's use of a cluster-wide operator takes from it.
MIRRORED_FIELDS = (
    "step",
    "operator_group",
    "installed_csv",
    "current_csv",
    "installed_version",
    "csv_info",
    "failure_reason",
    "failure_reason_text",
    "notes",
    "notes_text",
)


def mirror_provider(*, installation_id: int) -> bool:
    """A project's use of a cluster-wide operator shows that operator's state (it has no
    Subscription of its own); returns whether anything changed."""
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        provider = installation.provided_by
        if provider is None or installation.status in (Status.UNINSTALLING, Status.UNINSTALLED):
            return False
        status = Status.UNINSTALLED if provider.status == Status.UNINSTALLED else provider.status
        if status == Status.UNINSTALLING:
            status = Status.INSTALLED  # it serves until the platform's uninstall is done
        before = [getattr(installation, f) for f in MIRRORED_FIELDS] + [installation.status]
        for field_name in MIRRORED_FIELDS:
            setattr(installation, field_name, getattr(provider, field_name))
        if set_status(installation, status, reason="cluster-wide"):
            add_event(
                installation=installation,
                reason=_STATUS_REASONS.get(status, "StatusChanged"),
                message=Text(
                    gettext_noop("The cluster-wide operator is now %(status)s."),
                    status=_status_label(installation),
                ),
                type="Warning" if status == Status.FAILED else "Normal",
            )
        if status == Status.INSTALLED and installation.installed_at is None:
            installation.installed_at = timezone.now()
        changed = before != [getattr(installation, f) for f in MIRRORED_FIELDS] + [
            installation.status
        ]
        if changed:  # every sync of the platform's installation mirrors: write only news
            installation.save()
    return changed


def mirror_to_project_uses(*, provider_id: int) -> int:
    """After the platform's cluster-wide installation changed: every project using it."""
    uses = (
        Installation.objects.filter(provided_by_id=provider_id)
        .exclude(status__in=(Status.UNINSTALLING, Status.UNINSTALLED))
        .values_list("pk", flat=True)
    )
    return sum(mirror_provider(installation_id=pk) for pk in list(uses))


def record_sync_forbidden(*, installation_ids: list[int], reason: str) -> None:
    """The cluster refused to show us OLM's objects (RBAC): the status stays what it was
    (the operator may run fine), the reason is shown beside it until a sync succeeds."""
    text = Text(
        gettext_noop("The marketplace cannot read this installation's state: %(reason)s"),
        reason=reason,
    )
    note = text.english()
    for installation in Installation.objects.filter(pk__in=installation_ids).exclude(
        status__in=(Status.UNINSTALLED, Status.PENDING)
    ):
        if installation.notes != [note]:
            Installation.objects.filter(pk=installation.pk).update(
                notes=[note], notes_text=[stored(text)]
            )


def mark_failed(*, installation_id: int, reason: str | Text) -> Installation:
    """`reason`: a Text for our own sentence (read in each reader's language), a plain
    string for an error as the cluster or the client library gave it."""
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        if installation.status in (Status.UNINSTALLED,):
            return installation
        set_status(installation, Status.FAILED, reason=english(reason))
        installation.failure_reason = english(reason)
        installation.failure_reason_text = stored(reason)
        installation.save()
        add_event(installation=installation, reason="InstallFailed", message=reason, type="Warning")
    return installation


def record_uninstalled(*, installation_id: int) -> Installation:
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        if installation.status == Status.UNINSTALLED:
            return installation
        set_status(installation, Status.UNINSTALLED)
        installation.pending_install_plan = ""
        installation.pending_csvs = []
        installation.save()
        add_event(
            installation=installation,
            reason="Uninstalled",
            message=Text(
                gettext_noop("Subscription and ClusterServiceVersion deleted; the CRDs stay.")
            ),
        )
    return installation


# --- one cluster's sync -------------------------------------------------------------------


def claim_sync_queue(*, cluster_id: int, now: datetime, stale_after: timedelta) -> bool:
    """True for the one caller that may send the cluster's sync job: none is queued (or the
    queued one is so old that its message was lost)."""
    free = Q(queued_at__isnull=True) | Q(queued_at__lt=now - stale_after)
    if ClusterSync.objects.filter(cluster_id=cluster_id).filter(free).update(queued_at=now):
        return True
    _row, created = ClusterSync.objects.get_or_create(
        cluster_id=cluster_id, defaults={"queued_at": now}
    )
    return created


def start_sync(*, cluster_id: int, now: datetime, lease: timedelta) -> bool:
    """A sync starts: takes the cluster's lease (and is no longer queued), or False while
    another run holds it."""
    free = Q(running_until__isnull=True) | Q(running_until__lt=now)
    rows = ClusterSync.objects.filter(cluster_id=cluster_id)
    if rows.filter(free).update(running_until=now + lease, queued_at=None):
        return True
    _row, created = ClusterSync.objects.get_or_create(
        cluster_id=cluster_id, defaults={"running_until": now + lease}
    )
    return created


def events_sweep_due(*, cluster_id: int, now: datetime, every: timedelta) -> bool:
    """Whether this tick reads every installation's Events (see tasks._events_wanted)."""
    swept = (
        ClusterSync.objects.filter(cluster_id=cluster_id)
        .values_list("events_swept_at", flat=True)
        .first()
    )
    return swept is None or now - swept >= every


def finish_sync(
    *,
    cluster_id: int,
    changed: bool,
    now: datetime,
    swept_at: datetime | None = None,
    fast_ticks: int = 15,
    max_delay: int = 60,
) -> None:
    """Releases the lease. Back-off: after a run of quiet ticks (nothing changed anywhere on
    the cluster), beat looks less and less often, up to once a minute."""
    rows = ClusterSync.objects.filter(cluster_id=cluster_id)
    swept: dict[str, Any] = {"events_swept_at": swept_at} if swept_at else {}
    if changed:
        rows.update(running_until=None, quiet_ticks=0, next_tick_at=None, **swept)
        return
    quiet = (rows.values_list("quiet_ticks", flat=True).first() or 0) + 1
    delay = 0 if quiet <= fast_ticks else min(max_delay, 2 ** (quiet - fast_ticks))
    rows.update(
        running_until=None,
        quiet_ticks=quiet,
        next_tick_at=now + timedelta(seconds=delay) if delay else None,
        **swept,
    )


def sync_soon(*, cluster_id: int) -> None:
    """Something was just asked of the cluster: beat's next round looks again."""
    ClusterSync.objects.filter(cluster_id=cluster_id).exclude(
        quiet_ticks=0, next_tick_at__isnull=True
    ).update(quiet_ticks=0, next_tick_at=None)

"""What the worker learnt about operand instances, written down: one transaction each.

The jobs (tasks) call these; nothing here enqueues work or talks to a cluster.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from accounts.services import record_audit
from clusters.records import add_timeline_event, import_cluster_events
from core.i18n import Text, english, kept_text, stored

from .models import InstanceEvent, InstanceLog, InstanceMetric, InstanceSync, OperandInstance

Status = OperandInstance.Status
Access = OperandInstance.Access


def add_event(*, instance: OperandInstance, **fields: Any) -> InstanceEvent:
    return add_timeline_event(InstanceEvent, owner=instance, **fields)


def record_cluster_events(*, instance_id: int, rows: list[dict[str, Any]]) -> None:
    import_cluster_events(InstanceEvent, owner_id=instance_id, rows=rows)


def set_status(
    instance: OperandInstance, status: str, *, actor: User | None = None, reason: str = ""
) -> bool:
    previous = instance.status
    if previous == status:
        return False
    instance.status = status
    instance.status_changed_at = timezone.now()
    if status == Status.RUNNING and instance.running_at is None:
        instance.running_at = instance.status_changed_at
    if status == Status.DELETED:
        instance.deleted_at = instance.status_changed_at
    record_audit(
        actor=actor,
        action="instance.status",
        obj=instance,
        tenant=instance.tenant,
        from_state=previous,
        to_state=status,
        reason=reason[:2000],
    )
    return True


def locked(instance_id: int) -> OperandInstance:
    return OperandInstance.objects.select_for_update().get(pk=instance_id)


def record_enqueued(*, instance_id: int, now: datetime | None = None) -> None:
    OperandInstance.objects.filter(pk=instance_id).update(enqueued_at=now or timezone.now())


def record_applied(*, instance_id: int) -> OperandInstance:
    """The custom resource was accepted by the API server."""
    with transaction.atomic():
        instance = locked(instance_id)
        if instance.status in (Status.DELETING, Status.DELETED):
            return instance
        if instance.status in (Status.PENDING, Status.FAILED):
            set_status(instance, Status.CREATING)
            add_event(
                instance=instance,
                reason="Applied",
                message=Text(
                    gettext_noop("%(kind)s %(name)s applied; waiting for its pods."),
                    kind=instance.kind,
                    name=instance.name,
                ),
            )
        instance.failure_reason = ""
        instance.settled = False
        instance.save()
    return instance


def mark_failed(*, instance_id: int, reason: str | Text) -> OperandInstance:
    """`reason`: a Text for our own sentence (read in each reader's language), a plain
    string for an error as the cluster gave it."""
    with transaction.atomic():
        instance = locked(instance_id)
        if instance.status in (Status.DELETED, Status.DELETING):
            return instance
        set_status(instance, Status.FAILED, reason=english(reason))
        instance.failure_reason = english(reason)
        instance.failure_reason_text = stored(reason)
        instance.settled = True
        instance.save()
        add_event(instance=instance, reason="Failed", message=reason, type="Warning")
    return instance


def record_deleted(*, instance_id: int) -> OperandInstance:
    with transaction.atomic():
        instance = locked(instance_id)
        if instance.status == Status.DELETED:
            return instance
        set_status(instance, Status.DELETED)
        instance.settled = True
        instance.access_state = Access.NONE
        instance.access_address = ""
        instance.pods = []
        instance.services = []
        instance.router_ip_address = ""
        instance.stuck_rollout = {}
        instance.save()
        add_event(
            instance=instance,
            reason="Deleted",
            message=Text(
                gettext_noop("%(kind)s %(name)s deleted with its pods and services."),
                kind=instance.kind,
                name=instance.name,
            ),
        )
    return instance


_STATUS_REASONS = {
    Status.RUNNING: "Running",
    Status.DEGRADED: "Degraded",
    Status.CREATING: "Creating",
    Status.FAILED: "Failed",
}


def record_observation(*, instance_id: int, observed: dict[str, Any]) -> bool:
    """Applies one sync's reading (status, replicas, pods, services, access); True if changed."""
    with transaction.atomic():
        instance = locked(instance_id)
        if instance.status in (Status.DELETED, Status.PENDING):
            return False
        status = observed["status"]
        if status == Status.DELETED:
            record_deleted(instance_id=instance.pk)
            return True
        fields = (
            "phase",
            "status_message",
            "ready_replicas",
            "desired_replicas",
            "pods",
            "services",
            "router_ip_address",
            "stuck_rollout",
            "access_state",
            "access_address",
            "access_error",
            "access_error_text",
            "settled",
        )
        before = {f: getattr(instance, f) for f in fields} | {"status": instance.status}
        for field in fields:
            if field in observed:
                setattr(instance, field, observed[field])
        if status != instance.status:
            if status == Status.FAILED:
                reason = observed.get("failure_reason", "")
                instance.failure_reason = english(reason)
                instance.failure_reason_text = stored(reason)
            elif instance.status == Status.FAILED:
                instance.failure_reason = ""
            message: str | Text = (
                kept_text(instance.failure_reason, instance.failure_reason_text)
                if status == Status.FAILED
                else instance.status_message
                or Text(
                    gettext_noop("%(ready)s/%(desired)s replicas ready."),
                    ready=instance.ready_replicas or 0,
                    desired=instance.desired_replicas or instance.replicas or 0,
                )
            )
            set_status(
                instance,
                status,
                reason=message.english() if isinstance(message, Text) else message,
            )
            add_event(
                instance=instance,
                reason=_STATUS_REASONS.get(status, "StatusChanged"),
                message=message,
                type="Warning" if status in (Status.FAILED, Status.DEGRADED) else "Normal",
            )
        if before["access_address"] != instance.access_address and instance.access_address:
            add_event(
                instance=instance,
                reason="Exposed",
                message=Text(
                    gettext_noop("Reachable from outside the cluster at %(address)s."),
                    address=instance.access_address,
                ),
            )
        if instance.stuck_rollout and not before["stuck_rollout"]:
            add_event(
                instance=instance,
                reason="RolloutStuck",
                message=stuck_message(instance.stuck_rollout),
                type="Warning",
            )
        after = {f: getattr(instance, f) for f in fields} | {"status": instance.status}
        changed = before != after
        if changed:
            instance.save()
    return changed


def stuck_message(stuck: dict[str, Any]) -> Text:
    """The stuck rollout in words: which pods, why, and the way out."""
    pods = "; ".join(
        f"{p['name']} ({p['reason']}{': ' + p['message'] if p.get('message') else ''})"
        for p in stuck.get("pods") or []
    )
    return Text(
        gettext_noop(
            "The rollout of StatefulSet %(statefulset)s is stuck: the pod of the old revision "
            "%(pods)s stays Pending, and a StatefulSet does not replace a Pending pod of its "
            "old revision. Delete the stuck pod: the controller recreates it with the new spec."
        ),
        statefulset=stuck.get("statefulset", ""),
        pods=pods,
    )


def record_stuck_pods_deleted(*, instance_id: int, pods: list[str]) -> None:
    """The fix was carried out: the controller now recreates those pods at the new revision."""
    with transaction.atomic():
        instance = locked(instance_id)
        instance.stuck_rollout = {}
        instance.settled = False
        instance.save()
        add_event(
            instance=instance,
            reason="StuckPodDeleted",
            message=Text(
                gettext_noop("Deleted the stuck pod %(pods)s; its StatefulSet recreates it."),
                pods=", ".join(pods),
            )
            if pods
            else Text(gettext_noop("No pod was stuck any more; nothing deleted.")),
        )


def record_synced(*, instance_ids: list[int], now: datetime) -> None:
    """When each instance was last read (settled ones are read again after a while)."""
    OperandInstance.objects.filter(pk__in=instance_ids).update(synced_at=now)


def record_access(
    *,
    instance_id: int,
    state: str,
    address: str = "",
    host: str = "",
    service: str = "",
    type: str = "",
    error: str | Text = "",
) -> OperandInstance:
    with transaction.atomic():
        instance = locked(instance_id)
        previous = instance.access_address
        instance.access_state = state
        instance.access_address = address
        instance.access_host = host or instance.access_host
        instance.access_service = service
        instance.access_type = type
        instance.access_error = english(error)
        instance.access_error_text = stored(error)
        instance.settled = state not in (Access.EXPOSING, Access.REMOVING) and instance.settled
        instance.save()
        if state == Access.EXPOSED and address and address != previous:
            add_event(
                instance=instance,
                reason="Exposed",
                message=Text(
                    gettext_noop("Reachable from outside the cluster at %(address)s."),
                    address=address,
                ),
            )
        elif state == Access.NONE and previous:
            add_event(
                instance=instance,
                reason="Unexposed",
                message=Text(
                    gettext_noop("External access removed; only reachable inside the cluster.")
                ),
            )
        elif state == Access.FAILED:
            add_event(instance=instance, reason="ExposeFailed", message=error, type="Warning")
    return instance


def record_verification(
    *,
    instance_id: int,
    ok: bool,
    message: str | Text,
    address: str,
    ms: float | None,
    source: str = "",
    pods: list[dict[str, Any]] | None = None,
    expectation: str = "",
    distribution_ok: bool | None = None,
    distribution_message: str | Text = "",
) -> OperandInstance:
    """验证访问's result: the round trip, and how the key sat on the memcached pods. The
    messages: Texts for our sentences (read in each reader's language)."""
    with transaction.atomic():
        instance = locked(instance_id)
        instance.verify_running = False
        instance.verify_ok = ok
        instance.verify_message = english(message)
        instance.verify_message_text = stored(message)
        instance.verify_address = address
        instance.verify_ms = ms
        instance.verify_source = source
        instance.verify_pods = pods or []
        instance.verify_expectation = expectation
        instance.verify_distribution_ok = distribution_ok
        instance.verify_distribution_message = english(distribution_message)
        instance.verify_distribution_message_text = stored(distribution_message)
        instance.verified_at = timezone.now()
        instance.save()
        add_event(
            instance=instance,
            reason="AccessVerified" if ok else "AccessVerifyFailed",
            message=message,
            type="Normal" if ok else "Warning",
        )
        if distribution_ok is False:
            add_event(
                instance=instance,
                reason="KeyDistributionMismatch",
                message=distribution_message,
                type="Warning",
            )
    return instance


def record_metric(*, instance_id: int, values: dict[str, int], now: datetime) -> None:
    InstanceMetric.objects.create(instance_id=instance_id, time=now, **values)
    OperandInstance.objects.filter(pk=instance_id).update(
        stats_at=now, stats_error="", stats_error_text={}
    )


def record_stats_error(*, instance_id: int, error: str | Text, now: datetime) -> None:
    """Written only when the reason changes, so an unreachable instance costs no writes."""
    OperandInstance.objects.filter(pk=instance_id).exclude(stats_error=english(error)).update(
        stats_error=english(error), stats_error_text=stored(error), stats_at=now
    )


def prune_metrics(*, before: datetime) -> int:
    """Points older than the retention go (a 7 d chart needs 7 d, plus a day of slack)."""
    deleted, _counts = InstanceMetric.objects.filter(time__lt=before).delete()
    return deleted


def record_logs(*, log_id: int, text: str = "", error: str = "") -> None:
    InstanceLog.objects.filter(pk=log_id).update(text=text, error=error, fetched_at=timezone.now())


def start_sync(*, cluster_id: int, now: datetime, lease: timedelta) -> bool:
    """Takes the cluster's instance-sync lease, or False while another run holds it."""
    free = Q(running_until__isnull=True) | Q(running_until__lt=now)
    rows = InstanceSync.objects.filter(cluster_id=cluster_id)
    if rows.filter(free).update(running_until=now + lease):
        return True
    try:
        with transaction.atomic():
            InstanceSync.objects.create(cluster_id=cluster_id, running_until=now + lease)
    except IntegrityError:  # another worker created it first: theirs
        return False
    return True


def finish_sync(*, cluster_id: int) -> None:
    InstanceSync.objects.filter(cluster_id=cluster_id).update(running_until=None)

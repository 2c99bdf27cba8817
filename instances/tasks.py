"""The worker's operand-instance jobs: apply, delete, expose, verify, logs, sync, stats.

Same rules as the install jobs (provisioning.tasks): ack late, retry transient cluster
errors with the one policy (core.retry), give up after a bound with the instance failed
and the reason kept; every job can run twice. The periodic sync fans out one job per
cluster, which reads it with one list call per kind, whatever the number of instances.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop

from clusters import kube
from clusters.events import timeline_rows
from core.i18n import Text, english, kept_text, stored
from core.job_marks import MarkedJobTask, forget_lost, job_lost, mark_sent_on_publish
from core.retry import CLUSTER_JOB_RETRY
from provisioning.models import Installation

from . import memcached, records, selectors
from .manifests import manifest_of, validate_manifest
from .models import InstanceLog, OperandInstance
from .selectors import access_target

logger = logging.getLogger(__name__)
T = TypeVar("T")

Status = OperandInstance.Status
Access = OperandInstance.Access
TRANSITIONAL_PHASES = {"", "Creating", "Scaling", "Updating", "Pending"}


def _message(exc: BaseException) -> str | Text:
    if isinstance(exc, kube.KubeError) and isinstance(exc.text, Text):
        return exc.text
    if isinstance(exc, kube.InvalidError) and exc.causes:
        causes = "; ".join(
            f"{c.get('field', '')}: {c.get('message', '')}".strip(": ") for c in exc.causes
        )
        return f"{exc.message} ({causes})"[:2000]
    return (exc.message if isinstance(exc, kube.KubeError) else f"{type(exc).__name__}: {exc}")[
        :2000
    ]


class InstanceTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries exhausted or a permanent error: the instance is failed, the reason kept."""
        if args:
            records.mark_failed(instance_id=args[0], reason=_message(exc))


class ApplyTask(MarkedJobTask, InstanceTask):
    """Marks every run of the apply job on its instance, so the sync sends it again only
    when it was lost, never while it waits behind a burst in the queue."""

    marked_model = OperandInstance


mark_sent_on_publish("instances.tasks.apply_instance", OperandInstance)


class AccessTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """External access failed; the instance itself is not."""
        if args:
            records.record_access(instance_id=args[0], state=Access.FAILED, error=_message(exc))


def _load(instance_id: int) -> OperandInstance | None:
    return (
        OperandInstance.objects.select_related("cluster", "installation")
        .filter(pk=instance_id)
        .first()
    )


def _served(gateway: kube.Gateway, call: Callable[[], T]) -> T:
    """A CRD that appeared after the discovery cache was filled is found after one refresh."""
    try:
        return call()
    except kube.NotFoundError as exc:
        if exc.reason != "NotServed":
            raise
        gateway.invalidate_discovery()
        return call()


@shared_task(base=ApplyTask, bind=True, **CLUSTER_JOB_RETRY)
def apply_instance(self: Task, instance_id: int) -> str | None:
    """Server-side apply of the custom resource: creates it, or applies an edit or a scale."""
    instance = _load(instance_id)
    if instance is None or instance.status in (Status.DELETING, Status.DELETED):
        return None
    if not instance.installation.is_serving:
        return None  # waits; sync_instances enqueues it once the operator is installed
    manifest = manifest_of(instance)
    _cleaned, errors = validate_manifest(
        csv_info=instance.installation.csv_info, namespace=instance.namespace, obj=manifest
    )
    if errors:
        records.mark_failed(
            instance_id=instance.pk,
            reason=Text(
                gettext_noop("The installed operator refuses this spec: %(errors)s"),
                errors="; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
            ),
        )
        return None
    gateway = kube.gateway_for(instance.cluster)
    try:
        _served(gateway, lambda: gateway.apply(manifest, force=True))
    except kube.InvalidError as exc:
        records.mark_failed(instance_id=instance.pk, reason=_message(exc))
        return None
    except kube.NotFoundError as exc:
        if exc.reason == "NotServed":
            # The CSV succeeded but its CRD is not served yet: try again shortly.
            raise kube.TransientError(
                Text(gettext_noop("%(kind)s is not served by the cluster yet."), kind=instance.kind)
            ) from exc
        raise
    records.record_applied(instance_id=instance.pk)
    if instance.expose_requested and instance.access_state in (Access.NONE, Access.FAILED):
        records.record_access(
            instance_id=instance.pk, state=Access.EXPOSING, host=instance.access_host
        )
        apply_external_access.delay(instance.pk)
    sync_instances.apply_async((instance.cluster_id,), countdown=1)
    return manifest["metadata"]["name"]


def _remove_external_service(gateway: kube.Gateway, instance: OperandInstance) -> None:
    gateway.delete(
        "v1", "Service", memcached.external_service_name(instance.name), instance.namespace
    )


@shared_task(base=InstanceTask, bind=True, **CLUSTER_JOB_RETRY)
def delete_instance(self: Task, instance_id: int) -> bool | None:
    """Deletes the custom resource (the operator's children follow) and our access Service."""
    instance = _load(instance_id)
    if instance is None or instance.status != Status.DELETING:
        return None
    gateway = kube.gateway_for(instance.cluster)
    if instance.kind == memcached.KIND:
        _remove_external_service(gateway, instance)
    try:
        _served(
            gateway,
            lambda: gateway.delete(
                instance.api_version_full, instance.kind, instance.name, instance.namespace
            ),
        )
        still_there = _served(
            gateway,
            lambda: gateway.get_or_none(
                instance.api_version_full, instance.kind, instance.name, instance.namespace
            ),
        )
    except kube.NotFoundError:
        still_there = None  # the kind is no longer served: nothing of it is left
    if still_there is None:
        records.record_deleted(instance_id=instance.pk)
    else:
        sync_instances.apply_async((instance.cluster_id,), countdown=1)
    return still_there is None


@shared_task(base=AccessTask, bind=True, **CLUSTER_JOB_RETRY)
def apply_external_access(self: Task, instance_id: int) -> str | None:
    """可集群外访问: applies or deletes the NodePort / LoadBalancer Service before mcrouter."""
    instance = _load(instance_id)
    if instance is None or instance.status in (Status.DELETING, Status.DELETED, Status.PENDING):
        return None
    gateway = kube.gateway_for(instance.cluster)
    if not instance.expose_requested:
        _remove_external_service(gateway, instance)
        records.record_access(instance_id=instance.pk, state=Access.NONE)
        return None
    cluster = instance.cluster
    service_exit = instance.route_exit
    kind = service_exit.kind if service_exit else cluster.external_access
    target_name = instance.route_target or memcached.router_service_name(instance.name)
    target = gateway.get_or_none("v1", "Service", target_name, instance.namespace)
    target_spec: dict[str, Any] = (target or {}).get("spec") or {}
    first_port: dict[str, Any] = next(iter(target_spec.get("ports") or []), {})
    target_port = first_port.get("targetPort")
    try:
        service = gateway.apply(
            memcached.external_service_manifest(
                name=instance.name,
                namespace=instance.namespace,
                service_type=kind,
                instance_id=instance.pk,
                selector=target_spec.get("selector"),
                port=instance.route_port,
                target_port=target_port if isinstance(target_port, int) else None,
            ),
            force=True,
        )
    except kube.InvalidError as exc:
        # The cluster's refusal of the route rule (e.g. "provided port is already
        # allocated"): said on the access panel, never retried as it would fail again.
        records.record_access(instance_id=instance.pk, state=Access.FAILED, error=str(exc))
        return None
    host = (service_exit.address if service_exit else "") or (
        cluster.external_host if service_exit is None else ""
    )
    if not host and kind == cluster.ExternalAccess.NODE_PORT:
        host = memcached.node_address(gateway.list("v1", "Node"))
    address = memcached.access_address(service, host=host)
    records.record_access(
        instance_id=instance.pk,
        state=Access.EXPOSED if address else Access.EXPOSING,
        address=address,
        host=host,
        service=service["metadata"]["name"],
        type=kind,
    )
    if not address:
        sync_instances.apply_async((instance.cluster_id,), countdown=2)
    return address


def _network_error(exc: BaseException, timeout: float) -> str | Text:
    if isinstance(exc, ConnectionRefusedError):
        return Text(gettext_noop("connection refused"))
    if isinstance(exc, socket.timeout | TimeoutError):
        return Text(gettext_noop("timed out after %(seconds)s s"), seconds=timeout)
    if isinstance(exc, socket.gaierror):
        return Text(gettext_noop("host name not found"))
    return f"{type(exc).__name__}: {exc}"


def _at(address: str, error: str | Text) -> Text:
    """`address: error`, the error read in the reader's language when it is ours."""
    return Text(gettext_noop("%(address)s: %(error)s"), address=address, error=error)


def _client(address: str, timeout: float) -> Any:
    from pymemcache.client.base import Client

    host, port = memcached.split_address(address)
    return Client((host, port), connect_timeout=timeout, timeout=timeout, no_delay=True)


@dataclass
class AccessCheck:
    """What one 验证访问 found: the round trip through the chosen address, then the key as
    each memcached pod holds it (empty when the pods were not read). The messages are
    Texts where they are our sentences, so the page reads them in the reader's language."""

    ok: bool
    message: str | Text
    ms: float | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)
    expectation: str = ""
    distribution_ok: bool | None = None
    distribution_message: str | Text = ""


def _read_key(address: str, key: str, value: str, timeout: float) -> dict[str, Any]:
    """`get key` straight from one memcached pod: holds True/False, None when unreachable."""
    from pymemcache.exceptions import MemcacheError

    if not address:
        return _unreachable("", Text(gettext_noop("no pod IP yet")))
    try:
        client = _client(address, timeout)
    except ValueError:
        return _unreachable(
            address,
            Text(gettext_noop("“%(address)s” is not a host:port address."), address=address),
        )
    try:
        got = client.get(key)
    except MemcacheError as exc:
        return _unreachable(address, str(exc))
    except OSError as exc:
        return _unreachable(address, _network_error(exc, timeout))
    finally:
        client.close()
    return {"address": address, "holds": got == value.encode(), "error": ""}


def _unreachable(address: str, error: str | Text) -> dict[str, Any]:
    """A pod row that could not be read: `error` in English, and kept untranslated for the
    page (`OperandInstance.display_verify_pods`)."""
    return {"address": address, "holds": None, "error": english(error), "error_text": stored(error)}


def read_pods(
    pods: list[dict[str, str]], *, key: str, value: str, timeout: float
) -> list[dict[str, Any]]:
    """The key read from every pod at once (as the seed does by hand with telnet per pod)."""
    if not pods:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(pods))) as pool:
        found = list(pool.map(lambda p: _read_key(p["address"], key, value, timeout), pods))
    return [{"pod": pod["name"], **row} for pod, row in zip(pods, found, strict=True)]


def check_access(
    address: str,
    *,
    timeout: float,
    pods: list[dict[str, str]] | None = None,
    setup: str = "",
) -> AccessCheck:
    """set, then get, a random key through `address`; then (given `pods`) read it from each
    memcached pod and judge the spread by `setup`; the key is deleted through `address`."""
    from pymemcache.exceptions import MemcacheError

    key = f"marketplace-verify-{secrets.token_hex(6)}"
    value = secrets.token_hex(8)
    try:
        client = _client(address, timeout)
    except ValueError:
        return AccessCheck(
            False, Text(gettext_noop("“%(address)s” is not a host:port address."), address=address)
        )
    started = time.perf_counter()
    try:
        stored = client.set(key, value, expire=60, noreply=False)
        got = client.get(key)
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        if not stored:
            return AccessCheck(
                False, Text(gettext_noop("set %(key)s was not stored."), key=key), elapsed
            )
        if got != value.encode():
            return AccessCheck(
                False,
                Text(
                    gettext_noop("set %(key)s was stored, but get returned %(got)s."),
                    key=key,
                    got=got.decode(errors="replace") if got else Text(gettext_noop("nothing")),
                ),
                elapsed,
            )
        check = AccessCheck(
            True,
            Text(
                gettext_noop("set %(key)s → STORED, get → %(value)s (through %(address)s)."),
                key=key,
                value=value,
                address=address,
            ),
            elapsed,
        )
        if pods is not None:
            check.pods = read_pods(pods, key=key, value=value, timeout=timeout)
            check.expectation, check.distribution_ok, check.distribution_message = (
                memcached.distribution_verdict(setup, check.pods)
            )
        with contextlib.suppress(MemcacheError, OSError):
            client.delete(key, noreply=False)  # the test key goes, from every pod it reached
        return check
    except MemcacheError as exc:
        return AccessCheck(
            False, Text(gettext_noop("memcached answered with an error: %(error)s"), error=exc)
        )
    except OSError as exc:
        return AccessCheck(False, _at(address, _network_error(exc, timeout)))
    finally:
        client.close()


@shared_task(acks_late=True)
def verify_access(instance_id: int) -> bool | None:
    """验证访问: never raises; the result (round trip, and the key on each memcached pod)
    is stored on the instance. With an override the platform cannot reach the cluster, so
    the pods are not read."""
    instance = _load(instance_id)
    if instance is None:
        return None
    target = access_target(instance)
    pods = None if target.source == "override" else selectors.memcached_pods(instance)
    try:
        check = check_access(
            target.address,
            timeout=settings.MEMCACHED_VERIFY_TIMEOUT,
            pods=pods,
            setup=instance.setup,
        )
    except Exception as exc:  # a verification reports; it never fails the job
        logger.exception("verify of instance %s failed", instance_id)
        check = AccessCheck(False, f"{type(exc).__name__}: {exc}")
    if check.ok and pods is None:
        check.distribution_message = Text(
            gettext_noop(
                "The pods were not read: the test override says the platform cannot reach "
                "this cluster."
            )
        )
    records.record_verification(
        instance_id=instance.pk,
        ok=check.ok,
        message=check.message,
        address=target.address,
        ms=check.ms,
        source=target.source,
        pods=check.pods,
        expectation=check.expectation,
        distribution_ok=check.distribution_ok,
        distribution_message=check.distribution_message,
    )
    return check.ok and check.distribution_ok is not False


@shared_task(bind=True, **CLUSTER_JOB_RETRY)
def delete_stuck_pods(self: Task, instance_id: int) -> list[str] | None:
    """Deletes the pods that still hold the rollout back, read afresh from the cluster (only
    old-revision pods still Pending: a pod that started meanwhile is left alone)."""
    instance = _load(instance_id)
    if instance is None or instance.status in (Status.DELETING, Status.DELETED):
        return None
    gateway = kube.gateway_for(instance.cluster)
    statefulset = gateway.get_or_none(
        "apps/v1", "StatefulSet", f"{instance.name}-memcached", instance.namespace
    )
    pods = gateway.list(
        "v1", "Pod", instance.namespace, label_selector=f"{memcached.CR_LABEL}={instance.name}"
    )
    stuck = memcached.stuck_rollout(
        statefulset,
        [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == "memcached"],
        now=timezone.now(),
        after_seconds=0,
    )
    names = [p["name"] for p in stuck.get("pods") or []]
    for name in names:
        gateway.delete("v1", "Pod", name, instance.namespace)
    records.record_stuck_pods_deleted(instance_id=instance.pk, pods=names)
    sync_instances.apply_async((instance.cluster_id,), countdown=1)
    return names


@shared_task(bind=True, **CLUSTER_JOB_RETRY)
def fetch_logs(self: Task, log_id: int) -> bool | None:
    """日志: the pod's last lines through the Kubernetes API."""
    log = InstanceLog.objects.select_related("instance__cluster").filter(pk=log_id).first()
    if log is None:
        return None
    gateway = kube.gateway_for(log.instance.cluster)
    try:
        text = gateway.read_pod_log(
            log.pod,
            log.instance.namespace,
            container=log.container or None,
            tail_lines=log.tail_lines,
        )
    except kube.TransientError:
        raise
    except kube.KubeError as exc:
        records.record_logs(log_id=log.pk, error=exc.message)
        return False
    records.record_logs(log_id=log.pk, text=text if isinstance(text, str) else str(text))
    return True


# --- reading the clusters back --------------------------------------------------------------


def _owned_names(instance: OperandInstance, pods: list[dict[str, Any]]) -> set[str]:
    name = instance.name
    return {
        name,
        f"{name}-memcached",
        f"{name}-mcrouter",
        f"{name}-mcrouter-service",
        memcached.external_service_name(name),
        *(p["name"] for p in pods),
    }


def _about(
    instance: OperandInstance, pods: list[dict[str, Any]]
) -> Callable[[dict[str, Any]], bool]:
    """Which Events belong to an instance: those about the objects its operator runs."""
    names = _owned_names(instance, pods)

    def about(involved: dict[str, Any]) -> bool:
        name = involved.get("name", "")
        return name in names or (
            involved.get("kind") == "ReplicaSet" and name.startswith(f"{instance.name}-mcrouter-")
        )

    return about


def _operator_caught_up(cr: dict[str, Any] | None) -> bool:
    """The operator has seen the spec as it is now: its status.observedGeneration reached
    metadata.generation (the API server bumps the generation on every spec change). Until
    then a Running status describes the spec before an edit. Operators that do not write
    observedGeneration are taken at their status."""
    if cr is None:
        return True
    seen = (cr.get("status") or {}).get("observedGeneration")
    return seen is None or seen >= (cr.get("metadata") or {}).get("generation", 1)


def observe(
    instance: OperandInstance,
    cr: dict[str, Any] | None,
    *,
    pods: list[dict[str, Any]],
    services_: list[dict[str, Any]],
    statefulsets: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What one instance is, according to the cluster's objects of this sync."""
    status = memcached.assess(cr, current=instance.status)
    read = memcached.read_status(cr)
    observed = {
        "status": status,
        "phase": read["phase"],
        "status_message": read["message"],
        "ready_replicas": read["ready_replicas"],
        "desired_replicas": read["desired_replicas"],
    }
    if cr is None and status == Status.FAILED:
        observed["failure_reason"] = kept_text(
            instance.failure_reason, instance.failure_reason_text
        ) or Text(
            gettext_noop("The %(kind)s is gone from the cluster (deleted outside the platform)."),
            kind=instance.kind,
        )
    access_settled = True
    if instance.is_memcached:
        external_name = memcached.external_service_name(instance.name)
        observed["pods"] = memcached.pod_rows(pods)
        observed["services"] = memcached.service_rows(services_, external_name=external_name)
        observed["router_ip_address"] = memcached.router_ip_address(services_, name=instance.name)
        statefulset = next(
            (
                s
                for s in statefulsets or []
                if s["metadata"]["name"] == f"{instance.name}-memcached"
            ),
            None,
        )
        observed["stuck_rollout"] = memcached.stuck_rollout(
            statefulset,
            [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == "memcached"],
            now=now or timezone.now(),
            after_seconds=settings.INSTANCE_STUCK_ROLLOUT_AFTER,
        )
        external = next((s for s in services_ if s["metadata"]["name"] == external_name), None)
        state = instance.access_state
        if instance.expose_requested and state in (Access.EXPOSING, Access.EXPOSED):
            address = memcached.access_address(external, host=instance.access_host)
            if external is not None and address:
                observed.update(access_state=Access.EXPOSED, access_address=address)
            elif external is None and state == Access.EXPOSED:
                deleted = Text(
                    gettext_noop("The access Service %(name)s was deleted outside the platform."),
                    name=external_name,
                )
                observed.update(
                    access_state=Access.FAILED,
                    access_address="",
                    access_error=deleted.english(),
                    access_error_text=stored(deleted),
                )
        elif not instance.expose_requested and state == Access.REMOVING and external is None:
            observed.update(access_state=Access.NONE, access_address="")
        access_settled = observed.get("access_state", state) not in (
            Access.EXPOSING,
            Access.REMOVING,
        )
    replicas_settled = (
        not instance.is_memcached
        or status != Status.RUNNING
        or read["ready_replicas"] == read["desired_replicas"]
    )
    observed["settled"] = (
        _operator_caught_up(cr)
        and status in (Status.RUNNING, Status.DEGRADED, Status.FAILED, Status.DELETED)
        and (read["phase"] not in TRANSITIONAL_PHASES or status == Status.FAILED)
        and access_settled
        and replicas_settled
    )
    return observed


def _group(objects: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped = defaultdict(list)
    for obj in objects:
        labels = obj["metadata"].get("labels") or {}
        if labels.get(memcached.CR_LABEL):
            grouped[(obj["metadata"].get("namespace"), labels[memcached.CR_LABEL])].append(obj)
    return grouped


def _start_waiting(instances: list[OperandInstance], now: datetime) -> None:
    """Pending instances: created once their operator is installed (an apply job lost on
    the way is sent again; one waiting in the queue is not), failed if it failed."""
    after = timedelta(seconds=settings.INSTALL_RESUBMIT_AFTER)
    for instance in instances:
        installation = instance.installation
        if installation.is_serving:
            if instance.enqueued_at is None or job_lost(
                instance, now=now, after=after, since=instance.enqueued_at
            ):
                forget_lost(OperandInstance, pk=instance.pk)
                records.record_enqueued(instance_id=instance.pk, now=now)
                apply_instance.delay(instance.pk)
        elif installation.status in (
            Installation.Status.FAILED,
            Installation.Status.UNINSTALLING,
            Installation.Status.UNINSTALLED,
        ):
            records.mark_failed(
                instance_id=instance.pk,
                reason=Text(
                    gettext_noop("The operator could not be installed: %(reason)s"),
                    reason=kept_text(installation.failure_reason, installation.failure_reason_text)
                    or Text.label(installation.get_status_display()),
                ),
            )


@shared_task(acks_late=True)
def sync_instances(cluster_id: int, force: bool = False) -> int:
    """Follows one cluster's instances: one list call per kind (CRs, Pods, Services, Events).

    One run per cluster at a time (a lease in the database, so it holds across worker
    replicas): a run that finds another still going skips.
    """
    lease = timedelta(seconds=settings.INSTALL_SYNC_LOCK_SECONDS)
    if not records.start_sync(cluster_id=cluster_id, now=timezone.now(), lease=lease):
        return 0
    try:
        return _sync_instances(cluster_id, force=force)
    finally:
        records.finish_sync(cluster_id=cluster_id)


def _sync_instances(cluster_id: int, *, force: bool) -> int:
    now = timezone.now()
    _start_waiting(selectors.waiting_instances(cluster_id=cluster_id), now)
    if not force and not selectors.instances_due(cluster_id=cluster_id, now=now).exists():
        return 0  # e.g. only instances waiting for their operator: no call to the cluster
    to_read = list(selectors.created_instances(cluster_id=cluster_id))
    if not to_read:
        return 0
    gateway = kube.gateway_for(to_read[0].cluster)
    kinds = sorted({(i.api_version_full, i.kind) for i in to_read})
    namespaces = {i.namespace for i in to_read}
    in_ours = partial(gateway.list_in_namespaces, namespaces=namespaces)
    custom: dict[str, dict[tuple[str, str], dict]] = {}
    try:
        for api_version, kind in kinds:
            try:
                objects = _served(gateway, partial(in_ours, api_version, kind))
            except kube.NotFoundError:
                continue  # not served any more: leave those instances as they are
            custom[kind] = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects}
        pods: list[dict] = []
        services_: list[dict] = []
        statefulsets: list[dict] = []
        if any(i.is_memcached for i in to_read):
            pods = in_ours("v1", "Pod", label_selector=memcached.CR_LABEL)
            services_ = in_ours("v1", "Service", label_selector=memcached.CR_LABEL)
            statefulsets = in_ours("apps/v1", "StatefulSet", label_selector=memcached.CR_LABEL)
        events = in_ours("v1", "Event")
    except kube.KubeError as exc:
        logger.warning("instance sync of cluster %s failed: %s", cluster_id, exc.message)
        return 0
    pods_by_cr, services_by_cr = _group(pods), _group(services_)
    statefulsets_by_cr = _group(statefulsets)
    known_uids = selectors.known_event_uids(instances=to_read)
    for instance in to_read:
        if instance.kind not in custom:
            continue
        cr = custom[instance.kind].get((instance.namespace, instance.name))
        if cr is None and instance.status == Status.FAILED:
            continue  # never created (refused), or already known to be gone
        key = (instance.namespace, instance.name)
        observed = observe(
            instance,
            cr,
            pods=pods_by_cr.get(key, []),
            services_=services_by_cr.get(key, []),
            statefulsets=statefulsets_by_cr.get(key, []),
            now=now,
        )
        records.record_observation(instance_id=instance.pk, observed=observed)
        records.record_cluster_events(
            instance_id=instance.pk,
            rows=timeline_rows(
                events,
                namespace=instance.namespace,
                about=_about(instance, observed.get("pods") or []),
                known_uids=known_uids,
            ),
        )
    records.record_synced(instance_ids=[i.pk for i in to_read], now=now)
    return len(to_read)


@shared_task(acks_late=True)
def sync_all_instances() -> int:
    """Periodic: one `sync_instances` job per cluster with instances due a look (each
    expires after a few sync intervals, INSTANCE_SYNC_EXPIRES: a backlog stays bounded)."""
    cluster_ids = list(selectors.clusters_to_follow(now=timezone.now()))
    for cluster_id in cluster_ids:
        sync_instances.apply_async((cluster_id,), expires=settings.INSTANCE_SYNC_EXPIRES)
    return len(cluster_ids)


def _read_stats(address: str, timeout: float) -> tuple[dict[str, int] | None, str | Text]:
    try:
        client = _client(address, timeout)
    except ValueError:
        return None, Text(
            gettext_noop("“%(address)s” is not a host:port address."), address=address
        )
    try:
        return memcached.parse_stats(client.stats()), ""
    except OSError as exc:
        return None, Text(
            gettext_noop("%(address)s: %(error)s"),
            address=address,
            error=_network_error(exc, timeout),
        )
    except Exception as exc:  # pymemcache's own errors: report, never fail the poll
        return None, f"{address}: {type(exc).__name__}: {exc}"
    finally:
        client.close()


def _stats_addresses(instance: OperandInstance) -> tuple[list[str], str | Text]:
    """Where 监控 reads `stats`: each memcached pod (podIP:port as the cluster reports them),
    or the one override address; ([], why) when there is nowhere to read."""
    target = access_target(instance)
    if target.source == "override":
        return [target.address], ""
    pods = [pod["address"] for pod in selectors.memcached_pods(instance) if pod["address"]]
    if pods:
        return pods, ""
    if target.address:
        return [target.address], ""
    return [], target.problem or Text(gettext_noop("No memcached pod has an address yet."))


def _read_cluster_stats(
    instance: OperandInstance, addresses: list[str], timeout: float
) -> tuple[dict[str, int] | None, str | Text]:
    results = [_read_stats(address, timeout) for address in addresses]
    read = [values for values, _error in results if values is not None]
    if not read:
        errors = [error for _values, error in results if error]
        # One phrase per pod, joined in the reader's way ("; " or "；").
        return None, errors[0] if len(errors) == 1 else Text(
            gettext_noop("%(problems)s"), problems=errors
        )
    return memcached.combine_stats(read, setup=instance.setup), ""


@shared_task(acks_late=True)
def poll_stats() -> int:
    """监控: every reachable MemcachedCluster's `stats` into the time series; old points pruned."""
    now = timezone.now()
    targets = []
    for instance in selectors.instances_to_poll():
        addresses, problem = _stats_addresses(instance)
        if addresses:
            targets.append((instance, addresses))
        else:
            records.record_stats_error(instance_id=instance.pk, error=problem, now=now)
    timeout = settings.MEMCACHED_VERIFY_TIMEOUT
    if targets:
        with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
            results = list(pool.map(lambda t: _read_cluster_stats(t[0], t[1], timeout), targets))
        for (instance, _addresses), (values, error) in zip(targets, results, strict=True):
            if values is not None:
                records.record_metric(instance_id=instance.pk, values=values, now=now)
            else:
                records.record_stats_error(instance_id=instance.pk, error=error, now=now)
    records.prune_metrics(before=now - timedelta(days=settings.MEMCACHED_STATS_RETENTION_DAYS))
    return len(targets)

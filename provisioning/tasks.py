"""The worker's provisioning jobs. Each is idempotent: running it twice changes nothing more.

Tasks ack late (a killed worker's job is delivered again), retry transient cluster
errors with exponential back-off and jitter, and give up after a bound with the
installation failed and the reason kept. The periodic sync is the safety net that
finishes whatever a lost message left behind.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from clusters import kube

from . import services
from .models import Installation, InstallationEvent
from .olm import (
    INSTALLATION_LABEL,
    OPERATORS_V1,
    OPERATORS_V1ALPHA1,
    assess,
    namespace_manifest,
    operator_group_manifest,
    subscription_manifest,
)

logger = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (kube.TransientError,),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
    "acks_late": True,
}
WATCHED_KINDS = {"Subscription", "InstallPlan", "ClusterServiceVersion", "OperatorGroup"}


class ProvisioningTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries exhausted or a permanent error: the installation is failed, reason kept."""
        message = exc.message if isinstance(exc, kube.KubeError) else f"{type(exc).__name__}: {exc}"
        if args:
            services.mark_failed(installation_id=args[0], reason=message[:2000])


def _load(installation_id):
    return (
        Installation.objects.select_related("cluster", "version").filter(pk=installation_id).first()
    )


@shared_task(base=ProvisioningTask, bind=True, **RETRY)
def install_operator(self, installation_id):
    """Namespace → OperatorGroup (reuse the one there) → Subscription, by server-side apply."""
    installation = _load(installation_id)
    if installation is None or installation.status not in (
        Installation.Status.PENDING,
        Installation.Status.SUBSCRIBING,
    ):
        logger.info(
            "install of %s skipped: %s",
            installation_id,
            "no such installation" if installation is None else installation.status,
        )
        return None
    gateway = kube.gateway_for(installation.cluster)
    namespace = installation.namespace
    gateway.apply(namespace_manifest(namespace))
    services.record_step(installation_id=installation.pk, step=Installation.Step.OPERATOR_GROUP)

    groups = gateway.list(OPERATORS_V1, "OperatorGroup", namespace=namespace)
    if len(groups) > 1:
        names = ", ".join(sorted(g["metadata"]["name"] for g in groups))
        services.mark_failed(
            installation_id=installation.pk,
            reason=(
                f"Namespace {namespace} has {len(groups)} OperatorGroups ({names}); OLM needs "
                "exactly one to install an operator. Delete the extra ones, then retry."
            ),
        )
        return None
    if groups:
        group_name = groups[0]["metadata"]["name"]
    else:
        group_name = gateway.apply(operator_group_manifest(namespace=namespace))["metadata"]["name"]

    gateway.apply(
        subscription_manifest(
            installation_id=installation.pk,
            namespace=namespace,
            package=installation.package,
            channel=installation.channel,
            source=installation.catalog_source,
            source_namespace=installation.catalog_namespace,
            approval=installation.approval,
            starting_csv=installation.starting_csv,
        ),
        force=True,
    )
    services.record_step(
        installation_id=installation.pk,
        step=Installation.Step.SUBSCRIPTION,
        operator_group=group_name,
    )
    sync_cluster.apply_async((installation.cluster_id,), countdown=1)
    return group_name


@shared_task(base=ProvisioningTask, bind=True, **RETRY)
def apply_subscription(self, installation_id):
    """After a channel or approval change on the 订阅 tab."""
    installation = _load(installation_id)
    if installation is None or installation.status in (
        Installation.Status.UNINSTALLING,
        Installation.Status.UNINSTALLED,
    ):
        return
    kube.gateway_for(installation.cluster).apply(
        subscription_manifest(
            installation_id=installation.pk,
            namespace=installation.namespace,
            package=installation.package,
            channel=installation.channel,
            source=installation.catalog_source,
            source_namespace=installation.catalog_namespace,
            approval=installation.approval,
        ),
        force=True,
    )
    sync_cluster.apply_async((installation.cluster_id,), countdown=1)


@shared_task(bind=True, **RETRY)
def approve_install_plan(self, installation_id, plan_name, expected_csvs):
    """Patches `spec.approved: true` only if the plan still installs what the user approved."""
    installation = _load(installation_id)
    if installation is None:
        return False
    gateway = kube.gateway_for(installation.cluster)
    plan = gateway.get_or_none(OPERATORS_V1ALPHA1, "InstallPlan", plan_name, installation.namespace)
    actual = list((plan or {}).get("spec", {}).get("clusterServiceVersionNames") or [])
    if plan is None or sorted(actual) != sorted(expected_csvs):
        services.add_event(
            installation=installation,
            reason="ApprovalRefused",
            type="Warning",
            message=(
                f"InstallPlan {plan_name} now installs {', '.join(actual) or 'nothing'}, not "
                f"{', '.join(expected_csvs)} as approved; look again and approve anew."
            ),
        )
        return False
    gateway.patch(
        OPERATORS_V1ALPHA1,
        "InstallPlan",
        plan_name,
        {"spec": {"approved": True}},
        installation.namespace,
    )
    sync_cluster.apply_async((installation.cluster_id,), countdown=1)
    return True


@shared_task(base=ProvisioningTask, bind=True, **RETRY)
def uninstall_operator(self, installation_id, delete_instances=False):
    """Deletes the Subscription, then the CSV (OLM leaves it behind); the CRDs stay."""
    installation = _load(installation_id)
    if installation is None or installation.status != Installation.Status.UNINSTALLING:
        return
    gateway = kube.gateway_for(installation.cluster)
    if delete_instances:
        from .signals import delete_instances_requested

        delete_instances_requested.send(sender=Installation, installation=installation)
    subscription = gateway.get_or_none(
        OPERATORS_V1ALPHA1, "Subscription", installation.subscription_name, installation.namespace
    )
    csv_names = {installation.installed_csv, installation.current_csv}
    if subscription is not None:
        status = subscription.get("status") or {}
        csv_names |= {status.get("installedCSV", ""), status.get("currentCSV", "")}
        gateway.delete(
            OPERATORS_V1ALPHA1,
            "Subscription",
            installation.subscription_name,
            installation.namespace,
        )
    for name in sorted(n for n in csv_names if n):
        gateway.delete(OPERATORS_V1ALPHA1, "ClusterServiceVersion", name, installation.namespace)
    services.record_uninstalled(installation_id=installation.pk)


def _by_namespace_and_name(objects):
    return {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects}


def _import_events(installation, events, known_uids):
    """The cluster's Events about this installation's OLM objects, once each."""
    names = {
        installation.subscription_name,
        installation.installed_csv,
        installation.current_csv,
        installation.pending_install_plan,
        installation.operator_group,
    } - {""}
    new = []
    for event in events:
        involved = event.get("involvedObject") or {}
        uid = event["metadata"].get("uid", "")
        if (
            involved.get("namespace") != installation.namespace
            or involved.get("kind") not in WATCHED_KINDS
            or not (involved.get("name") in names or involved.get("kind") == "InstallPlan")
            or uid in known_uids
        ):
            continue
        when = (
            event.get("lastTimestamp")
            or event.get("eventTime")
            or event["metadata"].get("creationTimestamp")
        )
        new.append(
            InstallationEvent(
                installation=installation,
                source=InstallationEvent.Source.CLUSTER,
                type=event.get("type", "Normal"),
                reason=event.get("reason", "")[:100],
                message=event.get("message", ""),
                involved_object=f"{involved.get('kind')}/{involved.get('name')}",
                cluster_uid=uid,
                occurred_at=(parse_datetime(when) if when else None) or timezone.now(),
            )
        )
    if new:
        InstallationEvent.objects.bulk_create(new, ignore_conflicts=True)


def _due(now):
    return Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)


@shared_task(acks_late=True)
def sync_cluster(cluster_id, force=False):
    """Follows a cluster's installations with one list call per kind, whatever their number."""
    now = timezone.now()
    installations = list(
        Installation.objects.select_related("cluster")
        .filter(cluster_id=cluster_id)
        .filter(
            status__in=[
                *Installation.UNFINISHED,
                Installation.Status.INSTALLED,
                Installation.Status.FAILED,
            ]
        )
        .exclude(status=Installation.Status.UNINSTALLING)
        .filter(Q() if force else _due(now))
    )
    if not installations:
        return 0
    gateway = kube.gateway_for(installations[0].cluster)
    try:
        subscriptions = gateway.list(
            OPERATORS_V1ALPHA1, "Subscription", label_selector=INSTALLATION_LABEL
        )
        plans = gateway.list(OPERATORS_V1ALPHA1, "InstallPlan")
        csvs = gateway.list(OPERATORS_V1ALPHA1, "ClusterServiceVersion")
        events = gateway.list("v1", "Event")
    except kube.KubeError as exc:
        logger.warning("installation sync of cluster %s failed: %s", cluster_id, exc.message)
        return 0
    subscriptions = _by_namespace_and_name(subscriptions)
    plans_by_ns, csvs_by_ns = defaultdict(dict), defaultdict(dict)
    for plan in plans:
        plans_by_ns[plan["metadata"]["namespace"]][plan["metadata"]["name"]] = plan
    for csv in csvs:
        csvs_by_ns[csv["metadata"]["namespace"]][csv["metadata"]["name"]] = csv
    events_by_namespace = defaultdict(list)
    for event in events:
        events_by_namespace[(event.get("involvedObject") or {}).get("namespace")].append(event)
    known_uids = set(
        InstallationEvent.objects.filter(installation__in=installations)
        .exclude(cluster_uid="")
        .values_list("cluster_uid", flat=True)
    )
    stale_after = timedelta(seconds=settings.INSTALL_RESUBMIT_AFTER)
    for installation in installations:
        if installation.status == Installation.Status.PENDING:
            # A lost or killed install job: start it again (the job is idempotent).
            changed_at = installation.status_changed_at or installation.created_at
            if now - changed_at > stale_after:
                install_operator.delay(installation.pk)
                services.record_sync_schedule(
                    installation_id=installation.pk, changed=True, now=now
                )
            continue
        subscription = subscriptions.get((installation.namespace, installation.subscription_name))
        if subscription is None and installation.status == Installation.Status.SUBSCRIBING:
            changed_at = installation.status_changed_at or installation.created_at
            if now - changed_at > stale_after:
                install_operator.delay(installation.pk)
            continue
        assessment = assess(
            subscription=subscription,
            install_plans=plans_by_ns[installation.namespace],
            csvs=csvs_by_ns[installation.namespace],
            since=installation.subscribed_at,
        )
        changed = services.record_assessment(installation_id=installation.pk, assessment=assessment)
        _import_events(installation, events_by_namespace[installation.namespace], known_uids)
        services.record_sync_schedule(installation_id=installation.pk, changed=changed, now=now)
    return len(installations)


SYNC_LOCK = "provisioning:sync-installations"


@shared_task(acks_late=True)
def sync_installations():
    """Periodic: every cluster with installations to follow, one `sync_cluster` each.

    One run at a time: a run that finds the previous one still going skips, so syncs
    never pile up in front of install jobs.
    """
    if not cache.add(SYNC_LOCK, True, timeout=settings.INSTALL_SYNC_LOCK_SECONDS):
        return 0
    try:
        return _sync_all_clusters()
    finally:
        cache.delete(SYNC_LOCK)


def _sync_all_clusters():
    now = timezone.now()
    cluster_ids = (
        Installation.objects.filter(
            status__in=[
                *Installation.UNFINISHED,
                Installation.Status.INSTALLED,
                Installation.Status.FAILED,
            ]
        )
        .exclude(status=Installation.Status.UNINSTALLING)
        .filter(_due(now))
        .values_list("cluster_id", flat=True)
        .distinct()
    )
    count = 0
    for cluster_id in cluster_ids:
        count += sync_cluster(cluster_id)
    return count

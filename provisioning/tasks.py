"""The worker's provisioning jobs. Each is idempotent: running it twice changes nothing more.

Jobs ack late (a killed worker's job is delivered again), retry transient cluster errors
with the one policy (core.retry), and give up after a bound with the installation failed
and the reason kept. The periodic sync fans out one job per cluster and is the safety net
that finishes whatever a lost message left behind.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop

from clusters import kube
from clusters.events import event_namespace, timeline_rows
from core.i18n import Text
from core.job_marks import MarkedJobTask, forget_lost, job_lost, mark_sent_on_publish
from core.retry import CLUSTER_JOB_RETRY

from . import records, selectors
from .models import Installation
from .olm import (
    COPIED_FROM_LABEL,
    OPERATORS_V1,
    OPERATORS_V1ALPHA1,
    assess,
    crd_summary,
    install_plan_matters,
    namespace_manifest,
    operator_group_manifest,
    subscription_manifest,
    watches_all_namespaces,
)

logger = logging.getLogger(__name__)

WATCHED_KINDS = {"Subscription", "InstallPlan", "ClusterServiceVersion", "OperatorGroup"}


class ProvisioningTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries exhausted or a permanent error: the installation is failed, reason kept."""
        message = exc.message if isinstance(exc, kube.KubeError) else f"{type(exc).__name__}: {exc}"
        if args:
            records.mark_failed(installation_id=args[0], reason=message[:2000])


class InstallTask(MarkedJobTask, ProvisioningTask):
    """Marks every run of the install job on its installation (started, returned), so the
    sync tells a lost job from one that merely waits in the queue."""

    marked_model = Installation


mark_sent_on_publish("provisioning.tasks.install_operator", Installation)


def _load(installation_id: int) -> Installation | None:
    return (
        Installation.objects.select_related("cluster", "version").filter(pk=installation_id).first()
    )


def request_sync(cluster_id: int, *, countdown: float = 0) -> bool:
    """Sends the cluster's sync job unless one is already queued: a burst of installs (or
    of beat rounds behind a slow cluster) asks for it many times and gets one."""
    now = timezone.now()
    stale_after = timedelta(seconds=settings.INSTALL_SYNC_QUEUED_STALE)
    if not records.claim_sync_queue(cluster_id=cluster_id, now=now, stale_after=stale_after):
        return False
    # Expires when its mark goes stale: a message never started makes way for the next.
    expires = settings.INSTALL_SYNC_QUEUED_STALE
    if countdown:
        sync_cluster.apply_async((cluster_id,), countdown=countdown, expires=expires + countdown)
    else:
        sync_cluster.apply_async((cluster_id,), expires=expires)
    return True


def _follow_soon(cluster_id: int) -> None:
    records.sync_soon(cluster_id=cluster_id)
    request_sync(cluster_id, countdown=1)


@shared_task(base=InstallTask, bind=True, **CLUSTER_JOB_RETRY)
def install_operator(self: Task, installation_id: int) -> str | None:
    """Namespace → OperatorGroup (reuse the one there) → Subscription, by server-side apply."""
    installation = _load(installation_id)
    if installation is not None and installation.is_provided:
        # The operator runs cluster-wide; the project only needs its namespace, watched.
        kube.gateway_for(installation.cluster).apply(namespace_manifest(installation.namespace))
        records.mirror_provider(installation_id=installation.pk)
        return None
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
    records.record_step(installation_id=installation.pk, step=Installation.Step.OPERATOR_GROUP)

    groups = gateway.list(OPERATORS_V1, "OperatorGroup", namespace=namespace)
    if len(groups) > 1:
        names = ", ".join(sorted(g["metadata"]["name"] for g in groups))
        records.mark_failed(
            installation_id=installation.pk,
            reason=Text(
                gettext_noop(
                    "Namespace %(namespace)s has %(count)s OperatorGroups (%(names)s); OLM "
                    "needs exactly one to install an operator. Delete the extra ones, then "
                    "retry."
                ),
                namespace=namespace,
                count=len(groups),
                names=names,
            ),
        )
        return None
    if groups and installation.is_cluster_wide and not watches_all_namespaces(groups[0]):
        records.mark_failed(
            installation_id=installation.pk,
            reason=Text(
                gettext_noop(
                    "The OperatorGroup %(group)s in %(namespace)s targets %(targets)s, not all "
                    "namespaces: a cluster-wide operator needs one with no targets. Fix it or "
                    "set the cluster's global operators namespace, then retry."
                ),
                group=groups[0]["metadata"]["name"],
                namespace=namespace,
                targets=", ".join(groups[0].get("spec", {}).get("targetNamespaces") or [])
                or Text(gettext_noop("a selector")),
            ),
        )
        return None
    if groups:
        group_name = groups[0]["metadata"]["name"]
    else:
        group = operator_group_manifest(
            namespace=namespace, all_namespaces=installation.is_cluster_wide
        )
        group_name = gateway.apply(group)["metadata"]["name"]

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
    records.record_step(
        installation_id=installation.pk,
        step=Installation.Step.SUBSCRIPTION,
        operator_group=group_name,
    )
    _follow_soon(installation.cluster_id)
    return str(group_name)


@shared_task(base=ProvisioningTask, bind=True, **CLUSTER_JOB_RETRY)
def apply_subscription(self: Task, installation_id: int) -> None:
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
            starting_csv=installation.starting_csv,  # ignored by OLM once installed
        ),
        force=True,
    )
    _follow_soon(installation.cluster_id)


@shared_task(bind=True, **CLUSTER_JOB_RETRY)
def approve_install_plan(
    self: Task, installation_id: int, plan_name: str, expected_csvs: list[str]
) -> bool:
    """Patches `spec.approved: true` only if the plan still installs what the user approved."""
    installation = _load(installation_id)
    if installation is None:
        return False
    gateway = kube.gateway_for(installation.cluster)
    plan = gateway.get_or_none(OPERATORS_V1ALPHA1, "InstallPlan", plan_name, installation.namespace)
    actual = list((plan or {}).get("spec", {}).get("clusterServiceVersionNames") or [])
    if plan is None or sorted(actual) != sorted(expected_csvs):
        records.add_event(
            installation=installation,
            reason="ApprovalRefused",
            type="Warning",
            message=Text(
                gettext_noop(
                    "InstallPlan %(plan)s now installs %(actual)s, not %(expected)s as "
                    "approved; look again and approve anew."
                ),
                plan=plan_name,
                actual=", ".join(actual) or Text(gettext_noop("no CSV at all")),
                expected=", ".join(expected_csvs),
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
    _follow_soon(installation.cluster_id)
    return True


@shared_task(base=ProvisioningTask, bind=True, **CLUSTER_JOB_RETRY)
def uninstall_operator(self: Task, installation_id: int, delete_instances: bool = False) -> None:
    """Deletes the Subscription, then the CSV (OLM leaves it behind); the CRDs stay."""
    installation = _load(installation_id)
    if installation is None or installation.status != Installation.Status.UNINSTALLING:
        return
    gateway = kube.gateway_for(installation.cluster)
    if delete_instances:
        from .signals import delete_instances_requested

        delete_instances_requested.send(sender=Installation, installation=installation)
    if installation.is_provided:  # the cluster-wide operator stays for the others
        records.record_uninstalled(installation_id=installation.pk)
        return
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
    records.record_uninstalled(installation_id=installation.pk)


def _by_namespace_and_name(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict]:
    return {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects}


def _about(installation: Installation) -> Callable[[dict[str, Any]], bool]:
    """Which Events belong to an installation: those about its OLM objects."""
    names = {
        installation.subscription_name,
        installation.installed_csv,
        installation.current_csv,
        installation.pending_install_plan,
        installation.operator_group,
    } - {""}

    def about(involved: dict[str, Any]) -> bool:
        kind = involved.get("kind")
        if kind == "Namespace":  # OLM's ResolutionFailed events for the whole namespace
            return True
        return kind in WATCHED_KINDS and (involved.get("name") in names or kind == "InstallPlan")

    return about


def _resubmit_if_lost(installation: Installation, now: datetime, *, since: datetime) -> bool:
    """A lost install job (never reached the broker, or its worker was killed): start it
    again (the job is idempotent). One that waits in the queue is left alone."""
    after = timedelta(seconds=settings.INSTALL_RESUBMIT_AFTER)
    if not job_lost(installation, now=now, after=after, since=since):
        return False
    logger.warning("install job of %s lost: sending it again", installation.pk)
    forget_lost(Installation, pk=installation.pk)
    install_operator.delay(installation.pk)
    return True


def _observe(
    gateway: kube.Gateway, namespaces: set[str]
) -> tuple[list[dict], dict[str, dict[str, dict]], dict[str, dict[str, dict]]]:
    """What OLM wrote in our namespaces: Subscriptions (all of each namespace: OLM resolves
    them together), CSVs and the InstallPlans where one matters, each list paged and
    namespace-scoped (or cluster-wide past a few namespaces): a constant number of calls
    whatever the number of installations. Each is read as metadata first and an object
    unchanged since the last tick is not read again: OLM writes a settled operator's
    objects only when something changed (olm/operator.go syncClusterServiceVersion updates
    a CSV's status only when its lastUpdateTime, phase, reason or message moved)."""
    subscriptions = gateway.list_in_namespaces(
        OPERATORS_V1ALPHA1, "Subscription", namespaces, reuse=True
    )
    # Copied CSVs (one per watched namespace for AllNamespaces operators) are left out.
    csvs_by_ns: dict[str, dict[str, dict]] = defaultdict(dict)
    for csv in gateway.list_in_namespaces(
        OPERATORS_V1ALPHA1,
        "ClusterServiceVersion",
        namespaces,
        label_selector=f"!{COPIED_FROM_LABEL}",
        reuse=True,
    ):
        csvs_by_ns[csv["metadata"]["namespace"]][csv["metadata"]["name"]] = csv
    by_namespace: dict[str, list[dict]] = defaultdict(list)
    for subscription in subscriptions:
        by_namespace[subscription["metadata"].get("namespace", "")].append(subscription)
    # A namespace with no Subscription yet may get one (and its plan) any moment.
    plan_namespaces = {
        namespace
        for namespace in namespaces
        if not by_namespace[namespace]
        or any(install_plan_matters(s, csvs_by_ns[namespace]) for s in by_namespace[namespace])
    }
    plans_by_ns: dict[str, dict[str, dict]] = defaultdict(dict)
    if plan_namespaces:
        for plan in gateway.list_in_namespaces(
            OPERATORS_V1ALPHA1, "InstallPlan", plan_namespaces, reuse=True
        ):
            plans_by_ns[plan["metadata"]["namespace"]][plan["metadata"]["name"]] = plan
    return subscriptions, plans_by_ns, csvs_by_ns


def _olm_events(gateway: kube.Gateway, namespaces: set[str]) -> list[dict]:
    """OLM's Events in `namespaces` (of the kinds `_about` keeps: the pods' and ReplicaSets'
    of every operator stay on the server), and those about the Namespaces themselves."""
    events: list[dict] = []
    if namespaces:
        events += gateway.list_in_namespaces(
            "v1",
            "Event",
            namespaces,
            field_selector=f"involvedObject.apiVersion={OPERATORS_V1ALPHA1}",
        )
        events += gateway.list_in_namespaces(
            "v1",
            "Event",
            namespaces,
            field_selector=f"involvedObject.apiVersion={OPERATORS_V1},involvedObject.kind=OperatorGroup",
        )
    # OLM reports a namespace's resolution failures on the Namespace object; the recorder
    # files Events about cluster-scoped objects in `default` (client-go tools/record).
    with contextlib.suppress(kube.ForbiddenError):  # the Subscription's condition says it too
        events += gateway.list(
            "v1", "Event", namespace="default", field_selector="involvedObject.kind=Namespace"
        )
    unique = {(e.get("metadata") or {}).get("uid") or id(e): e for e in events}
    return list(unique.values())


def _events_wanted(
    installations: list[Installation], changed_ids: set[int], *, now: datetime, sweep: bool
) -> set[str]:
    """Whose Events a tick reads: installations under way, changed in this tick or lately
    (OLM's Events trail the change they report), and everyone's at a periodic sweep — so
    a quiet cluster's tick does not read every Event of every namespace each time."""
    if sweep:
        return {i.namespace for i in installations}
    recent = now - timedelta(seconds=settings.INSTALL_EVENTS_AFTER_CHANGE)
    return {
        i.namespace
        for i in installations
        if i.pk in changed_ids
        or i.status in Installation.UNFINISHED
        or (i.updated_at is not None and i.updated_at >= recent)
    }


def _with_owned_crds(
    gateway: kube.Gateway,
    installation: Installation,
    assessment: Any,
    read: dict[str, dict[str, Any] | None],
) -> None:
    """Adds the owned CRDs as the cluster serves them (scope, versions, openAPIV3Schema) to
    the CSV's info, read once per CSV (and once per tick however many installations own
    the same CRD: it is cluster-scoped, in `read`): the operand forms are built from them."""
    info = assessment.csv_info
    if not info:
        return
    known = installation.csv_info or {}
    if known.get("crds_of") == info.get("name") and "crds" in known:
        info["crds"], info["crds_of"] = known["crds"], known["crds_of"]
        return
    if assessment.status not in Installation.SERVING:
        return  # OLM creates the CRDs while installing: read them once they are there
    crds: dict[str, Any] = {}
    for api in info.get("provided_apis") or []:
        name = api.get("name") or ""
        if not name or name in crds:
            continue
        if name not in read:
            try:
                crd = gateway.get_or_none(
                    "apiextensions.k8s.io/v1", "CustomResourceDefinition", name
                )
            except kube.KubeError as exc:
                logger.info("cannot read CRD %s of %s: %s", name, installation, exc.message)
                return  # e.g. 403 for CRDs: the forms fall back to the CSV alone; try next time
            read[name] = crd_summary(crd) if crd is not None else None
        summary = read[name]
        if summary is not None:
            crds[name] = summary
    info["crds"], info["crds_of"] = crds, info.get("name", "")


@shared_task(acks_late=True)
def sync_cluster(cluster_id: int, force: bool = False) -> int:
    """Follows one cluster's installations with a constant number of list calls (selected,
    paged), whatever their number, and writes only what changed.

    One run per cluster at a time (a lease in the database, so it holds across processes
    and brokers): a run that finds another still going sends itself again a second later
    and stays the one queued, so no news is missed and syncs never pile up.
    """
    now = timezone.now()
    lease = timedelta(seconds=settings.INSTALL_SYNC_LOCK_SECONDS)
    if not records.start_sync(cluster_id=cluster_id, now=now, lease=lease):
        request_sync(cluster_id, countdown=1)
        return 0
    changed = False
    every = timedelta(seconds=settings.INSTALL_EVENTS_SWEEP_INTERVAL)
    sweep = records.events_sweep_due(cluster_id=cluster_id, now=now, every=every)
    try:
        followed, changed = _sync_cluster(cluster_id, now=now, sweep=sweep)
        return followed
    finally:
        records.finish_sync(
            cluster_id=cluster_id,
            changed=changed,
            now=timezone.now(),
            swept_at=now if sweep else None,
        )


def _sync_cluster(cluster_id: int, *, now: datetime, sweep: bool) -> tuple[int, bool]:
    """(installations looked at, whether anything changed); `sweep`: read every
    installation's Events, not only those of the ones under way or lately changed."""
    installations = selectors.installations_to_follow(cluster_id=cluster_id)
    if not installations:
        return 0, False
    gateway = kube.gateway_for(installations[0].cluster)
    namespaces = {installation.namespace for installation in installations}
    try:
        subscriptions, plans_by_ns, csvs_by_ns = _observe(gateway, namespaces)
    except kube.KubeError as exc:
        logger.warning("installation sync of cluster %s failed: %s", cluster_id, exc.message)
        if isinstance(exc, kube.ForbiddenError):
            records.record_sync_forbidden(
                installation_ids=[i.pk for i in installations], reason=exc.message
            )
        return 0, False
    by_name = _by_namespace_and_name(subscriptions)
    # OLM resolves a namespace's Subscriptions together: one Manual one makes every
    # InstallPlan there Manual (catalog/operator.go syncResolvingNamespace).
    manual_namespaces = {
        s["metadata"].get("namespace")
        for s in subscriptions
        if (s.get("spec") or {}).get("installPlanApproval") == "Manual"
    }
    changed = False
    changed_ids: set[int] = set()
    crds_read: dict[str, dict[str, Any] | None] = {}
    for installation in installations:
        if installation.status == Installation.Status.PENDING:
            since = installation.status_changed_at or installation.created_at
            changed |= _resubmit_if_lost(installation, now, since=since)
            continue
        subscription = by_name.get((installation.namespace, installation.subscription_name))
        if subscription is None and installation.status == Installation.Status.SUBSCRIBING:
            since = installation.subscribed_at or installation.status_changed_at or now
            changed |= _resubmit_if_lost(installation, now, since=since)
            continue
        assessment = assess(
            subscription=subscription,
            install_plans=plans_by_ns[installation.namespace],
            csvs=csvs_by_ns[installation.namespace],
            since=installation.subscribed_at,
            now=now,
            namespace_manual=installation.namespace in manual_namespaces,
        )
        _with_owned_crds(gateway, installation, assessment, crds_read)
        # Only news is written: an unchanged installation costs no query.
        if records.assessment_changes(installation, assessment):
            if records.record_assessment(installation_id=installation.pk, assessment=assessment):
                changed = True
                changed_ids.add(installation.pk)
            if installation.is_cluster_wide:
                records.mirror_to_project_uses(provider_id=installation.pk)
    wanted = _events_wanted(installations, changed_ids, now=now, sweep=sweep)
    try:
        events = _olm_events(gateway, wanted)
    except kube.KubeError as exc:
        logger.warning("events of cluster %s not read: %s", cluster_id, exc.message)
        return len(installations), changed
    events_by_namespace: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        events_by_namespace[event_namespace(event.get("involvedObject") or {})].append(event)
    known_uids = selectors.known_event_uids(cluster_id=cluster_id) if events else set()
    for installation in installations:
        rows = timeline_rows(
            events_by_namespace[installation.namespace],
            namespace=installation.namespace,
            about=_about(installation),
            known_uids=known_uids,
        )
        if rows:
            records.record_cluster_events(installation_id=installation.pk, rows=rows)
            changed = True
    return len(installations), changed


@shared_task(acks_late=True)
def sync_installations() -> int:
    """Periodic: asks for one `sync_cluster` job per cluster due a look (at most one queued
    per cluster, however slow the cluster or long the queue)."""
    cluster_ids = list(selectors.clusters_to_follow(now=timezone.now()))
    return sum(request_sync(cluster_id) for cluster_id in cluster_ids)

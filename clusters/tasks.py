"""Worker jobs that talk to clusters. Each is idempotent and safe to run twice.

Jobs that change a cluster follow `core.retry.CLUSTER_JOB_RETRY`; the periodic catalog
sync fans out into one job per cluster, so a cluster that is down or slow delays no other.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from core.retry import CLUSTER_JOB_RETRY

from . import kube, records, selectors
from .manifests import (
    CATALOG_ID_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    catalog_source_manifest,
    found_catalog_fields,
    observed_state,
    packages_from_manifests,
)
from .models import CatalogSource, Cluster

logger = logging.getLogger(__name__)

# Catalogs being removed are the removal job's business, not the sync's.
NOT_FOLLOWED = [CatalogSource.State.DELETING]


@shared_task(acks_late=True)
def test_cluster_connection(cluster_id: int) -> bool | None:
    """Runs "Test connection": what the probe found (or why it failed) lands on the cluster."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return None
    report = kube.probe(kube.gateway_for(cluster))
    records.record_connection_result(cluster_id=cluster_id, report=report)
    return report.ok


class _CatalogDeployTask(Task):
    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Retries exhausted or a permanent error: the catalog is failed, with the reason."""
        message = exc.message if isinstance(exc, kube.KubeError) else str(exc)
        records.record_catalog_state(
            catalog_source_id=args[0], state=CatalogSource.State.FAILED, message=message[:1000]
        )


@shared_task(base=_CatalogDeployTask, **CLUSTER_JOB_RETRY)
def deploy_catalog_source(catalog_source_id: int) -> str | None:
    """Applies the CatalogSource; the periodic sync follows it to READY."""
    catalog = CatalogSource.objects.select_related("cluster").filter(pk=catalog_source_id).first()
    if catalog is None or catalog.state == CatalogSource.State.DELETING:
        return None
    gateway = kube.gateway_for(catalog.cluster)
    applied = gateway.apply(
        catalog_source_manifest(
            name=catalog.name,
            namespace=catalog.namespace,
            image=catalog.image,
            display_name=catalog.display_name,
            publisher=catalog.publisher,
            catalog_id=catalog.pk,
        ),
        force=True,
    )
    observed, message = observed_state(applied)
    if observed:
        records.record_observed_catalog(
            catalog_source_id=catalog.pk, observed=observed, message=message
        )
    else:
        records.record_catalog_state(
            catalog_source_id=catalog.pk, state=CatalogSource.State.CONNECTING
        )
    return applied["metadata"].get("uid")


@shared_task(**CLUSTER_JOB_RETRY)
def remove_catalog_source(catalog_source_id: int) -> None:
    """Deletes the CatalogSource from its cluster, then forgets it here."""
    catalog = CatalogSource.objects.select_related("cluster").filter(pk=catalog_source_id).first()
    if catalog is None:
        return
    kube.gateway_for(catalog.cluster).delete(
        "operators.coreos.com/v1alpha1", "CatalogSource", catalog.name, catalog.namespace
    )
    records.forget_catalog_source(catalog_source_id=catalog.pk)


@shared_task(acks_late=True)
def sync_catalog_sources() -> int:
    """Periodic (beat): one `sync_cluster_catalogs` job per cluster with catalogs to follow.

    It talks to no cluster itself. Each job expires after a few sync intervals
    (CATALOG_SYNC_EXPIRES): jobs piled up behind a slow worker are dropped, never all of
    them."""
    followed = set(
        CatalogSource.objects.exclude(state__in=NOT_FOLLOWED).values_list("cluster_id", flat=True)
    )
    cluster_ids = sorted(followed | selectors.clusters_with_provider_projects())
    for cluster_id in cluster_ids:
        sync_cluster_catalogs.apply_async(args=(cluster_id,), expires=settings.CATALOG_SYNC_EXPIRES)
    return len(cluster_ids)


@shared_task(acks_late=True)
def sync_cluster_catalogs(cluster_id: int) -> int:
    """Follows one cluster's catalogs to their state and refreshes their packages: two
    list calls, whatever the number of catalogs on it. Returns how many it followed.

    A cluster that cannot be reached is logged and left for the next periodic run (no
    retries: the beat is the retry)."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return 0
    catalogs = list(
        CatalogSource.objects.select_related("cluster")
        .filter(cluster_id=cluster_id)
        .exclude(state__in=NOT_FOLLOWED)
        .order_by("pk")
    )
    try:
        if catalogs:
            _follow_catalogs(cluster, catalogs)
        _find_applied_catalogs(cluster)
    except kube.KubeError as exc:
        logger.warning("catalog sync of cluster %s failed: %s", cluster.name, exc.message)
        return 0
    return len(catalogs)


def _find_applied_catalogs(cluster: Cluster) -> None:
    """CatalogSources applied by hand (kubectl) in provider projects' namespaces, written down
    for the provider portal to offer; ours (labelled) are followed above, not found here."""
    namespaces = selectors.provider_namespaces_on(cluster=cluster)
    if not namespaces:
        records.record_found_catalogs(cluster_id=cluster.pk, found=[])
        return
    objects = kube.gateway_for(cluster).list_in_namespaces(
        "operators.coreos.com/v1alpha1",
        "CatalogSource",
        namespaces,
        label_selector=f"{MANAGED_BY_LABEL}!={MANAGED_BY}",
    )
    records.record_found_catalogs(
        cluster_id=cluster.pk, found=[found_catalog_fields(obj) for obj in objects]
    )


def _failing_too_long(catalog: CatalogSource) -> bool:
    """Failed for CATALOG_WITHDRAW_AFTER seconds: OLM's resolver fails every namespace that
    sees an erroring catalog (resolver.go: namespacedCache.Error()), so it must go."""
    changed = catalog.state_changed_at
    return (
        catalog.state == CatalogSource.State.FAILED
        and changed is not None
        and timezone.now() - changed >= timedelta(seconds=settings.CATALOG_WITHDRAW_AFTER)
    )


def _follow_catalogs(cluster: Cluster, catalogs: list[CatalogSource]) -> None:
    gateway = kube.gateway_for(cluster)
    namespace = cluster.catalog_namespace
    objects = gateway.list(
        "operators.coreos.com/v1alpha1",
        "CatalogSource",
        namespace=namespace,
        label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}",
    )
    by_id = {obj["metadata"].get("labels", {}).get(CATALOG_ID_LABEL): obj for obj in objects}
    ready = []
    for catalog in catalogs:
        obj = by_id.get(str(catalog.pk))
        if obj is None:
            if catalog.state in (CatalogSource.State.CONNECTING, CatalogSource.State.READY):
                deploy_catalog_source.delay(catalog.pk)  # gone from the cluster: apply again
            continue
        observed, message = observed_state(obj)
        if not observed:
            continue
        updated = records.record_observed_catalog(
            catalog_source_id=catalog.pk, observed=observed, message=message
        )
        if updated.state == CatalogSource.State.READY:
            ready.append(catalog)
        elif _failing_too_long(updated):
            gateway.delete(
                "operators.coreos.com/v1alpha1", "CatalogSource", catalog.name, catalog.namespace
            )
            records.record_catalog_withdrawn(catalog_source_id=catalog.pk)
    if ready:
        # packageserver labels each PackageManifest with its catalog (OLM
        # pkg/package-server/provider/registry.go): one paged list selecting our ready
        # catalogs, never every package of the namespace (on a real cluster the global
        # namespace serves thousands from the catalogs the platform ships).
        names = ",".join(sorted({catalog.name for catalog in ready}))
        manifests = gateway.list(
            "packages.operators.coreos.com/v1",
            "PackageManifest",
            namespace=namespace,
            label_selector=f"catalog in ({names}),catalog-namespace={namespace}",
        )
        by_catalog: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for manifest in manifests:
            by_catalog[(manifest.get("status") or {}).get("catalogSource", "")].append(manifest)
        for catalog in ready:
            records.store_catalog_packages(
                catalog_source_id=catalog.pk,
                packages=packages_from_manifests(by_catalog.get(catalog.name, [])),
            )

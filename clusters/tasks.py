"""Worker jobs that talk to clusters. Each is idempotent and safe to run twice."""

import logging
from collections import defaultdict

from celery import Task, shared_task

from . import kube, services
from .manifests import (
    CATALOG_ID_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    catalog_source_manifest,
    observed_state,
    packages_from_manifests,
)
from .models import CatalogSource, Cluster

logger = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (kube.TransientError,),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(acks_late=True)
def test_cluster_connection(cluster_id):
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return None
    report = kube.probe(kube.gateway_for(cluster))
    services.record_connection_result(cluster_id=cluster_id, report=report)
    return report.ok


class _CatalogDeployTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries exhausted or a permanent error: the catalog is failed, with the reason."""
        message = exc.message if isinstance(exc, kube.KubeError) else str(exc)
        services.record_catalog_state(
            catalog_source_id=args[0], state=CatalogSource.State.FAILED, message=message[:1000]
        )


@shared_task(base=_CatalogDeployTask, bind=True, **RETRY)
def deploy_catalog_source(self, catalog_source_id):
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
        services.record_observed_catalog(
            catalog_source_id=catalog.pk, observed=observed, message=message
        )
    else:
        services.record_catalog_state(
            catalog_source_id=catalog.pk, state=CatalogSource.State.CONNECTING
        )
    return applied["metadata"].get("uid")


@shared_task(bind=True, **RETRY)
def remove_catalog_source(self, catalog_source_id):
    catalog = CatalogSource.objects.select_related("cluster").filter(pk=catalog_source_id).first()
    if catalog is None:
        return
    kube.gateway_for(catalog.cluster).delete(
        "operators.coreos.com/v1alpha1", "CatalogSource", catalog.name, catalog.namespace
    )
    services.forget_catalog_source(catalog_source_id=catalog.pk)


def sync_cluster_catalogs(cluster, catalogs):
    """Two list calls per cluster, whatever the number of catalogs on it."""
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
        updated = services.record_observed_catalog(
            catalog_source_id=catalog.pk, observed=observed, message=message
        )
        if updated.state == CatalogSource.State.READY:
            ready.append(catalog)
    if ready:
        manifests = gateway.list(
            "packages.operators.coreos.com/v1", "PackageManifest", namespace=namespace
        )
        by_catalog = defaultdict(list)
        for manifest in manifests:
            status = manifest.get("status") or {}
            if status.get("catalogSourceNamespace", namespace) == namespace:
                by_catalog[status.get("catalogSource")].append(manifest)
        for catalog in ready:
            services.store_catalog_packages(
                catalog_source_id=catalog.pk,
                packages=packages_from_manifests(by_catalog.get(catalog.name, [])),
            )


@shared_task(acks_late=True)
def sync_catalog_sources():
    """Periodic: follows every deployed catalog's state and refreshes its packages."""
    catalogs = CatalogSource.objects.select_related("cluster").exclude(
        state__in=[CatalogSource.State.DELETING]
    )
    by_cluster = defaultdict(list)
    for catalog in catalogs:
        by_cluster[catalog.cluster].append(catalog)
    for cluster, cluster_catalogs in by_cluster.items():
        try:
            sync_cluster_catalogs(cluster, cluster_catalogs)
        except kube.KubeError as exc:
            logger.warning("catalog sync of cluster %s failed: %s", cluster.name, exc.message)

"""Real-shaped bundles (sandbox/catalogs, written after published community-operators
and File-Based Catalog bundles) all the way through the product: catalog → version →
listing → purchase → install → operand. Each ends installed with an operand created, or
is refused before payment with the reason, or fails with OLM's own reason."""

import json
import uuid

import pytest
from django.core.exceptions import ValidationError

from core.errors import error_code
from instances import services as instance_services
from instances.models import OperandInstance
from instances.schema import clean_example
from orders.models import Order
from provisioning import services
from provisioning.models import Installation
from tests.conftest import sandbox_object, wait_until
from tests.provisioning.conftest import buy_now, follow

SEED = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"
REDIS_SEED = "dev-registry.tenxcloud.com/system_containers/redis-registry:v1"
COMMUNITY = "quay.io/sandbox/community-catalog:v1"
FBC = "quay.io/sandbox/fbc-catalog:v1"

PROJECT = "project"  # OwnNamespace: into the buyer's namespace
CLUSTER = "cluster"  # AllNamespaces only: refused until a platform admin installs it once
UNPACK_FAILS = "unpack-fails"  # its bundle image cannot be pulled

# (catalog image, package, channel, the CSV that is listed, how it installs, operand kind)
BUNDLES = [
    (SEED, "memcached-cluster-operator", "stable", "v1.1.0", PROJECT, "MemcachedCluster"),
    (SEED, "memcached-cluster-operator", "alpha", "v1.2.0-alpha", PROJECT, "MemcachedCluster"),
    (REDIS_SEED, "redis-cluster-operator", "stable", "v0.9.0", CLUSTER, None),
    (COMMUNITY, "cert-manager", "stable", "v1.16.5", CLUSTER, "Certificate"),
    (COMMUNITY, "etcd", "singlenamespace-alpha", "v0.9.4", PROJECT, "EtcdCluster"),
    (COMMUNITY, "memcached-operator", "alpha", "v0.0.1", CLUSTER, "Memcached"),
    (COMMUNITY, "memcached-operator", "candidate", "v0.0.2", UNPACK_FAILS, None),
    (COMMUNITY, "opentelemetry-operator", "alpha", "v0.100.1", CLUSTER, "OpenTelemetryCollector"),
    (FBC, "argocd-operator", "alpha", "v0.9.0", PROJECT, "ArgoCD"),
    (FBC, "argocd-operator", "legacy", "v0.7.0", PROJECT, "ArgoCD"),
    (FBC, "redis-operator", "stable", "v0.15.1", PROJECT, "Redis"),
    (COMMUNITY, "grafana-operator", "v5", "v5.9.0", PROJECT, "Grafana"),
    (COMMUNITY, "strimzi-kafka-operator", "stable", "v0.41.0", CLUSTER, "Kafka"),
]


def _example(installation, kind):
    """The operator's alm-example as the create form starts from it (status, finalizers
    and server fields dropped, the project's namespace set)."""
    examples = json.loads(installation.csv_info.get("alm_examples") or "[]")
    example = next(e for e in examples if e.get("kind") == kind)
    return clean_example(example, namespace=installation.namespace)


@pytest.mark.parametrize(
    ("image", "package", "channel", "version", "how", "operand"),
    BUNDLES,
    ids=[f"{b[1]}-{b[2]}" for b in BUNDLES],
)
def test_a_real_bundle_from_catalog_to_operand(
    image,
    package,
    channel,
    version,
    how,
    operand,
    list_operator,
    shopper,
    sandbox,
    sandbox_cluster,
    platform_admin,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    listed = list_operator(
        image=image,
        package=package,
        name=f"{package}-{channel}"[:40],
        catalog=f"cat-{uuid.uuid4().hex[:6]}",
        channels=[channel],
        default_channel=channel,
        provider=f"prov-{uuid.uuid4().hex[:4]}",
    )
    starting_csv = listed.starting_csv(channel)
    # The channel head when it was reviewed (tests may publish newer CSVs into the seed's
    # catalog, which lives for the whole session; the folder catalogs never change).
    assert starting_csv == sandbox.catalog.package(image, package).head(channel)
    if image not in (SEED, REDIS_SEED):
        assert starting_csv.endswith(version), starting_csv

    platform = None
    try:
        if how in (CLUSTER, UNPACK_FAILS):
            platform = _refused_then_installed_cluster_wide(
                how, listed, channel, shopper, sandbox_cluster, platform_admin, capture
            )
            if how == UNPACK_FAILS:
                return
        _bought_installed_and_used(
            listed, channel, how, operand, starting_csv, shopper, sandbox, sandbox_cluster, capture
        )
    finally:
        # The sandbox lives for the session: leave no cluster-wide operator behind (the
        # way a platform admin would remove it, after the projects that used it).
        _uninstall_all(shopper, platform, platform_admin, capture)


def _refused_then_installed_cluster_wide(
    how, listed, channel, shopper, cluster, platform_admin, capture
):
    with pytest.raises(ValidationError) as refused:
        buy_now(shopper, listed, cluster, capture, channel=channel)
    assert error_code(refused.value) == "not_installable_in_project"
    assert "installed once per cluster by the platform" in str(refused.value)
    assert not Order.objects.filter(buyer=shopper).exists()  # nothing was charged
    with capture(execute=True):
        platform = services.install_cluster_wide(
            actor=platform_admin, cluster=cluster, version=listed, channel=channel
        )
    if how == UNPACK_FAILS:
        follow(platform, {"failed"}, timeout=30)
        assert "Bundle unpacking failed" in platform.failure_reason
        # A failed cluster-wide operator is not sold into projects either.
        with pytest.raises(ValidationError) as broken:
            buy_now(shopper, listed, cluster, capture, channel=channel)
        assert "its installation failed" in str(broken.value)
        return platform
    follow(platform, {"installed"}, timeout=30)
    assert platform.installed_csv == listed.starting_csv(channel)
    return platform


def _uninstall_all(shopper, platform, platform_admin, capture):
    for installation in Installation.objects.filter(tenant=shopper).exclude(status="uninstalled"):
        with capture(execute=True):
            services.request_uninstall(
                actor=shopper.owner, installation=installation, delete_instances=True
            )
    if platform is not None:
        with capture(execute=True):
            services.request_uninstall(actor=platform_admin, installation=platform)


def _bought_installed_and_used(
    listed, channel, how, operand, starting_csv, shopper, sandbox, sandbox_cluster, capture
):
    order = buy_now(shopper, listed, sandbox_cluster, capture, channel=channel)
    installation = Installation.objects.get(order=order)
    if how == PROJECT:
        subscription = sandbox_object(
            sandbox,
            "operators.coreos.com/v1alpha1",
            "Subscription",
            installation.namespace,
            listed.package_name,
        )
        assert subscription["spec"]["startingCSV"] == starting_csv
    follow(installation, {"installed"}, timeout=30)
    assert installation.installed_csv == starting_csv
    assert installation.csv_info["provided_apis"]
    if operand is None:
        return
    crd = next(a for a in installation.csv_info["provided_apis"] if a["kind"] == operand)
    with capture(execute=True):
        instance = instance_services.request_instance(
            actor=shopper.owner, installation=installation, manifest=_example(installation, operand)
        )
    assert instance.namespace == shopper.project.namespace
    group = crd["name"].partition(".")[2]

    def stored():
        return sandbox_object(
            sandbox, f"{group}/{instance.api_version}", operand, instance.namespace, instance.name
        )

    wait_until(stored, timeout=15, message=f"the {operand} in the cluster")
    instance.refresh_from_db()
    assert instance.status != OperandInstance.Status.FAILED, instance.status_message

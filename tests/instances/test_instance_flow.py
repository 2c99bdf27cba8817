"""MemcachedCluster create / scale / edit / access / delete against the sandbox cluster.

The worker's jobs run inline on commit (eager Celery); the periodic sync is called by
the tests, since beat does not run here.
"""

import pytest
from django.core.exceptions import ValidationError

from instances import services as instance_services
from instances import tasks as instance_tasks
from instances.models import OperandInstance
from provisioning import services, tasks
from provisioning.models import Installation
from tests.conftest import sandbox_object, wait_until

from .conftest import cr, create, follow, synced_until

MC = "daas.tenxcloud.com/v1"


def test_create_runs_statefulset_deployment_services_and_pods(running, sandbox):
    ns = running.namespace
    custom = sandbox_object(sandbox, MC, "MemcachedCluster", ns, "mem1")
    assert custom["spec"] == running.spec
    assert custom["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "operator-marketplace"
    sts = sandbox_object(sandbox, "apps/v1", "StatefulSet", ns, "mem1-memcached")
    assert sts["spec"]["replicas"] == 2
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith("memcached:v1.5")
    assert sandbox_object(sandbox, "apps/v1", "Deployment", ns, "mem1-mcrouter") is not None
    headless = sandbox_object(sandbox, "v1", "Service", ns, "mem1-memcached")
    assert headless["spec"]["clusterIP"] == "None"
    router = sandbox_object(sandbox, "v1", "Service", ns, "mem1-mcrouter-service")
    assert router["spec"]["ports"][0]["port"] == 11211
    assert (running.status, running.phase) == ("running", "Running")
    assert (running.ready_replicas, running.desired_replicas) == (2, 2)
    # What `kubectl get pod -o wide` shows: memcached pods first, then the routers.
    assert [p["role"] for p in running.pods] == ["memcached", "memcached", "mcrouter", "mcrouter"]
    first = running.pods[0]
    assert first["name"] == "mem1-memcached-0" and first["ready"] == "1/1"
    assert first["status"] == "Running" and first["node"].startswith("sandbox-node-")
    # Pod IPs are real loopback addresses of the sandbox's 127.N.0.0/16 (its node index third).
    assert first["ip"].startswith(f"127.{sandbox.network.base}.")
    assert {s["name"] for s in running.services} == {"mem1-memcached", "mem1-mcrouter-service"}
    reasons = set(running.events.values_list("reason", flat=True))
    assert {"CreateRequested", "Applied", "Running"} <= reasons
    assert running.events.filter(source="cluster", involved_object__startswith="Pod/").exists()
    assert running.settled and running.running_at is not None


def test_replset_setup_routes_writes_to_every_node(
    installed, sandbox, django_capture_on_commit_callbacks
):
    instance = create(installed, django_capture_on_commit_callbacks, name="rs", setup="replset")
    follow(instance, {"running"})
    config = sandbox_object(sandbox, "v1", "ConfigMap", instance.namespace, "rs-mcrouter")
    assert "AllSyncRoute" in config["data"]["config.json"]


def test_scale_then_edit_then_delete(running, sandbox, django_capture_on_commit_callbacks):
    owner = running.created_by
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.scale_instance(actor=owner, instance=running, replicas=3)
    synced_until(running, lambda i: i.ready_replicas == 3 and i.settled, "3 ready replicas")
    sts = sandbox_object(sandbox, "apps/v1", "StatefulSet", running.namespace, "mem1-memcached")
    assert sts["spec"]["replicas"] == 3
    assert running.events.filter(reason="Scaled", source="cluster").exists()

    with pytest.raises(ValidationError) as exc:
        instance_services.scale_instance(actor=owner, instance=running, replicas=0)
    assert "At least 1 replica." in exc.value.message_dict["replicas"]

    manifest = instance_services.manifest_of(running)
    manifest["spec"]["version"] = "1.6.5"
    manifest["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.update_instance(actor=owner, instance=running, manifest=manifest)
    synced_until(running, lambda i: i.settled and i.phase == "Running", "the update")
    sts = sandbox_object(sandbox, "apps/v1", "StatefulSet", running.namespace, "mem1-memcached")
    pod_spec = sts["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["image"].endswith("memcached:1.6.5")
    assert pod_spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    renamed = {**manifest, "metadata": {**manifest["metadata"], "name": "other"}}
    with pytest.raises(ValidationError) as exc:
        instance_services.update_instance(actor=owner, instance=running, manifest=renamed)
    assert "cannot change" in exc.value.message_dict["metadata.name"][0]

    with django_capture_on_commit_callbacks(execute=True):
        instance_services.request_delete(actor=owner, instance=running)
    running.refresh_from_db()
    assert running.status == "deleted" and running.deleted_at is not None
    ns = running.namespace
    assert sandbox_object(sandbox, MC, "MemcachedCluster", ns, "mem1") is None

    def children_gone():
        return sandbox_object(sandbox, "apps/v1", "StatefulSet", ns, "mem1-memcached") is None

    wait_until(children_gone, timeout=10, message="garbage collection of the StatefulSet")
    # The name is free again.
    again = create(running.installation, django_capture_on_commit_callbacks)
    assert again.pk != running.pk


def test_an_edit_the_operator_has_not_seen_yet_is_not_settled(running):
    """Right after an edit the API server has bumped metadata.generation while the status
    still says Running for the spec before it: the instance is not settled until the
    operator's status.observedGeneration catches up (else the old state reads as done)."""
    from clusters import kube

    gateway = kube.gateway_for(running.cluster)
    ns, name = running.namespace, running.name
    current = gateway.get(running.api_version_full, running.kind, name, ns)
    selector = f"memcached_cr={name}"
    pods = gateway.list("v1", "Pod", ns, label_selector=selector)
    services_ = gateway.list("v1", "Service", ns, label_selector=selector)
    seen = current["status"]["observedGeneration"]
    assert seen == current["metadata"]["generation"]
    assert instance_tasks.observe(running, current, pods=pods, services_=services_)["settled"]

    edited = {**current, "metadata": {**current["metadata"], "generation": seen + 1}}
    observed = instance_tasks.observe(running, edited, pods=pods, services_=services_)
    assert observed["status"] == "running" and observed["settled"] is False


def test_names_are_unique_among_live_instances_and_keys_are_idempotent(
    running, django_capture_on_commit_callbacks
):
    with pytest.raises(ValidationError) as exc:
        create(running.installation, django_capture_on_commit_callbacks)
    assert "already exists" in exc.value.message_dict["metadata.name"][0]
    installation = running.installation
    with django_capture_on_commit_callbacks(execute=True):
        first = instance_services.request_instance(
            actor=installation.created_by,
            installation=installation,
            manifest=cr(name="keyed", namespace=installation.namespace),
            request_key="k-1",
        )
        again = instance_services.request_instance(
            actor=installation.created_by,
            installation=installation,
            manifest=cr(name="keyed", namespace=installation.namespace),
            request_key="k-1",
        )
    assert first.pk == again.pk
    assert OperandInstance.objects.filter(name="keyed").count() == 1


def test_sync_costs_one_list_call_per_kind_per_cluster(
    installed, sandbox, django_capture_on_commit_callbacks, settings
):
    for name in ("a1", "a2", "a3"):
        create(installed, django_capture_on_commit_callbacks, name=name, replicas=1)
    instance_tasks.sync_instances(installed.cluster_id, force=True)  # discovery warmed up
    # Many namespaces: one paged, label-selected list per kind for the whole cluster.
    settings.KUBE_PER_NAMESPACE_LISTS_UP_TO = 0
    sandbox.clear_request_log()
    assert instance_tasks.sync_instances(installed.cluster_id, force=True) == 3
    gets = [r for r in sandbox.request_log if r.method == "GET" and "continue" not in r.query]
    assert sorted(r.path for r in gets) == sorted(
        [
            "/apis/daas.tenxcloud.com/v1/memcachedclusters",
            "/api/v1/pods",
            "/api/v1/services",
            "/apis/apps/v1/statefulsets",
            "/api/v1/events",
        ]
    )
    assert all(r.query.get("limit") == str(settings.KUBE_LIST_PAGE_SIZE) for r in gets)
    assert {
        r.query.get("labelSelector")
        for r in gets
        if r.path.endswith(("pods", "services", "statefulsets"))
    } == {"memcached_cr"}
    # Few namespaces: one list per kind in each of ours, none across the cluster.
    settings.KUBE_PER_NAMESPACE_LISTS_UP_TO = 8
    sandbox.clear_request_log()
    assert instance_tasks.sync_instances(installed.cluster_id, force=True) == 3
    ns = installed.namespace
    assert sorted(r.path for r in sandbox.request_log if r.method == "GET") == sorted(
        [
            f"/apis/daas.tenxcloud.com/v1/namespaces/{ns}/memcachedclusters",
            f"/api/v1/namespaces/{ns}/pods",
            f"/api/v1/namespaces/{ns}/services",
            f"/apis/apps/v1/namespaces/{ns}/statefulsets",
            f"/api/v1/namespaces/{ns}/events",
        ]
    )


def test_external_access_on_a_node_port_then_removed(
    running, sandbox, sandbox_cluster, django_capture_on_commit_callbacks
):
    owner = running.created_by
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.set_external_access(actor=owner, instance=running, enabled=True)
    running.refresh_from_db()
    service = sandbox_object(sandbox, "v1", "Service", running.namespace, "mem1-mcrouter-external")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["selector"] == {"app": "mcrouter", "memcached_cr": "mem1"}
    node_port = service["spec"]["ports"][0]["nodePort"]
    assert running.access_state == "exposed" and running.access_type == "NodePort"
    # No external host set: the first Ready node's InternalIP, as `kubectl get node -o wide`.
    assert running.access_address == f"127.{sandbox.network.base}.0.11:{node_port}"
    assert running.events.filter(reason="Exposed").exists()
    synced_until(running, lambda i: any(s["external"] for s in i.services), "the external Service")

    with django_capture_on_commit_callbacks(execute=True):
        instance_services.set_external_access(actor=owner, instance=running, enabled=False)
    running.refresh_from_db()
    assert running.access_state == "none" and running.access_address == ""
    assert (
        sandbox_object(sandbox, "v1", "Service", running.namespace, "mem1-mcrouter-external")
        is None
    )

    sandbox_cluster.external_host = "192.168.2.65"
    sandbox_cluster.save()
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.set_external_access(actor=owner, instance=running, enabled=True)
    running.refresh_from_db()
    assert running.access_address.startswith("192.168.2.65:")


def test_external_access_through_a_load_balancer(
    running, sandbox, sandbox_cluster, django_capture_on_commit_callbacks
):
    sandbox_cluster.external_access = "LoadBalancer"
    sandbox_cluster.save()
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.set_external_access(
            actor=running.created_by, instance=running, enabled=True
        )
    synced_until(running, lambda i: i.access_state == "exposed", "the load balancer's address")
    assert running.access_type == "LoadBalancer"
    assert running.access_address.startswith(f"127.{sandbox.network.base}.255.")
    assert running.access_address.endswith(":11211")


def test_an_expired_entitlement_blocks_new_instances_but_not_the_running_ones(
    running, buyer, time_machine, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    entitlement = buyer.entitlements.get()
    time_machine.move_to(entitlement.ends_at + timezone.timedelta(days=1))
    with pytest.raises(ValidationError) as exc:
        create(running.installation, django_capture_on_commit_callbacks, name="later")
    message = exc.value.message_dict["entitlement"][0]
    assert "ended on" in message and f"/orders/purchased/{entitlement.pk}/renew/" in message
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.scale_instance(actor=buyer.owner, instance=running, replicas=1)
    synced_until(running, lambda i: i.desired_replicas == 1 and i.settled, "scaled to 1")


def test_uninstall_counts_the_instances_and_deletes_them_when_confirmed(
    running, sandbox, django_capture_on_commit_callbacks
):
    installation = running.installation
    assert services.instance_count(installation) == 1
    with pytest.raises(ValidationError) as exc:
        services.request_uninstall(actor=installation.created_by, installation=installation)
    assert "1 instance(s)" in exc.value.message_dict["delete_instances"][0]
    with django_capture_on_commit_callbacks(execute=True):
        services.request_uninstall(
            actor=installation.created_by, installation=installation, delete_instances=True
        )
    installation.refresh_from_db()
    running.refresh_from_db()
    assert installation.status == "uninstalled"
    assert running.status == "deleted"
    assert sandbox_object(sandbox, MC, "MemcachedCluster", running.namespace, "mem1") is None
    assert services.instance_count(installation) == 0


def test_cluster_errors_are_retried_then_fail_with_the_reason_and_an_edit_retries(
    installed, sandbox_faults, django_capture_on_commit_callbacks
):
    sandbox_faults.error_rate = 1.0
    instance = create(installed, django_capture_on_commit_callbacks)
    instance.refresh_from_db()
    assert instance.status == "failed" and "500" in instance.failure_reason
    sandbox_faults.reset()
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.update_instance(
            actor=installed.created_by,
            instance=instance,
            manifest=instance_services.manifest_of(instance),
        )
    follow(instance, {"running"})
    assert instance.failure_reason == ""


def test_a_custom_resource_deleted_outside_the_platform_is_reported(
    running, sandbox_cluster, django_capture_on_commit_callbacks
):
    from clusters import kube

    kube.gateway_for(sandbox_cluster).delete(MC, "MemcachedCluster", "mem1", running.namespace)
    synced_until(running, lambda i: i.status == "failed", "the instance to be failed")
    assert "deleted outside the platform" in running.failure_reason


def test_not_installed_operators_refuse_new_instances(
    buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
):
    installation = Installation.objects.create(
        tenant=buyer,
        project=buyer.project,
        cluster=sandbox_cluster,
        asset=on_sale_version.asset,
        version=on_sale_version,
        namespace=buyer.project.namespace,
        package="memcached-cluster-operator",
        channel="stable",
        catalog_source="mem-registry",
        catalog_namespace="olm",
        status="installing",
    )
    with pytest.raises(ValidationError) as exc:
        create(installation, django_capture_on_commit_callbacks, actor=buyer.owner)
    assert "installed" in exc.value.message_dict["installation"][0]


def test_service_catalog_installs_the_operator_then_creates_and_exposes(
    buyer, on_sale_version, sandbox_cluster, clean_namespace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        instance = instance_services.request_catalog_instance(
            actor=buyer.owner,
            tenant=buyer,
            asset=on_sale_version.asset,
            project=buyer.project,
            cluster=sandbox_cluster,
            manifest=cr(name="mm2", namespace=buyer.project.namespace, replicas=3),
            expose=True,
            request_key="catalog-1",
        )
    assert instance.status == "pending" and instance.origin == "catalog"
    installation = instance.installation
    assert installation.request_key == "catalog:catalog-1"
    assert instance.enqueued_at is None  # waits for its operator

    def done():
        tasks.sync_cluster(sandbox_cluster.pk, force=True)
        instance_tasks.sync_instances(sandbox_cluster.pk)
        instance.refresh_from_db()
        return instance.status == "running" and instance.access_state == "exposed"

    wait_until(done, timeout=30, message="operator installed, instance running and exposed")
    assert instance.ready_replicas == 3 and instance.access_address
    # The same request again is the same instance (the form's idempotency key).
    again = instance_services.request_catalog_instance(
        actor=buyer.owner,
        tenant=buyer,
        asset=on_sale_version.asset,
        project=buyer.project,
        cluster=sandbox_cluster,
        manifest=cr(name="mm2", namespace=buyer.project.namespace),
        request_key="catalog-1",
    )
    assert again.pk == instance.pk


def test_pod_logs_through_the_kubernetes_api(running, django_capture_on_commit_callbacks):
    pod = running.pods[0]["name"]
    with django_capture_on_commit_callbacks(execute=True):
        log = instance_services.request_logs(
            actor=running.created_by, instance=running, pod=pod, tail_lines=3
        )
    log.refresh_from_db()
    assert not log.is_fetching and log.error == ""
    assert 0 < len(log.text.strip().splitlines()) <= 3
    with pytest.raises(ValidationError) as exc:
        instance_services.request_logs(actor=running.created_by, instance=running, pod="nope")
    assert "pod" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        instance_services.request_logs(
            actor=running.created_by, instance=running, pod=pod, tail_lines=0
        )
    assert "tail" in exc.value.message_dict

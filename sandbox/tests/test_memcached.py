"""The simulated memcached operator, pods, services, events and pod logs."""

import ipaddress
import json

import pytest
from kubernetes import client
from kubernetes.dynamic.exceptions import UnprocessibleEntityError

from .conftest import api_client, wait_for

MC = "daas.tenxcloud.com/v1"
RESOURCES = {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "1", "memory": "512Mi"}}


@pytest.fixture
def operator_ns(kube):
    ns = kube.namespace("mem")
    kube.install_operator(ns)
    return ns


def create_mc(kube, ns, name="memcached-test", **spec):
    body = {
        "apiVersion": MC,
        "kind": "MemcachedCluster",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "version": "v1.5",
            "setup": "sharded",
            "resources": RESOURCES,
            **spec,
        },
    }
    return kube.r(MC, "MemcachedCluster").create(namespace=ns, body=body)


def mc_status(kube, ns, name="memcached-test"):
    return kube.status(MC, "MemcachedCluster", name, ns)


def running(kube, ns, name="memcached-test"):
    return wait_for(lambda: mc_status(kube, ns, name).get("phase") == "Running", message="Running")


def mcrouter_config(kube, ns, name="memcached-test"):
    cm = kube.get("v1", "ConfigMap", f"{name}-mcrouter", ns)
    return json.loads(cm.data["config.json"])


def test_sharded_cluster_children(kube, operator_ns):
    ns = operator_ns
    mc = create_mc(kube, ns, nodeSelector={"kubernetes.io/os": "linux"})
    assert mc.metadata.generation == 1
    first = wait_for(lambda: mc_status(kube, ns).get("phase"))
    assert first in ("Creating", "Running")
    running(kube, ns)
    status = mc_status(kube, ns)
    assert status["readyReplicas"] == 2 and status["replicas"] == 2
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert ready["status"] == "True"

    sts = kube.get("apps/v1", "StatefulSet", "memcached-test-memcached", ns)
    assert sts.spec.replicas == 2 and sts.status.readyReplicas == 2
    container = sts.spec.template.spec.containers[0]
    assert container.image == "dev-registry.tenxcloud.com/system_containers/memcached:v1.5"
    assert container.resources.to_dict() == RESOURCES
    assert sts.spec.template.spec.nodeSelector.to_dict() == {"kubernetes.io/os": "linux"}
    owner = sts.metadata.ownerReferences[0]
    assert (owner.kind, owner.name, owner.controller) == (
        "MemcachedCluster",
        "memcached-test",
        True,
    )

    dep = kube.get("apps/v1", "Deployment", "memcached-test-mcrouter", ns)
    assert dep.spec.replicas == 2 and dep.status.readyReplicas == 2

    headless = kube.get("v1", "Service", "memcached-test-memcached", ns)
    assert headless.spec.clusterIP == "None" and headless.spec.ports[0].port == 11211
    svc = kube.get("v1", "Service", "memcached-test-mcrouter-service", ns)
    base = kube.sb.network.base
    assert svc.spec.type == "ClusterIP"
    assert ipaddress.ip_address(svc.spec.clusterIP) in ipaddress.ip_network(f"127.{base}.128.0/17")
    assert (svc.spec.ports[0].port, svc.spec.ports[0].protocol) == (11211, "TCP")

    config = mcrouter_config(kube, ns)
    assert config["route"] == "PoolRoute|A"
    assert config["pools"]["A"]["servers"] == [
        f"memcached-test-memcached-{i}.memcached-test-memcached.{ns}.svc.cluster.local:11211"
        for i in range(2)
    ]

    pods = kube.r("v1", "Pod").get(namespace=ns, label_selector="memcached_cr=memcached-test").items
    names = sorted(p.metadata.name for p in pods)
    assert names[-2:] == ["memcached-test-memcached-0", "memcached-test-memcached-1"]
    mcrouter = [n for n in names if n.startswith("memcached-test-mcrouter-")]
    assert len(mcrouter) == 2 and all(len(n.split("-")) == 5 for n in mcrouter)
    nodes = {f"sandbox-node-{i}" for i in (1, 2, 3)}
    for pod in pods:
        assert pod.status.phase == "Running"
        node_index = int(pod.spec.nodeName.rsplit("-", 1)[1])
        assert pod.status.hostIP == f"127.{base}.0.{10 + node_index}"
        assert pod.status.podIP.startswith(f"127.{base}.{node_index}.")
        assert pod.spec.nodeName in nodes
        (cs,) = pod.status.containerStatuses
        assert cs.ready is True and cs.restartCount == 0

    reasons = {e["reason"] for e in kube.events(ns, **{"involvedObject.name": "memcached-test"})}
    assert {"Created", "Running"} <= reasons
    created = kube.events(
        ns, reason="SuccessfulCreate", **{"involvedObject.name": "memcached-test-memcached"}
    )
    assert created and created[0]["source"]["component"] == "statefulset-controller"
    event = created[0]
    assert event["involvedObject"]["kind"] == "StatefulSet" and event["count"] >= 1
    assert event["firstTimestamp"] and event["lastTimestamp"] and event["type"] == "Normal"


def test_replset_routes(kube, operator_ns):
    create_mc(kube, operator_ns, name="rs", setup="replset", replicas=3)
    running(kube, operator_ns, "rs")
    route = mcrouter_config(kube, operator_ns, "rs")["route"]
    assert route["type"] == "OperationSelectorRoute"
    assert route["operation_policies"] == {
        "add": "AllSyncRoute|Pool|A",
        "delete": "AllSyncRoute|Pool|A",
        "set": "AllSyncRoute|Pool|A",
    }
    assert route["default_policy"] == "MissFailoverRoute|Pool|A"
    assert len(mcrouter_config(kube, operator_ns, "rs")["pools"]["A"]["servers"]) == 3


def test_scaling_up_and_down(kube, operator_ns):
    ns = operator_ns
    mcs = kube.r(MC, "MemcachedCluster")
    create_mc(kube, ns, name="scale", replicas=1)
    running(kube, ns, "scale")
    mc = mcs.patch(
        namespace=ns,
        name="scale",
        body={"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )
    assert mc.metadata.generation == 2
    wait_for(lambda: mc_status(kube, ns, "scale").get("phase") == "Scaling")
    wait_for(lambda: mc_status(kube, ns, "scale").get("readyReplicas") == 3)
    running(kube, ns, "scale")
    pods = (
        kube.r("v1", "Pod")
        .get(namespace=ns, label_selector="app=memcached,memcached_cr=scale")
        .items
    )
    assert sorted(p.metadata.name for p in pods) == [f"scale-memcached-{i}" for i in range(3)]
    assert len(mcrouter_config(kube, ns, "scale")["pools"]["A"]["servers"]) == 3
    mcs.patch(
        namespace=ns,
        name="scale",
        body={"spec": {"replicas": 1}},
        content_type="application/merge-patch+json",
    )
    wait_for(
        lambda: (
            [
                p.metadata.name
                for p in kube.r("v1", "Pod")
                .get(namespace=ns, label_selector="app=memcached,memcached_cr=scale")
                .items
            ]
            == ["scale-memcached-0"]
        )
    )
    running(kube, ns, "scale")
    scaled = kube.events(ns, reason="Scaled", **{"involvedObject.name": "scale"})
    assert scaled


def test_version_change_rolls_pods(kube, operator_ns):
    ns = operator_ns
    create_mc(kube, ns, name="ver", replicas=1)
    running(kube, ns, "ver")
    kube.r(MC, "MemcachedCluster").patch(
        namespace=ns,
        name="ver",
        body={"spec": {"version": "1.6.5"}},
        content_type="application/merge-patch+json",
    )
    image = "dev-registry.tenxcloud.com/system_containers/memcached:1.6.5"
    wait_for(lambda: kube.get("v1", "Pod", "ver-memcached-0", ns).spec.containers[0].image == image)
    running(kube, ns, "ver")
    assert mc_status(kube, ns, "ver")["version"] == "1.6.5"


def test_validation_like_the_crd_schema(kube, operator_ns):
    with pytest.raises(UnprocessibleEntityError) as exc:
        create_mc(kube, operator_ns, name="bad", setup="x")
    status = json.loads(exc.value.body)
    assert status["message"] == (
        'MemcachedCluster.daas.tenxcloud.com "bad" is invalid: spec.setup: Unsupported value: '
        '"x": supported values: "sharded", "replset"'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "x": supported values: "sharded", "replset"',
            "field": "spec.setup",
        }
    ]
    with pytest.raises(UnprocessibleEntityError) as exc:
        create_mc(kube, operator_ns, name="bad", replicas=0)
    cause = json.loads(exc.value.body)["details"]["causes"][0]
    assert cause["field"] == "spec.replicas" and "greater than or equal to 1" in cause["message"]
    # Defaults from the schema fill what is left out.
    defaulted = kube.r(MC, "MemcachedCluster").create(
        namespace=operator_ns,
        body={
            "apiVersion": MC,
            "kind": "MemcachedCluster",
            "metadata": {"name": "dflt"},
            "spec": {"setup": "replset"},
        },
    )
    assert (defaulted.spec.replicas, defaulted.spec.version) == (1, "v1.5")


def test_unschedulable_pods_are_reported(kube, operator_ns):
    create_mc(kube, operator_ns, name="nowhere", replicas=1, nodeSelector={"disk": "ssd"})
    ready = wait_for(
        lambda: (
            {
                c["type"]: c for c in mc_status(kube, operator_ns, "nowhere").get("conditions", [])
            }.get("Ready", {}).get("reason")
            == "PodsUnschedulable"
            and mc_status(kube, operator_ns, "nowhere")
        )
    )
    assert ready["phase"] == "Creating"
    pod = kube.get("v1", "Pod", "nowhere-memcached-0", operator_ns)
    assert pod.status.phase == "Pending"
    assert kube.events(operator_ns, reason="FailedScheduling")[0]["type"] == "Warning"


def test_deleting_the_cluster_garbage_collects_children(kube, operator_ns):
    ns = operator_ns
    create_mc(kube, ns, name="gc", replicas=1)
    running(kube, ns, "gc")
    deleted = kube.r(MC, "MemcachedCluster").delete(namespace=ns, name="gc")
    assert deleted.kind == "MemcachedCluster"

    def leftovers():
        found = []
        for api_version, kind in [
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "Deployment"),
            ("apps/v1", "ReplicaSet"),
            ("v1", "Service"),
            ("v1", "ConfigMap"),
            ("v1", "Pod"),
        ]:
            found += [
                o.metadata.name
                for o in kube.r(api_version, kind).get(namespace=ns).items
                if o.metadata.name.startswith("gc-")
            ]
        return found

    wait_for(lambda: not leftovers())


def test_operator_does_nothing_where_it_is_not_installed(kube, operator_ns):
    other = kube.namespace()
    create_mc(kube, other, name="orphan")
    kube.sb.tick()
    kube.sb.tick()
    assert mc_status(kube, other, "orphan") == {}


def test_node_ports_and_load_balancers(kube, ns):
    services = kube.r("v1", "Service")
    node_port = services.create(
        namespace=ns,
        body={
            "metadata": {"name": "np"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "x"},
                "ports": [{"port": 11211, "name": "a"}, {"port": 80, "name": "b"}],
            },
        },
    )
    ports = [p.nodePort for p in node_port.spec.ports]
    assert all(30000 <= p <= 32767 for p in ports) and len(set(ports)) == 2
    assert node_port.spec.ports[0].targetPort == 11211 and node_port.spec.ports[0].protocol == "TCP"
    lb = services.create(
        namespace=ns,
        body={
            "metadata": {"name": "lb"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 11211}]},
        },
    )
    assert 30000 <= lb.spec.ports[0].nodePort <= 32767
    ingress = wait_for(
        lambda: (services.get(namespace=ns, name="lb").status.loadBalancer or {}).get("ingress")
    )
    assert ingress[0]["ip"]
    # A taken node port is refused, as the allocator does.
    with pytest.raises(UnprocessibleEntityError) as exc:
        services.create(
            namespace=ns,
            body={
                "metadata": {"name": "dup"},
                "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": ports[0]}]},
            },
        )
    assert "provided port is already allocated" in json.loads(exc.value.body)["message"]
    # Switching an existing ClusterIP service to NodePort allocates; its clusterIP stays.
    plain = services.create(
        namespace=ns, body={"metadata": {"name": "plain"}, "spec": {"ports": [{"port": 11211}]}}
    )
    assert plain.spec.ports[0].to_dict().get("nodePort") is None
    switched = services.patch(
        namespace=ns,
        name="plain",
        body={"spec": {"type": "NodePort"}},
        content_type="application/merge-patch+json",
    )
    assert switched.spec.ports[0].nodePort and switched.spec.clusterIP == plain.spec.clusterIP


def test_pod_logs(kube, sandbox, operator_ns):
    ns = operator_ns
    create_mc(kube, ns, name="logs", replicas=1)
    running(kube, ns, "logs")
    core = client.CoreV1Api(api_client(sandbox))
    text = core.read_namespaced_pod_log("logs-memcached-0", ns)
    assert "server listening" in text and text.endswith("\n")
    tail = core.read_namespaced_pod_log("logs-memcached-0", ns, tail_lines=2)
    assert tail.splitlines() == text.splitlines()[-2:]
    assert core.read_namespaced_pod_log("logs-memcached-0", ns, tail_lines=0) == ""
    stamped = core.read_namespaced_pod_log("logs-memcached-0", ns, tail_lines=1, timestamps=True)
    assert stamped.split(" ", 1)[0].endswith("Z")
    mcrouter = (
        kube.r("v1", "Pod")
        .get(namespace=ns, label_selector="app=mcrouter,memcached_cr=logs")
        .items[0]
    )
    # A sharded router is Debian's nutcracker: its own output is the log.
    assert "nutcracker-0.5" in core.read_namespaced_pod_log(
        mcrouter.metadata.name, ns, container="mcrouter"
    )
    with pytest.raises(client.ApiException) as exc:
        core.read_namespaced_pod_log("logs-memcached-0", ns, container="nope")
    assert exc.value.status == 400
    assert (
        json.loads(exc.value.body)["message"]
        == "container nope is not valid for pod logs-memcached-0"
    )
    with pytest.raises(client.ApiException) as exc:
        core.read_namespaced_pod_log("no-such-pod", ns)
    assert exc.value.status == 404

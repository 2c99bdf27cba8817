"""What really runs: memcached per pod, the routers, the kube-proxy, and their lifecycle.

A user reaches these with telnet or a memcached client at the addresses the API shows
(pod IPs, ClusterIPs, node ports, LoadBalancer IPs), all on this machine's 127.N.0.0/16.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from kubernetes import client
from pymemcache.client.base import Client

from sandbox.server import SandboxCluster

from .conftest import TOKEN, Kube, api_client, make_dynamic_client, wait_for

MC = "daas.tenxcloud.com/v1"
ROOT = Path(__file__).resolve().parents[2]


def memcache(ip: str, port: int = 11211) -> Client:
    return Client((ip, port), connect_timeout=2, timeout=2)


def refused(ip: str, port: int = 11211) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((ip, port)) != 0


def create(kube: Kube, ns: str, name: str, *, setup: str, replicas: int) -> None:
    kube.r(MC, "MemcachedCluster").create(
        namespace=ns,
        body={
            "apiVersion": MC,
            "kind": "MemcachedCluster",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "setup": setup,
                "resources": {"limits": {"memory": "32Mi"}},
            },
        },
    )


def phase(kube: Kube, ns: str, name: str) -> str | None:
    return kube.status(MC, "MemcachedCluster", name, ns).get("phase")


def running(kube: Kube, ns: str, name: str, timeout: float = 20) -> None:
    wait_for(lambda: phase(kube, ns, name) == "Running", timeout=timeout, message=f"{name} Running")


def pods(kube: Kube, ns: str, name: str, app: str = "memcached") -> list:
    return (
        kube.r("v1", "Pod").get(namespace=ns, label_selector=f"app={app},memcached_cr={name}").items
    )


def router_ip(kube: Kube, ns: str, name: str) -> str:
    return kube.get("v1", "Service", f"{name}-mcrouter-service", ns).spec.clusterIP


def holders(kube: Kube, ns: str, name: str, key: str) -> list[str]:
    """Names of the memcached pods that hold `key`, read directly from each pod IP."""
    return sorted(
        p.metadata.name
        for p in pods(kube, ns, name)
        if memcache(p.status.podIP).get(key) is not None
    )


@pytest.fixture
def operator_ns(kube):
    ns = kube.namespace("net")
    kube.install_operator(ns)
    yield ns
    kube.r("v1", "Namespace").delete(name=ns)  # its processes stop: the next tests have room


def test_replset_writes_reach_every_pod_through_the_router_and_the_exits(kube, operator_ns):
    ns = operator_ns
    create(kube, ns, "rs", setup="replset", replicas=3)
    running(kube, ns, "rs")
    assert memcache(router_ip(kube, ns, "rs")).set("hello", "world", noreply=False) is True
    names = [f"rs-memcached-{i}" for i in range(3)]
    assert holders(kube, ns, "rs", "hello") == names
    assert memcache(router_ip(kube, ns, "rs")).get("hello") == b"world"

    # The exits a user is given: a NodePort on every node, a LoadBalancer IP.
    services = kube.r("v1", "Service")
    for kind in ("NodePort", "LoadBalancer"):
        services.create(
            namespace=ns,
            body={
                "metadata": {"name": f"rs-{kind.lower()}"},
                "spec": {
                    "type": kind,
                    "selector": {"app": "mcrouter", "memcached_cr": "rs"},
                    "ports": [{"port": 11211, "targetPort": 11211}],
                },
            },
        )
    node_port = services.get(namespace=ns, name="rs-nodeport").spec.ports[0].nodePort
    nodes = [
        next(a.address for a in n.status.addresses if a.type == "InternalIP")
        for n in kube.r("v1", "Node").get().items
    ]
    for i, node in enumerate(nodes):
        wait_for(lambda node=node: not refused(node, node_port), message=f"{node}:{node_port}")
        memcache(node, node_port).set(f"via-node-{i}", "1", noreply=False)
        assert holders(kube, ns, "rs", f"via-node-{i}") == names
    ingress = wait_for(
        lambda: services.get(namespace=ns, name="rs-loadbalancer").status.loadBalancer.ingress,
        message="LoadBalancer ingress",
    )
    lb_ip = ingress[0].ip
    assert lb_ip.startswith(f"127.{kube.sb.network.base}.255.")
    wait_for(lambda: not refused(lb_ip), message=f"{lb_ip}:11211")
    memcache(lb_ip).set("via-lb", "1", noreply=False)
    assert holders(kube, ns, "rs", "via-lb") == names

    # A delete through the router reaches every pod too; a get fails over past a miss.
    memcache(router_ip(kube, ns, "rs")).delete("hello", noreply=False)
    assert holders(kube, ns, "rs", "hello") == []
    memcache(pods(kube, ns, "rs")[-1].status.podIP).set("only-last", "x")
    assert memcache(router_ip(kube, ns, "rs")).get("only-last") == b"x"

    services.delete(namespace=ns, name="rs-nodeport")
    wait_for(lambda: all(refused(node, node_port) for node in nodes), message="node port closed")


def test_sharded_keys_live_on_exactly_one_pod(kube, operator_ns):
    ns = operator_ns
    create(kube, ns, "sh", setup="sharded", replicas=3)
    running(kube, ns, "sh")
    router = memcache(router_ip(kube, ns, "sh"))
    keys = [f"user:{i}" for i in range(30)]
    for key in keys:
        assert router.set(key, "v", noreply=False) is True
    placement = {key: holders(kube, ns, "sh", key) for key in keys}
    assert all(len(where) == 1 for where in placement.values()), placement
    assert len({where[0] for where in placement.values()}) == 3  # consistent hashing spreads them
    assert all(router.get(key) == b"v" for key in keys)


def test_scaling_starts_and_stops_processes_and_reconfigures_the_router(kube, operator_ns):
    ns = operator_ns
    create(kube, ns, "sc", setup="replset", replicas=1)
    running(kube, ns, "sc")
    mcs = kube.r(MC, "MemcachedCluster")
    patch = {"content_type": "application/merge-patch+json", "namespace": ns, "name": "sc"}
    mcs.patch(body={"spec": {"replicas": 3}}, **patch)
    wait_for(lambda: len(pods(kube, ns, "sc")) == 3 and phase(kube, ns, "sc") == "Running")
    ips = {p.metadata.name: p.status.podIP for p in pods(kube, ns, "sc")}
    assert all(not refused(ip) for ip in ips.values())
    # The router now writes to all three.
    wait_for(
        lambda: (
            memcache(router_ip(kube, ns, "sc")).set("k", "v", noreply=False)
            and holders(kube, ns, "sc", "k") == sorted(ips)
        ),
        message="router writes to 3 pods",
    )

    mcs.patch(body={"spec": {"replicas": 1}}, **patch)
    wait_for(lambda: len(pods(kube, ns, "sc")) == 1 and phase(kube, ns, "sc") == "Running")
    wait_for(lambda: refused(ips["sc-memcached-1"]) and refused(ips["sc-memcached-2"]))
    assert not refused(ips["sc-memcached-0"])
    assert memcache(router_ip(kube, ns, "sc")).set("after", "v", noreply=False) is True


def test_deleting_the_instance_or_the_namespace_stops_its_processes(kube):
    first, second = kube.namespace("net"), kube.namespace("net")
    for ns in (first, second):
        kube.install_operator(ns)
        create(kube, ns, "gone", setup="sharded", replicas=2)
    for ns in (first, second):
        running(kube, ns, "gone")
    addresses = {
        ns: [p.status.podIP for p in pods(kube, ns, "gone")]
        + [p.status.podIP for p in pods(kube, ns, "gone", app="mcrouter")]
        + [router_ip(kube, ns, "gone")]
        for ns in (first, second)
    }
    assert not any(refused(ip) for ips in addresses.values() for ip in ips)
    kube.r(MC, "MemcachedCluster").delete(namespace=first, name="gone")
    kube.r("v1", "Namespace").delete(name=second)
    for ns in (first, second):
        wait_for(lambda ns=ns: all(refused(ip) for ip in addresses[ns]), message=f"{ns} stopped")
    kube.r("v1", "Namespace").delete(name=first)


def test_pod_logs_are_the_real_output(kube, sandbox, operator_ns):
    ns = operator_ns
    create(kube, ns, "lg", setup="replset", replicas=2)
    running(kube, ns, "lg")
    core = client.CoreV1Api(api_client(sandbox))
    pod = pods(kube, ns, "lg")[0]
    memcache(pod.status.podIP).set("logged", "1", noreply=False)

    def memcached_log() -> str:
        return core.read_namespaced_pod_log(pod.metadata.name, ns)

    text = wait_for(lambda: "set logged" in memcached_log() and memcached_log(), message="-vv")
    assert "slab class   1:" in text and "server listening" in text
    router = pods(kube, ns, "lg", app="mcrouter")[0]
    routed = core.read_namespaced_pod_log(router.metadata.name, ns, container="mcrouter")
    assert "replset router" in routed and "pool A: 2 servers" in routed
    stamped = core.read_namespaced_pod_log(pod.metadata.name, ns, tail_lines=1, timestamps=True)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", stamped)


def test_following_a_log_streams_the_real_process_output(kube, sandbox, operator_ns):
    """`kubectl logs -f`: a memcached pod's stream carries what memcached -vv prints next."""
    import threading
    import urllib.request

    ns = operator_ns
    create(kube, ns, "fl", setup="replset", replicas=1)
    running(kube, ns, "fl")
    pod = pods(kube, ns, "fl")[0]
    request = urllib.request.Request(
        f"{sandbox.url}/api/v1/namespaces/{ns}/pods/{pod.metadata.name}/log?follow=true",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    seen: list[bytes] = []
    response = urllib.request.urlopen(request, timeout=20)

    def read() -> None:
        try:
            for line in response:
                seen.append(line)
        except OSError:
            pass

    threading.Thread(target=read, daemon=True).start()
    wait_for(lambda: any(b"server listening" in line for line in seen), message="the start")
    memcache(pod.status.podIP).set("followed-key", "1", noreply=False)
    wait_for(lambda: any(b"set followed-key" in line for line in seen), message="the new -vv line")
    response.close()


def test_the_process_limit_keeps_a_pod_waiting_and_says_why(fresh):
    kube = fresh(max_processes=3)
    ns = kube.namespace("net")
    kube.install_operator(ns)
    create(kube, ns, "lim", setup="replset", replicas=2)  # 2 memcached + 2 routers > 3

    def refused_pod():
        for p in kube.r("v1", "Pod").get(namespace=ns, label_selector="memcached_cr=lim").items:
            for cs in p.status.containerStatuses or []:
                waiting = cs.state.waiting
                if waiting and waiting.reason == "CreateContainerError":
                    return p, waiting.message

    pod, message = wait_for(refused_pod, message="a pod over the limit")
    assert "the limit is 3 (SANDBOX_MAX_PROCESSES)" in message
    assert pod.status.phase == "Pending"
    warnings = kube.events(ns, **{"involvedObject.name": pod.metadata.name}, type="Warning")
    assert any(
        e["reason"] == "Failed" and "SANDBOX_MAX_PROCESSES" in e["message"] for e in warnings
    )
    assert phase(kube, ns, "lim") != "Running"
    assert kube.sb.network.count() == 3

    # Room again (one memcached fewer): the waiting pod starts.
    kube.r(MC, "MemcachedCluster").patch(
        namespace=ns,
        name="lim",
        body={"spec": {"replicas": 1}},
        content_type="application/merge-patch+json",
    )
    running(kube, ns, "lim")
    assert kube.sb.network.count() == 3


def test_a_restart_with_the_state_file_brings_the_processes_back(fresh, tmp_path):
    state = tmp_path / "state.json"
    kube = fresh(state_file=state)
    ns = kube.namespace("net")
    kube.install_operator(ns)
    create(kube, ns, "rst", setup="replset", replicas=2)
    running(kube, ns, "rst")
    base = kube.sb.network.base
    ips = sorted(p.status.podIP for p in pods(kube, ns, "rst"))
    router = router_ip(kube, ns, "rst")
    kube.sb.stop()
    assert all(refused(ip) for ip in [*ips, router])

    again = SandboxCluster(port=0, token=TOKEN, tick_interval=0.05, state_file=state).start()
    try:
        kube2 = Kube(again, make_dynamic_client(again))
        assert again.network.base == base
        assert sorted(p.status.podIP for p in pods(kube2, ns, "rst")) == ips
        wait_for(lambda: not any(refused(ip) for ip in [*ips, router]), message="back")
        running(kube2, ns, "rst")
        # Seen once under the full suite's load: one refused connect right after Running.
        wait_for(lambda: not refused(router), message="router listening")
        assert memcache(router).set("again", "1", noreply=False) is True
        assert len(holders(kube2, ns, "rst", "again")) == 2
    finally:
        again.stop()


def test_nothing_runs_with_processes_off(fresh):
    kube = fresh(run_processes=False)
    ns = kube.namespace("net")
    kube.install_operator(ns)
    create(kube, ns, "off", setup="replset", replicas=1)
    running(kube, ns, "off")  # simulated: Running at once, as before
    assert kube.sb.network.count() == 0
    assert refused(pods(kube, ns, "off")[0].status.podIP)
    assert refused(router_ip(kube, ns, "off"))


def _processes_of(base: int) -> list[str]:
    """Command lines of live processes bound to this sandbox's 127.<base>.x.x addresses."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f" 127.{base}." in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_sandbox_leaves_no_process_behind(sig):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--token", TOKEN, "--tick", "0.05"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = None
        deadline = time.monotonic() + 20
        assert proc.stdout is not None
        while base is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            m = re.match(r"sandbox network: 127\.(\d+)\.0\.0/16", line)
            if m:
                base = int(m[1])
        assert base is not None, "the sandbox never said its network"
        remote = types.SimpleNamespace(url=f"http://127.0.0.1:{port}")
        kube = Kube(remote, make_dynamic_client(remote))
        ns = kube.namespace("net")
        kube.install_operator(ns)
        create(kube, ns, "kill", setup="sharded", replicas=2)
        running(kube, ns, "kill")
        live = _processes_of(base)
        assert (
            sum("memcached" in c for c in live) == 2 and sum("nutcracker" in c for c in live) == 2
        )
        proc.send_signal(sig)
        proc.wait(timeout=10)
        wait_for(lambda: not _processes_of(base), timeout=10, message="no process left")
        assert refused(router_ip_of(live))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def router_ip_of(cmdlines: list[str]) -> str:
    """The address a nutcracker of these command lines served (its -a stats address)."""
    for cmdline in cmdlines:
        if "nutcracker" in cmdline:
            return cmdline.split(" -a ", 1)[1].split()[0]
    raise AssertionError("no nutcracker")


def test_a_memcached_that_dies_is_restarted_as_the_kubelet_does(kube, operator_ns):
    ns = operator_ns
    create(kube, ns, "crash", setup="replset", replicas=1)
    running(kube, ns, "crash")
    (pod,) = pods(kube, ns, "crash")
    (record,) = [r for r in kube.sb.network.records.values() if r.pod == "crash-memcached-0"]
    assert record.proc is not None
    os.kill(record.proc.pid, signal.SIGKILL)

    def restarted():
        (cs,) = pods(kube, ns, "crash")[0].status.containerStatuses
        return cs.restartCount == 1 and cs.ready and cs

    cs = wait_for(restarted, timeout=15, message="restarted and ready")
    assert cs.lastState.terminated.exitCode == 137
    assert not refused(pod.status.podIP)
    backoff = kube.events(ns, reason="BackOff", **{"involvedObject.name": "crash-memcached-0"})
    assert backoff and backoff[0]["type"] == "Warning"


def test_a_state_file_from_before_real_addresses_moves_into_the_network(fresh, tmp_path):
    state = tmp_path / "state.json"
    kube = fresh(state_file=state, run_processes=False)
    ns = kube.namespace("net")
    kube.r("v1", "Service").create(
        namespace=ns,
        body={
            "metadata": {"name": "lb"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        },
    )
    kube.sb.stop()
    data = json.loads(state.read_text())
    del data["network"]  # written before the sandbox had a network
    for record in data["store"]["objects"]:
        obj = record["object"]
        if record["plural"] == "nodes":
            i = obj["metadata"]["name"].rsplit("-", 1)[1]
            obj["status"]["addresses"][0]["address"] = f"10.0.0.{10 + int(i)}"
            obj["spec"]["podCIDR"] = f"10.244.{i}.0/24"
        if record["plural"] == "services" and obj["metadata"]["name"] == "lb":
            obj["spec"]["clusterIP"] = "10.96.3.4"
            obj["spec"]["clusterIPs"] = ["10.96.3.4"]
            obj["status"]["loadBalancer"] = {"ingress": [{"ip": "172.18.255.20"}]}
    state.write_text(json.dumps(data))

    again = fresh(state_file=state, run_processes=False)
    base = again.sb.network.base
    node = again.get("v1", "Node", "sandbox-node-2")
    assert node.status.addresses[0].address == f"127.{base}.0.12"
    assert node.spec.podCIDR == f"127.{base}.2.0/24"
    svc = again.get("v1", "Service", "lb", ns)
    assert svc.spec.clusterIP == f"127.{base}.131.4" and svc.spec.clusterIPs == [svc.spec.clusterIP]
    assert svc.status.loadBalancer.ingress[0].ip == f"127.{base}.255.20"
    again.sb.stop()
    assert json.loads(state.read_text())["network"] == {"base": base}


def test_without_the_memcached_binary_pods_run_simulated(fresh, caplog):
    kube = fresh()
    kube.sb.network.memcached_binary = None  # as on a machine without Debian's memcached
    kube.sb.network.nutcracker_binary = None
    kube.sb.network._said.clear()
    with caplog.at_level("WARNING", logger="sandbox.network"):
        kube.sb.network._say_missing()
        kube.sb.network._say_missing()
    assert sum("no memcached binary" in r.getMessage() for r in caplog.records) == 1
    ns = kube.namespace("net")
    kube.install_operator(ns)
    create(kube, ns, "sim", setup="sharded", replicas=1)
    running(kube, ns, "sim")
    assert refused(pods(kube, ns, "sim")[0].status.podIP)
    assert kube.sb.network.count() == 0

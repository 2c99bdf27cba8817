"""The demo overlay applied with the real kubectl (`apply --server-side`, strict field
validation) to a sandbox cluster over HTTPS, until it reaches the state a real cluster
reports: Deployments Available and rolled out, StatefulSets ready, the migration Job
Complete, every Service with a ClusterIP and its ready pods as Endpoints."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest
import yaml

from sandbox.server import SandboxCluster
from sandbox.tls import ensure_certificates, write_kubeconfig

from .manifests import by_kind, render, require_kubectl

TOKEN = "deploy-test-token"
pytestmark = pytest.mark.skipif(
    not shutil.which("openssl"), reason="needs openssl (the sandbox's CA; Debian package)"
)


class Kubectl:
    def __init__(self, kubeconfig):
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        self.env.pop("KUBERNETES_SERVICE_HOST", None)

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        out = subprocess.run(
            ["kubectl", *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
        return out.stdout

    def json(self, *args: str):
        return json.loads(self("get", *args, "-o", "json"))


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory):
    require_kubectl()
    certs = ensure_certificates(tmp_path_factory.mktemp("tls"))
    sb = SandboxCluster(
        port=0,
        token=TOKEN,
        tick_interval=0.05,
        tls_cert_file=str(certs.cert_file),
        tls_key_file=str(certs.key_file),
    ).start()
    kubeconfig = write_kubeconfig(
        tmp_path_factory.mktemp("kube") / "config",
        server=sb.url,
        ca_file=certs.ca_file,
        token=TOKEN,
    )
    yield Kubectl(kubeconfig)
    sb.stop()


def wait_until(predicate, *, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}: {last!r}")


def table(text: str) -> list[list[str]]:
    """kubectl's human-readable table: rows of cells (columns are 2+ spaces apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def _items(listed: dict) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in listed["items"]}


def _condition(obj: dict, type_: str) -> dict:
    return next(
        (c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == type_), {}
    )


def test_demo_overlay_reaches_the_state_a_real_cluster_reports(kubectl):
    objects = [o for o in render("demo") if o["kind"] != "Namespace"]
    namespace = f"demo-{uuid.uuid4().hex[:8]}"
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    kubectl("create", "namespace", namespace)
    manifest = yaml.safe_dump_all(objects)
    # Strict validation (kubectl's default): any field the API server does not know fails.
    applied = kubectl("apply", "--server-side", "--validate=strict", "-f", "-", stdin=manifest)
    assert applied.count("serverside-applied") == len(objects)

    kubectl(
        "wait", "--for=condition=complete", "job/marketplace-migrate", "-n", namespace,
        "--timeout=60s",
    )  # fmt: skip
    deployments = by_kind(objects, "Deployment")
    statefulsets = by_kind(objects, "StatefulSet")
    for name in deployments:
        kubectl("rollout", "status", f"deployment/{name}", "-n", namespace, "--timeout=60s")
    for name in statefulsets:
        kubectl("rollout", "status", f"statefulset/{name}", "-n", namespace, "--timeout=60s")

    job = kubectl.json("job", "marketplace-migrate", "-n", namespace)
    status = job["status"]
    assert status["succeeded"] == 1 and status["completionTime"] and status["startTime"]
    assert _condition(job, "Complete")["status"] == "True"
    assert "active" not in status and "failed" not in status

    live_deployments = _items(kubectl.json("deployments", "-n", namespace))
    assert set(live_deployments) == set(deployments)
    for name, live in live_deployments.items():
        want = deployments[name]["spec"]["replicas"]
        st = live["status"]
        assert st["observedGeneration"] == live["metadata"]["generation"], name
        assert st["readyReplicas"] == st["availableReplicas"] == st["updatedReplicas"] == want
        assert _condition(live, "Available")["reason"] == "MinimumReplicasAvailable", name
        assert _condition(live, "Progressing")["reason"] == "NewReplicaSetAvailable", name
    beat = live_deployments["marketplace-beat"]
    assert beat["spec"]["strategy"] == {"type": "Recreate"} and beat["spec"]["replicas"] == 1

    live_statefulsets = _items(kubectl.json("statefulsets", "-n", namespace))
    assert set(live_statefulsets) == set(statefulsets)
    pods = _items(kubectl.json("pods", "-n", namespace))
    for name, live in live_statefulsets.items():
        st = live["status"]
        assert st["readyReplicas"] == st["replicas"] == live["spec"]["replicas"], name
        assert st["currentRevision"] == st["updateRevision"], name
        assert f"{name}-0" in pods  # ordinal pod names

    services = by_kind(objects, "Service")
    live_services = _items(kubectl.json("services", "-n", namespace))
    want: dict[str, set[str]] = {}
    for name, svc in services.items():
        assert live_services[name]["spec"]["clusterIP"] not in ("", "None"), name
        selected = [
            p
            for p in pods.values()
            if svc["spec"]["selector"].items() <= (p["metadata"].get("labels") or {}).items()
            and p["status"]["phase"] == "Running"
        ]
        assert selected, name
        want[name] = {p["status"]["podIP"] for p in selected}

    def endpoint_ips():
        listed = _items(kubectl.json("endpoints", "-n", namespace))
        return {
            name: {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}
            for name, ep in listed.items()
        }

    wait_until(lambda: endpoint_ips() == want, timeout=30, message="every Service's endpoints")

    # The web's Endpoints port is the container's named port, resolved.
    web_ep = kubectl.json("endpoints", "marketplace-web", "-n", namespace)
    assert web_ep["subsets"][0]["ports"] == [{"name": "http", "port": 8000, "protocol": "TCP"}]

    # PodDisruptionBudgets and HorizontalPodAutoscalers have the controllers' statuses.
    pdb = wait_until(
        lambda: (
            (p := kubectl.json("pdb", "marketplace-web", "-n", namespace))
            .get("status", {})
            .get("currentHealthy")
            and p
        ),
        timeout=30,
        message="the web's PodDisruptionBudget status",
    )
    assert pdb["status"]["expectedPods"] == deployments["marketplace-web"]["spec"]["replicas"]
    hpa = wait_until(
        lambda: (
            _condition(
                h := kubectl.json("hpa", "marketplace-worker", "-n", namespace), "ScalingActive"
            )
            and h
        ),
        timeout=30,
        message="the worker's HPA status",
    )
    # No metrics-server (as in the sandbox): a real cluster says exactly this.
    assert _condition(hpa, "ScalingActive")["reason"] == "FailedGetResourceMetric"

    # Applying again changes nothing (a Job's template is immutable: the same one passes).
    generations = {
        name: live["metadata"]["generation"]
        for name, live in _items(kubectl.json("deployments", "-n", namespace)).items()
    }
    kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    after = _items(kubectl.json("deployments", "-n", namespace))
    assert {name: live["metadata"]["generation"] for name, live in after.items()} == generations


def test_kubectl_get_prints_the_servers_columns_for_the_new_kinds(kubectl):
    """After the apply above (same module sandbox): the columns a 1.29 server sends."""
    namespace = next(
        ns["metadata"]["name"]
        for ns in kubectl.json("namespaces")["items"]
        if ns["metadata"]["name"].startswith("demo-")
    )
    header, row = table(kubectl("get", "job", "marketplace-migrate", "-n", namespace))
    assert header == ["NAME", "COMPLETIONS", "DURATION", "AGE"]
    assert row[:2] == ["marketplace-migrate", "1/1"] and row[2].endswith("s")
    header, row = table(kubectl("get", "hpa", "marketplace-web", "-n", namespace))
    assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert row[:6] == [
        "marketplace-web",
        "Deployment/marketplace-web",
        "<unknown>/70%",
        "1",
        "6",
        "1",
    ]
    header, row = table(kubectl("get", "pdb", "marketplace-web", "-n", namespace))
    assert header == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
    assert row[:4] == ["marketplace-web", "1", "N/A", "0"]
    header, row = table(kubectl("get", "ingress", "marketplace", "-n", namespace))
    assert header == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert row[:3] == ["marketplace", "nginx", "market.demo.localhost"] and "80" in row
    header, row = table(kubectl("get", "netpol", "default-deny-ingress", "-n", namespace))
    assert header == ["NAME", "POD-SELECTOR", "AGE"] and row[:2] == [
        "default-deny-ingress",
        "<none>",
    ]
    header, row = table(kubectl("get", "endpoints", "marketplace-web", "-n", namespace))
    pod_ip = kubectl.json("pods", "-n", namespace, "-l", "app.kubernetes.io/component=web")[
        "items"
    ][0]["status"]["podIP"]
    assert header == ["NAME", "ENDPOINTS", "AGE"] and row[:2] == [
        "marketplace-web",
        f"{pod_ip}:8000",
    ]

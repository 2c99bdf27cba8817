"""The demo overlay applied with the real kubectl (`apply --server-side`, strict field
validation) to a sandbox cluster over HTTPS, until it reaches the state a real cluster
reports: Deployments Available and rolled out, StatefulSets ready, the migration Job
Complete, every Service with a ClusterIP and its ready pods as Endpoints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
import yaml

from sandbox.server import SandboxCluster
from sandbox.tls import ensure_certificates, write_kubeconfig

from .manifests import by_kind, render

TOKEN = "deploy-test-token"
pytestmark = pytest.mark.skipif(
    not (shutil.which("kubectl") and shutil.which("openssl")),
    reason="needs kubectl and openssl (the sandbox's CA)",
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

    for name, manifest_obj in deployments.items():
        live = kubectl.json("deployment", name, "-n", namespace)
        want = manifest_obj["spec"]["replicas"]
        st = live["status"]
        assert st["observedGeneration"] == live["metadata"]["generation"], name
        assert st["readyReplicas"] == st["availableReplicas"] == st["updatedReplicas"] == want
        assert _condition(live, "Available")["reason"] == "MinimumReplicasAvailable", name
        assert _condition(live, "Progressing")["reason"] == "NewReplicaSetAvailable", name
    beat = kubectl.json("deployment", "marketplace-beat", "-n", namespace)
    assert beat["spec"]["strategy"] == {"type": "Recreate"} and beat["spec"]["replicas"] == 1

    for name in statefulsets:
        live = kubectl.json("statefulset", name, "-n", namespace)
        st = live["status"]
        assert st["readyReplicas"] == st["replicas"] == live["spec"]["replicas"], name
        assert st["currentRevision"] == st["updateRevision"], name
        kubectl("get", "pod", f"{name}-0", "-n", namespace)  # ordinal pod names

    pods = kubectl.json("pods", "-n", namespace)["items"]
    for name, svc in by_kind(objects, "Service").items():
        live = kubectl.json("service", name, "-n", namespace)
        assert live["spec"]["clusterIP"] not in ("", "None"), name
        selected = [
            p
            for p in pods
            if svc["spec"]["selector"].items() <= (p["metadata"].get("labels") or {}).items()
            and p["status"]["phase"] == "Running"
        ]
        assert selected, name

        def endpoint_ips(name=name):
            ep = kubectl.json("endpoints", name, "-n", namespace)
            return {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}

        want = {p["status"]["podIP"] for p in selected}
        wait_until(
            lambda want=want: endpoint_ips() == want, timeout=30, message=f"endpoints of {name}"
        )

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
        name: kubectl.json("deployment", name, "-n", namespace)["metadata"]["generation"]
        for name in deployments
    }
    kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    for name, generation in generations.items():
        live = kubectl.json("deployment", name, "-n", namespace)
        assert live["metadata"]["generation"] == generation, name

"""The real kubectl against a sandbox served over HTTPS with its own CA and a kubeconfig.

What a user types: `kubectl get -o wide` with the server's columns, `kubectl wait` on a
CatalogSource, Subscription and CSV returning as soon as the state holds, `kubectl get -w`,
`kubectl rollout status`, `kubectl logs -f`, and `kubectl apply --server-side`
(`--validate=false` until the sandbox serves OpenAPI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest

from sandbox.server import SandboxCluster
from sandbox.tls import ensure_certificates, write_kubeconfig

from .conftest import REGISTRY_IMAGE, TICK, TOKEN

pytestmark = pytest.mark.skipif(
    not (shutil.which("kubectl") and shutil.which("openssl")),
    reason="needs the kubectl client and openssl (Debian package) for the CA",
)


class Kubectl:
    def __init__(self, kubeconfig: Path):
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        self.env.pop("KUBERNETES_SERVICE_HOST", None)

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60, check=True):
        out = subprocess.run(
            ["kubectl", *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
        return out

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            ["kubectl", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def apply(self, manifest: str, *extra: str, check=True):
        return self.run(
            "apply", "--server-side", "--validate=false", "-f", "-", *extra,
            stdin=manifest, check=check,
        )  # fmt: skip


def table(text: str) -> list[list[str]]:
    """kubectl's human-readable table: rows of cells (columns are 2+ spaces apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


class Lines:
    """Lines of a running kubectl's stdout, read in a thread; wait for one that matches."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def wait(self, predicate, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    if predicate(line):
                        return line
            time.sleep(0.05)
        raise AssertionError(f"no matching line in {self.lines!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


class Served(NamedTuple):
    sb: SandboxCluster
    kubeconfig: Path


@pytest.fixture(scope="module")
def https_sandbox(tmp_path_factory):
    certs = ensure_certificates(tmp_path_factory.mktemp("tls"))
    sb = SandboxCluster(
        port=0,
        token=TOKEN,
        tick_interval=TICK,
        tls_cert_file=str(certs.cert_file),
        tls_key_file=str(certs.key_file),
    ).start()
    kubeconfig = write_kubeconfig(
        tmp_path_factory.mktemp("kube") / "config",
        server=sb.url,
        ca_file=certs.ca_file,
        token=TOKEN,
    )
    yield Served(sb, kubeconfig)
    sb.stop()


@pytest.fixture(scope="module")
def kubectl(https_sandbox) -> Kubectl:
    return Kubectl(https_sandbox.kubeconfig)


@pytest.fixture
def namespace(kubectl) -> str:
    name = f"k-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    return name


def deployment(name: str, namespace: str, replicas: int = 2, image: str = "nginx:1.25") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: {name}
        image: {image}
        env: [{{name: MODE, value: web}}]
"""


def test_get_prints_the_servers_columns(kubectl, namespace):
    kubectl.apply(deployment("web", namespace))
    kubectl.run("rollout", "status", "deployment/web", "-n", namespace, "--timeout=60s")
    out = kubectl.run("get", "pod", "-n", namespace, "-o", "wide").stdout
    header, *rows = table(out)
    assert header == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
        "READINESS GATES",
    ]  # fmt: skip
    assert len(rows) == 2
    listed = json.loads(kubectl.run("get", "pod", "-n", namespace, "-o", "json").stdout)
    pods = {p["metadata"]["name"]: p for p in listed["items"]}
    for name, ready, status, restarts, _age, ip, node, nominated, gates in rows:
        assert (ready, status, restarts, nominated, gates) == (
            "1/1",
            "Running",
            "0",
            "<none>",
            "<none>",
        )
        assert ip == pods[name]["status"]["podIP"] and node == pods[name]["spec"]["nodeName"]
    # Without -o wide only the priority-0 columns.
    assert table(kubectl.run("get", "pod", "-n", namespace).stdout)[0] == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE",
    ]  # fmt: skip
    header, row = table(kubectl.run("get", "deployment", "-n", namespace, "-o", "wide").stdout)
    assert header == [
        "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR",
    ]  # fmt: skip
    assert row[:4] == ["web", "2/2", "2", "2"] and row[5:] == ["web", "nginx:1.25", "app=web"]
    kubectl.run("expose", "deployment", "web", "-n", namespace, "--port=80", "--target-port=8080")
    header, row = table(kubectl.run("get", "svc", "web", "-n", namespace, "-o", "wide").stdout)
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert row[1] == "ClusterIP" and row[3:5] == ["<none>", "80/TCP"] and row[6] == "app=web"
    header, *nodes = table(kubectl.run("get", "nodes").stdout)
    assert header == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes and all(n[1] == "Ready" for n in nodes)
    header, row = table(kubectl.run("get", "ns", namespace).stdout)
    assert header == ["NAME", "STATUS", "AGE"] and row[:2] == [namespace, "Active"]


CATALOG = """
apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
metadata:
  name: memcached-catalog
  namespace: {namespace}
spec:
  sourceType: grpc
  image: {image}
  displayName: Memcached Operators
  publisher: TenxCloud
"""

INSTALL = """
apiVersion: operators.coreos.com/v1
kind: OperatorGroup
metadata: {{name: og, namespace: {namespace}}}
spec: {{targetNamespaces: [{namespace}]}}
---
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata: {{name: memcached, namespace: {namespace}}}
spec:
  channel: stable
  name: memcached-cluster-operator
  source: memcached-catalog
  sourceNamespace: {namespace}
  installPlanApproval: Automatic
"""


def timed(kubectl: Kubectl, *args: str) -> tuple[float, str]:
    start = time.monotonic()
    out = kubectl.run(*args, timeout=90).stdout
    return time.monotonic() - start, out


def test_wait_returns_as_soon_as_catalog_subscription_and_csv_are_ready(kubectl, namespace):
    # The seed's steps: a CatalogSource in the user's own namespace, then an install.
    kubectl.apply(CATALOG.format(namespace=namespace, image=REGISTRY_IMAGE))
    took, out = timed(
        kubectl, "wait", "-n", namespace, "catalogsource/memcached-catalog",
        "--for=jsonpath={.status.connectionState.lastObservedState}=READY", "--timeout=60s",
    )  # fmt: skip
    assert "condition met" in out and took < 30
    # Already true: returns at once rather than at the timeout.
    took, _ = timed(
        kubectl, "wait", "-n", namespace, "catalogsource/memcached-catalog",
        "--for=jsonpath={.status.connectionState.lastObservedState}=READY", "--timeout=60s",
    )  # fmt: skip
    assert took < 15
    header, row = table(kubectl.run("get", "catalogsource", "-n", namespace).stdout)
    assert header == ["NAME", "DISPLAY", "TYPE", "PUBLISHER", "AGE"]
    assert row[:4] == ["memcached-catalog", "Memcached Operators", "grpc", "TenxCloud"]

    kubectl.apply(INSTALL.format(namespace=namespace))
    took, out = timed(
        kubectl, "wait", "-n", namespace, "subscription/memcached",
        "--for=condition=CatalogSourcesUnhealthy=False", "--timeout=60s",
    )  # fmt: skip
    assert "condition met" in out and took < 30
    kubectl.run(
        "wait", "-n", namespace, "subscription/memcached",
        "--for=jsonpath={.status.state}=AtLatestKnown", "--timeout=60s", timeout=90,
    )  # fmt: skip
    csv = kubectl.run(
        "get", "subscription", "memcached", "-n", namespace, "-o",
        "jsonpath={.status.installedCSV}",
    ).stdout  # fmt: skip
    assert csv.startswith("memcached-cluster-operator.v")
    took, out = timed(
        kubectl, "wait", "-n", namespace, f"csv/{csv}",
        "--for=jsonpath={.status.phase}=Succeeded", "--timeout=60s",
    )  # fmt: skip
    assert "condition met" in out
    out = kubectl.run("get", "subscription,installplan,csv", "-n", namespace).stdout
    blocks = [table(block) for block in out.strip().split("\n\n")]
    assert blocks[0][0] == ["NAME", "PACKAGE", "SOURCE", "CHANNEL"]
    assert blocks[0][1][1:] == ["memcached-cluster-operator", "memcached-catalog", "stable"]
    assert blocks[1][0] == ["NAME", "CSV", "APPROVAL", "APPROVED"]
    assert blocks[1][1][1:] == [csv, "Automatic", "true"]
    assert blocks[2][0] == ["NAME", "DISPLAY", "VERSION", "REPLACES", "PHASE"]
    assert blocks[2][1][0] == f"clusterserviceversion.operators.coreos.com/{csv}"
    assert blocks[2][1][-1] == "Succeeded"


def test_get_watch_and_rollout_status(kubectl, namespace):
    watch = Lines(kubectl.popen("get", "pods", "-n", namespace, "-w", "--output-watch-events"))
    try:
        kubectl.apply(deployment("api", namespace, replicas=2))
        out = kubectl.run(
            "rollout", "status", "deployment/api", "-n", namespace, "--timeout=60s", timeout=90
        ).stdout
        assert 'deployment "api" successfully rolled out' in out
        watch.wait(lambda line: line.startswith("ADDED") and "api-" in line)
        watch.wait(lambda line: "api-" in line and re.search(r"\s1/1\s+Running\s", line))
    finally:
        watch.stop()
    kubectl.apply(
        f"""
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {namespace}}}
spec:
  serviceName: db
  replicas: 2
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers: [{{name: db, image: "memcached:1.6"}}]
"""
    )
    out = kubectl.run(
        "rollout", "status", "statefulset/db", "-n", namespace, "--timeout=60s", timeout=90
    ).stdout
    assert "complete" in out
    header, row = table(kubectl.run("get", "statefulset", "db", "-n", namespace).stdout)
    assert header == ["NAME", "READY", "AGE"] and row[1] == "2/2"


def test_label_selected_watch_shows_an_object_leaving_the_selection(kubectl, namespace):
    kubectl.run("create", "configmap", "c", "-n", namespace, "--from-literal=a=1")
    kubectl.run("label", "configmap", "c", "-n", namespace, "tier=gold")
    watch = Lines(
        kubectl.popen(
            "get", "configmaps", "-n", namespace, "-l", "tier=gold", "-w",
            "--output-watch-events",
        )
    )  # fmt: skip
    try:
        watch.wait(lambda line: line.startswith("ADDED") and " c " in f"{line} ")
        kubectl.run("label", "configmap", "c", "-n", namespace, "tier=silver", "--overwrite")
        watch.wait(lambda line: line.startswith("DELETED") and " c " in f"{line} ")
        kubectl.run("label", "configmap", "c", "-n", namespace, "tier=gold", "--overwrite")
        watch.wait(lambda _: sum(x.startswith("ADDED") for x in watch.lines) == 2)
    finally:
        watch.stop()


def test_logs_follow_streams_new_lines_until_the_pod_goes(kubectl, namespace, https_sandbox):
    produced: dict[str, list[str]] = {}

    def source(pod: dict, container: str) -> str:
        return "".join(f"{line}\n" for line in produced.get(pod["metadata"]["name"], []))

    https_sandbox.sb.log_source = source
    try:
        kubectl.run("run", "echo", "-n", namespace, "--image=busybox:1.36")
        kubectl.run("wait", "-n", namespace, "pod/echo", "--for=condition=Ready", "--timeout=60s")
        produced["echo"] = ["one"]
        follow = Lines(kubectl.popen("logs", "-f", "echo", "-n", namespace))
        try:
            follow.wait(lambda line: line == "one")
            produced["echo"].append("two")
            follow.wait(lambda line: line == "two")
            kubectl.run("delete", "pod", "echo", "-n", namespace, "--wait=false")
            follow.proc.wait(timeout=30)  # the stream ends with the pod
            assert follow.proc.returncode == 0
        finally:
            follow.stop()
    finally:
        https_sandbox.sb.log_source = None


def test_server_side_apply_with_kubectl(kubectl, namespace):
    def service(manager: str, port: int, name: str):
        return kubectl.apply(
            f"""
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {namespace}}}
spec:
  selector: {{app: web}}
  ports: [{{name: {name}, port: {port}}}]
""",
            f"--field-manager={manager}",
        )

    service("team-a", 80, "http")
    service("team-b", 443, "https")
    ports = kubectl.run(
        "get", "svc", "web", "-n", namespace, "-o", "jsonpath={.spec.ports[*].port}"
    ).stdout  # fmt: skip
    assert ports.split() == ["80", "443"]

    config = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {namespace}}}
data: {{a: "1", b: "2"}}
"""
    kubectl.apply(config)
    kubectl.apply(config.replace('{a: "1", b: "2"}', "{}"))
    data = kubectl.run(
        "get", "configmap", "settings", "-n", namespace, "-o", "jsonpath={.data}"
    ).stdout  # fmt: skip
    assert data in ("", "{}")

    dry = kubectl.apply(config.replace("settings", "dry"), "--dry-run=server")
    assert "serverside-applied (server dry run)" in dry.stdout
    missing = kubectl.run("get", "configmap", "dry", "-n", namespace, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr

    with_fields = config.replace(
        f"namespace: {namespace}}}",
        f"namespace: {namespace}, managedFields: [{{manager: x, operation: Apply}}]}}",
    )
    refused = kubectl.apply(with_fields, check=False)
    assert refused.returncode != 0
    assert "metadata.managedFields must be nil" in refused.stderr

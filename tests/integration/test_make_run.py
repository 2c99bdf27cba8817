"""Starts the product the way `make run` does and uses it as a new user would: the web,
worker and beat come up; the seed's steps work with the real kubectl and the kubeconfig
`make run` writes; a replset and a sharded MemcachedCluster bought and created through the
product answer through the router and the external exit with the keys spread as their
setup says; and Ctrl-C leaves no process behind, memcached included."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

from .conftest import ROOT, clean_env

pytestmark = pytest.mark.integration

DEMO_STATE = (
    "from clusters.models import Cluster, CatalogSource, CatalogPackage; "
    "c = Cluster.objects.get(name='sandbox'); cs = CatalogSource.objects.get(name='mem-registry'); "
    "print(c.api_url.split(':')[0], bool(c.credentials.get('ca_data')), c.skip_tls_verify, "
    "c.connection_state, cs.state, "
    "' '.join(CatalogPackage.objects.filter(catalog_source=cs).values_list('name', flat=True)))"
)
DEMO_IDS = (
    "import json; from accounts.models import Project, Tenant; from assets.models import Plan; "
    "from clusters.models import Cluster; "
    "print(json.dumps({'plan': Plan.objects.filter(asset__name__iexact='mem1').order_by('pk')"
    ".first().pk, 'project': Project.objects.get(namespace='my-mem').pk, "
    "'provider_tenant': Tenant.objects.get(slug='zs-olm').pk, "
    "'cluster': Cluster.objects.get(name='sandbox').pk}))"
)
SEED_YAML = """\
apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
metadata:
  name: mem-registry
  namespace: love-story # 部署到某个namespace下，这里需要更改
spec:
  sourceType: grpc
  # memcached registry镜像，根据自己需求进行更换
  image: dev-registry.tenxcloud.com/system_containers/memcached-registry:v1
  displayName: mem-01
"""
COMMUNITY_YAML = """\
apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
metadata:
  name: community
  namespace: love-story
spec:
  sourceType: grpc
  image: quay.io/sandbox/community-catalog:v1
  displayName: Community operators
  publisher: zs
"""


def _wait_for(predicate, *, timeout, what, output, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if process is not None and process.poll() is not None:
            pytest.fail(f"`make run` exited with {process.returncode}:\n{output()}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}; output so far:\n{_without_routine(output())}")


def _without_routine(text: str) -> str:
    """The log without beat's and the worker's routine lines, whose volume hides the rest."""
    routine = ("Sending due task", "] received", "Discarding revoked task", "] succeeded in")
    return "\n".join(line for line in text.splitlines() if not any(r in line for r in routine))


class MakeRun:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.var = tmp / "var"
        self.log_path = tmp / "run.log"
        self.kubeconfig = self.var / "sandbox.kubeconfig"
        self.env = clean_env(
            DATA_DIR=str(self.var),
            WEB_PORT=str(self.port),
            SANDBOX_PORT=str(free_port()),
            CATALOG_SYNC_INTERVAL="2",
            MEMCACHED_STATS_INTERVAL="5",
        )
        self.process: subprocess.Popen | None = None
        self.tokens: dict[str, str] = {}

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def start(self) -> None:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                ["./scripts/run-dev.sh"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def shell(self, code: str) -> str:
        result = subprocess.run(
            ["python", "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env={**self.env, "DJANGO_DEBUG": "1"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = result.stdout.strip().splitlines()
        return lines[-1] if lines else ""

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            ["kubectl", *args],
            env={**self.env, "KUBECONFIG": str(self.kubeconfig)},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=90,
        )
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout + result.stderr

    def api(self, user: str, method: str, path: str, **kwargs) -> requests.Response:
        if user not in self.tokens:
            answer = requests.post(
                f"{self.base}/api/v1/auth/token/",
                data={"username": user, "password": "demo"},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            self.tokens[user] = answer.json()["token"]
        headers = {"Authorization": f"Token {self.tokens[user]}"}
        return requests.request(
            method, f"{self.base}/api/v1/{path}", headers=headers, timeout=30, **kwargs
        )

    def wait_api(self, user: str, path: str, predicate, *, timeout: float, what: str):
        def check():
            answer = self.api(user, "GET", path)
            return answer.json() if answer.status_code == 200 and predicate(answer.json()) else None

        return _wait_for(
            check,
            timeout=timeout,
            what=what,
            output=lambda: self.output() + "\nlast: " + self.api(user, "GET", path).text,
        )

    def stop(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C does
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            pytest.fail(f"Ctrl-C did not stop everything:\n{self.output()}")


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    run = MakeRun(tmp_path_factory.mktemp("make-run"))
    run.start()
    yield run
    if run.process is not None and run.process.poll() is None:
        run.stop()


def test_make_run_starts_web_worker_and_beat_and_is_ready(make_run):
    run = make_run

    def ready():
        try:
            return requests.get(f"{run.base}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    _wait_for(
        ready, timeout=120, what="/readyz to answer 200", output=run.output, process=run.process
    )
    _wait_for(lambda: " ready." in run.output(), timeout=60, what="the worker", output=run.output)
    _wait_for(lambda: "beat: Starting" in run.output(), timeout=60, what="beat", output=run.output)
    assert "Demo logins" in run.output() and f"{run.base}/" in run.output()

    # A task sent through the filesystem broker is executed by the supervised worker.
    run.shell("from marketplace.celery import ping; ping.delay()")
    _wait_for(
        lambda: "Task marketplace.ping" in run.output() and "succeeded" in run.output(),
        timeout=60,
        what="the worker to run a task from the filesystem broker",
        output=run.output,
    )
    login = requests.get(f"{run.base}/accounts/login/", timeout=5)
    assert login.status_code == 200 and "Log in" in login.text

    # The demo's sandbox cluster is reached by the worker, and beat's periodic sync
    # follows the seed's catalog to READY with its packages.
    _wait_for(
        # Over HTTPS, trusting the sandbox's own CA (no "skip TLS verify" in the demo).
        lambda: (
            run.shell(DEMO_STATE) == "https True False connected ready memcached-cluster-operator"
        ),
        timeout=90,
        what="the sandbox cluster to connect and the seed catalog to be READY",
        output=lambda: run.output() + "\nstate: " + run.shell(DEMO_STATE),
    )
    # The banner's kubeconfig works with the real kubectl, certificate verified.
    assert f"export KUBECONFIG={run.kubeconfig}" in run.output()
    _wait_for(run.kubeconfig.exists, timeout=30, what="the sandbox's kubeconfig", output=run.output)
    listed = run.kubectl("get", "catalogsources", "-n", "olm", "-o", "name")
    assert "catalogsource.operators.coreos.com/mem-registry" in listed


def test_the_seeds_catalog_steps_with_kubectl_then_picked_in_the_provider_portal(make_run):
    run = make_run
    ids = json.loads(run.shell(DEMO_IDS))
    run.kubectl("create", "namespace", "love-story")
    # `kubectl apply -f memcached.yaml`, validated against the sandbox's OpenAPI.
    applied = run.kubectl("apply", "-f", "-", stdin=SEED_YAML)
    assert "catalogsource.operators.coreos.com/mem-registry created" in applied
    waited = run.kubectl(
        "wait",
        "--for=jsonpath={.status.connectionState.lastObservedState}=READY",
        "catalogsource/mem-registry",
        "-n",
        "love-story",
        "--timeout=60s",
    )
    assert "condition met" in waited
    table = run.kubectl("get", "catalogsource", "-n", "love-story")
    assert re.search(r"NAME\s+DISPLAY\s+TYPE\s+PUBLISHER\s+AGE", table), table
    assert re.search(r"mem-registry\s+mem-01\s+grpc", table), table

    # The provider portal finds it; its image is the demo's platform catalog already.
    found = run.wait_api(
        "provider",
        "catalog-sources/found/",
        lambda body: any(r["name"] == "mem-registry" for r in body["results"]),
        timeout=60,
        what="the applied catalog to be found",
    )
    seed = next(r for r in found["results"] if r["name"] == "mem-registry")
    assert (seed["namespace"], seed["last_observed_state"]) == ("love-story", "READY")
    assert seed["submitted_as"] == "mem-registry"

    # Another catalog applied there is picked and submitted: the platform deploys its copy
    # in the global catalog namespace, READY with its packages.
    run.kubectl("apply", "-f", "-", stdin=COMMUNITY_YAML)
    found = run.wait_api(
        "provider",
        "catalog-sources/found/",
        lambda body: any(
            r["name"] == "community" and r["last_observed_state"] == "READY"
            for r in body["results"]
        ),
        timeout=60,
        what="the community catalog to be found READY",
    )
    picked = next(r for r in found["results"] if r["name"] == "community")
    assert picked["submitted_as"] is None
    created = run.api(
        "provider",
        "POST",
        "catalog-sources/",
        json={
            "tenant": ids["provider_tenant"],
            "cluster": picked["cluster"],
            "name": picked["name"],
            "display_name": picked["display_name"],
            "image": picked["image"],
            "publisher": picked["publisher"],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["namespace"] == "olm"
    catalog_id = created.json()["id"]
    run.wait_api(
        "provider",
        f"catalog-sources/{catalog_id}/",
        lambda body: body["state"] == "ready" and body["packages_synced_at"],
        timeout=90,
        what="the platform's copy to be READY with packages",
    )
    packages = run.api("provider", "GET", f"catalog-sources/{catalog_id}/packages/").json()
    assert "cert-manager" in {p["name"] for p in packages["results"]}  # a page, as documented
    listed = run.kubectl("get", "catalogsource", "-n", "olm", "-o", "name")
    assert "catalogsource.operators.coreos.com/community" in listed


def _memcached(address: str, *commands: bytes) -> bytes:
    """What the seed does with telnet: raw memcached text protocol to host:port."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        answer = b""
        for command in commands:
            conn.sendall(command)
            deadline = time.monotonic() + 5
            chunk = b""
            while not chunk.endswith(b"\r\n") and time.monotonic() < deadline:
                chunk += conn.recv(4096)
                if chunk.startswith(b"VALUE") and not chunk.endswith(b"END\r\n"):
                    continue
            answer += chunk
        return answer


def _try_memcached(address: str, *commands: bytes) -> bytes | None:
    try:
        return _memcached(address, *commands)
    except OSError:
        return None


def _verified(run: MakeRun, instance_id: int) -> dict:
    asked = run.api("buyer", "POST", f"instances/{instance_id}/verify/")
    assert asked.status_code == 202, asked.text
    return run.wait_api(
        "buyer",
        f"instances/{instance_id}/",
        lambda body: not body["verification"]["running"] and body["verification"]["ok"] is not None,
        timeout=60,
        what="验证访问 to finish",
    )["verification"]


def test_bought_replset_and_sharded_clusters_answer_with_their_distribution(make_run):
    run = make_run
    ids = json.loads(run.shell(DEMO_IDS))
    ordered = run.api(
        "buyer",
        "POST",
        "orders/",
        json={"plan": ids["plan"], "project": ids["project"], "pay_now": True},
    )
    assert ordered.status_code == 201, ordered.text
    installation = run.wait_api(
        "buyer",
        "installations/?status=installed",
        lambda body: any(i["project_name"] == "my-mem" for i in body["results"]),
        timeout=180,
        what="the operator to be installed into my-mem",
    )
    installation_id = next(i for i in installation["results"] if i["project_name"] == "my-mem")[
        "id"
    ]
    olm = run.kubectl("get", "subscription,installplan,csv", "-n", "my-mem")
    assert "memcached-cluster-operator" in olm and "Succeeded" in olm, olm
    assert re.search(r"PACKAGE\s+SOURCE\s+CHANNEL", olm), olm

    small = {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    }
    created = {}
    for name, setup in (("rep", "replset"), ("shard", "sharded")):
        answer = run.api(
            "buyer",
            "POST",
            "instances/",
            json={
                "installation": installation_id,
                "name": name,
                "replicas": 3,
                "version": "1.6.5",
                "setup": setup,
                "resources": small,
            },
        )
        assert answer.status_code in (201, 202), answer.text
        created[setup] = answer.json()["id"]
    for setup, instance_id in created.items():
        run.wait_api(
            "buyer",
            f"instances/{instance_id}/",
            lambda body: body["status"] == "running" and body["ready_replicas"] == 3,
            timeout=180,
            what=f"the {setup} instance to run 3 replicas",
        )

    pods = run.kubectl("get", "pod", "-n", "my-mem", "-o", "wide")
    assert re.search(r"NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE", pods), pods
    assert re.search(r"rep-memcached-0\s+1/1\s+Running\s+0\s+\S+\s+127\.", pods), pods

    # Through the router (its ClusterIP, as a worker in the cluster network reaches it).
    for setup, instance_id in created.items():
        verification = _verified(run, instance_id)
        assert verification["ok"] is True, verification
        assert verification["address_source"] == "cluster-ip", verification
        holds = [pod["holds"] for pod in verification["pods"]]
        assert len(holds) == 3
        if setup == "replset":
            assert verification["expectation"] == "all" and all(holds), verification
        else:
            assert verification["expectation"] == "one" and sorted(holds) == [False, False, True]
        assert verification["distribution_ok"] is True, verification

    # 监控 and 日志 come from the real processes, with no override.
    mib = 1024 * 1024
    for setup, instance_id in created.items():
        metrics = run.wait_api(
            "buyer",
            f"instances/{instance_id}/metrics/",
            lambda body: body["latest"] is not None,
            timeout=60,
            what=f"监控 of the {setup} instance",
        )
        # Three pods of -m 64: a sharded cluster holds three times one pod, a replset one.
        expected = 3 * 64 * mib if setup == "sharded" else 64 * mib
        assert metrics["latest"]["limit_maxbytes"] == expected, metrics["latest"]
    asked = run.api(
        "buyer",
        "POST",
        f"instances/{created['replset']}/logs/",
        json={"pod": "rep-memcached-0", "tail": 2000},
    )
    assert asked.status_code == 202, asked.text
    logs = run.wait_api(
        "buyer",
        f"instances/{created['replset']}/logs/?pod=rep-memcached-0",
        lambda body: "server listening" in (body.get("text") or ""),
        timeout=60,
        what="日志 of a memcached pod",
    )
    assert "slab class" in logs["text"]

    # 可集群外访问: the 服务出口 answers telnet's set/get, then 验证访问 goes through it.
    for setup, instance_id in created.items():
        assert run.api("buyer", "POST", f"instances/{instance_id}/access/").status_code == 202
        body = run.wait_api(
            "buyer",
            f"instances/{instance_id}/",
            lambda body: body["external_access"]["address"] != "",
            timeout=90,
            what=f"the {setup} instance's service exit",
        )
        exit_address = body["external_access"]["address"]
        # kube-proxy opens the port on its next sync, as on a real cluster: retry a while.
        stored = _wait_for(
            lambda address=exit_address: _try_memcached(
                address, b"set hello 0 0 5\r\nworld\r\n", b"get hello\r\n"
            ),
            timeout=30,
            what=f"the service exit {exit_address} to answer",
            output=run.output,
        )
        assert b"STORED" in stored and b"VALUE hello 0 5\r\nworld" in stored, stored
        verification = _verified(run, instance_id)
        assert verification["ok"] is True and verification["address_source"] == "external"
        assert verification["distribution_ok"] is True, verification


def _processes_with(fragment: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fragment in cmdline and ("memcached" in cmdline or "nutcracker" in cmdline):
            found.append(f"{entry.name}: {cmdline}")
    return found


def test_ctrl_c_stops_everything_memcached_included(make_run):
    run = make_run
    pods = run.kubectl("get", "pod", "-A", "-o", "jsonpath={.items[*].status.podIP}", check=False)
    prefix = next((ip.rsplit(".", 2)[0] + "." for ip in pods.split() if ip.startswith("127.")), "")
    assert prefix, f"no pod with a loopback IP: {pods}"
    # The instances the test before made run as real processes until Ctrl-C.
    assert _processes_with(prefix), f"no memcached process of the sandbox runs ({prefix})"
    run.stop()
    deadline = time.monotonic() + 20
    while _processes_with(prefix) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(prefix) == []

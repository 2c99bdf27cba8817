"""Starts the product the way `make run` does and checks that all of it comes up."""

import os
import signal
import subprocess
import time

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


def _wait_for(predicate, *, timeout, what, output, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            pytest.fail(f"`make run` exited with {process.returncode}:\n{output()}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}; output so far:\n{output()}")


def test_make_run_starts_web_worker_and_beat_and_is_ready(tmp_path):
    port = free_port()
    log_path = tmp_path / "run.log"
    env = clean_env(
        DATA_DIR=str(tmp_path / "var"),
        WEB_PORT=str(port),
        SANDBOX_PORT=str(free_port()),
        CATALOG_SYNC_INTERVAL="1",
    )
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["./scripts/run-dev.sh"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output():
        return log_path.read_text()

    def ready():
        try:
            return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        _wait_for(ready, timeout=120, what="/readyz to answer 200", output=output, process=process)
        _wait_for(lambda: " ready." in output(), timeout=60, what="the worker", output=output)
        _wait_for(lambda: "beat: Starting" in output(), timeout=60, what="beat", output=output)
        assert "Demo logins" in output() and f"http://127.0.0.1:{port}/" in output()

        # A task sent through the filesystem broker is executed by the supervised worker.
        subprocess.run(
            [
                "python",
                "manage.py",
                "shell",
                "-c",
                "from marketplace.celery import ping; ping.delay()",
            ],
            cwd=ROOT,
            env={**env, "DJANGO_DEBUG": "1"},
            check=True,
            timeout=60,
        )
        _wait_for(
            lambda: "Task marketplace.ping" in output() and "succeeded" in output(),
            timeout=60,
            what="the worker to run a task from the filesystem broker",
            output=output,
        )
        login = requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5)
        assert login.status_code == 200 and "Log in" in login.text

        # The demo's sandbox cluster is reached by the worker, and beat's periodic sync
        # follows the seed's catalog to READY with its packages.
        def demo_state():
            result = subprocess.run(
                ["python", "manage.py", "shell", "-c", DEMO_STATE],
                cwd=ROOT,
                env={**env, "DJANGO_DEBUG": "1"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            lines = result.stdout.strip().splitlines()
            return lines[-1] if lines else ""

        _wait_for(
            # Over HTTPS, trusting the sandbox's own CA (no "skip TLS verify" in the demo).
            lambda: demo_state() == "https True False connected ready memcached-cluster-operator",
            timeout=90,
            what="the sandbox cluster to connect and the seed catalog to be READY",
            output=lambda: output() + "\nstate: " + demo_state(),
        )
        # The banner's kubeconfig works with the real kubectl, certificate verified.
        kubeconfig = tmp_path / "var" / "sandbox.kubeconfig"
        assert f"export KUBECONFIG={kubeconfig}" in output()
        _wait_for(kubeconfig.exists, timeout=30, what="the sandbox's kubeconfig", output=output)
        listed = subprocess.run(
            ["kubectl", "get", "catalogsources", "-n", "olm", "-o", "name"],
            env={**env, "KUBECONFIG": str(kubeconfig)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert "catalogsource.operators.coreos.com/mem-registry" in listed.stdout
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"Ctrl-C did not stop everything:\n{output()}")

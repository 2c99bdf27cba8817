"""`python -m sandbox --tls-dir DIR --kubeconfig FILE`: HTTPS with the sandbox's own CA,
and a kubeconfig that kubectl and the official client use as they would a real cluster's
(certificate verified, bearer token sent)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not shutil.which("openssl"), reason="openssl (Debian package) makes the CA"
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path, port):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--token", "tls-token",
         "--tick", "0.1", "--tls-dir", str(tmp_path / "tls"),
         "--kubeconfig", str(tmp_path / "sandbox.kubeconfig")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    lines = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("kubeconfig: export KUBECONFIG="):
            return proc, line.strip().split("=", 1)[1]
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("the sandbox did not print its kubeconfig: " + "".join(lines))


def test_kubectl_and_the_official_client_verify_the_sandbox_ca(tmp_path):
    port = _free_port()
    proc, path = _start(tmp_path, port)
    try:
        assert Path(path) == (tmp_path / "sandbox.kubeconfig").resolve()
        assert oct(Path(path).stat().st_mode & 0o777) == "0o600"  # it holds the token
        if shutil.which("kubectl"):
            env = {**os.environ, "KUBECONFIG": path}
            out = subprocess.run(
                ["kubectl", "get", "namespaces", "-o", "json"],
                env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert out.returncode == 0, out.stderr
            names = {i["metadata"]["name"] for i in json.loads(out.stdout)["items"]}
            assert {"default", "olm", "operators"} <= names
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=path)
        assert api.configuration.verify_ssl and api.configuration.host.startswith("https://")
        names = {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}
        assert "kube-system" in names or "default" in names
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # The CA is kept: a restart serves a certificate the same kubeconfig still trusts.
    ca = (tmp_path / "tls" / "ca.crt").read_bytes()
    proc, path = _start(tmp_path, port)
    try:
        assert (tmp_path / "tls" / "ca.crt").read_bytes() == ca
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=path)
        assert client.VersionApi(api).get_code().git_version
    finally:
        proc.terminate()
        proc.wait(timeout=20)

"""Rendering deploy/ with the real `kubectl kustomize` (shared by the deploy tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
# The Kubernetes version README "Production on Kubernetes" names (and the sandbox reports).
KUBERNETES_VERSION = "1.29.0"
KUBECTL = shutil.which("kubectl")


def require_kubectl() -> None:
    """kubectl (with its built-in kustomize) is the tool under test: skipped without it on a
    developer's machine, a failure on CI (as PostgreSQL is)."""
    if KUBECTL:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("kubectl is required on CI (kustomize is built into it)")
    pytest.skip("needs kubectl (kustomize is built into it)")


def render(overlay: str) -> list[dict]:
    """The objects `kubectl kustomize deploy/overlays/<overlay>` prints."""
    require_kubectl()
    out = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}

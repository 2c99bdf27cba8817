"""Rendering deploy/ with the real `kubectl kustomize` (shared by the deploy tests)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
# The Kubernetes version README "Production on Kubernetes" names (and the sandbox reports).
KUBERNETES_VERSION = "1.29.0"
KUBECTL = shutil.which("kubectl")


def render(overlay: str) -> list[dict]:
    """The objects `kubectl kustomize deploy/overlays/<overlay>` prints."""
    assert KUBECTL, "kubectl is required (kustomize is built into it)"
    out = subprocess.run(
        [KUBECTL, "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}

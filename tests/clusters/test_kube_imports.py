"""Web processes never load the Kubernetes client: only the worker's gateway does."""

import json
import os
import subprocess
import sys
from pathlib import Path

from clusters import kube, tasks
from core import retry

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "accounts",
    "clusters",
    "assets",
    "assets.storefront",
    "approvals",
    "orders",
    "provisioning",
    "instances",
]
LAYERS = ["services", "selectors", "views", "api", "tasks"]

# Run in a fresh interpreter: this test process has long imported `kubernetes` (the
# gateway tests use it).
SCRIPT = """
import importlib, importlib.util, json, sys

import django

django.setup()
from django.conf import settings
from django.urls import get_resolver

imported = []
for app in APPS:
    for layer in LAYERS:
        name = f"{app}.{layer}"
        if importlib.util.find_spec(name) is None:
            continue  # not every app has every layer
        importlib.import_module(name)
        imported.append(name)
importlib.import_module(settings.ROOT_URLCONF)
get_resolver().url_patterns  # every app's urls, through the includes
import clusters.kube  # cheap: the errors and the gateway class, no client

print(json.dumps({
    "imported": imported,
    "loaded": sorted(m for m in sys.modules if m == "kubernetes" or m.startswith("kubernetes.")),
}))
"""


def test_importing_the_web_side_of_every_app_loads_no_kubernetes_client():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    code = f"APPS = {APPS!r}\nLAYERS = {LAYERS!r}\n{SCRIPT}"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The check means something only if the apps' tasks (which import kube) were loaded.
    assert {"clusters.tasks", "clusters.views", "provisioning.tasks"} <= set(report["imported"])
    assert report["loaded"] == [], f"imported at import time: {report['loaded'][:5]}"


def test_kube_errors_are_core_transient_errors_so_the_one_retry_policy_applies():
    assert issubclass(kube.TransientError, retry.TransientError)
    assert issubclass(kube.ConnectionFailed, retry.TransientError)
    assert not issubclass(kube.UnauthorizedError, retry.TransientError)
    for task in (tasks.deploy_catalog_source, tasks.remove_catalog_source):
        assert task.autoretry_for == retry.CLUSTER_JOB_RETRY["autoretry_for"]
        assert task.max_retries == retry.CLUSTER_JOB_RETRY["max_retries"]

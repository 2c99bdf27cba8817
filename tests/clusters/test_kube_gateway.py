"""The gateway (clusters/kube.py) against the sandbox over HTTP, with the official client."""

import time
from pathlib import Path

import pytest

from clusters import kube
from clusters.kubeconfig import Credentials
from tests.conftest import SANDBOX_TOKEN, wait_until


@pytest.fixture
def gateway(sandbox, sandbox_faults, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    gw = kube.Gateway(Credentials(api_url=sandbox.url, token=SANDBOX_TOKEN), cache_key="t")
    yield gw
    gw.close()


def _config_map(name, namespace="default", data=None, labels=None):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "data": data or {"k": "v"},
    }


def test_apply_creates_then_updates_under_our_field_manager(gateway):
    created = gateway.apply(_config_map("cm-apply"))
    assert created["metadata"]["resourceVersion"]
    managers = {m["manager"] for m in created["metadata"]["managedFields"]}
    assert managers == {kube.FIELD_MANAGER}
    updated = gateway.apply(_config_map("cm-apply", data={"k": "v2"}))
    assert updated["data"] == {"k": "v2"}
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    # Safe to run twice: the same apply changes nothing.
    again = gateway.apply(_config_map("cm-apply", data={"k": "v2"}))
    assert again["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]


def test_apply_conflict_with_another_manager_unless_forced(gateway):
    gateway.apply(_config_map("cm-owned", data={"k": "theirs"}), field_manager="someone-else")
    with pytest.raises(kube.ConflictError) as exc:
        gateway.apply(_config_map("cm-owned", data={"k": "ours"}))
    assert exc.value.status == 409 and "someone-else" in exc.value.message
    forced = gateway.apply(_config_map("cm-owned", data={"k": "ours"}), force=True)
    assert forced["data"]["k"] == "ours"


def test_get_list_patch_delete(gateway):
    gateway.apply(_config_map("cm-a", labels={"app": "memcached", "tier": "cache"}))
    gateway.apply(_config_map("cm-b", labels={"app": "other"}))
    names = [
        o["metadata"]["name"]
        for o in gateway.list("v1", "ConfigMap", "default", label_selector="app=memcached")
    ]
    assert names == ["cm-a"]
    by_name = gateway.list("v1", "ConfigMap", "default", field_selector="metadata.name=cm-b")
    assert [o["metadata"]["name"] for o in by_name] == ["cm-b"]
    patched = gateway.patch("v1", "ConfigMap", "cm-a", {"data": {"extra": "1"}}, "default")
    assert patched["data"] == {"k": "v", "extra": "1"}
    assert gateway.get("v1", "ConfigMap", "cm-a", "default")["data"]["extra"] == "1"
    gateway.delete("v1", "ConfigMap", "cm-a", "default")
    assert gateway.get_or_none("v1", "ConfigMap", "cm-a", "default") is None
    gateway.delete("v1", "ConfigMap", "cm-a", "default")  # already gone: fine
    with pytest.raises(kube.NotFoundError):
        gateway.delete("v1", "ConfigMap", "cm-a", "default", missing_ok=False)


def test_not_found_and_missing_namespace(gateway):
    with pytest.raises(kube.NotFoundError) as exc:
        gateway.get("v1", "ConfigMap", "nope", "default")
    assert exc.value.status == 404 and '"nope" not found' in exc.value.message
    with pytest.raises(kube.NotFoundError) as exc:
        gateway.apply(_config_map("cm", namespace="no-such-namespace"))
    assert 'namespaces "no-such-namespace" not found' in exc.value.message


def test_invalid_keeps_the_servers_causes(gateway):
    with pytest.raises(kube.InvalidError) as exc:
        gateway.apply(_config_map("Not_A_Valid_Name"))
    assert exc.value.status == 422
    assert exc.value.causes and exc.value.causes[0]["field"] == "metadata.name"


def test_server_errors_are_transient(gateway, sandbox_faults):
    sandbox_faults.error_rate = 1.0
    with pytest.raises(kube.TransientError) as exc:
        gateway.get("v1", "Namespace", "default")
    assert exc.value.transient and exc.value.status == 500


def test_injected_conflicts_are_conflicts(gateway, sandbox_faults):
    sandbox_faults.conflict_next_writes(1)
    with pytest.raises(kube.ConflictError):
        gateway.apply(_config_map("cm-conflict"))
    assert gateway.apply(_config_map("cm-conflict"))["metadata"]["name"] == "cm-conflict"


def test_cluster_down_is_connection_refused_then_recovers(gateway, sandbox_faults):
    gateway.get("v1", "Namespace", "default")
    sandbox_faults.down = True
    with pytest.raises(kube.ConnectionFailed) as exc:
        gateway.get("v1", "Namespace", "default")
    assert exc.value.transient and exc.value.message == "connection refused"
    sandbox_faults.down = False
    assert gateway.get("v1", "Namespace", "default")["metadata"]["name"] == "default"


def test_latency_is_felt(gateway, sandbox_faults):
    sandbox_faults.latency = 0.3
    started = time.monotonic()
    gateway.get("v1", "Namespace", "default")
    assert time.monotonic() - started >= 0.3


def test_wrong_token_is_unauthorized(sandbox, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    gw = kube.Gateway(Credentials(api_url=sandbox.url, token="wrong"), cache_key="bad")
    with pytest.raises(kube.UnauthorizedError) as exc:
        gw.get("v1", "Namespace", "default")
    assert exc.value.message == "401 Unauthorized: token rejected"
    gw.close()


def test_discovery_cache_is_a_file_the_project_owns(gateway, settings):
    gateway.get("v1", "Namespace", "default")
    assert Path(gateway.discovery_cache_file).parent == Path(settings.DATA_DIR) / "kube-discovery"
    assert Path(gateway.discovery_cache_file).exists()


def test_a_crd_created_at_run_time_is_found(gateway):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    gateway.get("v1", "Namespace", "default")  # discovery cached before the CRD exists
    gateway.apply(crd)

    def served():
        try:
            return gateway.apply(
                {
                    "apiVersion": "example.com/v1",
                    "kind": "Widget",
                    "metadata": {"name": "w", "namespace": "default"},
                    "spec": {"size": 1},
                }
            )
        except kube.NotFoundError:
            return None

    assert wait_until(served, timeout=5)["spec"] == {"size": 1}


def test_pod_logs_with_tail(gateway, sandbox):
    gateway.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "logs-ns"}})
    gateway.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "logs-ns"},
            "spec": {
                "containers": [
                    {
                        "name": "memcached",
                        "image": "dev-registry.tenxcloud.com/system_containers/memcached:v1.5",
                    }
                ]
            },
        }
    )

    def started_logs():
        try:
            return gateway.read_pod_log("p", "logs-ns", tail_lines=3)
        except kube.KubeError:  # "waiting to start: ContainerCreating"
            return None

    logs = wait_until(started_logs, timeout=5)
    assert isinstance(logs, str) and 0 < len(logs.strip().splitlines()) <= 3

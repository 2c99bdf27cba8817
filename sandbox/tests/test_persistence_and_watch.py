"""State file persistence across restarts; watch streams; the standalone entry point."""

import json
import threading
import time
import types

from kubernetes import client, watch

from sandbox.server import SandboxCluster

from .conftest import PACKAGE, TOKEN, Kube, api_client, make_dynamic_client, wait_for


def test_state_survives_a_restart(fresh, tmp_path, tmp_path_factory):
    state = tmp_path / "sandbox-state.json"
    kube = fresh(state_file=state)
    ns = kube.namespace("keep")
    kube.install_operator(ns)
    kube.r("v1", "ConfigMap").create(
        namespace=ns, body={"metadata": {"name": "kept"}, "data": {"a": "1"}}
    )
    published = kube.sb.publish_csv(package=PACKAGE, channel="alpha", version="1.3.0-alpha")
    uid = kube.get("v1", "ConfigMap", "kept", ns).metadata.uid
    rv = int(kube.sb.store.resource_version)
    wait_for(lambda: state.exists() and not kube.sb.store.dirty, message="state saved")
    port = kube.sb.port
    kube.sb.stop()
    saved = json.loads(state.read_text())
    assert saved["version"] == 1 and saved["published"][0]["version"] == "1.3.0-alpha"

    again = SandboxCluster(port=port, token=TOKEN, tick_interval=0.05, state_file=state).start()
    try:
        kube2 = Kube(again, make_dynamic_client(again, tmp_path_factory))
        cm = kube2.get("v1", "ConfigMap", "kept", ns)
        assert cm.metadata.uid == uid and cm.data.a == "1"
        assert int(again.store.resource_version) >= rv
        assert kube2.csv_phase(ns, f"{PACKAGE}.v1.1.0") == "Succeeded"
        # The CRD installed before the restart is still served.
        assert kube2.r("daas.tenxcloud.com/v1", "MemcachedCluster").get(namespace=ns).items == []
        # So is the CSV published at run time.
        manifest = kube2.get("packages.operators.coreos.com/v1", "PackageManifest", PACKAGE, ns)
        assert {c.name: c.currentCSV for c in manifest.status.channels}["alpha"] == published
        # New writes keep counting up from the saved resourceVersion.
        new = kube2.r("v1", "ConfigMap").create(namespace=ns, body={"metadata": {"name": "after"}})
        assert int(new.metadata.resourceVersion) > rv
    finally:
        again.stop()


def test_watch_streams_changes(kube, ns):
    cms = kube.r("v1", "ConfigMap")

    def writer():
        time.sleep(0.2)
        cms.create(namespace=ns, body={"metadata": {"name": "w", "labels": {"watch": "me"}}})
        cms.patch(
            namespace=ns,
            name="w",
            body={"data": {"a": "1"}},
            content_type="application/merge-patch+json",
        )
        cms.delete(namespace=ns, name="w")

    threading.Thread(target=writer, daemon=True).start()
    seen = []
    for event in cms.watch(namespace=ns, label_selector="watch=me", timeout=5):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            break
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_typed_watch_from_a_resource_version(sandbox, kube, ns):
    core = client.CoreV1Api(api_client(sandbox))
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    kube.r("v1", "ConfigMap").create(namespace=ns, body={"metadata": {"name": "later"}})
    stream = watch.Watch()
    events = []
    # Only "later": the namespace controller may add kube-root-ca.crt at any moment.
    for event in stream.stream(
        core.list_namespaced_config_map,
        ns,
        resource_version=start,
        field_selector="metadata.name=later",
        timeout_seconds=2,
    ):
        events.append((event["type"], event["object"].metadata.name))
        stream.stop()
    assert events == [("ADDED", "later")]


def test_main_module_parses_arguments(monkeypatch):
    from sandbox import __main__ as entry

    started = {}

    class Fake:
        def __init__(self, **kwargs):
            started.update(kwargs)
            self.url = "http://127.0.0.1:1"
            self.network = types.SimpleNamespace(base=77, active=True)

        def start(self):
            return self

        def serve_forever(self):
            started["served"] = True

    monkeypatch.setattr(entry, "SandboxCluster", Fake)
    monkeypatch.setenv("SANDBOX_CATALOGS", "quay.io/me/ignored:v1=/nowhere")
    entry.main(
        [
            "--port", "0", "--token", "t", "--tick", "0.1", "--state-file", "/tmp/x.json",
            "--catalog", "quay.io/me/ops:v1=/srv/ops",
            "--catalog", "quay.io/me/fbc:v2=/srv/fbc",
        ]
    )  # fmt: skip
    assert started == {
        "host": "127.0.0.1",
        "port": 0,
        "token": "t",
        "tick_interval": 0.1,
        "catalog_file": None,
        "state_file": "/tmp/x.json",
        "catalog_folders": {"quay.io/me/ops:v1": "/srv/ops", "quay.io/me/fbc:v2": "/srv/fbc"},
        "tls_cert_file": None,
        "tls_key_file": None,
        "run_processes": True,
        "max_processes": None,
        "served": True,
    }
    started.clear()
    entry.main(["--port", "0"])  # no --catalog: the environment variable
    assert started["catalog_folders"] == {"quay.io/me/ignored:v1": "/nowhere"}
    entry.main(["--port", "0", "--no-processes", "--max-processes", "5"])
    assert (started["run_processes"], started["max_processes"]) == (False, 5)


def test_stop_and_start_again_keeps_objects_and_port(fresh):
    kube = fresh()
    ns = kube.namespace("again")
    port = kube.sb.port
    kube.sb.stop()
    kube.sb.start()
    assert kube.sb.port == port
    assert kube.get("v1", "Namespace", ns).status.phase == "Active"


def test_a_state_file_with_older_olm_crds_gets_todays(fresh, tmp_path):
    """OLM's CRDs as an older sandbox stored them (no printer columns) are replaced on
    start, as an OLM upgrade replaces them: `kubectl get csv` shows PHASE again."""
    state = tmp_path / "state.json"
    kube = fresh(state_file=state, run_processes=False)
    kube.sb.stop()
    data = json.loads(state.read_text())
    name = "clusterserviceversions.operators.coreos.com"
    for record in data["store"]["objects"]:
        obj = record["object"]
        if record["plural"] == "customresourcedefinitions" and obj["metadata"]["name"] == name:
            for version in obj["spec"]["versions"]:
                version.pop("additionalPrinterColumns", None)
    state.write_text(json.dumps(data))

    again = fresh(state_file=state, run_processes=False)
    crd = again.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
    columns = [c.name for c in crd.spec.versions[0].additionalPrinterColumns]
    assert "Phase" in columns and "Version" in columns

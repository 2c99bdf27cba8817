"""Busy passes are incremental: a controller reconciles the namespaces whose inputs changed.

OLM and kube-controller-manager do not re-read the cluster when one object changes: their
informers queue the changed keys (OLM's namespace resolution queue), and a periodic resync
re-lists everything, rarely. These tests count what a pass reconciles (namespaces resolved,
the scope each controller was given), never time.
"""

import pytest

from sandbox.server import SandboxCluster
from sandbox.tests.conftest import PACKAGE, REGISTRY_IMAGE, TOKEN
from sandbox.workqueue import dirty_scope

V1A1, V1 = "operators.coreos.com/v1alpha1", "operators.coreos.com/v1"
N = 6


def settle(sb: SandboxCluster, limit: int = 300) -> None:
    """Step the controllers by hand until a pass writes nothing but Events."""
    for _ in range(limit):
        before = sb.store.revision
        sb.tick()
        if not sb.olm.busy and not dirty_scope(sb.store, sb.store.changes_since(before)):
            return
    raise AssertionError("the sandbox never settled")


@pytest.fixture
def cluster():
    """N namespaces, each with its own operator installed, the ticker idle (hand-stepped)."""
    sb = SandboxCluster(port=0, token=TOKEN, tick_interval=3600, run_processes=False).start()
    store = sb.store
    ns_rt = store.type_for("v1", "Namespace")
    store.create(
        store.type_for(V1A1, "CatalogSource"),
        "olm",
        {
            "metadata": {"name": "tenxcloud"},
            "spec": {"sourceType": "grpc", "image": REGISTRY_IMAGE},
        },
        manager="test",
    )
    names = [f"team-{i}" for i in range(N)]
    for name in names:
        store.create(ns_rt, None, {"metadata": {"name": name}}, manager="test")
        store.create(
            store.type_for(V1, "OperatorGroup"),
            name,
            {"metadata": {"name": "og"}, "spec": {"targetNamespaces": [name]}},
            manager="test",
        )
        store.create(
            store.type_for(V1A1, "Subscription"),
            name,
            {
                "metadata": {"name": "memcached"},
                "spec": {
                    "channel": "stable",
                    "name": PACKAGE,
                    "source": "tenxcloud",
                    "sourceNamespace": "olm",
                    "installPlanApproval": "Automatic",
                },
            },
            manager="test",
        )
    settle(sb)
    for name in names:
        csv = (
            (store.peek(store.type_for(V1A1, "Subscription"), name, "memcached") or {})
            .get("status", {})
            .get("installedCSV")
        )
        assert csv, name
        phase = store.peek(store.type_for(V1A1, "ClusterServiceVersion"), name, csv)["status"]
        assert phase["phase"] == "Succeeded", name
    yield sb, names
    sb.stop()


def _scopes(sb, monkeypatch) -> dict:
    """Record the scope each controller is handed on the next passes."""
    seen: dict = {}
    original = sb._scope

    def spy(name, controller, full):
        scope = original(name, controller, full)
        seen.setdefault(name, []).append(scope)
        return scope

    monkeypatch.setattr(sb, "_scope", spy)
    return seen


def _touch_subscription(sb, namespace: str) -> None:
    rt = sb.store.type_for(V1A1, "Subscription")
    sub = sb.store.peek(rt, namespace, "memcached")
    sub["metadata"].setdefault("labels", {})["touched"] = "yes"
    sb.store.save(rt, sub, manager="test")


def test_a_change_in_one_namespace_reconciles_only_that_namespace(cluster, monkeypatch):
    sb, names = cluster
    seen = _scopes(sb, monkeypatch)
    resolved = sb.olm.resolutions
    _touch_subscription(sb, names[2])
    sb.tick()
    assert sb.olm.resolutions - resolved == 1  # one namespace resolved, not N
    for controller in ("olm", "memcached", "kube"):
        (scope,) = seen[controller]
        assert not scope.full
        assert scope.namespaces == {names[2]}, controller
    # And the change was reconciled as a full pass would have: nothing left to do.
    full_rv = sb.store.revision
    sb.tick(full=True)
    assert not dirty_scope(sb.store, sb.store.changes_since(full_rv))


def test_a_settled_cluster_passes_over_nothing(cluster, monkeypatch):
    sb, _names = cluster
    seen = _scopes(sb, monkeypatch)
    resolved = sb.olm.resolutions
    sb.tick()
    sb.tick()
    assert sb.olm.resolutions == resolved
    assert all(not s for scopes in seen.values() for s in scopes)


def test_events_dirty_nothing(cluster, monkeypatch):
    """No controller reads Events: recording one (as every controller does) queues nothing."""
    sb, names = cluster
    from sandbox import events

    seen = _scopes(sb, monkeypatch)
    sub = sb.store.peek(sb.store.type_for(V1A1, "Subscription"), names[0], "memcached")
    events.record(sb.store, sub, reason="Test", message="hello", component="test", type_="Normal")
    sb.tick()
    assert all(not s for scopes in seen.values() for s in scopes)


def test_a_global_catalog_change_requeues_every_subscribed_namespace(cluster, monkeypatch):
    """OLM's syncSourceState: a catalog in the global namespace changing enqueues every
    namespace subscribed to it."""
    sb, names = cluster
    seen = _scopes(sb, monkeypatch)
    rt = sb.store.type_for(V1A1, "CatalogSource")
    cs = sb.store.peek(rt, "olm", "tenxcloud")
    cs["metadata"].setdefault("labels", {})["touched"] = "yes"
    sb.store.save(rt, cs, manager="test")
    resolved = sb.olm.resolutions
    sb.tick()
    assert seen["olm"][0].namespaces == {"olm", *names}
    assert sb.olm.resolutions - resolved == N


def test_an_all_namespaces_operator_links_every_namespace(cluster, monkeypatch):
    """An operator in X targeting all namespaces reads every namespace (its copied CSVs
    there) and every namespace reads X (the operator's CSV): a change in X is a full pass, a
    change elsewhere queues X too."""
    sb, names = cluster
    home = "everywhere"
    store = sb.store
    store.create(
        store.type_for("v1", "Namespace"), None, {"metadata": {"name": home}}, manager="test"
    )
    store.create(
        store.type_for(V1, "OperatorGroup"),
        home,
        {"metadata": {"name": "og"}, "spec": {}},
        manager="test",
    )
    sub = store.peek(store.type_for(V1A1, "Subscription"), names[0], "memcached")
    store.create(
        store.type_for(V1A1, "Subscription"),
        home,
        {"metadata": {"name": "memcached"}, "spec": sub["spec"]},
        manager="test",
    )
    settle(sb)
    csv_rt = store.type_for(V1A1, "ClusterServiceVersion")
    csv_name = store.peek(store.type_for(V1A1, "Subscription"), home, "memcached")["status"][
        "installedCSV"
    ]
    assert store.peek(csv_rt, home, csv_name)["status"]["phase"] == "Succeeded"
    target = "unrelated"
    store.create(
        store.type_for("v1", "Namespace"), None, {"metadata": {"name": target}}, manager="test"
    )
    settle(sb)
    copied = store.peek(csv_rt, target, csv_name)
    assert copied is not None and copied["metadata"]["labels"]["olm.copiedFrom"] == home
    seen = _scopes(sb, monkeypatch)
    store.create(
        store.type_for("v1", "ConfigMap"), target, {"metadata": {"name": "x"}}, manager="t"
    )
    sb.tick()
    assert seen["olm"][0].namespaces == {home, target}
    # A CSV gone takes its links along (who read it is no longer known): a full pass, which
    # makes the copy again from the operator's namespace.
    seen.clear()
    store.remove(csv_rt, copied)
    sb.tick()
    assert seen["olm"][0].full
    settle(sb)
    assert store.peek(csv_rt, target, csv_name) is not None
    seen.clear()
    csv = store.peek(csv_rt, home, csv_name)
    csv["metadata"].setdefault("labels", {})["touched"] = "yes"
    store.save(csv_rt, csv, manager="test")
    sb.tick()
    assert seen["olm"][0].full


def test_a_garbage_collected_child_goes_in_an_incremental_pass(cluster, monkeypatch):
    sb, names = cluster
    dep_rt = sb.store.type_for("apps/v1", "Deployment")
    rs_rt = sb.store.type_for("apps/v1", "ReplicaSet")
    deps = sb.store.scan(dep_rt, names[3])
    assert deps
    owned = [
        rs
        for rs in sb.store.scan(rs_rt, names[3])
        if any(r["uid"] == deps[0]["metadata"]["uid"] for r in rs["metadata"]["ownerReferences"])
    ]
    assert owned
    seen = _scopes(sb, monkeypatch)
    sb.store.delete(dep_rt, names[3], deps[0]["metadata"]["name"])
    sb.tick()
    assert not seen["kube"][0].full
    assert sb.store.peek(rs_rt, names[3], owned[0]["metadata"]["name"]) is None


def test_a_full_resync_still_runs_every_resync_interval(cluster, monkeypatch):
    sb, names = cluster
    seen = _scopes(sb, monkeypatch)
    resolved = sb.olm.resolutions
    sb.resync_interval = 0
    sb.tick()
    assert seen["olm"][0].full
    assert sb.olm.resolutions - resolved == len(names) + 0  # every subscribed namespace


def test_wake_makes_the_next_pass_full(cluster, monkeypatch):
    sb, _names = cluster
    seen = _scopes(sb, monkeypatch)
    sb.wake()
    sb.tick()
    sb.tick()
    assert [s.full for s in seen["olm"]] == [True, False]

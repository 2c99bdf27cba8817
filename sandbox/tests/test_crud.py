"""CRUD semantics and Status errors, through the official client."""

import json

import pytest
from kubernetes import client
from kubernetes.dynamic.exceptions import (
    ConflictError,
    MethodNotAllowedError,
    NotFoundError,
    UnauthorizedError,
    UnprocessibleEntityError,
)

from .conftest import api_client, make_dynamic_client, wait_for


def status_of(exc) -> dict:
    return json.loads(exc.body)


def test_namespaced_crud_round_trip(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    created = cms.create(namespace=ns, body={"metadata": {"name": "conf"}, "data": {"a": "1"}})
    meta = created.metadata
    assert meta.uid and meta.creationTimestamp.endswith("Z")
    assert int(meta.resourceVersion) > 0
    assert created.kind == "ConfigMap" and created.apiVersion == "v1"

    fetched = cms.get(namespace=ns, name="conf")
    assert fetched.data.a == "1"

    body = fetched.to_dict()
    body["data"]["b"] = "2"
    replaced = cms.replace(namespace=ns, body=body)
    assert replaced.data.to_dict() == {"a": "1", "b": "2"}
    assert int(replaced.metadata.resourceVersion) > int(meta.resourceVersion)

    patched = cms.patch(
        namespace=ns,
        name="conf",
        body={"data": {"a": None, "c": "3"}},
        content_type="application/merge-patch+json",
    )
    assert patched.data.to_dict() == {"b": "2", "c": "3"}

    deleted = cms.delete(namespace=ns, name="conf")
    assert deleted.kind == "Status" and deleted.status == "Success"
    assert deleted.details.name == "conf" and deleted.details.kind == "configmaps"
    with pytest.raises(NotFoundError):
        cms.get(namespace=ns, name="conf")


def test_cluster_scoped_crud_and_list_across_namespaces(kube, ns):
    nodes = kube.r("v1", "Node").get()
    assert [n.metadata.name for n in nodes.items] == [
        "sandbox-node-1",
        "sandbox-node-2",
        "sandbox-node-3",
    ]
    base = kube.sb.network.base
    assert [{a.type: a.address for a in n.status.addresses}["InternalIP"] for n in nodes.items] == [
        f"127.{base}.0.11",
        f"127.{base}.0.12",
        f"127.{base}.0.13",
    ]
    namespaces = {n.metadata.name for n in kube.r("v1", "Namespace").get().items}
    assert {"default", "kube-system", "olm", ns} <= namespaces

    other = kube.namespace()
    cms = kube.r("v1", "ConfigMap")
    cms.create(namespace=ns, body={"metadata": {"name": "x", "labels": {"suite": "crud-all"}}})
    cms.create(namespace=other, body={"metadata": {"name": "x", "labels": {"suite": "crud-all"}}})
    everywhere = cms.get(label_selector="suite=crud-all")
    assert everywhere.kind == "ConfigMapList" and everywhere.apiVersion == "v1"
    assert int(everywhere.metadata.resourceVersion) > 0
    assert sorted(i.metadata.namespace for i in everywhere.items) == sorted([ns, other])


def test_label_and_field_selectors(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    for name, labels in [
        ("a", {"app": "web", "tier": "front"}),
        ("b", {"app": "web", "tier": "back"}),
        ("c", {"app": "db"}),
        ("d", {}),
    ]:
        cms.create(namespace=ns, body={"metadata": {"name": name, "labels": labels}})

    def names(**kw):
        items = cms.get(namespace=ns, **kw).items
        return sorted(i.metadata.name for i in items if i.metadata.name != "kube-root-ca.crt")

    assert names(label_selector="app=web") == ["a", "b"]
    assert names(label_selector="app==web,tier=back") == ["b"]
    assert names(label_selector="app!=web") == ["c", "d"]
    assert names(label_selector="tier in (front, back)") == ["a", "b"]
    assert names(label_selector="app notin (web)") == ["c", "d"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c", "d"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c", label_selector="app") == ["a", "b"]
    assert names(field_selector=f"metadata.namespace={ns}", label_selector="app=db") == ["c"]
    with pytest.raises(client.ApiException) as exc:
        cms.get(namespace=ns, field_selector="data.x=1")
    assert exc.value.status == 400


def test_pagination_with_limit_and_continue(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    for i in range(5):
        cms.create(namespace=ns, body={"metadata": {"name": f"p{i}", "labels": {"page": "y"}}})
    first = cms.get(namespace=ns, label_selector="page=y", limit=2)
    assert len(first.items) == 2 and first.metadata["continue"]
    rest = cms.get(
        namespace=ns, label_selector="page=y", limit=10, _continue=first.metadata["continue"]
    )
    assert len(rest.items) == 3


def test_generate_name_uid_generation(kube, ns):
    deps = kube.r("apps/v1", "Deployment")
    body = {
        "metadata": {"generateName": "web-"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
    }
    dep = deps.create(namespace=ns, body=body)
    name = dep.metadata.name
    assert name.startswith("web-") and len(name) == len("web-") + 5
    assert dep.metadata.generation == 1
    # metadata-only change: generation stays
    dep = deps.patch(
        namespace=ns,
        name=name,
        body={"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    assert dep.metadata.generation == 1
    # spec change: generation bumps
    dep = deps.patch(
        namespace=ns,
        name=name,
        body={"spec": {"replicas": 2}},
        content_type="application/merge-patch+json",
    )
    assert dep.metadata.generation == 2
    # status written by the controller does not bump it
    wait_for(lambda: (deps.get(namespace=ns, name=name).status or {}).get("readyReplicas") == 2)
    assert deps.get(namespace=ns, name=name).metadata.generation == 2


def test_already_exists(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    cms.create(namespace=ns, body={"metadata": {"name": "dup"}})
    with pytest.raises(ConflictError) as exc:
        cms.create(namespace=ns, body={"metadata": {"name": "dup"}})
    status = status_of(exc.value)
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert status["reason"] == "AlreadyExists" and status["code"] == 409
    assert status["message"] == 'configmaps "dup" already exists'
    assert status["details"] == {"name": "dup", "kind": "configmaps"}

    deps = kube.r("apps/v1", "Deployment")
    body = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i:1"}]},
            },
        },
    }
    deps.create(namespace=ns, body=body)
    with pytest.raises(ConflictError) as exc:
        deps.create(namespace=ns, body=body)
    assert status_of(exc.value)["message"] == 'deployments.apps "d" already exists'
    assert status_of(exc.value)["details"]["group"] == "apps"


def test_stale_resource_version_conflicts(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    original = cms.create(namespace=ns, body={"metadata": {"name": "rv"}, "data": {"v": "1"}})
    fresh = original.to_dict()
    fresh["data"]["v"] = "2"
    cms.replace(namespace=ns, body=fresh)
    stale = original.to_dict()
    stale["data"]["v"] = "3"
    with pytest.raises(ConflictError) as exc:
        cms.replace(namespace=ns, body=stale)
    status = status_of(exc.value)
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "rv": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    # Without a resourceVersion the update is unconditional, like the real API server.
    unconditional = cms.get(namespace=ns, name="rv").to_dict()
    del unconditional["metadata"]["resourceVersion"]
    unconditional["data"]["v"] = "4"
    assert cms.replace(namespace=ns, body=unconditional).data.v == "4"


def test_not_found_messages(kube, ns):
    with pytest.raises(NotFoundError) as exc:
        kube.r("v1", "ConfigMap").get(namespace=ns, name="missing")
    assert status_of(exc.value)["message"] == 'configmaps "missing" not found'
    with pytest.raises(NotFoundError) as exc:
        kube.r("apps/v1", "StatefulSet").delete(namespace=ns, name="missing")
    status = status_of(exc.value)
    assert status["message"] == 'statefulsets.apps "missing" not found'
    assert status["details"] == {"name": "missing", "group": "apps", "kind": "statefulsets"}


def test_invalid_objects(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    with pytest.raises(UnprocessibleEntityError) as exc:
        cms.create(namespace=ns, body={"metadata": {}})
    status = status_of(exc.value)
    assert status["reason"] == "Invalid" and status["code"] == 422
    assert status["message"] == (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: name or generateName is required",
            "field": "metadata.name",
        }
    ]
    with pytest.raises(UnprocessibleEntityError) as exc:
        cms.create(namespace=ns, body={"metadata": {"name": "Bad_Name"}})
    status = status_of(exc.value)
    assert status["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain must consist of"
    )
    cause = status["details"]["causes"][0]
    assert cause["field"] == "metadata.name" and cause["reason"] == "FieldValueInvalid"
    with pytest.raises(UnprocessibleEntityError) as exc:
        kube.r("v1", "Namespace").create(body={"metadata": {"name": "a.b"}})
    assert "RFC 1123 label" in status_of(exc.value)["message"]


def test_create_in_missing_namespace_is_not_found(kube):
    with pytest.raises(NotFoundError) as exc:
        kube.r("v1", "ConfigMap").create(namespace="no-such-ns", body={"metadata": {"name": "x"}})
    status = status_of(exc.value)
    assert status["message"] == 'namespaces "no-such-ns" not found'
    assert status["details"] == {"name": "no-such-ns", "kind": "namespaces"}


def test_status_subresource_rules(kube, ns):
    deps = kube.r("apps/v1", "Deployment")
    dep = deps.create(
        namespace=ns,
        body={
            "metadata": {"name": "s"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"a": "s"}},
                "template": {
                    "metadata": {"labels": {"a": "s"}},
                    "spec": {"containers": [{"name": "c", "image": "i:1"}]},
                },
            },
            "status": {"replicas": 99},
        },
    )
    assert (dep.status or {}).get("replicas") != 99  # status dropped on create
    # status via the main endpoint is ignored
    dep = deps.patch(
        namespace=ns,
        name="s",
        body={"status": {"observedGeneration": 42}},
        content_type="application/merge-patch+json",
    )
    assert (dep.status or {}).get("observedGeneration") != 42
    # spec via /status is ignored, status via /status sticks
    current = deps.get(namespace=ns, name="s").to_dict()
    del current["metadata"]["resourceVersion"]  # the controller may write status meanwhile
    current["spec"]["replicas"] = 5
    current["status"] = {"observedGeneration": 7, "conditions": []}
    after = deps.status.replace(namespace=ns, body=current)
    assert after.spec.replicas == 0 and after.status.observedGeneration == 7
    patched = deps.status.patch(
        namespace=ns,
        name="s",
        body={"status": {"collisionCount": 1}},
        content_type="application/merge-patch+json",
    )
    assert patched.status.collisionCount == 1


def test_json_patch(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    cms.create(namespace=ns, body={"metadata": {"name": "jp"}, "data": {"a": "1"}})
    patched = cms.patch(
        namespace=ns,
        name="jp",
        body=[
            {"op": "test", "path": "/data/a", "value": "1"},
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "remove", "path": "/data/a"},
        ],
        content_type="application/json-patch+json",
    )
    assert patched.data.to_dict() == {"b": "2"}
    with pytest.raises(UnprocessibleEntityError):
        cms.patch(
            namespace=ns,
            name="jp",
            body=[{"op": "test", "path": "/data/b", "value": "x"}],
            content_type="application/json-patch+json",
        )


def test_strategic_merge_patch_on_builtin_but_415_on_custom_resources(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    cms.create(namespace=ns, body={"metadata": {"name": "smp"}, "data": {"a": "1"}})
    # DynamicClient.patch defaults to strategic merge patch
    assert cms.patch(namespace=ns, name="smp", body={"data": {"b": "2"}}).data.to_dict() == {
        "a": "1",
        "b": "2",
    }
    kube.operator_group(ns)
    with pytest.raises(client.ApiException) as exc:
        kube.r("operators.coreos.com/v1", "OperatorGroup").patch(
            namespace=ns, name="og", body={"spec": {"targetNamespaces": []}}
        )
    assert exc.value.status == 415
    assert status_of(exc.value)["reason"] == "UnsupportedMediaType"
    response = kube.dyn.client.rest_client.request(
        "PATCH",
        f"{kube.sb.url}/api/v1/namespaces/{ns}/configmaps/smp",
        headers={"Content-Type": "text/plain", "authorization": "Bearer secret"},
        body="{}",
    )
    response.read()
    assert response.status == 415


def test_package_manifests_are_read_only(kube, ns):
    packages = kube.r("packages.operators.coreos.com/v1", "PackageManifest")
    with pytest.raises(MethodNotAllowedError) as exc:
        packages.create(namespace=ns, body={"metadata": {"name": "x"}})
    assert status_of(exc.value)["reason"] == "MethodNotAllowed"
    with pytest.raises(MethodNotAllowedError):
        packages.delete(namespace=ns, name="memcached-cluster-operator")


def test_delete_returns_object_for_pods_and_status_for_others(kube, ns):
    pods = kube.r("v1", "Pod")
    pods.create(
        namespace=ns,
        body={
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
        },
    )
    deleted = pods.delete(namespace=ns, name="p")
    assert deleted.kind == "Pod" and deleted.metadata.name == "p"


def test_finalizers_keep_objects_until_removed(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    cms.create(namespace=ns, body={"metadata": {"name": "fin", "finalizers": ["example.com/hold"]}})
    held = cms.delete(namespace=ns, name="fin")
    assert held.metadata.deletionTimestamp
    assert cms.get(namespace=ns, name="fin").metadata.deletionTimestamp
    cms.patch(
        namespace=ns,
        name="fin",
        body={"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    with pytest.raises(NotFoundError):
        cms.get(namespace=ns, name="fin")


def test_deleting_a_namespace_deletes_its_objects(kube):
    ns = kube.namespace()
    kube.r("v1", "ConfigMap").create(namespace=ns, body={"metadata": {"name": "gone"}})
    terminating = kube.r("v1", "Namespace").delete(name=ns)
    assert terminating.status.phase == "Terminating"
    with pytest.raises(client.ApiException) as exc:
        kube.r("v1", "ConfigMap").create(namespace=ns, body={"metadata": {"name": "late"}})
    assert exc.value.status in (403, 404)
    wait_for(lambda: ns not in {n.metadata.name for n in kube.r("v1", "Namespace").get().items})
    assert not kube.r("v1", "ConfigMap").get(field_selector=f"metadata.namespace={ns}").items


def test_owner_reference_garbage_collection(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    owner = cms.create(namespace=ns, body={"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    cms.create(namespace=ns, body={"metadata": {"name": "child", "ownerReferences": [ref]}})
    cms.create(
        namespace=ns,
        body={
            "metadata": {
                "name": "grandchild",
                "ownerReferences": [
                    {
                        **ref,
                        "name": "child",
                        "uid": cms.get(namespace=ns, name="child").metadata.uid,
                    }
                ],
            }
        },
    )
    cms.delete(namespace=ns, name="owner")
    wait_for(
        lambda: (
            not [
                i for i in cms.get(namespace=ns).items if i.metadata.name in ("child", "grandchild")
            ]
        )
    )


def test_unauthorized_without_or_with_wrong_token(sandbox, tmp_path_factory):
    for token in (None, "Bearer wrong"):
        api = api_client(sandbox, token=None)
        if token:
            api.configuration.api_key = {"authorization": token}
        with pytest.raises(client.ApiException) as exc:
            client.CoreV1Api(api).list_namespace()
        assert exc.value.status == 401
        assert status_of(exc.value) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
    with pytest.raises(UnauthorizedError):
        make_dynamic_client(sandbox, tmp_path_factory, token="nope")
    # The api_key-with-prefix form works as well as the literal "Bearer <token>" form.
    literal = client.ApiClient(
        client.Configuration(host=sandbox.url, api_key={"authorization": "Bearer secret"})
    )
    assert client.CoreV1Api(literal).read_namespace("default").metadata.name == "default"


def test_typed_client_works_too(sandbox, ns):
    core = client.CoreV1Api(api_client(sandbox))
    core.create_namespaced_secret(
        ns, client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"k": "v"})
    )
    secret = core.read_namespaced_secret("s", ns)
    assert secret.data == {"k": "dg=="} and secret.type == "Opaque"
    apps = client.AppsV1Api(api_client(sandbox))
    assert apps.list_namespaced_deployment("olm").items


def test_strategic_merge_patch_merges_containers_by_name(kube, ns):
    deps = kube.r("apps/v1", "Deployment")
    deps.create(
        namespace=ns,
        body={
            "metadata": {"name": "smp"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"a": "smp"}},
                "template": {
                    "metadata": {"labels": {"a": "smp"}},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
                            {"name": "sidecar", "image": "side:1"},
                        ]
                    },
                },
            },
        },
    )
    patched = deps.patch(
        namespace=ns,
        name="smp",
        body={"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}},
    )
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["app"].image == "app:2" and containers["app"].ports[0].containerPort == 80
    assert containers["sidecar"].image == "side:1"
    # A merge patch replaces the list instead, as RFC 7386 says.
    merged = deps.patch(
        namespace=ns,
        name="smp",
        body={"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "o:1"}]}}}},
        content_type="application/merge-patch+json",
    )
    assert [c.name for c in merged.spec.template.spec.containers] == ["only"]


def test_unchanged_writes_do_not_bump_the_resource_version(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    created = cms.create(namespace=ns, body={"metadata": {"name": "same"}, "data": {"a": "1"}})
    body = created.to_dict()
    del body["metadata"]["resourceVersion"]
    assert (
        cms.replace(namespace=ns, body=body).metadata.resourceVersion
        == created.metadata.resourceVersion
    )


def test_concurrent_writers(sandbox, ns):
    """Many client threads at once: every write lands, resourceVersions never repeat."""
    import threading

    versions, failures = [], []

    def writer(n):
        core = client.CoreV1Api(api_client(sandbox))
        for i in range(15):
            try:
                cm = core.create_namespaced_config_map(
                    ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c-{n}-{i}"))
                )
                versions.append(cm.metadata.resource_version)
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(versions) == len(set(versions)) == 120

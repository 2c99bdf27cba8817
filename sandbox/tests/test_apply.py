"""Server-side apply: create/update, managedFields, conflicts, force, field removal."""

import json

import pytest
from kubernetes.dynamic.exceptions import ConflictError, UnprocessibleEntityError

APPLY = "application/apply-patch+yaml"


def apply(resource, ns, body, manager, force=None):
    return resource.patch(
        namespace=ns, body=body, content_type=APPLY, field_manager=manager, force_conflicts=force
    )


def cm(name, data=None, labels=None):
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if data is not None:
        body["data"] = data
    return body


def entries(obj) -> dict:
    return {(m["manager"], m["operation"]): m for m in obj.to_dict()["metadata"]["managedFields"]}


def test_apply_creates_then_updates(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    created = apply(cms, ns, cm("ssa", {"a": "1"}, {"app": "x"}), "marketplace")
    assert created.data.a == "1"
    entry = entries(created)[("marketplace", "Apply")]
    assert entry["apiVersion"] == "v1" and entry["fieldsType"] == "FieldsV1"
    assert entry["time"].endswith("Z")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}

    updated = apply(cms, ns, cm("ssa", {"a": "2", "b": "3"}, {"app": "x"}), "marketplace")
    assert updated.data.to_dict() == {"a": "2", "b": "3"}
    assert int(updated.metadata.resourceVersion) > int(created.metadata.resourceVersion)

    # Re-applying the same configuration is a no-op: no new resourceVersion.
    again = apply(cms, ns, cm("ssa", {"a": "2", "b": "3"}, {"app": "x"}), "marketplace")
    assert again.metadata.resourceVersion == updated.metadata.resourceVersion


def test_apply_accepts_a_yaml_body(kube, ns):
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-cm\n  namespace: {ns}\ndata:\n  k: v\n"
    response = kube.dyn.client.rest_client.request(
        "PATCH",
        f"{kube.sb.url}/api/v1/namespaces/{ns}/configmaps/yaml-cm?fieldManager=yaml-user",
        headers={"Content-Type": APPLY, "authorization": "Bearer secret"},
        body=body,
    )
    response.read()
    assert response.status == 201
    assert json.loads(response.data)["data"] == {"k": "v"}


def test_apply_requires_field_manager(kube, ns):
    with pytest.raises(UnprocessibleEntityError) as exc:
        kube.r("v1", "ConfigMap").patch(
            namespace=ns, body=cm("nomgr", {"a": "1"}), content_type=APPLY
        )
    status = json.loads(exc.value.body)
    assert status["reason"] == "Invalid"
    assert "fieldManager: Required value: is required for apply patch" in status["message"]


def test_apply_conflict_and_force(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    apply(cms, ns, cm("shared", {"x": "1", "y": "1"}), "first")
    # Same value: shared ownership, no conflict.
    shared = apply(cms, ns, cm("shared", {"x": "1"}), "second")
    assert {("first", "Apply"), ("second", "Apply")} <= set(entries(shared))

    with pytest.raises(ConflictError) as exc:
        apply(cms, ns, cm("shared", {"y": "2"}), "second", force=False)
    status = json.loads(exc.value.body)
    assert status["reason"] == "Conflict" and status["code"] == 409
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "first": .data.y'
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "first"', "field": ".data.y"}
    ]

    forced = apply(cms, ns, cm("shared", {"x": "1", "y": "2"}), "second", force=True)
    assert forced.data.y == "2"
    owners = entries(forced)
    assert "f:y" not in owners[("first", "Apply")]["fieldsV1"]["f:data"]
    assert "f:y" in owners[("second", "Apply")]["fieldsV1"]["f:data"]


def test_conflict_with_an_update_manager_names_its_api_version(kube, ns):
    deps = kube.r("apps/v1", "Deployment")
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "w", "image": "nginx:1"}]},
            },
        },
    }
    apply(deps, ns, body, "marketplace")
    deps.patch(
        namespace=ns,
        name="web",
        body={"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
        field_manager="kubectl-scale",
    )
    with pytest.raises(ConflictError) as exc:
        apply(deps, ns, body, "marketplace")
    assert json.loads(exc.value.body)["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    )
    assert apply(deps, ns, body, "marketplace", force=True).spec.replicas == 1


def test_fields_dropped_from_the_applied_config_are_removed(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    apply(cms, ns, cm("prune", {"keep": "1", "drop": "2"}, {"a": "1", "b": "2"}), "mgr")
    after = apply(cms, ns, cm("prune", {"keep": "1"}, {"a": "1"}), "mgr")
    assert after.data.to_dict() == {"keep": "1"}
    assert after.metadata.labels.to_dict() == {"a": "1"}
    # A field another manager also owns survives when one of them stops applying it.
    apply(cms, ns, cm("prune", {"keep": "1", "co": "x"}), "mgr")
    apply(cms, ns, cm("prune", {"co": "x"}), "other")
    kept = apply(cms, ns, cm("prune", {"keep": "1"}), "mgr")
    assert kept.data.to_dict() == {"keep": "1", "co": "x"}


def test_update_operations_are_recorded_per_manager(kube, ns):
    cms = kube.r("v1", "ConfigMap")
    created = cms.create(
        namespace=ns, body={"metadata": {"name": "upd", "labels": {"l": "1"}}, "data": {"a": "1"}}
    )
    (entry,) = created.to_dict()["metadata"]["managedFields"]
    assert entry["operation"] == "Update" and entry["manager"] == "OpenAPI-Generator"
    assert entry["fieldsV1"] == {
        "f:data": {".": {}, "f:a": {}},
        "f:metadata": {"f:labels": {".": {}, "f:l": {}}},
    }
    patched = cms.patch(
        namespace=ns,
        name="upd",
        body={"data": {"b": "2"}},
        content_type="application/merge-patch+json",
        field_manager="editor",
    )
    assert entries(patched)[("editor", "Update")]["fieldsV1"]["f:data"] == {".": {}, "f:b": {}}


def test_apply_on_custom_resource_and_status_is_ignored(kube, ns):
    ogs = kube.r("operators.coreos.com/v1", "OperatorGroup")
    body = {
        "apiVersion": "operators.coreos.com/v1",
        "kind": "OperatorGroup",
        "metadata": {"name": "og"},
        "spec": {"targetNamespaces": [ns]},
        "status": {"namespaces": ["hacked"]},
    }
    first = apply(ogs, ns, body, "marketplace")
    assert first.spec.targetNamespaces == [ns]
    assert (first.status or {}).get("namespaces") != ["hacked"]
    assert first.metadata.generation == 1
    again = apply(ogs, ns, {**body, "spec": {"targetNamespaces": [ns, "default"]}}, "marketplace")
    assert again.metadata.generation == 2

"""Discovery: /version, /api, /apis and CRDs appearing at run time."""

import json

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from .conftest import make_dynamic_client, wait_for

BUILTINS = [
    ("v1", "Namespace"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Event"),
    ("v1", "ServiceAccount"),
    ("v1", "Node"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "Deployment"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("operators.coreos.com/v1", "OperatorGroup"),
    ("operators.coreos.com/v1alpha1", "CatalogSource"),
    ("operators.coreos.com/v1alpha1", "Subscription"),
    ("operators.coreos.com/v1alpha1", "InstallPlan"),
    ("operators.coreos.com/v1alpha1", "ClusterServiceVersion"),
    ("packages.operators.coreos.com/v1", "PackageManifest"),
]


def test_version_and_legacy_discovery_documents(sandbox, dyn):
    assert dyn.version["kubernetes"]["gitVersion"].startswith("v1.")
    api = dyn.request("get", "/api")
    assert api.kind == "APIVersions" and api.versions == ["v1"]
    groups = dyn.request("get", "/apis")
    assert groups.kind == "APIGroupList"
    names = {g["name"] for g in groups.groups}
    assert {"apps", "apiextensions.k8s.io", "operators.coreos.com"} <= names
    assert "packages.operators.coreos.com" in names
    og = next(g for g in groups.groups if g["name"] == "operators.coreos.com")
    assert og["preferredVersion"] in og["versions"]
    core = dyn.request("get", "/api/v1")
    assert core.kind == "APIResourceList" and core.groupVersion == "v1"
    by_name = {r["name"]: r for r in core.resources}
    assert by_name["pods/log"]["verbs"] == ["get"]
    assert by_name["namespaces"]["namespaced"] is False
    assert "po" in by_name["pods"]["shortNames"]


@pytest.mark.parametrize(("api_version", "kind"), BUILTINS)
def test_builtin_kinds_are_discoverable(dyn, api_version, kind):
    resource = dyn.resources.get(api_version=api_version, kind=kind)
    assert resource.kind == kind


def test_group_version_document_and_unknown_group(sandbox, dyn):
    apps = dyn.request("get", "/apis/apps/v1")
    assert {"deployments", "statefulsets", "deployments/status"} <= {
        r["name"] for r in apps.resources
    }
    with pytest.raises(client.ApiException) as exc:
        dyn.request("get", "/apis/nope.example.com/v1")
    assert exc.value.status == 404


def test_aggregated_discovery_accept_header_gets_legacy_format(sandbox):
    """Clients asking for aggregated discovery must get (and accept) the legacy format."""
    api = client.ApiClient(
        client.Configuration(host=sandbox.url, api_key={"authorization": "Bearer secret"})
    )
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    )
    response = api.rest_client.request(
        "GET", f"{sandbox.url}/apis", headers={"Accept": accept, "authorization": "Bearer secret"}
    )
    response.read()
    assert response.getheader("Content-Type") == "application/json"
    assert json.loads(response.data)["kind"] == "APIGroupList"


def test_crd_created_at_run_time_is_served_and_discovered(
    sandbox, kube, ns, tmp_path_factory
) -> None:
    crds = kube.r("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    crd = crds.create(
        body={
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {
                    "plural": "widgets",
                    "singular": "widget",
                    "kind": "Widget",
                    "shortNames": ["wd"],
                },
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {"size": {"type": "integer", "default": 3}},
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    conditions = {c["type"]: c["status"] for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    # The already-constructed client finds the new kind (its cache misses, it re-discovers).
    widgets = kube.r("example.com/v1", "Widget")
    created = widgets.create(namespace=ns, body={"metadata": {"name": "w1"}, "spec": {"junk": 1}})
    assert created.spec.to_dict() == {"size": 3}  # default applied, unknown field pruned
    assert created.metadata.generation == 1
    groups = {g["name"] for g in kube.dyn.request("get", "/apis").groups}
    assert "example.com" in groups
    fresh: DynamicClient = make_dynamic_client(sandbox, tmp_path_factory)
    assert fresh.resources.get(api_version="example.com/v1", kind="Widget").namespaced
    # Deleting the CRD stops serving it and deletes its objects.
    crds.delete(name="widgets.example.com")
    wait_for(
        lambda: "example.com" not in {g["name"] for g in kube.dyn.request("get", "/apis").groups}
    )
    with pytest.raises(client.ApiException) as exc:
        kube.dyn.request("get", f"/apis/example.com/v1/namespaces/{ns}/widgets")
    assert exc.value.status == 404

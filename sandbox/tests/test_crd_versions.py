"""CRDs as the API server serves them: several versions, v1beta1 conversion, pruning,
defaults and validation messages (apiextensions-apiserver wording)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ApiException, ResourceNotFoundError

from sandbox.catalog import Catalog
from sandbox.resources import crd_as_served, crd_types
from sandbox.server import SandboxCluster

from .conftest import TICK, TOKEN, Kube, make_dynamic_client, wait_for

COMMUNITY = "quay.io/sandbox/community-catalog:v1"
GROUP = "opentelemetry.io"
OTEL_CRD = f"opentelemetrycollectors.{GROUP}"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _raw(sb, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(
        sb.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def sandbox():
    """A cluster of this module's own: the CRDs created here stay out of the shared one."""
    sb = SandboxCluster(host="127.0.0.1", port=0, token=TOKEN, tick_interval=TICK)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def dyn(sandbox, tmp_path_factory) -> DynamicClient:
    return make_dynamic_client(sandbox, tmp_path_factory)


@pytest.fixture(scope="module")
def kube(sandbox, dyn) -> Kube:
    return Kube(sandbox, dyn)


@pytest.fixture(scope="module")
def otel(sandbox, dyn, catalog, tmp_path_factory):
    """The opentelemetry-operator bundle's CRD (v1alpha1 served, v1beta1 served + storage)
    plus an unserved v1 version, created through the API."""
    crd = catalog.crd(OTEL_CRD, image=COMMUNITY)
    assert crd is not None
    v1 = json.loads(json.dumps(crd["spec"]["versions"][1]))
    v1.update(name="v1", served=False, storage=False)
    v1.pop("deprecated", None)
    crd["spec"]["versions"].append(v1)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    try:
        crds.create(body=crd)
    except ApiException as exc:  # the module may run after a test that installed it
        assert exc.status == 409
    # a fresh discovery cache: the new group must be visible
    return make_dynamic_client(sandbox, tmp_path_factory)


def _collectors(dyn, version: str):
    return dyn.resources.get(api_version=f"{GROUP}/{version}", kind="OpenTelemetryCollector")


def _invalid(exc: ApiException) -> dict:
    assert exc.status == 422, exc.body
    body = json.loads(exc.body or "{}")
    assert body["reason"] == "Invalid"
    return body


def test_each_served_version_creates_and_reads_the_same_object(otel, kube):
    ns = kube.namespace()
    beta = _collectors(otel, "v1beta1")
    alpha = _collectors(otel, "v1alpha1")
    beta.create(
        namespace=ns,
        body={
            "apiVersion": f"{GROUP}/v1beta1",
            "kind": "OpenTelemetryCollector",
            "metadata": {"name": "beta"},
            "spec": {"config": {"receivers": {"otlp": {}}}},
        },
    )
    alpha.create(
        namespace=ns,
        body={
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "OpenTelemetryCollector",
            "metadata": {"name": "alpha"},
            "spec": {"config": "receivers: {}"},
        },
    )
    # one storage: each object is readable in every served version
    names = sorted(i.metadata.name for i in alpha.get(namespace=ns).items)
    assert names == ["alpha", "beta"]
    got = beta.get(namespace=ns, name="alpha").to_dict()
    assert got["apiVersion"] == f"{GROUP}/v1beta1"
    assert alpha.get(namespace=ns, name="beta").to_dict()["apiVersion"] == f"{GROUP}/v1alpha1"


def test_discovery_lists_served_versions_storage_first(otel, sandbox):
    code, group = _raw(sandbox, "GET", f"/apis/{GROUP}")
    assert code == 200
    assert [v["version"] for v in group["versions"]] == ["v1beta1", "v1alpha1"]
    assert group["preferredVersion"]["version"] == "v1beta1"
    code, crd = _raw(
        sandbox, "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{OTEL_CRD}"
    )
    assert crd["status"]["storedVersions"] == ["v1beta1"]


def test_unserved_version_is_not_found(otel, sandbox, kube):
    ns = kube.namespace()
    code, body = _raw(sandbox, "GET", f"/apis/{GROUP}/v1/namespaces/{ns}/opentelemetrycollectors")
    assert code == 404
    assert body["reason"] == "NotFound"
    code, _ = _raw(sandbox, "GET", f"/apis/{GROUP}/v1")
    assert code == 404
    with pytest.raises(ResourceNotFoundError):
        _collectors(otel, "v1")


def test_unknown_fields_are_pruned_and_defaults_applied(otel, kube):
    ns = kube.namespace()
    created = (
        _collectors(otel, "v1beta1")
        .create(
            namespace=ns,
            body={
                "apiVersion": f"{GROUP}/v1beta1",
                "kind": "OpenTelemetryCollector",
                "metadata": {"name": "pruned"},
                "spec": {
                    "config": {"anything": {"goes": [1, 2]}},  # preserve-unknown-fields
                    "bogus": True,
                    "resources": {"limits": {"cpu": "1", "memory": 512}},
                },
                "extra": "dropped",
            },
        )
        .to_dict()
    )
    assert "extra" not in created
    assert "bogus" not in created["spec"]
    assert created["spec"]["config"] == {"anything": {"goes": [1, 2]}}
    assert created["spec"]["mode"] == "deployment"  # default
    assert created["spec"]["managementState"] == "managed"
    assert created["spec"]["resources"] == {"limits": {"cpu": "1", "memory": 512}}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"config": {}, "replicas": "three"},
            'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
            'integer: "string"',
        ),
        (
            {"config": {}, "replicas": -1},
            "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than "
            "or equal to 0",
        ),
        (
            {"config": {}, "mode": "cronjob"},
            'spec.mode: Unsupported value: "cronjob": supported values: "daemonset", '
            '"deployment", "sidecar", "statefulset"',
        ),
        ({"replicas": 1}, "spec.config: Required value"),
    ],
)
def test_bad_values_are_422_with_the_api_server_wording(otel, kube, spec, message):
    name = f"bad-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ApiException) as info:
        _collectors(otel, "v1beta1").create(
            namespace=kube.namespace(),
            body={
                "apiVersion": f"{GROUP}/v1beta1",
                "kind": "OpenTelemetryCollector",
                "metadata": {"name": name},
                "spec": spec,
            },
        )
    body = _invalid(info.value)
    assert body["message"] == f'OpenTelemetryCollector.{GROUP} "{name}" is invalid: {message}'
    assert body["details"]["causes"][0]["field"] == message.split(":")[0]


def test_v1beta1_crd_is_converted_to_v1(catalog):
    pkg = catalog.package(COMMUNITY, "etcd")
    assert pkg is not None
    shipped = pkg.bundle("etcdoperator.v0.9.4").crd("etcdclusters.etcd.database.coreos.com")
    assert shipped["apiVersion"] == "apiextensions.k8s.io/v1beta1"
    assert shipped["spec"]["version"] == "v1beta2"
    served = crd_as_served(shipped)
    assert served["apiVersion"] == "apiextensions.k8s.io/v1"
    spec = served["spec"]
    assert "version" not in spec and "validation" not in spec
    assert "additionalPrinterColumns" not in spec and "subresources" not in spec
    assert spec["preserveUnknownFields"] is True
    assert spec["conversion"] == {"strategy": "None"}
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1beta2", True, True)
    schema = version["schema"]["openAPIV3Schema"]
    assert schema["properties"]["spec"]["properties"]["size"]["minimum"] == 1
    assert version["subresources"] == {"status": {}}
    assert version["additionalPrinterColumns"][0] == {
        "name": "Size",
        "type": "integer",
        "jsonPath": ".spec.size",
    }
    backup = crd_as_served(
        pkg.bundle("etcdoperator.v0.9.4").crd("etcdbackups.etcd.database.coreos.com")
    )
    assert backup["spec"]["names"]["singular"] == "etcdbackup"
    [rt] = crd_types(backup)
    assert rt.namespaced and rt.schema is not None
    assert rt.schema.preserve_unknown_fields  # v1beta1 default: nothing is pruned
    assert pkg.crd("etcdclusters.etcd.database.coreos.com") == served  # Package.crd converts


def test_v1beta1_conversion_moves_webhook_and_per_version_fields():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [
                {"name": "v1beta1", "served": True, "storage": True},
                {"name": "v1alpha1", "served": True, "storage": False},
            ],
            "validation": {"openAPIV3Schema": {"type": "object"}},
            "additionalPrinterColumns": [
                {"name": "Age", "type": "date", "JSONPath": ".metadata.creationTimestamp"}
            ],
            "preserveUnknownFields": False,
            "conversion": {
                "strategy": "Webhook",
                "webhookClientConfig": {"service": {"name": "w", "namespace": "n"}},
            },
        },
    }
    spec = crd_as_served(crd)["spec"]
    assert spec["preserveUnknownFields"] is False
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["listKind"] == "WidgetList"
    assert spec["conversion"] == {
        "strategy": "Webhook",
        "webhook": {
            "clientConfig": {"service": {"name": "w", "namespace": "n"}},
            "conversionReviewVersions": ["v1beta1"],
        },
    }
    for version in spec["versions"]:
        assert version["schema"] == {"openAPIV3Schema": {"type": "object"}}
        assert version["additionalPrinterColumns"][0]["jsonPath"] == ".metadata.creationTimestamp"
    assert [t.version for t in crd_types(crd)] == ["v1beta1", "v1alpha1"]
    # the deprecated single `version`, no validation: one served+storage version, no schema
    legacy = {
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "version": "v1",
            "names": {"kind": "Gadget", "plural": "gadgets"},
        },
    }
    spec = crd_as_served(legacy)["spec"]
    assert spec["versions"] == [{"name": "v1", "served": True, "storage": True}]
    assert spec["preserveUnknownFields"] is True
    [rt] = crd_types(legacy)
    assert rt.schema is None and rt.singular == "gadget"


def test_operator_installs_a_v1beta1_crd_served_as_v1(fresh):
    kube = fresh()
    assert kube.catalog("community", image=COMMUNITY) == "READY"
    ns = kube.namespace()
    kube.operator_group(ns)
    kube.subscribe(
        ns, name="etcd", package="etcd", channel="singlenamespace-alpha", source="community"
    )
    csv = wait_for(lambda: kube.sub_status(ns, "etcd").get("installedCSV"), message="installedCSV")
    assert csv == "etcdoperator.v0.9.4"
    wait_for(lambda: kube.csv_phase(ns, csv) == "Succeeded", message="etcd Succeeded")
    crd = kube.get(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "etcdclusters.etcd.database.coreos.com",
    ).to_dict()
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["spec"]["preserveUnknownFields"] is True
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v1beta2"]
    assert "version" not in crd["spec"] and "validation" not in crd["spec"]
    dyn = make_dynamic_client(kube.sb)
    clusters = dyn.resources.get(api_version="etcd.database.coreos.com/v1beta2", kind="EtcdCluster")
    made = clusters.create(
        namespace=ns,
        body={
            "apiVersion": "etcd.database.coreos.com/v1beta2",
            "kind": "EtcdCluster",
            "metadata": {"name": "example"},
            "spec": {"size": 3, "version": "3.2.13", "legacyField": "kept"},
        },
    ).to_dict()
    assert made["spec"]["legacyField"] == "kept"  # preserveUnknownFields: nothing pruned
    with pytest.raises(ApiException) as info:
        clusters.create(
            namespace=ns,
            body={
                "apiVersion": "etcd.database.coreos.com/v1beta2",
                "kind": "EtcdCluster",
                "metadata": {"name": "zero"},
                "spec": {"size": 0},
            },
        )
    body = _invalid(info.value)
    assert body["message"] == (
        'EtcdCluster.etcd.database.coreos.com "zero" is invalid: spec.size: Invalid value: 0: '
        "spec.size in body should be greater than or equal to 1"
    )

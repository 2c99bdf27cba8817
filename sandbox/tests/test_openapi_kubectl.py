"""OpenAPI v2/v3 and `fieldValidation`: the real kubectl validates, explains and is refused
unknown fields by the sandbox as by a real API server (served over HTTPS with a kubeconfig)."""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import yaml
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from sandbox.server import SandboxCluster
from sandbox.tls import ensure_certificates, write_kubeconfig

from .conftest import TICK, TOKEN, Kube, wait_for

pytestmark = pytest.mark.skipif(
    not shutil.which("openssl"), reason="openssl (Debian package) makes the CA"
)
needs_kubectl = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")


class Cluster:
    def __init__(self, sb: SandboxCluster, ca_file, kubeconfig, cache_dir):
        self.sb, self.ca_file, self.kubeconfig, self.cache_dir = sb, ca_file, kubeconfig, cache_dir
        self.ssl = ssl.create_default_context(cafile=str(ca_file))
        config = client.Configuration(host=sb.url)
        config.ssl_ca_cert = str(ca_file)
        config.api_key = {"authorization": TOKEN}
        config.api_key_prefix = {"authorization": "Bearer"}
        dyn = DynamicClient(client.ApiClient(config), cache_file=str(cache_dir / "python.json"))
        self.kube = Kube(sb, dyn)

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        return subprocess.run(
            ["kubectl", "--cache-dir", str(self.cache_dir / "kubectl"), *args],
            input=stdin, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    def http(self, method: str, path: str, body=None, *, accept="application/json", ctype=None):
        """(status, headers, body bytes); redirects are not followed."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": accept}
        if data is not None:
            headers["Content-Type"] = ctype or "application/json"
        req = urllib.request.Request(self.sb.url + path, data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ssl), _NoRedirect()
        )
        try:
            with opener.open(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def get_json(self, path: str):
        code, _, body = self.http("GET", path)
        assert code == 200, body
        return json.loads(body)

    def v3(self, key: str) -> dict:
        return self.get_json(self.get_json("/openapi/v3")["paths"][key]["serverRelativeURL"])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("openapi")
    certs = ensure_certificates(root / "tls")
    sb = SandboxCluster(
        port=0,
        token=TOKEN,
        tick_interval=TICK,
        tls_cert_file=certs.cert_file,
        tls_key_file=certs.key_file,
    ).start()
    kubeconfig = write_kubeconfig(
        root / "kubeconfig", server=sb.url, ca_file=certs.ca_file, token=TOKEN
    )
    yield Cluster(sb, certs.ca_file, kubeconfig, root)
    sb.stop()


def _manifest(**doc) -> str:
    return yaml.safe_dump(doc)


def _pod(name: str, namespace: str, **spec_extra) -> str:
    container = {"name": "web", "image": "nginx:1.25", **spec_extra.pop("container_extra", {})}
    return _manifest(
        apiVersion="v1",
        kind="Pod",
        metadata={"name": name, "namespace": namespace},
        spec={"containers": [container], **spec_extra},
    )


# -- the documents ------------------------------------------------------------------------


def test_v3_index_points_at_hashed_per_group_version_documents(cluster):
    index = cluster.get_json("/openapi/v3")
    assert {"api/v1", "apis/apps/v1", "apis/apiextensions.k8s.io/v1"} <= set(index["paths"])
    assert "apis/operators.coreos.com/v1alpha1" in index["paths"]  # OLM's CRDs
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert re.fullmatch(r"/openapi/v3/apis/apps/v1\?hash=[0-9A-F]{128}", url)

    code, headers, body = cluster.http("GET", url)
    assert code == 200 and headers["Cache-Control"] == "public, immutable"
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.")
    deployment = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert deployment["properties"]["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}
    ]
    # what the spec refers to is in the same document, named by its Go package
    schemas = doc["components"]["schemas"]
    assert "io.k8s.api.core.v1.PodTemplateSpec" in schemas
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector" in schemas

    # A stale hash is redirected to the current one, as kube-openapi's handler3 does.
    code, headers, _ = cluster.http("GET", "/openapi/v3/apis/apps/v1?hash=0BAD")
    assert code == 301 and headers["Location"] == url


def test_v3_core_document_describes_pods_and_the_field_validation_parameter(cluster):
    doc = cluster.v3("api/v1")
    pod = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"
    ]
    assert containers["description"].startswith("List of containers belonging to the pod.")
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert "io.k8s.api.core.v1.Event" in doc["components"]["schemas"]  # CoreV1Event in the client

    # kubectl's QueryParamVerifierV3 looks for fieldValidation on the kind's PATCH operation.
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "kind": "Pod", "version": "v1"}
    params = {p["name"]: p["in"] for p in patch["parameters"]}
    assert params["fieldValidation"] == "query" and params["dryRun"] == "query"
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert "post" in doc["paths"]["/api/v1/namespaces/{namespace}/pods"]
    assert "get" in doc["paths"]["/api/v1/pods"]  # list across namespaces


def test_v2_is_json_and_a_protobuf_only_request_is_not_acceptable(cluster):
    code, _, body = cluster.http("GET", "/openapi/v2")
    assert code == 200
    doc = json.loads(body)
    assert doc["swagger"] == "2.0"
    deployment = doc["definitions"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["properties"]["spec"]["$ref"] == (
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    )
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    # client-go asks for protobuf only; the sandbox does not encode it (kubectl falls back).
    code, _, _ = cluster.http(
        "GET", "/openapi/v2", accept="application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    )
    assert code == 406


def test_a_crd_is_published_while_it_exists_with_its_schema_extensions(cluster):
    kube = cluster.kube
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.shop.example.com"},
        "spec": {
            "group": "shop.example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "ports": {
                                            "type": "array",
                                            "x-kubernetes-list-type": "map",
                                            "x-kubernetes-list-map-keys": ["port"],
                                            "items": {
                                                "type": "object",
                                                "required": ["port"],
                                                "properties": {"port": {"type": "integer"}},
                                            },
                                        }
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    crds = kube.r("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    crds.create(body=crd)
    key = "apis/shop.example.com/v1beta1"
    wait_for(lambda: key in cluster.get_json("/openapi/v3")["paths"], message="CRD published")
    schemas = cluster.v3(key)["components"]["schemas"]
    widget = schemas["com.example.shop.v1beta1.Widget"]
    assert widget["x-kubernetes-group-version-kind"] == [
        {"group": "shop.example.com", "kind": "Widget", "version": "v1beta1"}
    ]
    ports = widget["properties"]["spec"]["properties"]["ports"]
    assert ports["x-kubernetes-list-type"] == "map"
    assert ports["x-kubernetes-list-map-keys"] == ["port"]
    assert widget["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert "com.example.shop.v1beta1.WidgetList" in schemas
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    v2 = cluster.get_json("/openapi/v2")
    assert "com.example.shop.v1beta1.Widget" in v2["definitions"]

    crds.delete(name="widgets.shop.example.com")
    wait_for(lambda: key not in cluster.get_json("/openapi/v3")["paths"], message="CRD gone")


# -- fieldValidation over plain HTTP -----------------------------------------------------------


def test_field_validation_strict_warn_ignore_on_create_and_update(cluster):
    ns = cluster.kube.namespace("fv")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    bad = {**body, "spec": {"x": 1}, "metadata": {"name": "c", "colour": "red"}}

    code, _, raw = cluster.http("POST", path + "?fieldValidation=Strict", bad)
    status = json.loads(raw)
    assert code == 400 and status["reason"] == "BadRequest"
    assert status["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "metadata.colour", unknown field "spec"'
    )

    code, headers, raw = cluster.http("POST", path + "?fieldValidation=Warn", bad)
    assert code == 201
    assert headers.get_all("Warning") == [
        '299 - "unknown field \\"metadata.colour\\""',
        '299 - "unknown field \\"spec\\""',
    ]
    stored = json.loads(raw)
    assert "spec" not in stored and "colour" not in stored["metadata"]  # dropped, as decoded

    code, headers, raw = cluster.http("PUT", f"{path}/c?fieldValidation=Ignore", bad)
    assert code == 200 and headers.get_all("Warning") is None
    assert "spec" not in json.loads(raw)

    code, _, raw = cluster.http("PUT", f"{path}/c?fieldValidation=Strict", bad)
    assert code == 400 and "strict decoding error" in json.loads(raw)["message"]

    code, _, raw = cluster.http("POST", path + "?fieldValidation=Loud", body)
    status = json.loads(raw)
    assert code == 422
    assert status["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )


def test_field_validation_on_a_merge_patch_checks_the_patched_object(cluster):
    ns = cluster.kube.namespace("fvp")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    assert cluster.http("POST", path, body)[0] == 201
    merge = "application/merge-patch+json"
    code, _, raw = cluster.http(
        "PATCH", f"{path}/c?fieldValidation=Strict", {"datum": {"b": "2"}}, ctype=merge
    )
    status = json.loads(raw)
    assert code == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "patch"
    assert status["message"].endswith(': strict decoding error: unknown field "datum"')

    code, headers, raw = cluster.http(
        "PATCH", f"{path}/c", {"datum": {"b": "2"}, "data": {"b": "2"}}, ctype=merge
    )  # no fieldValidation: the API server's default is Warn
    assert code == 200 and headers.get_all("Warning") == ['299 - "unknown field \\"datum\\""']
    assert json.loads(raw)["data"] == {"a": "1", "b": "2"} and "datum" not in json.loads(raw)


# -- kubectl --------------------------------------------------------------------------------


@needs_kubectl
def test_kubectl_apply_validates_against_the_served_openapi(cluster):
    ns = cluster.kube.namespace("apply")
    deployment = _manifest(
        apiVersion="apps/v1",
        kind="Deployment",
        metadata={"name": "web", "namespace": ns},
        spec={
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
    )
    out = cluster.kubectl("apply", "-f", "-", stdin=deployment)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "deployment.apps/web created"
    assert "openapi" not in out.stderr
    # Applying again patches (kubectl computes the patch from the v3 document).
    out = cluster.kubectl(
        "apply", "-f", "-", stdin=deployment.replace("replicas: 1", "replicas: 2")
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "deployment.apps/web configured"
    got = cluster.kube.get("apps/v1", "Deployment", "web", ns)
    assert got.spec.replicas == 2


@needs_kubectl
def test_kubectl_strict_validation_shows_the_servers_unknown_field_message(cluster):
    ns = cluster.kube.namespace("strict")
    bad = _pod("bad", ns, foo="bar", container_extra={"bogus": 1})
    out = cluster.kubectl("apply", "-f", "-", stdin=bad)  # --validate=strict is the default
    assert out.returncode != 0
    assert (
        'Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" cannot '
        'be handled as a Pod: strict decoding error: unknown field "spec.containers[0].bogus", '
        'unknown field "spec.foo"'
    ) in out.stderr
    assert cluster.kubectl("get", "pod", "bad", "-n", ns).returncode != 0  # nothing created

    out = cluster.kubectl("apply", "--validate=warn", "-f", "-", stdin=bad)
    assert out.returncode == 0, out.stderr
    assert 'Warning: unknown field "spec.containers[0].bogus"' in out.stderr
    assert 'Warning: unknown field "spec.foo"' in out.stderr
    spec = json.loads(cluster.kubectl("get", "pod", "bad", "-n", ns, "-o", "json").stdout)["spec"]
    assert "foo" not in spec and "bogus" not in spec["containers"][0]

    # An existing object: kubectl sends a strategic merge patch, the server checks the result.
    out = cluster.kubectl("apply", "-f", "-", stdin=bad.replace("bar", "baz"))
    assert out.returncode != 0
    assert "patch: Invalid value: " in out.stderr
    assert 'strict decoding error: unknown field "spec.containers[0].bogus"' in out.stderr

    out = cluster.kubectl("create", "--validate=false", "-f", "-", stdin=_pod("quiet", ns, foo=1))
    assert out.returncode == 0 and "Warning" not in out.stderr  # Ignore: dropped silently


@needs_kubectl
def test_kubectl_explain_built_in_and_olm_kinds(cluster):
    out = cluster.kubectl("explain", "pods.spec.containers")
    assert out.returncode == 0, out.stderr
    assert "FIELD: containers <[]Container>" in out.stdout
    assert "List of containers belonging to the pod." in out.stdout
    assert re.search(r"^  image\s+<string>", out.stdout, re.M)

    out = cluster.kubectl("explain", "deployments.spec.replicas")
    assert out.returncode == 0, out.stderr
    assert "GROUP:      apps" in out.stdout and "FIELD: replicas <integer>" in out.stdout

    out = cluster.kubectl("explain", "catalogsources.spec")
    assert out.returncode == 0, out.stderr
    assert "KIND:       CatalogSource" in out.stdout
    assert re.search(r"^  image\s+<string>", out.stdout, re.M)


@needs_kubectl
def test_kubectl_on_a_bundles_custom_resource(cluster):
    ns = cluster.kube.namespace("mc")
    cluster.kube.install_operator(ns)
    wait_for(
        lambda: "apis/daas.tenxcloud.com/v1" in cluster.get_json("/openapi/v3")["paths"],
        message="the bundle's CRD published",
    )
    out = cluster.kubectl("explain", "memcachedclusters.spec")
    assert out.returncode == 0, out.stderr
    assert "GROUP:      daas.tenxcloud.com" in out.stdout
    assert "MemcachedClusterSpec defines the desired state of MemcachedCluster" in out.stdout
    assert re.search(r"^  setup\s+<string> -required-", out.stdout, re.M)
    assert "Number of memcached pods." in out.stdout
    schemas = cluster.v3("apis/daas.tenxcloud.com/v1")["components"]["schemas"]
    assert "com.tenxcloud.daas.v1.MemcachedCluster" in schemas

    cr = _manifest(
        apiVersion="daas.tenxcloud.com/v1",
        kind="MemcachedCluster",
        metadata={"name": "cache", "namespace": ns},
        spec={"setup": "replset", "replicas": 1, "foo": "bar"},
    )
    out = cluster.kubectl("apply", "-f", "-", stdin=cr)
    assert out.returncode != 0
    assert (
        'MemcachedCluster in version "v1" cannot be handled as a MemcachedCluster: '
        'strict decoding error: unknown field "spec.foo"'
    ) in out.stderr
    out = cluster.kubectl("apply", "--validate=warn", "-f", "-", stdin=cr)
    assert out.returncode == 0, out.stderr
    assert 'Warning: unknown field "spec.foo"' in out.stderr
    out = cluster.kubectl("get", "memcachedcluster", "cache", "-n", ns, "-o", "json")
    assert json.loads(out.stdout)["spec"]["setup"] == "replset"
    assert "foo" not in json.loads(out.stdout)["spec"]


def test_without_the_kubernetes_package_built_in_kinds_get_permissive_schemas(tmp_path):
    """The sandbox itself needs only PyYAML: with no `kubernetes` package the documents still
    exist (any field accepted), and CRD schemas are unaffected."""
    script = (
        "import sys, json\n"
        "sys.modules['kubernetes'] = None  # as if not installed: importing it fails\n"
        "from sandbox.rbac import RBACStore\n"
        "from sandbox import openapi\n"
        "docs = openapi.documents(RBACStore())\n"
        "pod = next(t for t in docs.index.types if t.kind == 'Pod')\n"
        "schema, comps = docs.resolver(pod)\n"
        "body = {'apiVersion': 'v1', 'kind': 'Pod', 'spec': {'foo': 1}}\n"
        "print(json.dumps({'name': docs.schema_name(pod), 'schema': schema,\n"
        "                  'unknown': openapi.unknown_fields(body, schema, comps)[1],\n"
        "                  'index': sorted(docs.v3_index()['paths'])}))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["name"] == "io.k8s.api.core.v1.Pod"
    assert got["schema"]["x-kubernetes-preserve-unknown-fields"] is True
    assert got["schema"]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}
    ]
    assert got["unknown"] == []
    assert "api/v1" in got["index"]


@needs_kubectl
def test_kubectl_server_side_apply_refuses_fields_the_schema_does_not_declare(cluster):
    ns = cluster.kube.namespace("ssa")
    bad = _pod("typed", ns, container_extra={"bogus": 1})
    out = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=bad)
    assert out.returncode != 0
    assert (
        f"Error from server: failed to create typed patch object ({ns}/typed; /v1, Kind=Pod): "
        '.spec.containers[name="web"].bogus: field not declared in schema'
    ) in out.stderr
    out = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=_pod("typed", ns))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "pod/typed serverside-applied"

"""Catalog folders: the community-operators layout and File-Based Catalogs, channel graphs,
default channels, PackageManifests of folder catalogs, `--catalog IMAGE=FOLDER`, errors."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import yaml

from sandbox import __main__ as entry
from sandbox.bundles import load_yaml_documents
from sandbox.catalog import BUILTIN_FOLDERS, CATALOG_DIR, Catalog, CatalogError, load_folder
from sandbox.fbc import render_bundle
from sandbox.server import SandboxCluster
from sandbox.validation import validate_custom_resource

from .conftest import wait_for

COMMUNITY = "quay.io/sandbox/community-catalog:v1"
FBC = "quay.io/sandbox/fbc-catalog:v1"
PM = ("packages.operators.coreos.com/v1", "PackageManifest")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _pkg(catalog: Catalog, image: str, name: str):
    pkg = catalog.package(image, name)
    assert pkg is not None, f"{name} not in {image}"
    return pkg


# -- loading ----------------------------------------------------------------------------------


def test_builtin_folders_are_served(catalog):
    assert set(BUILTIN_FOLDERS) == {COMMUNITY, FBC}
    assert catalog.image_info(COMMUNITY)["layout"] == "community"
    assert catalog.image_info(FBC)["layout"] == "fbc"
    assert catalog.image_info(FBC)["displayName"] == "File-Based Catalog (sandbox)"
    assert sorted(p.name for p in catalog.packages(COMMUNITY)) == [
        "cert-manager",
        "etcd",
        "grafana-operator",
        "memcached-operator",
        "opentelemetry-operator",
        "strimzi-kafka-operator",
    ]
    assert sorted(p.name for p in catalog.packages(FBC)) == ["argocd-operator", "redis-operator"]
    bundles = [b for image in (COMMUNITY, FBC) for p in catalog.packages(image) for b in p.bundles]
    assert len(bundles) >= 15


def test_community_layout_bundle(catalog):
    pkg = _pkg(catalog, COMMUNITY, "etcd")
    assert pkg.layout == "community"
    assert pkg.default_channel == "singlenamespace-alpha"
    bundle = pkg.bundle("etcdoperator.v0.9.4")
    assert bundle.version == "0.9.4" and bundle.package == "etcd"
    assert bundle.channels == ["singlenamespace-alpha"]
    assert bundle.default_channel == "singlenamespace-alpha"
    assert bundle.image == "quay.io/sandbox/community-catalog-bundle:etcd-v0.9.4"
    assert not bundle.unpullable
    assert sorted(c["metadata"]["name"] for c in bundle.crds) == [
        "etcdbackups.etcd.database.coreos.com",
        "etcdclusters.etcd.database.coreos.com",
        "etcdrestores.etcd.database.coreos.com",
    ]
    assert {"type": "olm.package", "value": {"packageName": "etcd", "version": "0.9.4"}} in (
        bundle.properties
    )
    gvk = {"group": "etcd.database.coreos.com", "kind": "EtcdCluster", "version": "v1beta2"}
    assert gvk in bundle.provided_apis()
    modes = {m["type"]: m["supported"] for m in bundle.csv["spec"]["installModes"]}
    assert modes == {
        "OwnNamespace": True,
        "SingleNamespace": True,
        "MultiNamespace": False,
        "AllNamespaces": False,
    }
    # other manifests of the bundle are kept too (a Service in memcached-operator)
    memcached = _pkg(catalog, COMMUNITY, "memcached-operator").bundle("memcached-operator.v0.0.1")
    assert {o["kind"] for o in memcached.objects} == {
        "ClusterServiceVersion",
        "CustomResourceDefinition",
        "Service",
    }


def test_unpullable_bundle(catalog):
    pkg = _pkg(catalog, COMMUNITY, "memcached-operator")
    bad = pkg.bundle("memcached-operator.v0.0.2")
    assert bad.unpullable is True
    assert bad.image == "quay.io/example/memcached-operator-bundle:v0.0.2"
    assert pkg.head("candidate") == "memcached-operator.v0.0.2"
    assert pkg.head("alpha") == "memcached-operator.v0.0.1"
    assert pkg.bundle("memcached-operator.v0.0.1").unpullable is False


def test_fbc_layout(catalog):
    pkg = _pkg(catalog, FBC, "argocd-operator")
    assert pkg.layout == "fbc"
    assert pkg.default_channel == "alpha"
    assert pkg.icon == {"base64data": pkg.icon["base64data"], "mediatype": "image/svg+xml"}
    assert pkg.description.startswith("Argo CD is a declarative")
    assert pkg.channels == {
        "alpha": ["argocd-operator.v0.7.0", "argocd-operator.v0.8.0", "argocd-operator.v0.9.0"],
        "legacy": ["argocd-operator.v0.7.0"],
    }
    entry = pkg.channel("alpha").entries["argocd-operator.v0.9.0"]
    assert entry.as_dict() == {
        "name": "argocd-operator.v0.9.0",
        "replaces": "argocd-operator.v0.8.0",
        "skipRange": ">=0.7.0 <0.9.0",
    }
    bundle = pkg.bundle("argocd-operator.v0.9.0")
    assert bundle.image == "quay.io/argoprojlabs/argocd-operator-bundle:v0.9.0"
    assert bundle.csv["metadata"]["name"] == "argocd-operator.v0.9.0"
    assert sorted(bundle.channels) == ["alpha"]
    argocds = bundle.crd("argocds.argoproj.io")
    assert [(v["name"], v["served"], v["storage"]) for v in argocds["spec"]["versions"]] == [
        ("v1alpha1", True, False),
        ("v1beta1", True, True),
    ]
    assert not bundle.synthesized_crds


def test_fbc_objects_match_their_bundle_sources():
    """catalog.yaml's olm.bundle.object blobs are the manifests under bundles/ (.indexignore'd)."""
    root = CATALOG_DIR / "fbc" / "argocd-operator"
    docs = load_yaml_documents(root / "catalog.yaml")
    for doc in (d for d in docs if d["schema"] == "olm.bundle"):
        version = doc["name"].rsplit(".v", 1)[1]
        blobs = [
            json.loads(base64.b64decode(p["value"]["data"]))
            for p in doc["properties"]
            if p["type"] == "olm.bundle.object"
        ]
        rendered = render_bundle(root / "bundles" / version, doc["image"])
        sources = [
            json.loads(base64.b64decode(p["value"]["data"]))
            for p in rendered["properties"]
            if p["type"] == "olm.bundle.object"
        ]
        key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
        assert sorted(blobs, key=key) == sorted(sources, key=key), version
        assert rendered["name"] == doc["name"]


def test_fbc_json_stream_with_csv_metadata(catalog):
    pkg = _pkg(catalog, FBC, "redis-operator")
    assert (CATALOG_DIR / "fbc" / "redis-operator" / "catalog.json").is_file()
    bundle = pkg.bundle("redis-operator.v0.15.1")
    # olm.csv.metadata: the CSV is rebuilt from the metadata, the CRDs from olm.gvk
    assert bundle.synthesized_crds
    csv = bundle.csv
    assert csv["spec"]["displayName"] == "Redis Operator"
    assert [m["type"] for m in csv["spec"]["installModes"] if m["supported"]] == ["OwnNamespace"]
    assert "alm-examples" in csv["metadata"]["annotations"]
    names = sorted(c["metadata"]["name"] for c in bundle.crds)
    assert names == [
        "redis.redis.redis.opstreelabs.in",
        "redisclusters.redis.redis.opstreelabs.in",
        "redissentinels.redis.redis.opstreelabs.in",
    ]
    assert pkg.deprecation and pkg.deprecation.startswith("redis-operator is no longer maintained")


def test_fbc_deprecations(catalog):
    pkg = _pkg(catalog, FBC, "argocd-operator")
    assert pkg.deprecation is None
    legacy = pkg.channel_deprecation("legacy")
    assert legacy == "The legacy channel is no longer updated. Please switch to the alpha channel."
    assert pkg.channel_deprecation("alpha") is None
    old = pkg.bundle_deprecation("argocd-operator.v0.7.0") or ""
    assert old.startswith("argocd-operator.v0.7.0 is deprecated")
    assert pkg.bundle_deprecation("argocd-operator.v0.9.0") is None


# -- channel graphs ---------------------------------------------------------------------------


def test_replaces_chain_and_skips(catalog):
    pkg = _pkg(catalog, COMMUNITY, "etcd")
    channel = pkg.channel("singlenamespace-alpha")
    assert channel.head == "etcdoperator.v0.9.4"
    assert channel.entries["etcdoperator.v0.9.2"].skips == ("etcdoperator.v0.9.1",)
    assert channel.chain() == ["etcdoperator.v0.9.4", "etcdoperator.v0.9.2", "etcdoperator.v0.9.0"]
    assert pkg.next_versions("singlenamespace-alpha", "etcdoperator.v0.9.0") == [
        "etcdoperator.v0.9.2"
    ]
    assert pkg.upgrade_path("singlenamespace-alpha", "etcdoperator.v0.9.0") == [
        "etcdoperator.v0.9.2",
        "etcdoperator.v0.9.4",
    ]
    # skips: an installed 0.9.1 (not in the catalog) upgrades straight to 0.9.2
    assert pkg.next_versions("singlenamespace-alpha", "etcdoperator.v0.9.1") == [
        "etcdoperator.v0.9.2"
    ]


def test_skip_range_edges(catalog):
    argocd = _pkg(catalog, FBC, "argocd-operator")
    # 0.9.0 replaces 0.8.0 and its skipRange covers 0.7.0: both are candidates, newest first
    assert argocd.next_versions("alpha", "argocd-operator.v0.7.0") == [
        "argocd-operator.v0.9.0",
        "argocd-operator.v0.8.0",
    ]
    assert argocd.upgrade_path("alpha", "argocd-operator.v0.7.0") == ["argocd-operator.v0.9.0"]
    # a version the catalog does not list is matched by the range alone
    assert argocd.next_versions("alpha", "argocd-operator.v0.7.5", from_version="0.7.5") == [
        "argocd-operator.v0.9.0"
    ]
    assert argocd.next_versions("alpha", "argocd-operator.v0.9.0") == []
    cert = _pkg(catalog, COMMUNITY, "cert-manager")
    assert cert.head("stable") == "cert-manager.v1.16.5"
    assert cert.next_versions("stable", "cert-manager.v1.16.4") == ["cert-manager.v1.16.5"]
    assert cert.bundle("cert-manager.v1.16.5").skip_range == ">=1.16.0 <1.16.5"


def test_semver_mode_graph(catalog):
    """ci.yaml `updateGraph: semver-mode`: each bundle replaces the previous one in the channel."""
    otel = _pkg(catalog, COMMUNITY, "opentelemetry-operator")
    alpha = otel.channel("alpha")
    assert alpha.entries["opentelemetry-operator.v0.100.1"].replaces == (
        "opentelemetry-operator.v0.99.0"
    )
    assert alpha.head == "opentelemetry-operator.v0.100.1"
    assert otel.channel("stable").entries["opentelemetry-operator.v0.100.1"].replaces is None


# -- folders written by the tests -------------------------------------------------------------


def _bundle(
    root: Path,
    package: str,
    version: str,
    *,
    channels: str,
    default: str | None = None,
    replaces: str | None = None,
    skips: list[str] | None = None,
    skip_range: str | None = None,
) -> Path:
    """A minimal community-layout bundle (copied from the memcached-operator one)."""
    src = CATALOG_DIR / "community" / "memcached-operator" / "0.0.1"
    dest = root / package / version
    shutil.copytree(src, dest)
    csv_path = dest / "manifests" / "memcached-operator.clusterserviceversion.yaml"
    csv = yaml.safe_load(csv_path.read_text())
    csv["metadata"]["name"] = f"{package}.v{version}"
    csv["spec"]["version"] = version
    csv["spec"].pop("replaces", None)
    if replaces:
        csv["spec"]["replaces"] = f"{package}.v{replaces}"
    if skips:
        csv["spec"]["skips"] = [f"{package}.v{s}" for s in skips]
    if skip_range:
        csv["metadata"]["annotations"]["olm.skipRange"] = skip_range
    csv_path.write_text(yaml.safe_dump(csv))
    ann = {
        "operators.operatorframework.io.bundle.mediatype.v1": "registry+v1",
        "operators.operatorframework.io.bundle.package.v1": package,
        "operators.operatorframework.io.bundle.channels.v1": channels,
    }
    if default:
        ann["operators.operatorframework.io.bundle.channel.default.v1"] = default
    (dest / "metadata" / "annotations.yaml").write_text(yaml.safe_dump({"annotations": ann}))
    return dest


def test_default_channel_rules(tmp_path):
    """operator-registry pkg/registry/populator.go SemverPackageManifest (replaces mode) and
    pkg/registry/bundlegraphloader.go + types.go SelectDefaultChannel (semver modes)."""
    # one channel, no annotation: that channel
    _bundle(tmp_path / "a", "solo", "1.0.0", channels="fast")
    assert load_folder("x/a:v1", tmp_path / "a")[0].default_channel == "fast"
    # several channels, no annotation anywhere: the package cannot be served
    _bundle(tmp_path / "b", "multi", "1.0.0", channels="stable,fast")
    with pytest.raises(CatalogError, match="unable to determine default channel") as info:
        load_folder("x/b:v1", tmp_path / "b")
    assert info.value.path.endswith("multi")
    # the highest-version bundle that sets the annotation wins
    _bundle(tmp_path / "c", "pick", "1.0.0", channels="stable,fast", default="stable")
    _bundle(
        tmp_path / "c", "pick", "1.1.0", channels="stable,fast", default="fast", replaces="1.0.0"
    )
    _bundle(tmp_path / "c", "pick", "1.2.0", channels="stable,fast", replaces="1.1.0")
    assert load_folder("x/c:v1", tmp_path / "c")[0].default_channel == "fast"
    # semver-mode: the first bundle's channels, sorted, until an annotation says otherwise
    _bundle(tmp_path / "d", "sv", "1.0.0", channels="stable,beta,alpha")
    (tmp_path / "d" / "sv" / "ci.yaml").write_text("updateGraph: semver-mode\n")
    assert load_folder("x/d:v1", tmp_path / "d")[0].default_channel == "alpha"


def test_default_channel_without_annotation_in_builtin_catalog(catalog):
    otel = _pkg(catalog, COMMUNITY, "opentelemetry-operator")
    assert all(b.default_channel is None for b in otel.bundles.values())
    assert otel.channel_names() == ["alpha", "stable"]
    assert otel.default_channel == "alpha"


def test_bad_graphs_are_catalog_errors(tmp_path):
    _bundle(tmp_path / "heads", "two", "1.0.0", channels="stable")
    _bundle(tmp_path / "heads", "two", "1.1.0", channels="stable")  # replaces nothing
    with pytest.raises(
        CatalogError, match="multiple channel heads found in graph: two.v1.0.0, two.v1.1.0"
    ):
        load_folder("x/h:v1", tmp_path / "heads")
    _bundle(tmp_path / "range", "rng", "1.0.0", channels="stable", skip_range=">=1.0 <<2")
    with pytest.raises(CatalogError, match="invalid olm.skipRange") as info:
        load_folder("x/r:v1", tmp_path / "range")
    assert info.value.path.endswith("memcached-operator.clusterserviceversion.yaml")


@pytest.mark.parametrize(
    ("breakage", "problem", "file"),
    [
        (
            "no-annotations",
            "missing: every bundle needs metadata/annotations.yaml",
            "metadata/annotations.yaml",
        ),
        ("bad-yaml", "not valid YAML", "memcached-operator.clusterserviceversion.yaml"),
        ("no-csv", "expected exactly one ClusterServiceVersion, found 0", "manifests"),
        (
            "no-package",
            "annotation operators.operatorframework.io.bundle.package.v1 is missing",
            "annotations.yaml",
        ),
        (
            "bad-version",
            'spec.version "one" is not a semantic version',
            "memcached-operator.clusterserviceversion.yaml",
        ),
        (
            "missing-crd",
            'owned CRD "memcacheds.cache.example.com" has no CustomResourceDefinition manifest',
            "memcached-operator.clusterserviceversion.yaml",
        ),
    ],
)
def test_bad_community_folder(tmp_path, breakage, problem, file):
    dest = _bundle(tmp_path, "broken", "1.0.0", channels="stable")
    csv_path = dest / "manifests" / "memcached-operator.clusterserviceversion.yaml"
    if breakage == "no-annotations":
        (dest / "metadata" / "annotations.yaml").unlink()
    elif breakage == "bad-yaml":
        csv_path.write_text("kind: [unclosed\n")
    elif breakage == "no-csv":
        csv_path.unlink()
    elif breakage == "no-package":
        (dest / "metadata" / "annotations.yaml").write_text(
            "annotations:\n  operators.operatorframework.io.bundle.channels.v1: stable\n"
        )
    elif breakage == "bad-version":
        csv_path.write_text(csv_path.read_text().replace("version: 1.0.0", "version: one"))
    elif breakage == "missing-crd":
        (dest / "manifests" / "cache.example.com_memcacheds.yaml").unlink()
    with pytest.raises(CatalogError) as info:
        load_folder("x/broken:v1", tmp_path)
    assert problem in info.value.problem
    assert info.value.path.endswith(file)
    assert str(info.value).startswith(info.value.path + ": ")


def _fbc(root: Path, *docs: dict, name: str = "index.yaml") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(yaml.safe_dump_all(docs))
    return root


def _fbc_bundle(name: str, version: str, **extra) -> dict:
    csv = {
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {"name": name},
        "spec": {"version": version, "installModes": []},
    }
    data = base64.b64encode(json.dumps(csv).encode()).decode()
    return {
        "schema": "olm.bundle",
        "name": name,
        "package": "p",
        "image": f"quay.io/x/p-bundle:v{version}",
        "properties": [
            {"type": "olm.package", "value": {"packageName": "p", "version": version}},
            {"type": "olm.bundle.object", "value": {"data": data}},
            *extra.pop("properties", []),
        ],
        **extra,
    }


PKG = {"schema": "olm.package", "name": "p", "defaultChannel": "stable"}


def test_fbc_unpullable_property_and_json(tmp_path):
    root = tmp_path / "cat"
    root.mkdir()
    docs = [
        PKG,
        {
            "schema": "olm.channel",
            "package": "p",
            "name": "stable",
            "entries": [{"name": "p.v1.0.0"}],
        },
        _fbc_bundle(
            "p.v1.0.0", "1.0.0", properties=[{"type": "sandbox.unpullable", "value": True}]
        ),
    ]
    (root / "catalog.json").write_text("\n".join(json.dumps(d, indent=2) for d in docs))
    [pkg] = load_folder("x/p:v1", root)
    assert pkg.bundle("p.v1.0.0").unpullable is True
    assert pkg.bundle("p.v1.0.0").image == "quay.io/x/p-bundle:v1.0.0"


@pytest.mark.parametrize(
    ("docs", "problem"),
    [
        ([{"name": "p"}], "is missing root schema field"),
        ([PKG], 'invalid package "p": package must contain at least one channel'),
        (
            [
                PKG,
                {
                    "schema": "olm.channel",
                    "package": "p",
                    "name": "stable",
                    "entries": [{"name": "p.v1.0.0"}],
                },
            ],
            'no olm.bundle blobs found in package "p" for olm.channel entries [p.v1.0.0]',
        ),
        (
            [
                {**PKG, "defaultChannel": "fast"},
                {
                    "schema": "olm.channel",
                    "package": "p",
                    "name": "stable",
                    "entries": [{"name": "p.v1.0.0"}],
                },
                _fbc_bundle("p.v1.0.0", "1.0.0"),
            ],
            'default channel "fast" not found in channels list',
        ),
        (
            [
                PKG,
                {
                    "schema": "olm.channel",
                    "package": "p",
                    "name": "stable",
                    "entries": [{"name": "p.v1.0.0"}, {"name": "p.v1.1.0"}],
                },
                _fbc_bundle("p.v1.0.0", "1.0.0"),
                _fbc_bundle("p.v1.1.0", "1.1.0"),
            ],
            "multiple channel heads found in graph: p.v1.0.0, p.v1.1.0",
        ),
        (
            [
                PKG,
                {
                    "schema": "olm.channel",
                    "package": "p",
                    "name": "stable",
                    "entries": [{"name": "p.v1.0.0", "skipRange": "not a range"}],
                },
                _fbc_bundle("p.v1.0.0", "1.0.0"),
            ],
            'invalid package "p": invalid channel "stable": invalid bundle "p.v1.0.0": '
            'invalid skipRange "not a range"',
        ),
        (
            [
                PKG,
                {
                    "schema": "olm.channel",
                    "package": "p",
                    "name": "stable",
                    "entries": [{"name": "p.v1.0.0"}],
                },
                _fbc_bundle("p.v1.0.0", "1.0.0"),
                {
                    "schema": "olm.deprecations",
                    "package": "p",
                    "entries": [
                        {
                            "reference": {"schema": "olm.bundle", "name": "p.v9.0.0"},
                            "message": "gone",
                        }
                    ],
                },
            ],
            'cannot deprecate bundle "p.v9.0.0" for package "p": bundle not found',
        ),
    ],
)
def test_bad_fbc_folder(tmp_path, docs, problem):
    root = _fbc(tmp_path / "cat", *docs)
    with pytest.raises(CatalogError) as info:
        load_folder("x/p:v1", root)
    assert problem in info.value.problem
    assert info.value.path == str(root / "index.yaml")


def test_missing_folder_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        Catalog.load(catalog_folders={"quay.io/me/ops:v1": str(tmp_path / "nowhere")})


def test_cluster_with_a_bad_folder_does_not_start(tmp_path, capsys):
    _bundle(tmp_path, "broken", "1.0.0", channels="stable")
    (tmp_path / "broken" / "1.0.0" / "metadata" / "annotations.yaml").write_text("annotations: [")
    with pytest.raises(CatalogError, match="not valid YAML"):
        SandboxCluster(port=0, catalog_folders={"quay.io/me/ops:v1": str(tmp_path)})
    with pytest.raises(SystemExit) as info:
        entry.main(["--port", "0", "--catalog", f"quay.io/me/ops:v1={tmp_path}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "sandbox: cannot load catalog:" in err and "annotations.yaml: not valid YAML" in err


# -- served by the sandbox --------------------------------------------------------------------


def _manifest(kube, name: str, namespace: str = "olm") -> dict:
    return kube.get(*PM, name, namespace).to_dict()


def test_package_manifest_of_a_folder_catalog(fresh):
    kube = fresh()
    assert kube.catalog("community-folders", image=COMMUNITY) == "READY"
    manifest = wait_for(lambda: _manifest(kube, "etcd"), message="etcd packagemanifest")
    status = manifest["status"]
    assert manifest["metadata"]["labels"]["catalog"] == "community-folders"
    assert status["defaultChannel"] == "singlenamespace-alpha"
    assert status["packageName"] == "etcd"
    [channel] = status["channels"]
    assert channel["currentCSV"] == "etcdoperator.v0.9.4"
    modes = {m["type"]: m["supported"] for m in channel["currentCSVDesc"]["installModes"]}
    assert modes == {
        "OwnNamespace": True,
        "SingleNamespace": True,
        "MultiNamespace": False,
        "AllNamespaces": False,
    }
    assert [(e["name"], e["version"]) for e in channel["entries"]] == [
        ("etcdoperator.v0.9.4", "0.9.4"),
        ("etcdoperator.v0.9.2", "0.9.2"),
        ("etcdoperator.v0.9.0", "0.9.0"),
    ]
    otel = _manifest(kube, "opentelemetry-operator")["status"]
    assert otel["defaultChannel"] == "alpha"
    assert [c["name"] for c in otel["channels"]] == ["alpha", "stable"]
    cert = _manifest(kube, "cert-manager")["status"]
    [all_only] = [c for c in cert["channels"] if c["name"] == "stable"]
    supported = [m["type"] for m in all_only["currentCSVDesc"]["installModes"] if m["supported"]]
    assert supported == ["AllNamespaces"]
    strimzi = _manifest(kube, "strimzi-kafka-operator")["status"]
    assert strimzi["defaultChannel"] == "stable"
    [stable] = strimzi["channels"]
    assert stable["currentCSV"] == "strimzi-cluster-operator.v0.41.0"
    assert [e["name"] for e in stable["entries"]] == [
        "strimzi-cluster-operator.v0.41.0",
        "strimzi-cluster-operator.v0.40.0",
    ]
    grafana = _manifest(kube, "grafana-operator")["status"]
    assert grafana["defaultChannel"] == "v5"
    [v5] = grafana["channels"]
    assert v5["currentCSV"] == "grafana-operator.v5.9.0"
    modes = {m["type"]: m["supported"] for m in v5["currentCSVDesc"]["installModes"]}
    assert modes == {
        "OwnNamespace": True,
        "SingleNamespace": True,
        "MultiNamespace": False,
        "AllNamespaces": True,
    }


def test_package_manifest_deprecations_model(catalog):
    """What the package-server writes for olm.deprecations (OLM pkg/package-server/apis/
    operators/v1/packagemanifest_types.go: status.deprecation, channels[].deprecation,
    channels[].entries[].deprecation, each {message})."""
    pkg = _pkg(catalog, FBC, "argocd-operator")
    channels = {c["name"]: c for c in pkg.manifest_channels()}
    assert channels["legacy"]["deprecation"] == {
        "message": "The legacy channel is no longer updated. Please switch to the alpha channel."
    }
    assert "deprecation" not in channels["alpha"]
    entries = channels["alpha"]["entries"]
    assert [e["name"] for e in entries] == [
        "argocd-operator.v0.9.0",
        "argocd-operator.v0.8.0",
        "argocd-operator.v0.7.0",
    ]
    assert entries[2]["deprecation"]["message"].startswith("argocd-operator.v0.7.0 is deprecated")
    assert "deprecation" not in entries[0]
    modes = channels["alpha"]["currentCSVDesc"]["installModes"]
    assert [m["type"] for m in modes if m["supported"]] == [
        "OwnNamespace",
        "SingleNamespace",
        "AllNamespaces",
    ]
    redis = _pkg(catalog, FBC, "redis-operator")
    assert redis.deprecation.startswith("redis-operator is no longer maintained")


def test_package_manifest_serves_deprecations(fresh):
    kube = fresh()
    assert kube.catalog("fbc-folders", image=FBC) == "READY"
    status = wait_for(lambda: _manifest(kube, "argocd-operator"), message="argocd")["status"]
    channels = {c["name"]: c for c in status["channels"]}
    assert channels["legacy"]["deprecation"]["message"].startswith("The legacy channel")
    redis = _manifest(kube, "redis-operator")["status"]
    assert redis["deprecation"]["message"].startswith("redis-operator is no longer maintained")


def test_catalog_flag_serves_a_folder(fresh, tmp_path):
    """`--catalog IMAGE=FOLDER`: a copied community bundle folder becomes an index image."""
    folder = tmp_path / "ops"
    shutil.copytree(CATALOG_DIR / "community" / "etcd", folder / "etcd")
    kube = fresh(catalog_folders={"quay.io/me/ops:v1": str(folder)})
    assert kube.catalog("mine", image="quay.io/me/ops:v1") == "READY"
    assert kube.catalog("unknown", image="quay.io/me/nothing:v1") == "TRANSIENT_FAILURE"
    status = wait_for(lambda: _manifest(kube, "etcd"), message="etcd")["status"]
    assert status["catalogSource"] == "mine"
    names = sorted(
        i.metadata.name
        for i in kube.r(*PM).get(namespace="olm").items
        if i.status.catalogSource == "mine"
    )
    assert names == ["etcd"]
    pkg = kube.sb.catalog.package("quay.io/me/ops:v1", "etcd")
    assert pkg.bundle("etcdoperator.v0.9.4").image == "quay.io/me/ops-bundle:etcd-v0.9.4"


def test_operator_installs_from_the_fbc_catalog(fresh):
    kube = fresh()
    assert kube.catalog("fbc", image=FBC) == "READY"
    ns = kube.namespace()
    kube.operator_group(ns)
    kube.subscribe(ns, name="argocd", package="argocd-operator", channel="alpha", source="fbc")
    csv = wait_for(lambda: kube.sub_status(ns, "argocd").get("installedCSV"), message="installed")
    assert csv == "argocd-operator.v0.9.0"
    wait_for(lambda: kube.csv_phase(ns, csv) == "Succeeded", message=f"{csv} Succeeded")
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "argocds.argoproj.io")
    versions = [(v.name, v.served, v.storage) for v in crd.spec.versions]
    assert versions == [("v1alpha1", True, False), ("v1beta1", True, True)]


def test_install_plan_lists_each_crd_once(fresh, catalog):
    """argocd-operator 0.9.0 owns ArgoCD in v1alpha1 and v1beta1: two `owned` entries, one
    CRD, so one CustomResourceDefinition step (resolver/steps.go steps per bundle manifest)."""
    csv = _pkg(catalog, FBC, "argocd-operator").bundle("argocd-operator.v0.9.0").csv
    owned = csv["spec"]["customresourcedefinitions"]["owned"]
    assert sorted(o["version"] for o in owned if o["kind"] == "ArgoCD") == ["v1alpha1", "v1beta1"]
    kube = fresh()
    assert kube.catalog("fbc", image=FBC) == "READY"
    ns = kube.namespace()
    kube.operator_group(ns)
    kube.subscribe(ns, name="argocd", package="argocd-operator", channel="alpha", source="fbc")
    ref = wait_for(lambda: kube.sub_status(ns, "argocd").get("installPlanRef"), message="plan")
    ip = kube.get("operators.coreos.com/v1alpha1", "InstallPlan", ref["name"], ns).to_dict()
    crd_steps = [
        s["resource"]["name"]
        for s in ip["status"]["plan"]
        if s["resource"]["kind"] == "CustomResourceDefinition"
    ]
    assert sorted(crd_steps) == sorted({o["name"] for o in owned})
    assert crd_steps.count("argocds.argoproj.io") == 1


def _owned_kinds(bundle) -> list[tuple[str, str, str]]:
    owned = bundle.csv["spec"]["customresourcedefinitions"]["owned"]
    return sorted((o["kind"], o["name"], o["version"]) for o in owned)


def _supported_modes(bundle) -> list[str]:
    return [m["type"] for m in bundle.csv["spec"]["installModes"] if m["supported"]]


def test_grafana_and_strimzi_bundles(catalog):
    grafana = _pkg(catalog, COMMUNITY, "grafana-operator")
    assert grafana.default_channel == "v5"
    assert grafana.channels == {"v5": ["grafana-operator.v5.9.0"]}
    assert grafana.head("v5") == "grafana-operator.v5.9.0"
    bundle = grafana.bundle("grafana-operator.v5.9.0")
    assert bundle.version == "5.9.0"
    assert _supported_modes(bundle) == ["OwnNamespace", "SingleNamespace", "AllNamespaces"]
    assert _owned_kinds(bundle) == [
        ("Grafana", "grafanas.grafana.integreatly.org", "v1beta1"),
        ("GrafanaDashboard", "grafanadashboards.grafana.integreatly.org", "v1beta1"),
    ]
    assert all(c["spec"]["scope"] == "Namespaced" for c in bundle.crds)
    examples = json.loads(bundle.csv["metadata"]["annotations"]["alm-examples"])
    assert sorted(e["kind"] for e in examples) == ["Grafana", "GrafanaDashboard"]
    assert {"group": "grafana.integreatly.org", "kind": "Grafana", "version": "v1beta1"} in (
        bundle.provided_apis()
    )

    strimzi = _pkg(catalog, COMMUNITY, "strimzi-kafka-operator")
    assert strimzi.default_channel == "stable"
    assert strimzi.head("stable") == "strimzi-cluster-operator.v0.41.0"
    assert strimzi.channel("stable").chain() == [
        "strimzi-cluster-operator.v0.41.0",
        "strimzi-cluster-operator.v0.40.0",
    ]
    new = strimzi.bundle("strimzi-cluster-operator.v0.41.0")
    assert new.csv["spec"]["replaces"] == "strimzi-cluster-operator.v0.40.0"
    assert new.skip_range == "<0.41.0"
    assert strimzi.next_versions("stable", "strimzi-cluster-operator.v0.40.0") == [
        "strimzi-cluster-operator.v0.41.0"
    ]
    for name in ("strimzi-cluster-operator.v0.40.0", "strimzi-cluster-operator.v0.41.0"):
        b = strimzi.bundle(name)
        assert _supported_modes(b) == ["AllNamespaces"], name
        assert _owned_kinds(b) == [
            ("Kafka", "kafkas.kafka.strimzi.io", "v1beta2"),
            ("KafkaTopic", "kafkatopics.kafka.strimzi.io", "v1beta2"),
        ]
        examples = json.loads(b.csv["metadata"]["annotations"]["alm-examples"])
        assert [e["kind"] for e in examples] == ["Kafka"], name  # KafkaTopic has none
        assert all(c["spec"]["scope"] == "Namespaced" for c in b.crds)
        [version] = b.crd("kafkas.kafka.strimzi.io")["spec"]["versions"]
        assert validate_custom_resource(examples[0], version["schema"]["openAPIV3Schema"]) == [], (
            name
        )
    [topic] = new.crd("kafkatopics.kafka.strimzi.io")["spec"]["versions"]
    bad = {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaTopic", "metadata": {}}
    bad["spec"] = {"partitions": 0, "replicas": 3}
    assert [e.field for e in validate_custom_resource(bad, topic["schema"]["openAPIV3Schema"])] == [
        "spec.partitions"
    ]


def test_grafana_operator_installs_in_an_own_namespace_group(fresh):
    kube = fresh()
    assert kube.catalog("community", image=COMMUNITY) == "READY"
    ns = kube.namespace()
    kube.operator_group(ns)  # targetNamespaces: [ns], OwnNamespace
    kube.subscribe(ns, name="grafana", package="grafana-operator", channel="v5", source="community")
    csv = wait_for(lambda: kube.sub_status(ns, "grafana").get("installedCSV"), message="installed")
    assert csv == "grafana-operator.v5.9.0"
    wait_for(lambda: kube.csv_phase(ns, csv) == "Succeeded", message=f"{csv} Succeeded")
    got = kube.get("operators.coreos.com/v1alpha1", "ClusterServiceVersion", csv, ns).to_dict()
    assert got["metadata"]["annotations"]["olm.targetNamespaces"] == ns
    dep = kube.get("apps/v1", "Deployment", "grafana-operator-controller-manager-v5", ns)
    assert dep.status.availableReplicas == 1
    for name in ("grafanas.grafana.integreatly.org", "grafanadashboards.grafana.integreatly.org"):
        crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        assert crd.spec.scope == "Namespaced"
    # the CSV's examples are accepted by the CRDs' schemas
    for example in json.loads(got["metadata"]["annotations"]["alm-examples"]):
        kube.r(example["apiVersion"], example["kind"]).create(namespace=ns, body=example)
    dashboard = kube.get(
        "grafana.integreatly.org/v1beta1", "GrafanaDashboard", "grafanadashboard-sample", ns
    )
    assert dashboard.spec.instanceSelector.matchLabels.dashboards == "grafana-a"


def _descriptors(csv: dict) -> set[str]:
    owned = (csv["spec"].get("customresourcedefinitions") or {}).get("owned") or []
    return {x for o in owned for d in o.get("specDescriptors") or [] for x in d["x-descriptors"]}


def test_bundles_cover_the_console_shapes(catalog):
    """What the product's forms and checks read: x-descriptors, alm-examples quirks,
    owned APIs without examples, cluster-scoped and multi-version CRDs."""
    bundles = [
        b for image in (COMMUNITY, FBC) for p in catalog.packages(image) for b in p.bundles.values()
    ]
    seen = set().union(*(_descriptors(b.csv) for b in bundles))
    prefix = "urn:alm:descriptor:com.tectonic.ui:"
    for x in (
        "podCount",
        "resourceRequirements",
        "booleanSwitch",
        "number",
        "password",
        "nodeSelector",
        "hidden",
    ):
        assert prefix + x in seen, x
    assert any(x.startswith(prefix + "select:") for x in seen)

    examples = {
        b.name: json.loads(b.csv["metadata"]["annotations"].get("alm-examples") or "[]")
        for b in bundles
    }
    flat = [e for ex in examples.values() for e in ex]
    assert any("namespace" in e["metadata"] for e in flat)
    assert any("finalizers" in e["metadata"] for e in flat)
    assert any("status" in e for e in flat)
    # owned kinds with no example
    missing = {
        (b.package, o["kind"])
        for b in bundles
        for o in b.csv["spec"]["customresourcedefinitions"].get("owned") or []
        if not any(e["kind"] == o["kind"] for e in examples[b.name])
    }
    assert ("argocd-operator", "ArgoCDExport") in missing
    assert ("redis-operator", "RedisSentinel") in missing
    assert ("strimzi-kafka-operator", "KafkaTopic") in missing
    assert not {kind for pkg, kind in missing if pkg == "grafana-operator"}

    crds = {c["metadata"]["name"]: c for b in bundles for c in b.crds}
    assert crds["clusterissuers.cert-manager.io"]["spec"]["scope"] == "Cluster"
    assert crds["etcdclusters.etcd.database.coreos.com"]["apiVersion"].endswith("/v1beta1")
    otel = crds["opentelemetrycollectors.opentelemetry.io"]["spec"]["versions"]
    assert [v["name"] for v in otel if v["served"]] == ["v1alpha1", "v1beta1"]
    assert [v["name"] for v in otel if v["storage"]] == ["v1beta1"]

    def supported(b):
        return tuple(m["type"] for m in b.csv["spec"]["installModes"] if m["supported"])

    shapes = {supported(b) for b in bundles}
    assert ("AllNamespaces",) in shapes
    assert ("OwnNamespace",) in shapes
    assert ("OwnNamespace", "SingleNamespace", "AllNamespaces") in shapes
    assert ("OwnNamespace", "SingleNamespace") in shapes


def test_a_package_or_bundle_folder_can_be_served_directly(tmp_path):
    """community-operators' `operators/<package>` or one `<package>/<version>` folder."""
    package_dir = CATALOG_DIR / "community" / "etcd"
    [pkg] = load_folder("x/etcd:v1", package_dir)
    assert pkg.name == "etcd" and len(pkg.bundles) == 3
    [one] = load_folder("x/etcd:v2", package_dir / "0.9.4")
    assert list(one.bundles) == ["etcdoperator.v0.9.4"]
    assert one.default_channel == "singlenamespace-alpha"
    # an FBC package folder whose bundle sources sit next to it is still an FBC
    [argocd] = load_folder("x/argocd:v1", CATALOG_DIR / "fbc" / "argocd-operator")
    assert argocd.layout == "fbc"

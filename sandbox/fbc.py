"""File-Based Catalogs (FBC): the `opm serve` layout, loaded into the catalog model.

Every regular file under the folder (any name, any depth; `.indexignore`
patterns skipped) is a stream of YAML documents or concatenated JSON objects,
each with a top-level `schema` (operator-registry alpha/declcfg/load.go):

* `olm.package` {name, defaultChannel, icon, description}
* `olm.channel` {package, name, entries: [{name, replaces, skips, skipRange}]}
* `olm.bundle` {package, name, image, properties, relatedImages}; properties
  `olm.package` (exactly one: packageName + version), `olm.gvk`,
  `olm.bundle.object` (base64 manifests: the CSV and CRDs) or `olm.csv.metadata`,
  and the sandbox's own `sandbox.unpullable: true`
* `olm.deprecations` {package, entries: [{reference: {schema, name}, message}]}

Validation follows alpha/declcfg/declcfg_to_model.go and alpha/model/model.go;
errors name the file. `python -m sandbox.fbc render <bundle dir> <image>`
prints the `olm.bundle` (with `olm.bundle.object`s) for a community-layout bundle.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
import sys
from pathlib import Path

import yaml

from .bundles import (
    Bundle,
    CatalogError,
    Channel,
    ChannelEntry,
    Package,
    _load_bundle_dir,
    _Loader,
)
from .semver import Range, RangeError, is_semver, kube_version_key, version_key

UNPULLABLE = "sandbox.unpullable"
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _q(value: str | None) -> str:
    """Go's %q: the messages read as opm's (alpha/declcfg/declcfg_to_model.go, alpha/model)."""
    return json.dumps(value or "")


def load_fbc_folder(root: Path, image: str) -> list[Package]:
    """Every package of a File-Based Catalog folder; CatalogError when it is invalid."""
    root = Path(root)
    if not root.is_dir():
        raise CatalogError(root, "catalog folder does not exist")
    metas: list[tuple[Path, dict]] = []
    for path in _walk(root):
        metas.extend((path, doc) for doc in _documents(path))
    if not metas:
        raise CatalogError(root, "no File-Based Catalog documents found")
    return _to_model(metas, root)


# -- reading -------------------------------------------------------------------------------


def _walk(root: Path) -> list[Path]:
    patterns: list[tuple[Path, str]] = []
    for ignore in sorted(root.rglob(".indexignore")):
        for line in ignore.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                patterns.append((ignore.parent, line))
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name == ".indexignore":
            continue
        if any(_ignored(path, base, pat) for base, pat in patterns):
            continue
        files.append(path)
    return files


def _ignored(path: Path, base: Path, pattern: str) -> bool:
    try:
        rel = path.relative_to(base).as_posix()
    except ValueError:
        return False
    pattern = pattern.rstrip("/")
    if pattern.startswith("/"):
        return fnmatch.fnmatch(rel, pattern[1:]) or rel.startswith(pattern[1:] + "/")
    parts = rel.split("/")
    return any(fnmatch.fnmatch(p, pattern) for p in parts) or fnmatch.fnmatch(rel, pattern)


def _documents(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(path, f"cannot read file: {exc}") from None
    docs: list = []
    stripped = text.lstrip()
    if stripped.startswith("{"):
        decoder = json.JSONDecoder()
        pos = len(text) - len(stripped)
        while pos < len(text):
            try:
                doc, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise CatalogError(path, f"not valid JSON: {exc}") from None
            docs.append(doc)
            pos = end
            while pos < len(text) and text[pos].isspace():
                pos += 1
    else:
        try:
            docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
        except yaml.YAMLError as exc:
            raise CatalogError(path, f"not valid YAML: {exc}") from None
    for doc in docs:
        if not isinstance(doc, dict) or not isinstance(doc.get("schema"), str):
            snippet = json.dumps(doc)[:80] if not isinstance(doc, str) else doc[:80]
            raise CatalogError(path, f"object '{snippet}' is missing root schema field")
    return docs


# -- declcfg -> model ------------------------------------------------------------------------


def _to_model(metas: list[tuple[Path, dict]], root: Path) -> list[Package]:
    packages: dict[str, tuple[Path, dict]] = {}
    channels: dict[str, dict[str, tuple[Path, dict]]] = {}
    bundles: dict[str, dict[str, tuple[Path, dict]]] = {}
    deprecations: dict[str, tuple[Path, dict]] = {}
    for path, doc in metas:
        schema = doc["schema"]
        if schema == "olm.package":
            name = doc.get("name")
            if not name:
                raise CatalogError(path, "config contains package with no name")
            if name in packages:
                raise CatalogError(path, f"duplicate package {_q(name)}")
            if not _DNS1123_LABEL.match(name):
                raise CatalogError(
                    path, f"invalid package name {_q(name)}: must be a DNS-1123 label"
                )
            packages[name] = (path, doc)
    for path, doc in metas:
        schema = doc["schema"]
        if schema == "olm.channel":
            pkg, name = doc.get("package"), doc.get("name")
            if not name:
                raise CatalogError(path, f"package {_q(pkg)} contains channel with no name")
            if pkg not in packages:
                raise CatalogError(path, f"unknown package {_q(pkg)} for channel {_q(name)}")
            if name in channels.setdefault(pkg, {}):
                raise CatalogError(path, f"package {_q(pkg)} has duplicate channel {_q(name)}")
            channels[pkg][name] = (path, doc)
        elif schema == "olm.bundle":
            pkg, name = doc.get("package"), doc.get("name")
            if not pkg:
                raise CatalogError(path, f"package name must be set for bundle {_q(name)}")
            if pkg not in packages:
                raise CatalogError(path, f"unknown package {_q(pkg)} for bundle {_q(name)}")
            if not name:
                raise CatalogError(path, f"package {_q(pkg)} contains bundle with no name")
            if name in bundles.setdefault(pkg, {}):
                raise CatalogError(path, f"package {_q(pkg)} has duplicate bundle {_q(name)}")
            bundles[pkg][name] = (path, doc)
        elif schema == "olm.deprecations":
            pkg = doc.get("package")
            if not pkg:
                raise CatalogError(path, "package name must be set for deprecation item")
            if pkg not in packages:
                raise CatalogError(
                    path, f"cannot apply deprecations to an unknown package {_q(pkg)}"
                )
            if pkg in deprecations:
                raise CatalogError(
                    path, f"expected a maximum of one deprecation per package: {_q(pkg)}"
                )
            deprecations[pkg] = (path, doc)
    return [
        _package(
            name,
            packages[name],
            channels.get(name, {}),
            bundles.get(name, {}),
            deprecations.get(name),
            root,
        )
        for name in sorted(packages)
    ]


def _package(
    name: str,
    pkg_meta: tuple[Path, dict],
    channel_metas: dict[str, tuple[Path, dict]],
    bundle_metas: dict[str, tuple[Path, dict]],
    deprecation_meta: tuple[Path, dict] | None,
    root: Path,
) -> Package:
    pkg_path, pkg_doc = pkg_meta
    if not channel_metas:
        raise CatalogError(
            pkg_path, f"invalid package {_q(name)}: package must contain at least one channel"
        )
    default = pkg_doc.get("defaultChannel")
    if not default:
        raise CatalogError(pkg_path, f"invalid package {_q(name)}: default channel must be set")
    if default not in channel_metas:
        raise CatalogError(
            pkg_path,
            f"invalid package {_q(name)}: default channel {_q(default)} not found in channels list",
        )
    icon = pkg_doc.get("icon") or None
    description = pkg_doc.get("description") or ""

    built: dict[str, Bundle] = {}
    versions_seen: dict[tuple, str] = {}
    for bname, (path, doc) in sorted(bundle_metas.items()):
        bundle = _bundle(name, bname, path, doc, icon, description)
        key = version_key(bundle.version)
        if key in versions_seen:
            raise CatalogError(
                path,
                f"invalid package {_q(name)}: duplicate versions found in bundles: "
                f"[{{{bundle.version}: [{versions_seen[key]}, {bname}]}}]",
            )
        versions_seen[key] = bname
        built[bname] = bundle
    versions = {n: b.version for n, b in built.items()}

    channels: dict[str, Channel] = {}
    in_some_channel: set[str] = set()
    for cname, (path, doc) in sorted(channel_metas.items()):
        raw_entries = doc.get("entries")
        if not isinstance(raw_entries, list) or not raw_entries:
            raise CatalogError(
                path,
                f"invalid package {_q(name)}: invalid channel {_q(cname)}: "
                "channel must contain at least one bundle",
            )
        entries: list[ChannelEntry] = []
        missing = []
        for raw in raw_entries:
            if not isinstance(raw, dict) or not raw.get("name"):
                raise CatalogError(
                    path, f"invalid package {_q(name)}, channel {_q(cname)}: entry without a name"
                )
            skips = raw.get("skips") or []
            if not isinstance(skips, list) or not all(isinstance(s, str) and s for s in skips):
                raise CatalogError(
                    path,
                    f"invalid package {_q(name)}: invalid channel {_q(cname)}: "
                    f"invalid bundle {_q(raw['name'])}: skips must be non-empty strings",
                )
            skip_range = raw.get("skipRange") or None
            if skip_range:
                try:
                    Range(skip_range)
                except RangeError as exc:
                    raise CatalogError(
                        path,
                        f"invalid package {_q(name)}: invalid channel {_q(cname)}: "
                        f"invalid bundle {_q(raw['name'])}: invalid skipRange {_q(skip_range)}: {exc}",
                    ) from None
            if any(e.name == raw["name"] for e in entries):
                raise CatalogError(
                    path,
                    f"invalid package {_q(name)}, channel {_q(cname)}: "
                    f"duplicate entry {_q(raw['name'])}",
                )
            if raw["name"] not in built:
                missing.append(raw["name"])
            entries.append(
                ChannelEntry(raw["name"], raw.get("replaces") or None, tuple(skips), skip_range)
            )
        if missing:
            raise CatalogError(
                path,
                f"no olm.bundle blobs found in package {_q(name)} for olm.channel entries "
                f"[{' '.join(sorted(missing))}]",
            )
        channel = Channel(cname, name, entries, versions)
        problems = channel.problems()
        if problems:
            raise CatalogError(
                path,
                f"invalid package {_q(name)}: invalid channel {_q(cname)}: {'; '.join(problems)}",
            )
        channels[cname] = channel
        for e in entries:
            in_some_channel.add(e.name)
            built[e.name].channels.append(cname)
    for bname, (path, _doc) in bundle_metas.items():
        if bname not in in_some_channel:
            raise CatalogError(
                path, f"package {_q(name)}, bundle {_q(bname)} not found in any channel entries"
            )

    package_deprecation = None
    if deprecation_meta:
        dpath, ddoc = deprecation_meta
        seen: set[tuple[str, str]] = set()
        for j, raw in enumerate(ddoc.get("entries") or []):
            ref = (raw or {}).get("reference") or {}
            schema, ref_name = ref.get("schema"), ref.get("name") or ""
            message = (raw or {}).get("message")
            if not schema:
                raise CatalogError(
                    dpath, f"schema must be set for deprecation entry [{j}] for package {_q(name)}"
                )
            if not message:
                raise CatalogError(
                    dpath,
                    f"invalid package {_q(name)}: invalid deprecation: message must be set "
                    f"for deprecation entry [{j}]",
                )
            if (schema, ref_name) in seen:
                raise CatalogError(
                    dpath, f"duplicate deprecation entry {ref} for package {_q(name)}"
                )
            seen.add((schema, ref_name))
            if schema == "olm.package":
                if ref_name:
                    raise CatalogError(
                        dpath,
                        f"package name must be empty for deprecated package {_q(name)} "
                        f"(specified {_q(ref_name)})",
                    )
                package_deprecation = message
            elif schema == "olm.channel":
                if ref_name not in channels:
                    raise CatalogError(
                        dpath,
                        f"cannot deprecate channel {_q(ref_name)} for package {_q(name)}: "
                        "channel not found",
                    )
                channels[ref_name].deprecation = message
            elif schema == "olm.bundle":
                if ref_name not in built:
                    raise CatalogError(
                        dpath,
                        f"cannot deprecate bundle {_q(ref_name)} for package {_q(name)}: "
                        "bundle not found",
                    )
                built[ref_name].deprecation = message
            else:
                raise CatalogError(
                    dpath,
                    f"cannot deprecate object {ref} referenced by entry {j} for package "
                    f"{_q(name)}: object schema unknown",
                )

    return Package(
        name,
        bundles=built,
        channels=channels,
        default_channel=default,
        deprecation=package_deprecation,
        icon=icon,
        description=description,
        layout="fbc",
        source=str(pkg_path),
    )


def _bundle(package: str, name: str, path: Path, doc: dict, icon, description: str) -> Bundle:
    props = doc.get("properties") or []
    if not isinstance(props, list) or not all(isinstance(p, dict) and p.get("type") for p in props):
        raise CatalogError(
            path,
            f"parse properties for bundle {_q(name)}: properties must be a list of {{type, value}}",
        )
    pkg_props = [p.get("value") or {} for p in props if p["type"] == "olm.package"]
    if len(pkg_props) != 1:
        raise CatalogError(
            path,
            f'package {_q(package)} bundle {_q(name)} must have exactly 1 "olm.package" property, '
            f"found {len(pkg_props)}",
        )
    if pkg_props[0].get("packageName") != package:
        raise CatalogError(
            path,
            f'package {_q(package)} does not match "olm.package" property '
            f"{_q(str(pkg_props[0].get('packageName') or ''))}",
        )
    version = str(pkg_props[0].get("version") or "")
    if not is_semver(version):
        raise CatalogError(
            path, f"error parsing bundle {_q(name)} version {_q(version)}: not a semantic version"
        )
    objects = []
    for p in props:
        if p["type"] != "olm.bundle.object":
            continue
        data = (p.get("value") or {}).get("data")
        try:
            raw = base64.b64decode(data or "", validate=True)
            obj = yaml.load(raw.decode("utf-8"), Loader=_Loader)
        except (binascii.Error, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
            raise CatalogError(
                path, f"bundle {_q(name)}: olm.bundle.object is not base64 JSON/YAML: {exc}"
            ) from None
        if not isinstance(obj, dict) or not obj.get("kind"):
            raise CatalogError(path, f"bundle {_q(name)}: olm.bundle.object without a kind")
        objects.append(obj)
    image = doc.get("image") or ""
    if not image and not objects:
        raise CatalogError(
            path,
            f"invalid package {_q(package)}: invalid bundle {_q(name)}: bundle image must be set",
        )
    csvs = [o for o in objects if o["kind"] == "ClusterServiceVersion"]
    metadata = [p.get("value") or {} for p in props if p["type"] == "olm.csv.metadata"]
    if len(csvs) > 1 or len(metadata) > 1:
        raise CatalogError(path, f"bundle {_q(name)}: more than one CSV / olm.csv.metadata")
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    related = [
        {"name": r.get("name", ""), "image": r["image"]}
        for r in doc.get("relatedImages") or []
        if isinstance(r, dict) and r.get("image")
    ]
    synthesized = False
    if csvs:
        csv = csvs[0]
    else:
        csv = _csv_from_metadata(
            name, version, metadata[0] if metadata else {}, icon, description, related
        )
        if not crds:
            gvks = [p.get("value") or {} for p in props if p["type"] == "olm.gvk"]
            crds = _synthesized_crds(csv, gvks)
            synthesized = bool(crds)
    unpullable = any(p["type"] == UNPULLABLE and p.get("value") is True for p in props)
    return Bundle(
        name=name,
        package=package,
        version=version,
        csv=csv,
        crds=crds,
        objects=objects,
        image=image,
        unpullable=unpullable,
        properties=props,
        related_images=related,
        synthesized_crds=synthesized,
        source=str(path),
    )


def _csv_from_metadata(name, version, m: dict, icon, description, related) -> dict:
    """The CSV opm serves for an `olm.csv.metadata` bundle
    (operator-registry pkg/api/model_to_api.go `csvMetadataToCsv` + ConvertModelBundleToAPIBundle)."""
    spec: dict = {
        "apiservicedefinitions": m.get("apiServiceDefinitions") or {},
        "customresourcedefinitions": m.get("crdDescriptions") or {},
        "description": m.get("description") or description,
        "displayName": m.get("displayName", ""),
        "installModes": m.get("installModes") or [],
        "keywords": m.get("keywords") or [],
        "links": m.get("links") or [],
        "maintainers": m.get("maintainers") or [],
        "maturity": m.get("maturity", ""),
        "minKubeVersion": m.get("minKubeVersion", ""),
        "nativeAPIs": m.get("nativeAPIs") or [],
        "provider": m.get("provider") or {},
        "install": {"strategy": "deployment"},
        "version": version,
        "relatedImages": related,
    }
    if icon:
        spec["icon"] = [
            {"base64data": icon.get("base64data", ""), "mediatype": icon.get("mediatype", "")}
        ]
    return {
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {
            "name": name,
            "annotations": dict(m.get("annotations") or {}),
            "labels": dict(m.get("labels") or {}),
        },
        "spec": {
            k: v for k, v in spec.items() if v not in ("", [], {}) or k in ("install", "version")
        },
    }


def _synthesized_crds(csv: dict, gvks: list[dict]) -> list[dict]:
    """CRDs for an `olm.csv.metadata` bundle, whose manifests stay in the bundle image:
    one CRD per owned name, each `olm.gvk` version served, schemas preserving all fields."""
    owned = ((csv.get("spec") or {}).get("customresourcedefinitions") or {}).get("owned") or []
    by_name: dict[str, dict] = {}
    for o in owned:
        plural, _, group = o.get("name", "").partition(".")
        if not group:
            continue
        versions = [
            g["version"] for g in gvks if g.get("group") == group and g.get("kind") == o.get("kind")
        ]
        versions = sorted({*versions, o.get("version", "")} - {""})
        crd = by_name.setdefault(
            o["name"],
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": o["name"]},
                "spec": {
                    "group": group,
                    "names": {
                        "kind": o["kind"],
                        "plural": plural,
                        "singular": o["kind"].lower(),
                        "listKind": o["kind"] + "List",
                    },
                    "scope": "Namespaced",
                    "versions": [],
                },
            },
        )
        known = {v["name"] for v in crd["spec"]["versions"]}
        for v in versions:
            if v not in known:
                crd["spec"]["versions"].append(
                    {
                        "name": v,
                        "served": True,
                        "storage": False,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                )
    for crd in by_name.values():
        versions = crd["spec"]["versions"]
        versions.sort(key=lambda v: kube_version_key(v["name"]))
        if versions:
            versions[0]["storage"] = True
    return list(by_name.values())


# -- rendering a community bundle as an olm.bundle blob -------------------------------------


def render_bundle(bundle_dir: Path, image: str) -> dict:
    """An `olm.bundle` for one community-layout bundle dir (what `opm render` produces)."""
    bundle_dir = Path(bundle_dir)
    b = _load_bundle_dir(bundle_dir, "", {}, bundle_dir.parent.parent)
    props = list(b.properties)
    for obj in b.objects:
        data = base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()
        props.append({"type": "olm.bundle.object", "value": {"data": data}})
    return {
        "schema": "olm.bundle",
        "name": b.name,
        "package": b.package,
        "image": image,
        "properties": props,
        "relatedImages": [{"name": "", "image": image}, *b.related_images],
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "render":
        print(
            "usage: python -m sandbox.fbc render <package>/<version> <bundle image>",
            file=sys.stderr,
        )
        raise SystemExit(2)
    print(json.dumps(render_bundle(Path(args[1]), args[2])))


if __name__ == "__main__":
    main()

"""Operator bundles, packages and channel graphs; the community-operators folder layout.

The model mirrors what a real catalog serves (operator-registry `alpha/model`):
a Package has channels, a Channel has entries `{name, replaces, skips,
skipRange}`, each entry names a Bundle (its CSV, its CRDs, its bundle image).

A catalog folder in the community-operators layout
(github.com/redhat-openshift-ecosystem/community-operators-prod `operators/`)::

    <folder>/<package>/<version>/manifests/*.yaml      CSV, CRDs (v1 or v1beta1), other objects
    <folder>/<package>/<version>/metadata/annotations.yaml
    <folder>/<package>/<version>/sandbox.yaml          optional: {unpullable: true, image: ...}
    <folder>/<package>/ci.yaml                         optional: {updateGraph: replaces-mode}
    <folder>/bundle-images.yaml                        optional: {<csv name>: <bundle image>}

The folder may also be one package (`<version>/manifests`) or one bundle folder.

Channel membership comes from the `channels.v1` annotation; upgrade edges from
the CSV's `spec.replaces`, `spec.skips` and `olm.skipRange` (ci.yaml
`updateGraph: replaces-mode`, the default), or from semver order
(`semver-mode` / `semver-skippatch-mode`, as `opm index add --mode=semver`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .resources import crd_as_served
from .semver import Range, RangeError, is_semver, version_key

try:  # libyaml when available: loading a catalog folder is then ~10x faster
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

ANN_PACKAGE = "operators.operatorframework.io.bundle.package.v1"
ANN_CHANNELS = "operators.operatorframework.io.bundle.channels.v1"
ANN_DEFAULT_CHANNEL = "operators.operatorframework.io.bundle.channel.default.v1"
SKIP_RANGE = "olm.skipRange"
UPDATE_MODES = ("replaces-mode", "semver-mode", "semver-skippatch-mode")


def _q(value: object) -> str:
    """A name in double quotes, as Go's %q prints it in opm's messages."""
    return json.dumps("" if value is None else str(value))


class CatalogError(ValueError):
    """A catalog folder that cannot be served; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def load_yaml_documents(path: Path) -> list:
    """Every document of a YAML (or JSON) file, `None`s dropped; errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(path, f"cannot read file: {exc}") from None
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        raise CatalogError(path, f"not valid YAML: {exc}") from None


# -- model ------------------------------------------------------------------------------------


@dataclass
class ChannelEntry:
    """One `olm.channel` entry: the bundle name and its incoming upgrade edges."""

    name: str
    replaces: str | None = None
    skips: tuple[str, ...] = ()
    skip_range: str | None = None

    def as_dict(self) -> dict:
        out: dict = {"name": self.name}
        if self.replaces:
            out["replaces"] = self.replaces
        if self.skips:
            out["skips"] = list(self.skips)
        if self.skip_range:
            out["skipRange"] = self.skip_range
        return out


@dataclass
class Bundle:
    """One operator bundle: its CSV, the CRD manifests it ships and its bundle image."""

    name: str  # the CSV's metadata.name
    package: str
    version: str
    csv: dict
    crds: list[dict] = field(default_factory=list)  # as shipped (apiextensions v1 or v1beta1)
    objects: list[dict] = field(default_factory=list)  # every manifest of the bundle
    image: str = ""  # bundle image reference
    unpullable: bool = False  # the sandbox cannot pull `image`: OLM's unpack job fails
    channels: list[str] = field(default_factory=list)
    default_channel: str | None = None  # the bundle's channel.default annotation, if any
    properties: list[dict] = field(default_factory=list)  # FBC-style {type, value}
    related_images: list[dict] = field(default_factory=list)
    deprecation: str | None = None  # olm.deprecations message for this bundle
    synthesized_crds: bool = False  # CRDs made up from olm.gvk (FBC olm.csv.metadata bundles)
    source: str = ""

    @property
    def replaces(self) -> str | None:
        return (self.csv.get("spec") or {}).get("replaces") or None

    @property
    def skips(self) -> tuple[str, ...]:
        return tuple((self.csv.get("spec") or {}).get("skips") or ())

    @property
    def skip_range(self) -> str | None:
        return ((self.csv.get("metadata") or {}).get("annotations") or {}).get(SKIP_RANGE)

    def crd(self, name: str) -> dict | None:
        """The CRD manifest `name` as this bundle ships it (not converted)."""
        for crd in self.crds:
            if (crd.get("metadata") or {}).get("name") == name:
                return crd
        return None

    def provided_apis(self) -> list[dict]:
        """`olm.gvk` of every CRD version (served or not), as opm renders them."""
        return _provided_apis(self.crds)

    def required_apis(self) -> list[dict]:
        out = []
        for req in ((self.csv.get("spec") or {}).get("customresourcedefinitions") or {}).get(
            "required"
        ) or []:
            group = req.get("name", "").partition(".")[2]
            out.append({"group": group, "version": req.get("version", ""), "kind": req["kind"]})
        return out

    def installable_csv(self) -> dict:
        return copy.deepcopy(self.csv)


def _provided_apis(crds: Iterable[dict]) -> list[dict]:
    seen: list[dict] = []
    for crd in crds:
        spec = crd.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind", "")
        versions = [v.get("name") for v in spec.get("versions") or []]
        if spec.get("version"):
            versions.append(spec["version"])
        for version in versions:
            gvk = {"group": spec.get("group", ""), "kind": kind, "version": version}
            if version and gvk not in seen:
                seen.append(gvk)
    return seen


def channel_heads(entries: Iterable[ChannelEntry]) -> list[str]:
    """Entries nothing in the channel replaces or skips (operator-registry Channel.Head)."""
    entries = list(entries)
    incoming: set[str] = set()
    for e in entries:
        if e.replaces:
            incoming.add(e.replaces)
        incoming.update(e.skips)
    return sorted(e.name for e in entries if e.name not in incoming)


class Channel:
    """A channel's entries and upgrade graph.

    `head` is the entry no other entry replaces or skips; `order` lists every
    entry oldest first (semver ascending) with the head last, which is what
    `Package.channels` exposes and what a PackageManifest lists, newest first.
    """

    def __init__(
        self,
        name: str,
        package: str,
        entries: Iterable[ChannelEntry],
        versions: dict[str, str],
        *,
        deprecation: str | None = None,
        order: list[str] | None = None,
    ):
        self.name = name
        self.package = package
        self.entries: dict[str, ChannelEntry] = {e.name: e for e in entries}
        self.versions = versions  # bundle name -> version, shared with the package
        self.deprecation = deprecation
        if order is not None:  # legacy YAML catalogs: the list order is the channel order
            self.order = list(order)
            self.head: str | None = self.order[-1] if self.order else None
        else:
            heads = channel_heads(self.entries.values())
            self.head = heads[0] if len(heads) == 1 else None
            self.order = sorted(self.entries, key=lambda n: version_key(self.versions.get(n)))
            if self.head:
                self.order.remove(self.head)
                self.order.append(self.head)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def problems(self) -> list[str]:
        """operator-registry's channel validation (alpha/model/model.go validateReplacesChain)."""
        if not self.entries:
            return ["channel must contain at least one bundle"]
        heads = channel_heads(self.entries.values())
        if not heads:
            return ["no channel head found in graph"]
        if len(heads) > 1:
            return [f"multiple channel heads found in graph: {', '.join(heads)}"]
        out = []
        skipped: set[str] = set()
        for e in self.entries.values():
            skipped.update(e.skips)
            if e.skip_range:
                try:
                    Range(e.skip_range)
                except RangeError as exc:
                    out.append(
                        f"invalid bundle {_q(e.name)}: invalid skipRange {_q(e.skip_range)}: {exc}"
                    )
        chain = [heads[0]]
        current: ChannelEntry | None = self.entries[heads[0]]
        while current is not None and current.replaces and current.replaces not in skipped:
            if current.replaces in chain:
                path = " -> ".join([*chain[chain.index(current.replaces) :], current.replaces])
                out.append(f"detected cycle in replaces chain of upgrade graph: {path}")
                break
            chain.append(current.replaces)
            current = self.entries.get(current.replaces)
        stranded = sorted(set(self.entries) - set(chain) - skipped)
        if stranded:
            out.append(f"channel contains one or more stranded bundles: {', '.join(stranded)}")
        return out

    def chain(self) -> list[str]:
        """Installable entries newest first, as OLM's resolver orders a channel.

        OLM pkg/controller/registry/resolver/resolver.go `sortChannel`: walk
        `replaces` from the head; entries another entry `skips` are dropped.
        """
        if self.head is None:
            return []
        skipped = {s for e in self.entries.values() for s in e.skips if s in self.entries}
        out: list[str] = []
        seen: set[str] = set()
        name: str | None = self.head
        while name and name in self.entries and name not in seen:
            seen.add(name)
            if name not in skipped:
                out.append(name)
            name = self.entries[name].replaces
        return out

    def next_versions(
        self, from_csv: str | None = None, *, from_version: str | None = None
    ) -> list[str]:
        """Entries with a direct upgrade edge from `from_csv`, newest first.

        OLM's candidates for an installed CSV (resolver.go getSubscriptionVariables,
        predicates.go): `replaces == from_csv`, `from_csv in skips`, or `skipRange`
        containing the installed version. The resolver takes the first one.
        """
        version = from_version or (self.versions.get(from_csv) if from_csv else None)
        out = []
        for name in self.chain():
            if name == from_csv:
                continue
            entry = self.entries[name]
            edge = bool(from_csv) and (entry.replaces == from_csv or from_csv in entry.skips)
            if not edge and entry.skip_range and version:
                try:
                    edge = Range(entry.skip_range).contains(version)
                except RangeError:
                    edge = False
            if edge:
                out.append(name)
        return out

    def upgrade_path(
        self, from_csv: str | None = None, *, from_version: str | None = None
    ) -> list[str]:
        """The CSVs OLM installs one after another from `from_csv` (hop by hop, newest edge first)."""
        path: list[str] = []
        current, version = from_csv, from_version
        while True:
            candidates = self.next_versions(current, from_version=version)
            if not candidates or candidates[0] in path or candidates[0] == from_csv:
                return path
            current, version = candidates[0], None
            path.append(current)

    def add(self, entry: ChannelEntry, version: str) -> None:
        """Append `entry` as the new head (sandbox publishing)."""
        self.versions[entry.name] = version
        self.entries[entry.name] = entry
        if entry.name in self.order:
            self.order.remove(entry.name)
        self.order.append(entry.name)
        self.head = entry.name


class Package:
    """A package of one catalog image: channels, default channel, bundles, deprecations."""

    def __init__(
        self,
        name: str,
        *,
        bundles: dict[str, Bundle],
        channels: dict[str, Channel],
        default_channel: str,
        deprecation: str | None = None,
        icon: dict | None = None,
        description: str = "",
        layout: str = "yaml",
        source: str = "",
    ):
        self.name = name
        self.bundles = bundles
        self._channels = channels
        self.default_channel = default_channel
        self.deprecation = deprecation
        self.icon = icon
        self.description = description
        self.layout = layout  # yaml | community | fbc
        self.source = source

    # -- construction from the built-in YAML catalog format --------------------------------

    @classmethod
    def from_legacy(cls, raw: dict, *, image: str = "", source: str = "") -> Package:
        """A package of `catalogs/*.yaml`: channels list CSV names oldest first, head last."""
        name = raw["name"]
        crds = {c["metadata"]["name"]: c for c in raw.get("crds", [])}
        bundles: dict[str, Bundle] = {}
        for csv in raw.get("bundles", []):
            owned = ((csv.get("spec") or {}).get("customresourcedefinitions") or {}).get(
                "owned"
            ) or []
            shipped = [crds[o["name"]] for o in owned if o.get("name") in crds]
            version = str((csv.get("spec") or {}).get("version", ""))
            bundles[csv["metadata"]["name"]] = Bundle(
                name=csv["metadata"]["name"],
                package=name,
                version=version,
                csv=csv,
                crds=list({id(c): c for c in shipped}.values()),
                objects=[csv, *shipped],
                image=bundle_image(image, name, version),
                source=source,
            )
        versions = {n: b.version for n, b in bundles.items()}
        channels = {}
        for channel, names in raw["channels"].items():
            entries = [
                _entry_from_csv(bundles[n]) if n in bundles else ChannelEntry(n) for n in names
            ]
            for b in (bundles[n] for n in names if n in bundles):
                b.channels.append(channel)
            channels[channel] = Channel(channel, name, entries, versions, order=list(names))
        default = raw.get("defaultChannel") or next(iter(raw["channels"]))
        return cls(name, bundles=bundles, channels=channels, default_channel=default, source=source)

    # -- what the OLM controllers read -----------------------------------------------------

    @property
    def channels(self) -> dict[str, list[str]]:
        """Channel name -> CSV names, oldest first and the head last (channels sorted by name)."""
        return {n: list(self._channels[n].order) for n in sorted(self._channels)}

    def channel(self, name: str) -> Channel | None:
        return self._channels.get(name)

    def channel_names(self) -> list[str]:
        return sorted(self._channels)

    def head(self, channel: str) -> str | None:
        ch = self._channels.get(channel)
        return ch.head if ch else None

    def bundle(self, name: str) -> Bundle | None:
        return self.bundles.get(name)

    def csv(self, name: str) -> dict | None:
        bundle = self.bundles.get(name)
        return copy.deepcopy(bundle.csv) if bundle else None

    def version(self, name: str) -> str:
        bundle = self.bundles.get(name)
        return bundle.version if bundle else ""

    @property
    def crds(self) -> dict[str, dict]:
        """CRD name -> manifest as shipped, from the newest bundle that ships it."""
        out: dict[str, dict] = {}
        for bundle in sorted(self.bundles.values(), key=lambda b: version_key(b.version)):
            for crd in bundle.crds:
                out[crd["metadata"]["name"]] = crd
        return out

    def crd(self, name: str, *, csv: str | None = None) -> dict | None:
        """CRD `name` as the API server serves it (v1; v1beta1 converted), from bundle `csv`
        if given, else from the newest bundle that ships it."""
        bundle = self.bundles.get(csv) if csv else None
        manifest = bundle.crd(name) if bundle else self.crds.get(name)
        return crd_as_served(manifest) if manifest else None

    def provider(self) -> str:
        head = self.csv(self.head(self.default_channel) or "") or {}
        return ((head.get("spec") or {}).get("provider") or {}).get("name", "")

    def next_versions(
        self, channel: str, from_csv: str | None = None, *, from_version: str | None = None
    ) -> list[str]:
        """CSVs of `channel` with a direct upgrade edge from `from_csv`, newest first."""
        ch = self._channels.get(channel)
        if ch is None:
            return []
        if from_version is None and from_csv in self.bundles:
            from_version = self.bundles[from_csv].version
        return ch.next_versions(from_csv, from_version=from_version)

    def upgrade_path(
        self, channel: str, from_csv: str | None = None, *, from_version: str | None = None
    ) -> list[str]:
        """The CSVs OLM installs in turn from `from_csv` to the head of `channel`."""
        ch = self._channels.get(channel)
        if ch is None:
            return []
        if from_version is None and from_csv in self.bundles:
            from_version = self.bundles[from_csv].version
        return ch.upgrade_path(from_csv, from_version=from_version)

    def channel_deprecation(self, channel: str) -> str | None:
        ch = self._channels.get(channel)
        return ch.deprecation if ch else None

    def bundle_deprecation(self, name: str) -> str | None:
        bundle = self.bundles.get(name)
        return bundle.deprecation if bundle else None

    # -- the package-server's view -----------------------------------------------------------

    def csv_description(self, name: str) -> dict:
        """`currentCSVDesc` as OLM's package-server builds it (CreateCSVDescription,
        OLM pkg/package-server/apis/operators/packagemanifest.go): full annotations,
        owned/required CRDs filtered to {name, version, kind, displayName, description},
        empty fields omitted, icon stripped (served by the /icon subresource instead)."""
        bundle = self.bundles.get(name)
        csv = bundle.csv if bundle else {}
        spec = csv.get("spec") or {}
        provider = spec.get("provider") or {}
        crds = spec.get("customresourcedefinitions") or {}
        apis = spec.get("apiservicedefinitions") or {}
        desc: dict = {
            "displayName": spec.get("displayName", ""),
            "version": str(spec.get("version", "")),
            "provider": {k: provider[k] for k in ("name", "url") if provider.get(k)},
            "annotations": dict((csv.get("metadata") or {}).get("annotations") or {}),
            "keywords": list(spec.get("keywords") or []),
            "links": [
                {k: v for k, v in (("name", ln.get("name")), ("url", ln.get("url"))) if v}
                for ln in spec.get("links") or []
            ],
            "maintainers": [
                {k: v for k, v in (("name", m.get("name")), ("email", m.get("email"))) if v}
                for m in spec.get("maintainers") or []
            ],
            "maturity": spec.get("maturity", ""),
            "description": spec.get("description", ""),
            "installModes": copy.deepcopy(spec.get("installModes") or []),
            "customresourcedefinitions": {
                k: [_crd_description(d) for d in crds.get(k) or []]
                for k in ("owned", "required")
                if crds.get(k)
            },
            "apiservicedefinitions": {
                k: [_api_description(d) for d in apis.get(k) or []]
                for k in ("owned", "required")
                if apis.get(k)
            },
            "nativeApis": copy.deepcopy(spec.get("nativeAPIs") or []),
            "minKubeVersion": spec.get("minKubeVersion", ""),
            "relatedImages": csv_images(csv),
        }
        keep = ("customresourcedefinitions", "apiservicedefinitions", "provider", "version")
        return {k: v for k, v in desc.items() if v or k in keep}

    def manifest_entries(self, channel: str) -> list[dict]:
        """`status.channels[].entries`: every bundle of the channel, semver descending,
        with its olm.deprecations message; legacy `olm.deprecated` bundles left out
        (OLM pkg/package-server/provider/registry.go)."""
        ch = self._channels.get(channel)
        if ch is None:
            return []
        out = []
        for name in sorted(ch.entries, key=lambda n: version_key(self.version(n)), reverse=True):
            bundle = self.bundles.get(name)
            if bundle and any(p.get("type") == "olm.deprecated" for p in bundle.properties):
                continue
            entry: dict = {"name": name}
            if self.version(name):
                entry["version"] = self.version(name)
            if bundle and bundle.deprecation:
                entry["deprecation"] = {"message": bundle.deprecation}
            out.append(entry)
        return out

    def manifest_channels(self) -> list[dict]:
        """`status.channels` of the PackageManifest, channels sorted by name."""
        out = []
        for name in self.channel_names():
            ch = self._channels[name]
            item: dict = {
                "name": name,
                "currentCSV": ch.head or "",
                "currentCSVDesc": self.csv_description(ch.head or ""),
                "entries": self.manifest_entries(name),
            }
            if ch.deprecation:
                item["deprecation"] = {"message": ch.deprecation}
            out.append(item)
        return out

    # -- sandbox publishing ------------------------------------------------------------------

    def publish(self, csv: dict, *, channel: str, template: str | None) -> Bundle:
        """Add `csv` as the new head of `channel` (created if new), shipping `template`'s CRDs."""
        name = csv["metadata"]["name"]
        version = str(csv["spec"]["version"])
        base = self.bundles.get(template or "")
        bundle = Bundle(
            name=name,
            package=self.name,
            version=version,
            csv=csv,
            crds=list(base.crds) if base else [],
            image=_retag_bundle(base.image, self.name, version) if base else "",
            channels=[channel],
            source="published at run time",
        )
        bundle.objects = [csv, *bundle.crds]
        old = self.bundles.get(name)
        if old:
            bundle.channels = sorted({*old.channels, channel})
        self.bundles[name] = bundle
        versions = next(iter(self._channels.values())).versions if self._channels else {}
        ch = self._channels.get(channel)
        if ch is None:
            ch = self._channels[channel] = Channel(channel, self.name, [], versions, order=[])
        ch.add(_entry_from_csv(bundle), version)
        for other in self._channels.values():
            other.versions[name] = version
        return bundle


def _crd_description(d: dict) -> dict:
    out = {k: d.get(k, "") for k in ("name", "version", "kind")}
    for k in ("displayName", "description"):
        if d.get(k):
            out[k] = d[k]
    return out


def _api_description(d: dict) -> dict:
    out = {k: d.get(k, "") for k in ("name", "group", "version", "kind")}
    for k in ("displayName", "description"):
        if d.get(k):
            out[k] = d[k]
    return out


def csv_images(csv: dict) -> list[str]:
    """Operator images (deployment containers) plus `spec.relatedImages`, sorted."""
    images = set()
    spec = csv.get("spec") or {}
    for dep in ((spec.get("install") or {}).get("spec") or {}).get("deployments") or []:
        pod = (((dep.get("spec") or {}).get("template") or {}).get("spec")) or {}
        for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            if c.get("image"):
                images.add(c["image"])
    for ri in spec.get("relatedImages") or []:
        if ri.get("image"):
            images.add(ri["image"])
    return sorted(images)


def _entry_from_csv(bundle: Bundle) -> ChannelEntry:
    return ChannelEntry(bundle.name, bundle.replaces, bundle.skips, bundle.skip_range)


def image_repository(image: str) -> str:
    """`quay.io/sandbox/catalog:v1` -> `quay.io/sandbox/catalog` (tag or digest dropped)."""
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    return repo


def bundle_image(catalog_image: str, package: str, version: str) -> str:
    """The bundle image the sandbox invents for a folder bundle:
    `<catalog image without tag>-bundle:<package>-v<version>`."""
    if not catalog_image:
        return ""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{package}-v{version.lstrip('v')}")[:128]
    return f"{image_repository(catalog_image)}-bundle:{tag}"


def _retag_bundle(image: str, package: str, version: str) -> str:
    if not image:
        return ""
    repo = image_repository(image)
    return f"{repo}:{package}-v{version.lstrip('v')}"


# -- the community-operators layout -----------------------------------------------------------


def _is_bundle_dir(path: Path) -> bool:
    return (path / "manifests").is_dir() or (path / "metadata" / "annotations.yaml").is_file()


def _visible_dirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def community_packages(root: Path) -> list[tuple[Path, list[Path]]]:
    """(package dir, its bundle dirs) for a community-layout folder, [] for anything else.

    The folder may be a catalog (`<package>/<version>/manifests`, e.g. community-operators'
    `operators/`), one package (`<version>/manifests`, e.g. `operators/etcd`) or one bundle
    (`manifests/` + `metadata/`, e.g. `operators/etcd/0.9.4`).
    """
    if _is_bundle_dir(root):
        return [(root, [root])]
    if any(_is_bundle_dir(v) for v in _visible_dirs(root)):
        return [(root, [v for v in _visible_dirs(root) if _is_bundle_dir(v)])]
    out = []
    for pkg_dir in _visible_dirs(root):
        versions = [v for v in _visible_dirs(pkg_dir) if _is_bundle_dir(v)]
        if versions:  # catalog-templates/, tests/ ... are not bundles
            out.append((pkg_dir, versions))
    return out


def is_community_layout(root: Path) -> bool:
    """True if `root` is a catalog, package or bundle folder in the community layout."""
    return bool(community_packages(root))


def load_community_folder(root: Path, image: str) -> list[Package]:
    """Every package of a community-operators style folder; CatalogError when invalid."""
    root = Path(root)
    if not root.is_dir():
        raise CatalogError(root, "catalog folder does not exist")
    overrides = _bundle_image_overrides(root)
    by_package: dict[str, list[Bundle]] = {}
    modes: dict[str, tuple[str, Path]] = {}
    for pkg_dir, ver_dirs in community_packages(root):
        mode = _update_mode(pkg_dir)
        for ver_dir in ver_dirs:
            bundle = _load_bundle_dir(ver_dir, image, overrides, root)
            by_package.setdefault(bundle.package, []).append(bundle)
            if bundle.package in modes and modes[bundle.package][1] != pkg_dir:
                other = modes[bundle.package][1]
                raise CatalogError(
                    ver_dir / "metadata" / "annotations.yaml",
                    f"package {_q(bundle.package)} is also declared by bundles under {other}",
                )
            modes[bundle.package] = (mode, pkg_dir)
    if not by_package:
        raise CatalogError(
            root, "no bundles found (expected <package>/<version>/manifests and metadata/)"
        )
    return [
        _assemble_package(name, bundles, modes[name][0], modes[name][1])
        for name, bundles in sorted(by_package.items())
    ]


def _bundle_image_overrides(root: Path) -> dict[str, str]:
    path = root / "bundle-images.yaml"
    if not path.is_file():
        return {}
    docs = load_yaml_documents(path)
    data = docs[0] if docs else {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise CatalogError(
            path, "must map CSV names (or <package>/<version> paths) to bundle image references"
        )
    return data


def _update_mode(pkg_dir: Path) -> str:
    path = pkg_dir / "ci.yaml"
    if not path.is_file():
        return "replaces-mode"
    docs = load_yaml_documents(path)
    data = docs[0] if docs else {}
    if not isinstance(data, dict):
        raise CatalogError(path, "must be a mapping")
    mode = data.get("updateGraph", "replaces-mode")
    if mode not in UPDATE_MODES:
        raise CatalogError(path, f"updateGraph {_q(mode)} is not one of {', '.join(UPDATE_MODES)}")
    return mode


def _load_bundle_dir(ver_dir: Path, image: str, overrides: dict[str, str], root: Path) -> Bundle:
    ann_path = ver_dir / "metadata" / "annotations.yaml"
    if not ann_path.is_file():
        raise CatalogError(ann_path, "missing: every bundle needs metadata/annotations.yaml")
    docs = load_yaml_documents(ann_path)
    annotations = (docs[0] or {}).get("annotations") if docs and isinstance(docs[0], dict) else None
    if not isinstance(annotations, dict):
        raise CatalogError(ann_path, "must contain an `annotations:` mapping")
    package = annotations.get(ANN_PACKAGE)
    if not package or not isinstance(package, str):
        raise CatalogError(ann_path, f"annotation {ANN_PACKAGE} is missing")
    channels_raw = annotations.get(ANN_CHANNELS)
    if not channels_raw or not isinstance(channels_raw, str):
        raise CatalogError(ann_path, f"annotation {ANN_CHANNELS} is missing")
    channels = [c.strip() for c in channels_raw.split(",") if c.strip()]
    default = annotations.get(ANN_DEFAULT_CHANNEL) or None

    manifests_dir = ver_dir / "manifests"
    if not manifests_dir.is_dir():
        raise CatalogError(manifests_dir, "missing: every bundle needs a manifests/ directory")
    objects: list[dict] = []
    csvs: list[tuple[Path, dict]] = []
    crds: list[dict] = []
    for path in sorted(manifests_dir.iterdir()):
        if not path.is_file() or path.suffix not in (".yaml", ".yml", ".json"):
            continue
        for doc in load_yaml_documents(path):
            if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
                raise CatalogError(path, "every manifest needs apiVersion and kind")
            if not (doc.get("metadata") or {}).get("name"):
                raise CatalogError(path, f"{doc['kind']} without metadata.name")
            objects.append(doc)
            if doc["kind"] == "ClusterServiceVersion":
                csvs.append((path, doc))
            elif doc["kind"] == "CustomResourceDefinition":
                _check_crd(path, doc)
                crds.append(doc)
    if len(csvs) != 1:
        raise CatalogError(
            manifests_dir,
            f"expected exactly one ClusterServiceVersion, found {len(csvs)}",
        )
    csv_path, csv = csvs[0]
    spec = csv.get("spec") or {}
    version = str(spec.get("version") or "")
    if not is_semver(version):
        raise CatalogError(csv_path, f"spec.version {_q(version)} is not a semantic version")
    skip_range = ((csv.get("metadata") or {}).get("annotations") or {}).get(SKIP_RANGE)
    if skip_range:
        try:
            Range(skip_range)
        except RangeError as exc:
            raise CatalogError(csv_path, f"invalid olm.skipRange {_q(skip_range)}: {exc}") from None
    owned = (spec.get("customresourcedefinitions") or {}).get("owned") or []
    shipped = {c["metadata"]["name"] for c in crds}
    for o in owned:
        if o.get("name") not in shipped:
            raise CatalogError(
                csv_path,
                f"owned CRD {_q(o.get('name'))} has no CustomResourceDefinition manifest in the bundle",
            )

    name = csv["metadata"]["name"]
    sandbox = _sandbox_options(ver_dir / "sandbox.yaml")
    rel = ver_dir.relative_to(root).as_posix()
    ref = (
        overrides.get(name)
        or overrides.get(rel)
        or sandbox.get("image")
        or bundle_image(image, package, version)
    )
    properties = [{"type": "olm.package", "value": {"packageName": package, "version": version}}]
    properties += [{"type": "olm.gvk", "value": gvk} for gvk in _provided_apis(crds)]
    bundle = Bundle(
        name=name,
        package=package,
        version=version,
        csv=csv,
        crds=crds,
        objects=objects,
        image=ref,
        unpullable=bool(sandbox.get("unpullable")),
        channels=channels,
        default_channel=default,
        properties=properties,
        source=str(ver_dir),
    )
    bundle.properties += [{"type": "olm.gvk.required", "value": g} for g in bundle.required_apis()]
    props_path = ver_dir / "metadata" / "properties.yaml"
    if props_path.is_file():
        pdocs = load_yaml_documents(props_path)
        extra = (pdocs[0] or {}).get("properties") if pdocs and isinstance(pdocs[0], dict) else None
        if not isinstance(extra, list):
            raise CatalogError(props_path, "must contain a `properties:` list")
        bundle.properties += extra
    bundle.related_images = [
        {"name": ri.get("name", ""), "image": ri["image"]}
        for ri in spec.get("relatedImages") or []
        if ri.get("image")
    ]
    return bundle


def _check_crd(path: Path, crd: dict) -> None:
    if crd.get("apiVersion") not in ("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1"):
        raise CatalogError(path, f"unsupported CRD apiVersion {_q(crd.get('apiVersion'))}")
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if not spec.get("group") or not names.get("plural") or not names.get("kind"):
        raise CatalogError(path, "CRD needs spec.group, spec.names.plural and spec.names.kind")
    if crd["metadata"]["name"] != f"{names['plural']}.{spec['group']}":
        raise CatalogError(
            path,
            f'CRD metadata.name must be spec.names.plural+"."+spec.group, not {_q(crd["metadata"]["name"])}',
        )
    if not spec.get("versions") and not spec.get("version"):
        raise CatalogError(path, "CRD has neither spec.versions nor spec.version")


def _sandbox_options(path: Path) -> dict:
    if not path.is_file():
        return {}
    docs = load_yaml_documents(path)
    data = docs[0] if docs else {}
    if not isinstance(data, dict):
        raise CatalogError(path, "must be a mapping such as {unpullable: true}")
    unknown = set(data) - {"unpullable", "image"}
    if unknown:
        raise CatalogError(path, f"unknown keys {sorted(unknown)}; allowed: unpullable, image")
    if "unpullable" in data and not isinstance(data["unpullable"], bool):
        raise CatalogError(path, "unpullable must be true or false")
    return data


def _assemble_package(name: str, bundles: list[Bundle], mode: str, pkg_dir: Path) -> Package:
    bundles = sorted(bundles, key=lambda b: version_key(b.version))
    by_name: dict[str, Bundle] = {}
    by_version: dict[tuple, str] = {}
    for b in bundles:
        if b.name in by_name:
            raise CatalogError(
                b.source, f"duplicate bundle {_q(b.name)} (also in {by_name[b.name].source})"
            )
        key = version_key(b.version)
        if key in by_version:
            raise CatalogError(
                b.source,
                f"duplicate versions found in bundles: {b.version} ({by_version[key]}, {b.name})",
            )
        by_name[b.name] = b
        by_version[key] = b.name
    versions = {b.name: b.version for b in bundles}
    members: dict[str, list[Bundle]] = {}
    for b in bundles:
        for ch in b.channels:
            members.setdefault(ch, []).append(b)
    channels: dict[str, Channel] = {}
    for ch, in_channel in members.items():
        entries = []
        previous: Bundle | None = None
        for b in in_channel:  # semver ascending
            if mode == "replaces-mode":
                entries.append(_entry_from_csv(b))
            else:
                skips = list(b.skips)
                if mode == "semver-skippatch-mode":
                    vk = version_key(b.version)
                    skips += [
                        o.name
                        for o in in_channel
                        if o is not b
                        and version_key(o.version)[:2] == vk[:2]
                        and version_key(o.version) < vk
                        and o.name not in skips
                    ]
                entries.append(
                    ChannelEntry(
                        b.name, previous.name if previous else None, tuple(skips), b.skip_range
                    )
                )
            previous = b
        channel = Channel(ch, name, entries, versions)
        problems = channel.problems()
        if problems:
            raise CatalogError(
                pkg_dir,
                f"invalid package {_q(name)}: invalid channel {_q(ch)}: {'; '.join(problems)}",
            )
        channels[ch] = channel
    default = _default_channel(name, bundles, channels, mode, pkg_dir)
    return Package(
        name,
        bundles=by_name,
        channels=channels,
        default_channel=default,
        layout="community",
        source=str(pkg_dir),
    )


def _default_channel(
    name: str, bundles: list[Bundle], channels: dict[str, Channel], mode: str, pkg_dir: Path
) -> str:
    """The default channel the way opm builds it from bundle annotations.

    replaces-mode: operator-registry pkg/registry/populator.go `SemverPackageManifest`:
    the `channel.default.v1` annotation of the highest-version bundle that sets it
    ("Take it when you can get it"); a package with a single channel gets that
    channel; otherwise loading fails ("unable to determine default channel").

    semver modes: pkg/registry/bundlegraphloader.go `AddBundleToGraph`, bundles
    added in version order: the latest annotation wins; until one is seen, the
    first bundle's channels sorted lexicographically give the default
    (pkg/registry/types.go `SelectDefaultChannel`).

    Followed from github.com/operator-framework/operator-registry at 4f9d6f2 (2026-08).
    """
    default = ""
    if mode == "replaces-mode":
        for b in bundles:  # ascending: the highest annotated bundle wins
            if b.default_channel:
                default = b.default_channel
        if len(channels) == 1:
            default = next(iter(channels))
    else:
        for b in bundles:
            if b.default_channel:
                default = b.default_channel
            elif not default:
                default = sorted(b.channels)[0]
    if default not in channels:
        raise CatalogError(
            pkg_dir,
            f"package {_q(name)}: unable to determine default channel among channel heads "
            f"{sorted(channels)}"
            + (f" (annotation names {_q(default)})" if default else "")
            + f"; set {ANN_DEFAULT_CHANNEL} on the newest bundle",
        )
    return default

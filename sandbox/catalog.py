"""Operator catalogs the sandbox can "pull": index image -> packages -> channels -> bundles.

A real CatalogSource runs a registry pod from an index image; here every index
image the sandbox knows is backed by one of

* a YAML file in `catalogs/` (the original format: each package lists its
  channels oldest CSV first with the head last, its bundles as full CSVs and the
  CRDs they own);
* a folder in the community-operators layout (`<package>/<version>/manifests`,
  `metadata/annotations.yaml`; see `bundles.py`);
* a File-Based Catalog folder (`olm.package` / `olm.channel` / `olm.bundle` /
  `olm.deprecations` documents; see `fbc.py`).

The built-in folders `catalogs/community` and `catalogs/fbc` are served as
`quay.io/sandbox/community-catalog:v1` and `quay.io/sandbox/fbc-catalog:v1`;
more images are added with `catalog_folders={image: folder}`.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path

import yaml

from .bundles import (
    Bundle,
    CatalogError,
    Channel,
    ChannelEntry,
    Package,
    is_community_layout,
    load_community_folder,
)
from .fbc import load_fbc_folder
from .semver import version_key

__all__ = [
    "BUILTIN_FOLDERS",
    "CATALOG_DIR",
    "Bundle",
    "Catalog",
    "CatalogError",
    "Channel",
    "ChannelEntry",
    "Package",
    "load_folder",
    "parse_catalog_specs",
    "version_key",
]

CATALOG_DIR = Path(__file__).parent / "catalogs"

# image -> (folder under catalogs/, displayName, publisher)
BUILTIN_FOLDERS: dict[str, tuple[str, str, str]] = {
    "quay.io/sandbox/community-catalog:v1": (
        "community",
        "Community Operators (sandbox)",
        "Sandbox",
    ),
    "quay.io/sandbox/fbc-catalog:v1": (
        "fbc",
        "File-Based Catalog (sandbox)",
        "Sandbox",
    ),
}

_cache_lock = threading.Lock()
_folder_cache: dict[tuple[str, str], tuple[tuple, list[Package]]] = {}


def _signature(root: Path) -> tuple:
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


_FBC_NAMES = {
    "catalog.yaml",
    "catalog.yml",
    "catalog.json",
    "index.yaml",
    "index.yml",
    "index.json",
}


def folder_layout(root: Path) -> str:
    """`community` or `fbc`.

    FBC when the folder has an `.indexignore` or a `catalog.*` / `index.*` file (opm's
    usual names) outside bundle manifests; else community when it is a catalog, package
    or bundle folder in that layout (`bundles.community_packages`); else FBC.
    """
    for path in root.rglob("*"):
        if path.name == ".indexignore" or (
            path.name in _FBC_NAMES
            and path.is_file()
            and not {"manifests", "metadata"} & set(path.relative_to(root).parts[:-1])
        ):
            return "fbc"
    return "community" if is_community_layout(root) else "fbc"


def load_folder(image: str, folder: str | os.PathLike[str]) -> list[Package]:
    """The packages a catalog folder serves as `image` (either layout); CatalogError if invalid.

    Parsed folders are cached by path and file mtimes; callers must not mutate the
    returned packages (`Catalog` copies one before publishing into it).
    """
    root = Path(folder).resolve()
    if not root.is_dir():
        raise CatalogError(root, f"catalog folder for {image} does not exist")
    sig = _signature(root)
    key = (str(root), image)
    with _cache_lock:
        cached = _folder_cache.get(key)
        if cached and cached[0] == sig:
            return cached[1]
    if folder_layout(root) == "community":
        packages = load_community_folder(root, image)
    else:
        packages = load_fbc_folder(root, image)
    with _cache_lock:
        _folder_cache[key] = (sig, packages)
    return packages


def parse_catalog_specs(specs: list[str] | str | None) -> dict[str, str]:
    """`["IMAGE=FOLDER", ...]` (or one comma-separated string) -> {image: folder}."""
    if not specs:
        return {}
    items = specs.split(",") if isinstance(specs, str) else list(specs)
    out: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        image, sep, folder = item.partition("=")
        if not sep or not image.strip() or not folder.strip():
            raise ValueError(f"catalog {item!r} must look like IMAGE=FOLDER")
        out[image.strip()] = folder.strip()
    return out


class Catalog:
    """All index images the sandbox can serve, plus CSVs published at run time."""

    def __init__(
        self,
        documents: list[dict],
        folders: dict[str, str | os.PathLike[str]] | None = None,
        *,
        sources: list[str] | None = None,
    ):
        self._lock = threading.RLock()
        self.images: dict[str, dict] = {}
        for i, doc in enumerate(documents):
            source = sources[i] if sources and i < len(sources) else ""
            for image in doc.get("catalogs", []):
                self.images[image["image"]] = {
                    "displayName": image.get("displayName", ""),
                    "publisher": image.get("publisher", ""),
                    "layout": "yaml",
                    "source": source,
                    "packages": {
                        p["name"]: Package.from_legacy(p, image=image["image"], source=source)
                        for p in image.get("packages", [])
                    },
                }
        for image, folder in (folders or {}).items():
            display, publisher = "", ""
            if image in BUILTIN_FOLDERS and Path(folder) == CATALOG_DIR / BUILTIN_FOLDERS[image][0]:
                display, publisher = BUILTIN_FOLDERS[image][1:]
            packages = load_folder(image, folder)
            self.images[image] = {
                "displayName": display,
                "publisher": publisher,
                "layout": folder_layout(Path(folder)),
                "source": str(folder),
                "packages": {p.name: p for p in packages},
            }
        self._owned: set[tuple[str, str]] = set()
        self.published: list[dict] = []
        self.revision = 0  # bumped by every publish_csv: what was read from it may be stale

    @classmethod
    def load(
        cls,
        catalog_file: str | os.PathLike[str] | None = None,
        catalog_folders: dict[str, str] | None = None,
        *,
        builtin_folders: bool = True,
    ) -> Catalog:
        """The built-in catalogs (or `catalog_file` instead of the built-in YAML files),
        the built-in folders, then `catalog_folders` ({image: folder}; overrides by image)."""
        files = [Path(catalog_file)] if catalog_file else sorted(CATALOG_DIR.glob("*.yaml"))
        documents = []
        for path in files:
            with open(path, encoding="utf-8") as fh:
                try:
                    documents.append(yaml.safe_load(fh) or {})
                except yaml.YAMLError as exc:
                    raise CatalogError(path, f"not valid YAML: {exc}") from None
        folders: dict[str, str | os.PathLike[str]] = {}
        if builtin_folders:
            folders.update({img: CATALOG_DIR / sub for img, (sub, _, _) in BUILTIN_FOLDERS.items()})
        folders.update(catalog_folders or {})
        return cls(documents, folders, sources=[str(p) for p in files])

    def knows(self, image: str | None) -> bool:
        return bool(image) and image in self.images

    def packages(self, image: str) -> list[Package]:
        with self._lock:
            return list((self.images.get(image) or {}).get("packages", {}).values())

    def package(self, image: str, name: str) -> Package | None:
        with self._lock:
            return (self.images.get(image) or {}).get("packages", {}).get(name)

    def image_info(self, image: str) -> dict:
        return self.images.get(image) or {}

    def bundle(self, image: str, package: str, csv: str) -> Bundle | None:
        pkg = self.package(image, package)
        return pkg.bundle(csv) if pkg else None

    def crd(self, name: str, *, image: str | None = None, csv: str | None = None) -> dict | None:
        """A CRD manifest by name as the API server serves it (apiextensions v1; v1beta1
        converted): from bundle `csv` when given, else from the newest bundle of the first
        package (in `image`, or in any image) that ships it."""
        with self._lock:
            images = [image] if image else list(self.images)
            for img in images:
                for pkg in (self.images.get(img) or {}).get("packages", {}).values():
                    if csv and csv in pkg.bundles:
                        found = pkg.crd(name, csv=csv)
                        if found:
                            return found
                    elif not csv and name in pkg.crds:
                        return pkg.crd(name)
            if csv:  # the bundle does not ship it: fall back to any bundle
                return self.crd(name, image=image)
        return None

    def publish_csv(
        self,
        *,
        package: str,
        channel: str,
        version: str,
        image: str | None = None,
        replaces: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        operator_image: str | None = None,
        annotations: dict | None = None,
        _record: bool = True,
    ) -> str:
        """Add a CSV as the new head of `channel` (created if new); returns its name.

        The bundle is a copy of the package's current head with the new version,
        `spec.replaces` pointing at the previous head of that channel.
        """
        with self._lock:
            pkg = self._find_package(package, image, writable=True)
            previous = pkg.head(channel)
            template_name = previous or pkg.head(pkg.default_channel)
            csv = pkg.csv(template_name or "")
            if csv is None:
                raise KeyError(f"package {package!r} has no bundle to base {channel!r} on")
            name = f"{package}.v{version.lstrip('v')}"
            csv["metadata"]["name"] = name
            spec = csv["spec"]
            spec["version"] = version.lstrip("v")
            replaced = replaces if replaces is not None else previous
            if replaced and replaced != name:
                spec["replaces"] = replaced
            else:
                spec.pop("replaces", None)
            spec.pop("skips", None)
            if display_name:
                spec["displayName"] = display_name
            if description:
                spec["description"] = description
            meta_ann = csv["metadata"].setdefault("annotations", {})
            meta_ann.pop("olm.skipRange", None)
            new_image = operator_image or _retag(meta_ann.get("containerImage", ""), version)
            if new_image:
                meta_ann["containerImage"] = new_image
                for dep in (spec.get("install") or {}).get("spec", {}).get("deployments", []):
                    for container in dep["spec"]["template"]["spec"].get("containers", []):
                        container["image"] = new_image
            meta_ann.update(annotations or {})
            pkg.publish(csv, channel=channel, template=template_name)
            self.revision += 1
            if _record:
                self.published.append(
                    {
                        "package": package,
                        "channel": channel,
                        "version": version,
                        "image": image,
                        "replaces": replaces,
                        "display_name": display_name,
                        "description": description,
                        "operator_image": operator_image,
                        "annotations": annotations,
                    }
                )
            return name

    def _find_package(self, package: str, image: str | None, *, writable: bool = False) -> Package:
        images = [image] if image else list(self.images)
        for candidate in images:
            pkg = self.package(candidate, package)
            if pkg:
                if writable and (candidate, package) not in self._owned:
                    # Folder packages are shared between Catalogs (cached): copy before writing.
                    pkg = copy.deepcopy(pkg)
                    self.images[candidate]["packages"][package] = pkg
                    self._owned.add((candidate, package))
                return pkg
        raise KeyError(f"package {package!r} is in no known catalog image")

    def replay(self, published: list[dict]) -> None:
        """Re-apply CSVs published before a restart (state file)."""
        for kwargs in published:
            self.publish_csv(**kwargs)

    def dump(self) -> str:
        return json.dumps(self.published)


def _retag(image: str, version: str) -> str:
    if "@" in image:
        return image.split("@", 1)[0] + ":v" + version.lstrip("v")
    if not image or ":" not in image.rsplit("/", 1)[-1]:
        return image
    return image.rsplit(":", 1)[0] + ":v" + version.lstrip("v")

"""Operator catalogs the sandbox can "pull": index image -> packages -> channels -> CSVs.

A real CatalogSource runs a registry pod from an index image; here the images
the sandbox knows are described by YAML files in `catalogs/`. Each package lists
its channels (oldest CSV first, the head last), its bundles (full
ClusterServiceVersion manifests) and the CRDs those bundles own.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from pathlib import Path

import yaml

CATALOG_DIR = Path(__file__).parent / "catalogs"


def version_key(version: str) -> tuple:
    """Semver ordering: 1.2.0-alpha < 1.2.0 < 1.10.0."""
    m = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?", version or "")
    if not m:
        return (0, 0, 0, 0, ())
    major, minor, patch, pre = int(m[1]), int(m[2] or 0), int(m[3] or 0), m[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


class Package:
    def __init__(self, raw: dict):
        self.name: str = raw["name"]
        self.default_channel: str = raw.get("defaultChannel") or next(iter(raw["channels"]))
        self.channels: dict[str, list[str]] = {k: list(v) for k, v in raw["channels"].items()}
        self.bundles: dict[str, dict] = {b["metadata"]["name"]: b for b in raw.get("bundles", [])}
        self.crds: dict[str, dict] = {c["metadata"]["name"]: c for c in raw.get("crds", [])}

    def head(self, channel: str) -> str | None:
        entries = self.channels.get(channel)
        return entries[-1] if entries else None

    def csv(self, name: str) -> dict | None:
        bundle = self.bundles.get(name)
        return copy.deepcopy(bundle) if bundle else None

    def provider(self) -> str:
        head = self.csv(self.head(self.default_channel) or "") or {}
        return ((head.get("spec") or {}).get("provider") or {}).get("name", "")


class Catalog:
    """All index images the sandbox can serve, plus CSVs published at run time."""

    def __init__(self, documents: list[dict]):
        self._lock = threading.RLock()
        self.images: dict[str, dict] = {}
        for doc in documents:
            for image in doc.get("catalogs", []):
                self.images[image["image"]] = {
                    "displayName": image.get("displayName", ""),
                    "publisher": image.get("publisher", ""),
                    "packages": {p["name"]: Package(p) for p in image.get("packages", [])},
                }
        self.published: list[dict] = []

    @classmethod
    def load(cls, catalog_file: str | os.PathLike[str] | None = None) -> Catalog:
        files = [Path(catalog_file)] if catalog_file else sorted(CATALOG_DIR.glob("*.yaml"))
        documents = []
        for path in files:
            with open(path, encoding="utf-8") as fh:
                documents.append(yaml.safe_load(fh) or {})
        return cls(documents)

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

    def crd(self, name: str) -> dict | None:
        """A CRD manifest by name, from whichever package ships it (newest bundle wins)."""
        with self._lock:
            for info in self.images.values():
                for pkg in info["packages"].values():
                    if name in pkg.crds:
                        return copy.deepcopy(pkg.crds[name])
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
            pkg = self._find_package(package, image)
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
            if display_name:
                spec["displayName"] = display_name
            if description:
                spec["description"] = description
            meta_ann = csv["metadata"].setdefault("annotations", {})
            new_image = operator_image or _retag(meta_ann.get("containerImage", ""), version)
            if new_image:
                meta_ann["containerImage"] = new_image
                for dep in (spec.get("install") or {}).get("spec", {}).get("deployments", []):
                    for container in dep["spec"]["template"]["spec"].get("containers", []):
                        container["image"] = new_image
            meta_ann.update(annotations or {})
            pkg.bundles[name] = csv
            entries = pkg.channels.setdefault(channel, [])
            if name in entries:
                entries.remove(name)
            entries.append(name)
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

    def _find_package(self, package: str, image: str | None) -> Package:
        images = [image] if image else list(self.images)
        for candidate in images:
            pkg = self.package(candidate, package)
            if pkg:
                return pkg
        raise KeyError(f"package {package!r} is in no known catalog image")

    def replay(self, published: list[dict]) -> None:
        """Re-apply CSVs published before a restart (state file)."""
        for kwargs in published:
            self.publish_csv(**kwargs)

    def dump(self) -> str:
        return json.dumps(self.published)


def _retag(image: str, version: str) -> str:
    if not image or ":" not in image.rsplit("/", 1)[-1]:
        return image
    return image.rsplit(":", 1)[0] + ":v" + version.lstrip("v")

"""Pure functions: what the platform applies to a cluster, and how it reads OLM back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from django.utils.translation import gettext as _

from .bundle_images import images_from_csv_description

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "operator-marketplace"
CATALOG_ID_LABEL = "marketplace.operators.io/catalog-source-id"


def catalog_source_manifest(
    *, name: str, namespace: str, image: str, display_name: str, publisher: str, catalog_id: int
) -> dict[str, Any]:
    """The CatalogSource we server-side apply, labelled so one list call finds all of ours."""
    return {
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "CatalogSource",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, CATALOG_ID_LABEL: str(catalog_id)},
        },
        "spec": {
            "sourceType": "grpc",
            "image": image,
            "displayName": display_name,
            "publisher": publisher,
            "updateStrategy": {"registryPoll": {"interval": "30m"}},
        },
    }


CATALOG_SOURCE_API_VERSION = "operators.coreos.com/v1alpha1"
# OLM's SourceType values (operator-framework/api, catalogsource_types.go); we deploy grpc
# catalogs that name an image, the kind `opm` builds and the seed's memcached.yaml is.
SOURCE_TYPES = ("grpc", "configmap", "internal")
MANIFEST_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class CatalogSourceYaml:
    name: str
    namespace: str
    display_name: str
    image: str
    publisher: str


class ManifestError(ValueError):
    """The YAML is not a CatalogSource we can deploy; each problem names its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return _("Not valid YAML: %(problem)s") % {"problem": problem}
    return _("Not valid YAML (line %(line)d, column %(column)d): %(problem)s") % {
        "line": mark.line + 1,
        "column": mark.column + 1,
        "problem": problem,
    }


def parse_catalog_source_yaml(text: str) -> CatalogSourceYaml:
    """A CatalogSource as `kubectl apply -f memcached.yaml` takes it, read back to the fields
    the platform deploys; refuses (naming the path) what OLM would not serve as a grpc image."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise ManifestError([_yaml_problem(exc)]) from None
    if len(documents) != 1:
        raise ManifestError(
            [
                _("Expected one CatalogSource, found %(count)d documents.")
                % {"count": len(documents)}
            ]
        )
    manifest = documents[0]
    if not isinstance(manifest, dict):
        raise ManifestError([_("Expected a mapping with apiVersion, kind, metadata and spec.")])
    problems = []
    if manifest.get("apiVersion") != CATALOG_SOURCE_API_VERSION:
        problems.append(
            _("apiVersion: must be %(version)s.") % {"version": CATALOG_SOURCE_API_VERSION}
        )
    if manifest.get("kind") != "CatalogSource":
        problems.append(_("kind: must be CatalogSource."))
    metadata = _mapping(manifest.get("metadata"))
    spec = _mapping(manifest.get("spec"))
    if not _text(metadata.get("name")):
        problems.append(_("metadata.name: required."))
    if not _text(metadata.get("namespace")):
        problems.append(
            _(
                "metadata.namespace: required (a namespace of your project, or the global catalog namespace)."
            )
        )
    if not spec:
        problems.append(_("spec: required."))
    elif spec.get("sourceType") not in SOURCE_TYPES:
        problems.append(
            _("spec.sourceType: must be one of %(types)s.") % {"types": ", ".join(SOURCE_TYPES)}
        )
    elif spec["sourceType"] != "grpc":
        problems.append(
            _("spec.sourceType: the platform deploys grpc catalogs with an image, not %(type)s.")
            % {"type": spec["sourceType"]}
        )
    if spec and not _text(spec.get("image")):
        problems.append(_("spec.image: required (the index image that serves your bundles)."))
    if problems:
        raise ManifestError(problems)
    name = _text(metadata["name"])
    return CatalogSourceYaml(
        name=name,
        namespace=_text(metadata["namespace"]),
        display_name=_text(spec.get("displayName")) or name,
        image=_text(spec["image"]),
        publisher=_text(spec.get("publisher")),
    )


def observed_state(catalog_source_object: dict[str, Any]) -> tuple[str, str]:
    """(lastObservedState, message) of a CatalogSource as OLM reports it."""
    status = catalog_source_object.get("status") or {}
    connection = status.get("connectionState") or {}
    state = connection.get("lastObservedState", "")
    message = status.get("message") or status.get("reason") or ""
    return state, message


def found_catalog_fields(catalog_source_object: dict[str, Any]) -> dict[str, str]:
    """The fields the portal shows of a CatalogSource someone else applied."""
    meta = catalog_source_object.get("metadata") or {}
    spec = catalog_source_object.get("spec") or {}
    state, _message = observed_state(catalog_source_object)
    return {
        "namespace": str(meta.get("namespace") or ""),
        "name": str(meta.get("name") or ""),
        "display_name": str(spec.get("displayName") or "")[:200],
        "image": str(spec.get("image") or "")[:300],
        "publisher": str(spec.get("publisher") or "")[:200],
        "source_type": str(spec.get("sourceType") or "")[:32],
        "last_observed_state": str(state)[:32],
    }


def packages_from_manifests(manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """PackageManifest objects → the rows the portal caches (see CatalogPackage)."""
    packages = []
    for manifest in manifests:
        status = manifest.get("status") or {}
        channels = []
        display_name = ""
        for channel in status.get("channels") or []:
            desc = channel.get("currentCSVDesc") or {}
            display_name = display_name or desc.get("displayName", "")
            owned = (desc.get("customresourcedefinitions") or {}).get("owned") or []
            channels.append(
                {
                    "name": channel.get("name", ""),
                    "current_csv": channel.get("currentCSV", ""),
                    "version": desc.get("version", ""),
                    "provided_apis": [
                        {
                            "name": crd.get("name", ""),
                            "version": crd.get("version", ""),
                            "kind": crd.get("kind", ""),
                            "display_name": crd.get("displayName", ""),
                            "description": crd.get("description", ""),
                        }
                        for crd in owned
                    ],
                    "install_modes": [
                        mode.get("type", "")
                        for mode in desc.get("installModes") or []
                        if mode.get("supported")
                    ],
                    # Newest first, as the package-server lists them.
                    "entries": [
                        {"name": e.get("name", ""), "version": e.get("version", "")}
                        for e in channel.get("entries") or []
                    ],
                    "deprecation": (channel.get("deprecation") or {}).get("message", ""),
                    # The head CSV's images (relatedImages + its deployments' containers).
                    "images": images_from_csv_description(desc),
                }
            )
        packages.append(
            {
                "name": status.get("packageName") or manifest["metadata"]["name"],
                "display_name": display_name,
                "provider": (status.get("provider") or {}).get("name", ""),
                "default_channel": status.get("defaultChannel", ""),
                "channels": channels,
                "deprecation": (status.get("deprecation") or {}).get("message", ""),
                "catalog": status.get("catalogSource", ""),
                "catalog_namespace": status.get("catalogSourceNamespace", ""),
            }
        )
    return packages


# --- install modes (operator-framework/api pkg/operators/v1alpha1/clusterserviceversion.go
# InstallModeSet.Supports): the platform installs an operator into a project's own namespace
# with an OperatorGroup targeting that namespace, which needs the OwnNamespace mode. ------

OWN_NAMESPACE = "OwnNamespace"
ALL_NAMESPACES = "AllNamespaces"


def installs_into_own_namespace(install_modes: Iterable[str] | None) -> bool:
    """Whether an operator can be installed into a project's namespace, watching it.

    Unknown modes (a catalog cached before they were read) count as OwnNamespace, which is
    what OLM assumes nothing about: the CSV then says so itself if it refuses."""
    modes = set(install_modes or ())
    return not modes or OWN_NAMESPACE in modes


def install_mode_problem(install_modes: Iterable[str] | None) -> str:
    """Why a project cannot have its own copy of the operator, in a person's words; "" if it can."""
    modes = set(install_modes or ())
    if installs_into_own_namespace(modes):
        return ""
    if modes == {ALL_NAMESPACES}:
        return (
            "This operator only watches all namespaces (install mode AllNamespaces): it is "
            "installed once per cluster by the platform, not into a project."
        )
    return (
        "This operator cannot watch its own namespace (it supports "
        f"{', '.join(sorted(modes))}), so it cannot be installed into a project."
    )

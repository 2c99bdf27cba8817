"""Pure functions: what the platform applies to a cluster, and how it reads OLM back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


def observed_state(catalog_source_object: dict[str, Any]) -> tuple[str, str]:
    """(lastObservedState, message) of a CatalogSource as OLM reports it."""
    status = catalog_source_object.get("status") or {}
    connection = status.get("connectionState") or {}
    state = connection.get("lastObservedState", "")
    message = status.get("message") or status.get("reason") or ""
    return state, message


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
                }
            )
        packages.append(
            {
                "name": status.get("packageName") or manifest["metadata"]["name"],
                "display_name": display_name,
                "provider": (status.get("provider") or {}).get("name", ""),
                "default_channel": status.get("defaultChannel", ""),
                "channels": channels,
                "catalog": status.get("catalogSource", ""),
                "catalog_namespace": status.get("catalogSourceNamespace", ""),
            }
        )
    return packages

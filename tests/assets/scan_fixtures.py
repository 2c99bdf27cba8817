"""Trivy reports shaped as `trivy image --format json` writes them (SchemaVersion 2,
aquasecurity/trivy pkg/types/report.go; cf. its integration/testdata/*.json.golden), and
the seed's memcached bundle as packageserver serves it."""

from __future__ import annotations

import copy
import json
from typing import Any

from clusters.manifests import packages_from_manifests

OPERATOR = "dev-registry.tenxcloud.com/system_containers/memcached-operator:v1.0.0"
MEMCACHED = "dev-registry.tenxcloud.com/system_containers/memcached:v1.5"
MCROUTER = "dev-registry.tenxcloud.com/system_containers/mcrouter:v0.41.0"
CATALOG = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"

# A PackageManifest of the seed's catalog: currentCSVDesc.relatedImages is packageserver's
# list of the CSV's relatedImages and deployment containers (plain references).
PACKAGE_MANIFEST = {
    "apiVersion": "packages.operators.coreos.com/v1",
    "kind": "PackageManifest",
    "metadata": {"name": "memcached-operator", "namespace": "olm"},
    "status": {
        "packageName": "memcached-operator",
        "defaultChannel": "stable",
        "provider": {"name": "tenxcloud"},
        "channels": [
            {
                "name": "stable",
                "currentCSV": "memcached-operator.v0.0.2",
                "currentCSVDesc": {
                    "displayName": "Memcached Operator",
                    "version": "0.0.2",
                    "annotations": {"containerImage": OPERATOR},
                    "relatedImages": sorted([OPERATOR, MEMCACHED, MCROUTER]),
                    "customresourcedefinitions": {
                        "owned": [
                            {
                                "name": "memcachedclusters.daas.tenxcloud.com",
                                "version": "v1",
                                "kind": "MemcachedCluster",
                            }
                        ]
                    },
                    "installModes": [{"type": "OwnNamespace", "supported": True}],
                },
                "entries": [{"name": "memcached-operator.v0.0.2", "version": "0.0.2"}],
            }
        ],
    },
}


def seed_channels() -> list[dict[str, Any]]:
    """The cached channels of the seed's package, images included."""
    return packages_from_manifests([copy.deepcopy(PACKAGE_MANIFEST)])[0]["channels"]


def vulnerability(cve: str, severity: str, *, pkg: str = "libcrypto3", fixed: str = "3.1.4-r1"):
    return {
        "VulnerabilityID": cve,
        "PkgID": f"{pkg}@3.1.2-r0",
        "PkgName": pkg,
        "PkgIdentifier": {"PURL": f"pkg:apk/alpine/{pkg}@3.1.2-r0?arch=x86_64"},
        "InstalledVersion": "3.1.2-r0",
        "FixedVersion": fixed,
        "Status": "fixed",
        "SeveritySource": "nvd",
        "PrimaryURL": f"https://avd.aquasec.com/nvd/{cve.lower()}",
        "DataSource": {
            "ID": "alpine",
            "Name": "Alpine Secdb",
            "URL": "https://secdb.alpinelinux.org/",
        },
        "Title": f"openssl: {cve}",
        "Description": "…",
        "Severity": severity,
        "CweIDs": ["CWE-330"],
        "References": [f"https://cve.mitre.org/cgi-bin/cvename.cgi?name={cve}"],
        "PublishedDate": "2023-11-06T16:15:42.67Z",
        "LastModifiedDate": "2024-05-01T18:15:12.393Z",
    }


def report(image: str, *severities: str, **changes: Any) -> dict[str, Any]:
    """A report of `image` with one finding per severity given."""
    repository = image.split("@", 1)[0].rsplit(":", 1)[0]
    data: dict[str, Any] = {
        "SchemaVersion": 2,
        "CreatedAt": "2026-12-01T10:00:00.000000001Z",
        "ArtifactName": image,
        "ArtifactType": "container_image",
        "Metadata": {
            "OS": {"Family": "alpine", "Name": "3.18.4"},
            "ImageID": "sha256:03d0effeed75a1b6f45ff60fe74cc987931b90ac4488374c894c3751261ae1a5",
            "DiffIDs": ["sha256:cc2447e1835a40530975ab80bb1f872fbab0f2a0faecf2ab16fbbb89b3589438"],
            "RepoTags": [image],
            "RepoDigests": [
                f"{repository}@sha256:915a66dbd8b2c2c0b1e8f6c5d0a4e7b3f9c8d7e6a5b4c3d2e1f0a9b8c7d6e5f4"
            ],
        },
        "Results": [
            {
                "Target": f"{image} (alpine 3.18.4)",
                "Class": "os-pkgs",
                "Type": "alpine",
                "Vulnerabilities": [
                    vulnerability(f"CVE-2023-{1000 + i}", s) for i, s in enumerate(severities)
                ],
            }
        ],
    }
    data.update(changes)
    return data


def raw(data: Any) -> bytes:
    return json.dumps(data).encode()

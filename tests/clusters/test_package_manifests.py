"""PackageManifests as packageserver writes them (operator-lifecycle-manager
pkg/package-server/apis/operators/v1/packagemanifest_types.go) → the rows we cache."""

from clusters.manifests import install_mode_problem, packages_from_manifests

CERT_MANAGER = {
    "apiVersion": "packages.operators.coreos.com/v1",
    "kind": "PackageManifest",
    "metadata": {
        "name": "cert-manager",
        "namespace": "olm",
        "labels": {"catalog": "operatorhubio-catalog", "catalog-namespace": "olm"},
    },
    "status": {
        "catalogSource": "operatorhubio-catalog",
        "catalogSourceDisplayName": "Community Operators",
        "catalogSourceNamespace": "olm",
        "catalogSourcePublisher": "OperatorHub.io",
        "provider": {"name": "The cert-manager maintainers"},
        "defaultChannel": "stable",
        "packageName": "cert-manager",
        "channels": [
            {
                "name": "stable",
                "currentCSV": "cert-manager.v1.16.5",
                "currentCSVDesc": {
                    "displayName": "cert-manager",
                    "version": "1.16.5",
                    "installModes": [
                        {"type": "OwnNamespace", "supported": False},
                        {"type": "SingleNamespace", "supported": False},
                        {"type": "MultiNamespace", "supported": False},
                        {"type": "AllNamespaces", "supported": True},
                    ],
                    "customresourcedefinitions": {
                        "owned": [
                            {
                                "name": "clusterissuers.cert-manager.io",
                                "version": "v1",
                                "kind": "ClusterIssuer",
                                "displayName": "ClusterIssuer",
                            }
                        ]
                    },
                },
                "entries": [
                    {"name": "cert-manager.v1.16.5", "version": "1.16.5"},
                    {"name": "cert-manager.v1.16.4", "version": "1.16.4"},
                ],
            },
            {
                "name": "candidate",
                "currentCSV": "cert-manager.v1.17.0",
                "currentCSVDesc": {"version": "1.17.0", "installModes": []},
                "deprecation": {"message": "candidate is deprecated; use stable"},
            },
        ],
        "deprecation": {"message": ""},
    },
}


def test_install_modes_entries_and_deprecations_are_kept():
    (package,) = packages_from_manifests([CERT_MANAGER])
    stable, candidate = package["channels"]
    assert package["name"] == "cert-manager" and package["default_channel"] == "stable"
    assert stable["install_modes"] == ["AllNamespaces"]  # only the supported ones
    assert [e["name"] for e in stable["entries"]] == [
        "cert-manager.v1.16.5",
        "cert-manager.v1.16.4",
    ]
    assert stable["provided_apis"][0]["kind"] == "ClusterIssuer"
    assert candidate["deprecation"] == "candidate is deprecated; use stable"
    assert candidate["install_modes"] == []


def test_what_each_install_mode_set_means_for_a_project():
    assert install_mode_problem(["OwnNamespace", "SingleNamespace", "AllNamespaces"]) == ""
    assert install_mode_problem([]) == ""  # not known: the CSV says so itself if it refuses
    assert "installed once per cluster" in install_mode_problem(["AllNamespaces"])
    assert "cannot watch its own namespace" in install_mode_problem(["MultiNamespace"])

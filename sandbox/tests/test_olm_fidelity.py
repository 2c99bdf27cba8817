"""The sandbox's OLM writes status the way operator-lifecycle-manager does.

Each test names the OLM source it checks against (operator-framework/operator-lifecycle-manager
unless said otherwise). Most run a private cluster ticked by hand, so every intermediate
status is observable.
"""

from __future__ import annotations

import pytest
import yaml
from kubernetes.dynamic.exceptions import NotFoundError

from sandbox import olm

from .conftest import PACKAGE, REGISTRY_IMAGE, wait_for

V1A1 = "operators.coreos.com/v1alpha1"
V1 = "operators.coreos.com/v1"
IMAGE = "quay.io/fidelity/catalog:v1"
MODES = ("OwnNamespace", "SingleNamespace", "MultiNamespace", "AllNamespaces")
CSV_V100 = f"{PACKAGE}.v1.0.0"
CSV_V110 = f"{PACKAGE}.v1.1.0"


def conditions(status: dict) -> dict:
    return {c["type"]: c for c in status.get("conditions") or []}


def make_csv(
    package,
    version,
    *,
    replaces=None,
    skips=(),
    skip_range=None,
    modes=("OwnNamespace", "SingleNamespace", "AllNamespaces"),
):
    name = f"{package}.v{version}"
    annotations = {"olm.skipRange": skip_range} if skip_range else {}
    spec: dict = {
        "displayName": package,
        "version": version,
        "installModes": [{"type": m, "supported": m in modes} for m in MODES],
        "install": {
            "strategy": "deployment",
            "spec": {
                "deployments": [
                    {
                        "name": f"{package}-operator",
                        "spec": {
                            "replicas": 1,
                            "selector": {"matchLabels": {"app": package}},
                            "template": {
                                "metadata": {"labels": {"app": package}},
                                "spec": {
                                    "containers": [
                                        {
                                            "name": "operator",
                                            "image": f"quay.io/fidelity/{package}:v{version}",
                                        }
                                    ]
                                },
                            },
                        },
                    }
                ]
            },
        },
    }
    if replaces:
        spec["replaces"] = f"{package}.v{replaces}"
    if skips:
        spec["skips"] = [f"{package}.v{s}" for s in skips]
    return {
        "apiVersion": V1A1,
        "kind": "ClusterServiceVersion",
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    }


def package(name, *csvs, channel="stable"):
    return {
        "name": name,
        "defaultChannel": channel,
        "channels": {channel: [c["metadata"]["name"] for c in csvs]},
        "bundles": list(csvs),
    }


def two_versions(name, **kwargs):
    return package(
        name, make_csv(name, "1.0.0", **kwargs), make_csv(name, "1.1.0", replaces="1.0.0", **kwargs)
    )


@pytest.fixture
def cluster(fresh, tmp_path):
    """A private sandbox ticked by hand, serving `packages` as IMAGE from olm/fidelity."""

    def make(*packages):
        path = tmp_path / "catalog.yaml"
        doc = {
            "catalogs": [{"image": IMAGE, "displayName": "Fidelity", "packages": list(packages)}]
        }
        path.write_text(yaml.safe_dump(doc))
        kube = fresh(tick_interval=3600, catalog_file=str(path))
        kube.r(V1A1, "CatalogSource").create(
            namespace="olm",
            body={"metadata": {"name": "fidelity"}, "spec": {"sourceType": "grpc", "image": IMAGE}},
        )
        tick(kube, 2)
        assert kube.catalog_state("fidelity") == "READY"
        return kube

    return make


def tick(kube, n=1):
    for _ in range(n):
        kube.sb.tick()


def subscribe(kube, ns, pkg, *, name=None, approval="Automatic", channel="stable", **extra):
    return kube.subscribe(
        ns,
        name=name or pkg,
        package=pkg,
        channel=channel,
        source="fidelity",
        approval=approval,
        **extra,
    )


def sub_status(kube, ns, name) -> dict:
    return kube.sub_status(ns, name)


def until(kube, predicate, limit=30):
    """Tick until `predicate()` is truthy; return its value."""
    for _ in range(limit):
        try:
            value = predicate()
        except NotFoundError:
            value = None
        if value:
            return value
        tick(kube)
    raise AssertionError(f"not reached in {limit} ticks: {predicate}")


def approve(kube, ns, ip_name):
    kube.r(V1A1, "InstallPlan").patch(
        namespace=ns,
        name=ip_name,
        body={"spec": {"approved": True}},
        content_type="application/merge-patch+json",
    )


def csv_names(kube, ns) -> list[str]:
    return sorted(
        c.metadata.name for c in kube.r(V1A1, "ClusterServiceVersion").get(namespace=ns).items
    )


# -- 1. catalog health: catalog/subscription/reconciler.go catalogHealth, state.go UpdateHealth


def test_healthy_catalogs_are_reported_with_status_false(cluster):
    kube = cluster(two_versions("alpha"))
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha")
    tick(kube)
    first = conditions(sub_status(kube, ns, "alpha"))["CatalogSourcesUnhealthy"]
    # The first write only says catalogs were added to the subscription's view...
    assert (first["status"], first["reason"]) == ("False", "CatalogSourcesAdded")
    tick(kube)
    status = sub_status(kube, ns, "alpha")
    cond = conditions(status)["CatalogSourcesUnhealthy"]
    assert cond["status"] == "False"
    assert cond["reason"] == "AllCatalogSourcesHealthy"
    assert cond["message"] == "all available catalogsources are healthy"
    assert cond["lastTransitionTime"]  # this one carries a time
    (health,) = status["catalogHealth"]
    assert health["healthy"] is True and health["lastUpdated"]
    assert health["catalogSourceRef"]["name"] == "fidelity"
    assert health["catalogSourceRef"]["namespace"] == "olm"
    assert health["catalogSourceRef"]["kind"] == "CatalogSource"
    assert health["catalogSourceRef"]["uid"]


def test_an_unhealthy_catalog_in_scope_marks_every_subscription_and_blocks_resolution(cluster):
    kube = cluster(two_versions("alpha"), two_versions("beta"))
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha")
    subscribe(kube, ns, "beta")
    until(kube, lambda: kube.csv_phase(ns, "beta.v1.1.0") == "Succeeded")
    # A catalog with a spec OLM cannot serve, in the Subscriptions' namespace.
    kube.r(V1A1, "CatalogSource").create(
        namespace=ns, body={"metadata": {"name": "bad"}, "spec": {"sourceType": "internal"}}
    )
    for name in ("alpha", "beta"):
        cond = until(
            kube,
            lambda name=name: (
                (c := conditions(sub_status(kube, ns, name)).get("CatalogSourcesUnhealthy"))
                and c["reason"] == "UnhealthyCatalogSourceFound"
                and c
            ),
        )
        assert cond["status"] == "True"
        # The targeted catalog is healthy, so OLM leaves the message as it was.
        assert cond["message"] == "all available catalogsources are healthy"
        status = sub_status(kube, ns, name)
        health = {h["catalogSourceRef"]["name"]: h["healthy"] for h in status["catalogHealth"]}
        assert health == {"bad": False, "fidelity": True}
        # Sorted by namespace + name, as reconciler.go catalogHealth sorts them.
        keys = [
            h["catalogSourceRef"]["namespace"] + h["catalogSourceRef"]["name"]
            for h in status["catalogHealth"]
        ]
        assert keys == sorted(keys)
        failed = conditions(status)["ResolutionFailed"]
        assert failed["reason"] == "ErrorPreventedResolution"
        assert failed["message"] == (
            f"error using catalogsource {ns}/bad: no registry client established for "
            f"catalogsource {ns}/bad"
        )
        assert "lastTransitionTime" not in failed
    # What is installed keeps running.
    assert kube.csv_phase(ns, "alpha.v1.1.0") == "Succeeded"
    kube.r(V1A1, "CatalogSource").delete(namespace=ns, name="bad")
    cond = until(
        kube,
        lambda: (
            (c := conditions(sub_status(kube, ns, "alpha"))["CatalogSourcesUnhealthy"])["reason"]
            == "AllCatalogSourcesHealthy"
            and c
        ),
    )
    assert cond["status"] == "False"
    assert "ResolutionFailed" not in conditions(sub_status(kube, ns, "alpha"))


def test_a_targeted_catalog_that_cannot_serve(cluster):
    kube = cluster(two_versions("alpha"))
    ns = kube.namespace()
    kube.operator_group(ns)
    kube.r(V1A1, "CatalogSource").create(
        namespace=ns, body={"metadata": {"name": "local"}, "spec": {"sourceType": "configmap"}}
    )
    kube.subscribe(ns, name="alpha", package="alpha", source="local", source_namespace=ns)
    cond = until(
        kube,
        lambda: (
            (c := conditions(sub_status(kube, ns, "alpha")).get("CatalogSourcesUnhealthy"))
            and c["reason"] == "UnhealthyCatalogSourceFound"
            and c
        ),
    )
    assert cond["status"] == "True"
    assert cond["message"] == f"targeted catalogsource {ns}/local unhealthy"


def test_a_catalog_whose_index_image_cannot_be_pulled(cluster):
    # grpc.go CheckRegistryServer has no gRPC health check: the pod exists, so the catalog
    # counts as healthy, but the resolver cannot list its bundles.
    kube = cluster(two_versions("alpha"))
    ns = kube.namespace()
    kube.operator_group(ns)
    kube.r(V1A1, "CatalogSource").create(
        namespace=ns,
        body={
            "metadata": {"name": "gone"},
            "spec": {"sourceType": "grpc", "image": "quay.io/fidelity/gone:v1"},
        },
    )
    subscribe(kube, ns, "alpha")
    failed = until(kube, lambda: conditions(sub_status(kube, ns, "alpha")).get("ResolutionFailed"))
    tick(kube, 3)
    assert kube.catalog_state("gone", ns) == "TRANSIENT_FAILURE"
    status = sub_status(kube, ns, "alpha")
    failed = conditions(status)["ResolutionFailed"]
    assert failed["reason"] == "ErrorPreventedResolution"
    assert failed["message"].startswith(
        f"error using catalogsource {ns}/gone: failed to list bundles: rpc error: code = Unavailable"
    )
    assert {h["catalogSourceRef"]["name"]: h["healthy"] for h in status["catalogHealth"]} == {
        "gone": True,
        "fidelity": True,
    }


# -- 2. per-namespace resolution: catalog/operator.go syncResolvingNamespace --------------


def test_one_install_plan_per_resolution_manual_if_any_subscription_is(cluster):
    kube = cluster(two_versions("alpha"), two_versions("beta"))
    ns = kube.namespace()
    kube.operator_group(ns)
    tick(kube)
    subscribe(kube, ns, "alpha", approval="Automatic")
    subscribe(kube, ns, "beta", approval="Manual")
    ref = until(kube, lambda: sub_status(kube, ns, "alpha").get("installPlanRef"))
    beta = sub_status(kube, ns, "beta")
    assert beta["installPlanRef"]["name"] == ref["name"]
    ip = kube.get(V1A1, "InstallPlan", ref["name"], ns)
    assert sorted(ip.spec.clusterServiceVersionNames) == ["alpha.v1.1.0", "beta.v1.1.0"]
    assert (ip.spec.approval, ip.spec.approved, ip.status.phase) == (
        "Manual",
        False,
        "RequiresApproval",
    )
    assert ip.spec.generation == 1 and beta["installPlanGeneration"] == 1
    owners = sorted(o.name for o in ip.metadata.ownerReferences)
    assert owners == ["alpha", "beta"]
    assert all(o.blockOwnerDeletion is False for o in ip.metadata.ownerReferences)
    assert {s.resource.kind for s in ip.status.plan} == {"ClusterServiceVersion"}
    tick(kube)
    for name in ("alpha", "beta"):
        status = sub_status(kube, ns, name)
        assert status["state"] == "UpgradePending" and status["currentCSV"] == f"{name}.v1.1.0"
        pending = conditions(status)["InstallPlanPending"]
        assert (pending["status"], pending["reason"]) == ("True", "RequiresApproval")
        assert pending["lastTransitionTime"] and "message" not in pending
    approve(kube, ns, ref["name"])
    until(kube, lambda: kube.csv_phase(ns, "alpha.v1.1.0") == "Succeeded")
    until(kube, lambda: sub_status(kube, ns, "beta").get("state") == "AtLatestKnown")
    assert "InstallPlanPending" not in conditions(sub_status(kube, ns, "beta"))
    labels = kube.get(V1A1, "ClusterServiceVersion", "alpha.v1.1.0", ns).to_dict()["metadata"][
        "labels"
    ]
    assert [k for k in labels if k.startswith("operators.coreos.com/")] == [
        f"operators.coreos.com/alpha.{ns}"
    ]


def test_resolution_failure_is_written_on_every_subscription_of_the_namespace(cluster):
    kube = cluster(two_versions("alpha"))
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha")
    subscribe(kube, ns, "nothing-by-that-name", name="ghost")
    message = (
        "constraints not satisfiable: no operators found in package nothing-by-that-name in "
        "the catalog referenced by subscription ghost, subscription ghost exists"
    )
    until(kube, lambda: conditions(sub_status(kube, ns, "alpha")).get("ResolutionFailed"))
    for name in ("alpha", "ghost"):
        failed = conditions(sub_status(kube, ns, name))["ResolutionFailed"]
        assert failed == {
            "type": "ResolutionFailed",
            "status": "True",
            "reason": "ConstraintsNotSatisfiable",
            "message": message,
        }  # no lastTransitionTime: setSubsCond writes none
    tick(kube, 3)
    assert not kube.r(V1A1, "InstallPlan").get(namespace=ns).items
    kube.r(V1A1, "Subscription").delete(namespace=ns, name="ghost")
    until(kube, lambda: kube.csv_phase(ns, "alpha.v1.1.0") == "Succeeded")
    assert "ResolutionFailed" not in conditions(sub_status(kube, ns, "alpha"))


# -- 3. bundle unpacking: syncResolvingNamespace, bundle/bundle_unpacker.go ----------------


def test_bundles_unpack_before_the_install_plan_exists(cluster):
    kube = cluster(two_versions("alpha"))
    ns = kube.namespace()
    kube.operator_group(ns)
    tick(kube)
    subscribe(kube, ns, "alpha")
    tick(kube)
    status = sub_status(kube, ns, "alpha")
    unpacking = conditions(status)["BundleUnpacking"]
    assert unpacking == {
        "type": "BundleUnpacking",
        "status": "True",
        "reason": "UnpackingInProgress",
    }
    assert "installPlanRef" not in status and "currentCSV" not in status
    until(kube, lambda: sub_status(kube, ns, "alpha").get("installPlanRef"))
    assert "BundleUnpacking" not in conditions(sub_status(kube, ns, "alpha"))


@pytest.mark.parametrize("how", ["flag", "image"])
def test_a_bundle_that_cannot_be_pulled_fails_to_unpack(cluster, how):
    kube = cluster(two_versions("alpha"))
    bundle = kube.sb.catalog.bundle(IMAGE, "alpha", "alpha.v1.1.0")
    if how == "flag":
        bundle.unpullable = True
    else:
        bundle.image = "quay.io/fidelity/unpullable-bundle:alpha-v1.1.0"
    ns = kube.namespace()
    kube.operator_group(ns)
    tick(kube)
    subscribe(kube, ns, "alpha")
    hint = until(
        kube,
        lambda: (conditions(sub_status(kube, ns, "alpha")).get("BundleUnpacking") or {}).get(
            "message"
        ),
    )
    assert hint == olm.PULL_HINT and hint.startswith("Bundle image pull failed.")
    failed = until(
        kube, lambda: conditions(sub_status(kube, ns, "alpha")).get("BundleUnpackFailed")
    )
    assert failed == {
        "type": "BundleUnpackFailed",
        "status": "True",
        "reason": "BundleUnpackFailed",
        "message": "Bundle unpacking failed - DeadlineExceeded: Job was active longer than "
        "specified deadline. Auto-retry in ~5 min after job cleanup (TTL). Common causes: "
        "Missing ICSP (ppc64le/s390x/arm64), auth failure, invalid image. Manual retry: in "
        "the CatalogSource namespace, run `kubectl get jobs -l "
        "operatorframework.io/bundle-unpack-ref` and delete the specific failing job.",
    }
    status = sub_status(kube, ns, "alpha")
    assert "BundleUnpacking" not in conditions(status)
    # No InstallPlan: OLM unpacks before it creates one.
    assert "installPlanRef" not in status
    assert not kube.r(V1A1, "InstallPlan").get(namespace=ns).items
    (event,) = kube.events(ns, reason="BundleUnpackFailed")
    assert event["type"] == "Warning" and event["involvedObject"]["name"] == "alpha"


def test_install_plan_failed_and_missing_are_projected_on_the_subscription(cluster):
    kube = cluster(two_versions("alpha"))
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha", approval="Manual")
    name = until(kube, lambda: sub_status(kube, ns, "alpha").get("installPlanRef", {}).get("name"))
    # catalog/operator.go transitionInstallPlanState fails a plan like this:
    ip = kube.get(V1A1, "InstallPlan", name, ns).to_dict()
    ip["status"]["phase"] = "Failed"
    ip["status"]["message"] = "error creating csv alpha.v1.1.0: forbidden"
    ip["status"]["conditions"] = [
        {
            "type": "Installed",
            "status": "False",
            "reason": "InstallComponentFailed",
            "message": "error creating csv alpha.v1.1.0: forbidden",
            "lastTransitionTime": "2026-05-01T10:00:00Z",
            "lastUpdateTime": "2026-05-01T10:00:00Z",
        }
    ]
    kube.sb.store.save(kube.sb.olm.t("InstallPlan"), ip, manager="test", status=True)
    failed = until(kube, lambda: conditions(sub_status(kube, ns, "alpha")).get("InstallPlanFailed"))
    assert failed["status"] == "True"
    assert failed["reason"] == "InstallComponentFailed"
    assert failed["message"] == "error creating csv alpha.v1.1.0: forbidden"
    assert failed["lastTransitionTime"]
    assert "InstallPlanPending" not in conditions(sub_status(kube, ns, "alpha"))
    # The plan of a pending upgrade disappears: OLM forgets it and resolves again.
    kube.r(V1A1, "InstallPlan").delete(namespace=ns, name=name)
    again = until(
        kube,
        lambda: (
            (n := sub_status(kube, ns, "alpha").get("installPlanRef", {}).get("name")) != name and n
        ),
    )
    assert kube.get(V1A1, "InstallPlan", again, ns).spec.generation == 2
    approve(kube, ns, again)
    until(kube, lambda: kube.csv_phase(ns, "alpha.v1.1.0") == "Succeeded")
    until(kube, lambda: sub_status(kube, ns, "alpha").get("state") == "AtLatestKnown")
    # Once installed, a vanished plan is only reported.
    kube.r(V1A1, "InstallPlan").delete(namespace=ns, name=again)
    missing = until(
        kube, lambda: conditions(sub_status(kube, ns, "alpha")).get("InstallPlanMissing")
    )
    assert (missing["status"], missing["reason"]) == ("True", "ReferencedInstallPlanNotFound")
    assert missing["lastTransitionTime"]
    assert sub_status(kube, ns, "alpha")["installedCSV"] == "alpha.v1.1.0"


# -- 4. install modes, copied CSVs: olm/operator.go, olm/operatorgroup.go -------------------


@pytest.mark.parametrize(
    ("modes", "targets", "message"),
    [
        (
            ("SingleNamespace", "AllNamespaces"),
            "own",
            "OwnNamespace InstallModeType not supported, cannot configure to watch own namespace",
        ),
        (
            ("OwnNamespace", "AllNamespaces"),
            "other",
            "SingleNamespace InstallModeType not supported, cannot configure to watch one namespace",
        ),
        (
            ("OwnNamespace", "SingleNamespace", "AllNamespaces"),
            "both",
            "MultiNamespace InstallModeType not supported, cannot configure to watch 2 namespaces",
        ),
        (
            ("OwnNamespace", "SingleNamespace"),
            "all",
            "AllNamespaces InstallModeType not supported, cannot configure to watch all namespaces",
        ),
    ],
)
def test_unsupported_operator_group(cluster, modes, targets, message):
    kube = cluster(two_versions("alpha", modes=modes))
    ns = kube.namespace()
    other = kube.namespace()
    kube.operator_group(
        ns, targets={"own": [ns], "other": [other], "both": [ns, other], "all": []}[targets]
    )
    subscribe(kube, ns, "alpha")
    until(kube, lambda: kube.csv_phase(ns, "alpha.v1.1.0") == "Failed")
    status = kube.status(V1A1, "ClusterServiceVersion", "alpha.v1.1.0", ns)
    assert (status["reason"], status["message"]) == ("UnsupportedOperatorGroup", message)
    tick(kube, 2)
    assert csv_names(kube, other) == []  # a failed operator group member is never copied


def test_all_namespaces_operators_are_copied_everywhere_and_watch_everywhere(fresh):
    kube = fresh()
    ns = kube.namespace("op")
    elsewhere = kube.namespace("app")
    kube.catalog()
    kube.operator_group(ns, targets=[])
    kube.subscribe(ns)
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Succeeded")
    original = kube.get(V1A1, "ClusterServiceVersion", CSV_V110, ns).to_dict()
    assert original["metadata"]["annotations"]["olm.targetNamespaces"] == ""
    for target in (elsewhere, "default"):
        copy_ = wait_for(
            lambda target=target: (
                (
                    kube.get(V1A1, "ClusterServiceVersion", CSV_V110, target)
                    .to_dict()
                    .get("status")
                    or {}
                ).get("reason")
                == "Copied"
                and kube.get(V1A1, "ClusterServiceVersion", CSV_V110, target).to_dict()
            )
        )
        assert copy_["metadata"]["labels"]["olm.copiedFrom"] == ns
        assert "olm.targetNamespaces" not in copy_["metadata"]["annotations"]
        assert copy_["metadata"]["annotations"]["olm.operatorNamespace"] == ns
        assert copy_["status"]["phase"] == "Succeeded"
        assert (
            copy_["status"]["message"]
            == f"The operator is running in {ns} but is managing this namespace"
        )
    assert not any(k.startswith("operators.coreos.com/") for k in copy_["metadata"]["labels"])
    # The operator reconciles its kinds in any namespace.
    kube.r("daas.tenxcloud.com/v1", "MemcachedCluster").create(
        namespace=elsewhere,
        body={
            "apiVersion": "daas.tenxcloud.com/v1",
            "kind": "MemcachedCluster",
            "metadata": {"name": "anywhere"},
            "spec": {"replicas": 1, "version": "v1.5", "setup": "sharded"},
        },
    )
    wait_for(
        lambda: kube.status("daas.tenxcloud.com/v1", "MemcachedCluster", "anywhere", elsewhere).get(
            "phase"
        )
    )
    # The copies go with the original.
    kube.r(V1A1, "ClusterServiceVersion").delete(namespace=ns, name=CSV_V110)
    wait_for(lambda: CSV_V110 not in csv_names(kube, elsewhere))
    wait_for(lambda: CSV_V110 not in csv_names(kube, "default"))


# -- 5. upgrades: ensureSubscriptionCSVState, olm/operator.go replacement ------------------


def test_installed_csv_moves_as_soon_as_the_new_csv_exists(fresh):
    kube = fresh(tick_interval=3600)
    ns = kube.namespace()
    kube.r(V1A1, "CatalogSource").create(
        namespace="olm",
        body={
            "metadata": {"name": "tenxcloud"},
            "spec": {"sourceType": "grpc", "image": REGISTRY_IMAGE},
        },
    )
    kube.operator_group(ns)
    kube.subscribe(ns, startingCSV=CSV_V100)  # Automatic: installs 1.0.0, then upgrades
    seen = []
    for _ in range(60):
        tick(kube)
        status = kube.sub_status(ns)
        phases = {}
        for name in (CSV_V100, CSV_V110):
            try:
                phases[name] = kube.csv_phase(ns, name)
            except NotFoundError:
                phases[name] = None
        seen.append(
            (
                status.get("installedCSV"),
                status.get("currentCSV"),
                status.get("state"),
                phases[CSV_V100],
                phases[CSV_V110],
            )
        )
        if phases[CSV_V110] == "Succeeded" and phases[CSV_V100] is None:
            break
    assert seen[-1] == (CSV_V110, CSV_V110, "AtLatestKnown", None, "Succeeded")
    # 1.0.0 was installed first, exactly; OLM resolves the upgrade as soon as its CSV
    # exists, and replaces it once it has succeeded.
    assert next(s[0] for s in seen if s[0]) == CSV_V100
    old_phases = [
        p for i, p in enumerate(s[3] for s in seen) if p and (i == 0 or seen[i - 1][3] != p)
    ]
    assert old_phases == [
        "Pending",
        "InstallReady",
        "Installing",
        "Succeeded",
        "Replacing",
        "Deleting",
    ]
    # installedCSV points at 1.1.0 while it is still installing and 1.0.0 is being replaced.
    moving = [
        s for s in seen if s[0] == CSV_V110 and s[4] in ("Pending", "InstallReady", "Installing")
    ]
    assert moving and any(s[3] == "Replacing" for s in moving)
    assert all(s[2] != "UpgradeAvailable" for s in seen)  # OLM v0 never writes it
    new = kube.get(V1A1, "ClusterServiceVersion", CSV_V110, ns).to_dict()
    assert new["spec"]["replaces"] == CSV_V100
    assert [c["phase"] for c in new["status"]["conditions"]][:4] == [
        "Pending",
        "InstallReady",
        "Installing",
        "Succeeded",
    ]


def test_manual_upgrade_waits_with_the_old_csv_installed(cluster):
    kube = cluster(two_versions("alpha"))
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha", approval="Manual", startingCSV="alpha.v1.0.0")
    first = until(kube, lambda: sub_status(kube, ns, "alpha").get("installPlanRef", {}).get("name"))
    assert kube.get(V1A1, "InstallPlan", first, ns).spec.clusterServiceVersionNames == [
        "alpha.v1.0.0"
    ]
    approve(kube, ns, first)
    until(kube, lambda: kube.csv_phase(ns, "alpha.v1.0.0") == "Succeeded")
    second = until(
        kube,
        lambda: (
            (n := sub_status(kube, ns, "alpha").get("installPlanRef", {}).get("name")) != first
            and n
        ),
    )
    tick(kube)
    status = sub_status(kube, ns, "alpha")
    assert (status["installedCSV"], status["currentCSV"], status["state"]) == (
        "alpha.v1.0.0",
        "alpha.v1.1.0",
        "UpgradePending",
    )
    ip = kube.get(V1A1, "InstallPlan", second, ns)
    assert (
        ip.spec.clusterServiceVersionNames == ["alpha.v1.1.0"]
        and ip.status.phase == "RequiresApproval"
    )
    assert ip.status.bundleLookups[0].replaces == "alpha.v1.0.0"
    assert kube.csv_phase(ns, "alpha.v1.0.0") == "Succeeded"


# -- 6. startingCSV, replaces / skips / skipRange: resolver.go getSubscriptionVariables -----


def test_a_starting_csv_outside_the_channel(cluster):
    kube = cluster(two_versions("alpha"))
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha", startingCSV="alpha.v0.9.0")
    failed = until(kube, lambda: conditions(sub_status(kube, ns, "alpha")).get("ResolutionFailed"))
    assert failed["reason"] == "ConstraintsNotSatisfiable"
    assert failed["message"] == (
        "constraints not satisfiable: no operators found with name alpha.v0.9.0 in channel "
        "stable of package alpha in the catalog referenced by subscription alpha, "
        "subscription alpha exists"
    )


def _upgrade_target(kube, ns, pkg, start):
    subscribe(kube, ns, pkg, approval="Manual", startingCSV=f"{pkg}.v{start}")
    first = until(kube, lambda: sub_status(kube, ns, pkg).get("installPlanRef", {}).get("name"))
    approve(kube, ns, first)
    until(kube, lambda: kube.csv_phase(ns, f"{pkg}.v{start}") == "Succeeded")
    second = until(
        kube,
        lambda: (
            (n := sub_status(kube, ns, pkg).get("installPlanRef", {}).get("name")) != first and n
        ),
    )
    return kube.get(V1A1, "InstallPlan", second, ns).spec.clusterServiceVersionNames


def test_skip_range_jumps_to_the_newest_entry_that_covers_the_installed_version(cluster):
    kube = cluster(
        package(
            "ranged",
            make_csv("ranged", "1.0.0"),
            make_csv("ranged", "1.1.0", replaces="1.0.0"),
            make_csv("ranged", "1.2.0", replaces="1.1.0", skip_range=">=1.0.0 <1.2.0"),
        )
    )
    ns = kube.namespace()
    kube.operator_group(ns)
    assert _upgrade_target(kube, ns, "ranged", "1.0.0") == ["ranged.v1.2.0"]


def test_skips_jump_over_and_skipped_entries_are_no_upgrade_target(cluster):
    kube = cluster(
        package(
            "skippy",
            make_csv("skippy", "1.0.0"),
            make_csv("skippy", "1.1.0", replaces="1.0.0"),
            make_csv("skippy", "1.2.0", replaces="1.1.0", skips=("1.0.0",)),
        )
    )
    ns = kube.namespace()
    kube.operator_group(ns)
    assert _upgrade_target(kube, ns, "skippy", "1.0.0") == ["skippy.v1.2.0"]


def test_replaces_is_followed_one_hop_at_a_time(cluster):
    kube = cluster(
        package(
            "steps",
            make_csv("steps", "1.0.0"),
            make_csv("steps", "1.1.0", replaces="1.0.0"),
            make_csv("steps", "1.2.0", replaces="1.1.0"),
        )
    )
    ns = kube.namespace()
    kube.operator_group(ns)
    assert _upgrade_target(kube, ns, "steps", "1.0.0") == ["steps.v1.1.0"]


# -- 7. deprecations: catalog/subscription/reconciler.go updateDeprecatedStatus -------------


def test_deprecation_conditions(cluster):
    kube = cluster(two_versions("alpha"))
    pkg = kube.sb.catalog.package(IMAGE, "alpha")
    pkg.deprecation = "package alpha is end of life"
    pkg.channel("stable").deprecation = "channel stable is no longer maintained"
    pkg.bundle("alpha.v1.1.0").deprecation = "alpha.v1.1.0 has a known CVE"
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha")
    until(kube, lambda: conditions(sub_status(kube, ns, "alpha")).get("Deprecated"))
    found = conditions(sub_status(kube, ns, "alpha"))
    expected = {
        "PackageDeprecated": "package alpha is end of life",
        "ChannelDeprecated": "channel stable is no longer maintained",
        "BundleDeprecated": "alpha.v1.1.0 has a known CVE",
        "Deprecated": "package alpha is end of life; channel stable is no longer maintained; "
        "alpha.v1.1.0 has a known CVE",
    }
    for type_, message in expected.items():
        cond = found[type_]
        assert (cond["status"], cond["message"]) == ("True", message)
        assert "reason" not in cond and cond["lastTransitionTime"]
    pkg.bundle("alpha.v1.1.0").deprecation = None
    until(kube, lambda: "BundleDeprecated" not in conditions(sub_status(kube, ns, "alpha")))
    assert conditions(sub_status(kube, ns, "alpha"))["Deprecated"]["message"] == (
        "package alpha is end of life; channel stable is no longer maintained"
    )


def test_no_deprecation_conditions_before_anything_is_installed(cluster):
    kube = cluster(two_versions("alpha"))
    kube.sb.catalog.package(IMAGE, "alpha").deprecation = "package alpha is end of life"
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha", approval="Manual")
    until(kube, lambda: sub_status(kube, ns, "alpha").get("installPlanRef"))
    tick(kube, 2)
    assert "PackageDeprecated" not in conditions(sub_status(kube, ns, "alpha"))


def test_unreadable_catalogs_can_be_told_not_to_block_resolution(cluster):
    kube = cluster(two_versions("alpha"))
    kube.sb.olm.unreadable_catalogs_block_resolution = False
    kube.r(V1A1, "CatalogSource").create(
        namespace="olm",
        body={
            "metadata": {"name": "gone"},
            "spec": {"sourceType": "grpc", "image": "quay.io/fidelity/gone:v1"},
        },
    )
    ns = kube.namespace()
    kube.operator_group(ns)
    subscribe(kube, ns, "alpha")
    until(kube, lambda: kube.csv_phase(ns, "alpha.v1.1.0") == "Succeeded")
    assert "ResolutionFailed" not in conditions(sub_status(kube, ns, "alpha"))

"""Simulated OLM: catalogs, package manifests, subscriptions, install plans, CSVs, upgrades."""

import json

import pytest
from kubernetes.dynamic.exceptions import NotFoundError

from .conftest import PACKAGE, REGISTRY_IMAGE, wait_for

V1A1 = "operators.coreos.com/v1alpha1"
CSV_V100 = f"{PACKAGE}.v1.0.0"
CSV_V110 = f"{PACKAGE}.v1.1.0"
CSV_ALPHA = f"{PACKAGE}.v1.2.0-alpha"


def conditions(status: dict) -> dict:
    return {c["type"]: c for c in status.get("conditions") or []}


def test_catalog_source_connecting_then_ready(fresh):
    kube = fresh(tick_interval=3600)  # ticks by hand: every step is observable
    cs = kube.r(V1A1, "CatalogSource")
    cs.create(
        namespace="olm",
        body={
            "metadata": {"name": "tenx"},
            "spec": {"sourceType": "grpc", "image": REGISTRY_IMAGE},
        },
    )
    assert kube.catalog_state("tenx") is None
    kube.sb.tick()
    status = kube.status(V1A1, "CatalogSource", "tenx", "olm")
    assert status["connectionState"]["lastObservedState"] == "CONNECTING"
    assert status["connectionState"]["address"] == "tenx.olm.svc:50051"
    assert status["registryService"] == {
        "createdAt": status["registryService"]["createdAt"],
        "port": "50051",
        "protocol": "grpc",
        "serviceName": "tenx",
        "serviceNamespace": "olm",
    }
    kube.sb.tick()
    status = kube.status(V1A1, "CatalogSource", "tenx", "olm")
    assert status["connectionState"]["lastObservedState"] == "READY"
    assert status["connectionState"]["lastConnect"]
    assert kube.get("v1", "Service", "tenx", "olm").spec.ports[0].port == 50051


def test_unknown_image_is_transient_failure(kube):
    state = kube.catalog("broken", image="dev-registry.tenxcloud.com/system_containers/nope:v9")
    assert state == "TRANSIENT_FAILURE"
    status = kube.status(V1A1, "CatalogSource", "broken", "olm")
    assert "nope:v9" in status["message"] and status["reason"] == "RegistryServerError"
    pods = kube.r("v1", "Pod").get(namespace="olm", label_selector="olm.catalogSource=broken").items
    assert pods and pods[0].status.phase == "Pending"
    waiting = wait_for(
        lambda: (
            kube.r("v1", "Pod")
            .get(namespace="olm", label_selector="olm.catalogSource=broken")
            .items[0]
            .status.containerStatuses[0]
            .state.waiting
        )
    )
    assert waiting.reason in ("ErrImagePull", "ImagePullBackOff")
    # Its packages never show up.
    packages = kube.r("packages.operators.coreos.com/v1", "PackageManifest")
    assert not packages.get(namespace="olm", label_selector="catalog=broken").items
    # A catalog the resolver cannot read blocks resolution in every namespace (OLM's
    # resolver cache errors out): remove it so the session's other tests can install.
    kube.r(V1A1, "CatalogSource").delete(namespace="olm", name="broken")
    wait_for(
        lambda: (
            not kube.r(V1A1, "CatalogSource")
            .get(namespace="olm", field_selector="metadata.name=broken")
            .items
        )
    )


def test_package_manifests(kube, ns):
    assert kube.catalog() == "READY"
    packages = kube.r("packages.operators.coreos.com/v1", "PackageManifest")
    # Global catalogs (in olm) are visible from every namespace, reported in that namespace.
    listed = packages.get(namespace=ns, label_selector="catalog=tenxcloud")
    assert listed.kind == "PackageManifestList"
    (pm,) = [p for p in listed.items if p.metadata.name == PACKAGE]
    assert pm.metadata.namespace == ns
    labels = pm.metadata.labels
    assert (labels.catalog, labels["catalog-namespace"], labels.provider) == (
        "tenxcloud",
        "olm",
        "TenxCloud",
    )
    status = pm.status
    assert status.catalogSource == "tenxcloud" and status.catalogSourceNamespace == "olm"
    assert status.catalogSourceDisplayName == "TenxCloud Operators"
    assert status.catalogSourcePublisher == "TenxCloud"
    assert status.packageName == PACKAGE and status.defaultChannel == "stable"
    assert status.provider.name == "TenxCloud"
    channels = {c.name: c for c in status.channels}
    assert set(channels) == {"stable", "alpha"}
    assert channels["stable"].currentCSV == CSV_V110
    assert channels["alpha"].currentCSV == CSV_ALPHA
    assert [e.name for e in channels["stable"].entries] == [CSV_V110, CSV_V100]
    desc = channels["stable"].currentCSVDesc
    assert desc.version == "1.1.0" and desc.displayName == "Memcached Cluster Operator"
    assert desc.provider.name == "TenxCloud" and desc.description
    modes = {m.type: m.supported for m in desc.installModes}
    assert modes == {
        "OwnNamespace": True,
        "SingleNamespace": True,
        "MultiNamespace": False,
        "AllNamespaces": True,
    }
    (example,) = json.loads(desc.annotations["alm-examples"])
    assert example["kind"] == "MemcachedCluster"
    assert example["spec"] == {
        "replicas": 2,
        "version": "v1.5",
        "setup": "sharded",
        "resources": {
            "limits": {"cpu": "1", "memory": "512Mi"},
            "requests": {"cpu": "1", "memory": "512Mi"},
        },
    }
    (owned,) = desc.customresourcedefinitions.owned
    assert (owned.name, owned.version, owned.kind) == (
        "memcachedclusters.daas.tenxcloud.com",
        "v1",
        "MemcachedCluster",
    )
    descriptors = {d.path: d for d in owned.specDescriptors}
    assert set(descriptors) == {
        "replicas",
        "version",
        "setup",
        "nodeSelector",
        "affinity",
        "resources",
    }
    assert "urn:alm:descriptor:com.tectonic.ui:podCount" in descriptors["replicas"]["x-descriptors"]
    versions = [
        x.rsplit(":", 1)[-1] for x in descriptors["version"]["x-descriptors"] if ":select:" in x
    ]
    assert versions == ["v1.5", "1.6.5"]
    # Get by name, from any namespace; unknown names are NotFound.
    assert packages.get(namespace="default", name=PACKAGE).status.packageName == PACKAGE
    with pytest.raises(NotFoundError):
        packages.get(namespace=ns, name="no-such-package")
    # Field selectors and label selectors on provider work too.
    assert packages.get(namespace=ns, field_selector=f"metadata.name={PACKAGE}").items
    assert not packages.get(namespace=ns, label_selector="provider=Nobody").items
    # The icon subresource serves the image.
    icon = kube.dyn.client.rest_client.request(
        "GET",
        f"{kube.sb.url}/apis/packages.operators.coreos.com/v1/namespaces/{ns}/packagemanifests/{PACKAGE}/icon",
        headers={"authorization": "Bearer secret"},
    )
    icon.read()
    assert icon.getheader("Content-Type") == "image/svg+xml" and icon.data.startswith(b"<svg")


def test_namespaced_catalog_is_visible_only_in_its_namespace(kube, ns):
    assert kube.catalog("local", namespace=ns) == "READY"
    packages = kube.r("packages.operators.coreos.com/v1", "PackageManifest")
    assert packages.get(namespace=ns, label_selector="catalog=local").items
    assert not packages.get(namespace="default", label_selector="catalog=local").items


def test_automatic_install(kube, ns):
    kube.catalog()
    kube.operator_group(ns)
    og = wait_for(
        lambda: kube.status("operators.coreos.com/v1", "OperatorGroup", "og", ns).get("namespaces")
    )
    assert og == [ns]
    kube.subscribe(ns)
    installed = wait_for(lambda: kube.sub_status(ns).get("installedCSV"))
    assert installed == CSV_V110
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Succeeded")
    sub = kube.sub_status(ns)
    assert sub["state"] == "AtLatestKnown" and sub["currentCSV"] == CSV_V110
    assert conditions(sub)["CatalogSourcesUnhealthy"]["status"] == "False"
    health = {h["catalogSourceRef"]["name"]: h["healthy"] for h in sub["catalogHealth"]}
    assert health["tenxcloud"] is True
    ip_name = sub["installPlanRef"]["name"]
    assert sub["installplan"]["name"] == ip_name and ip_name.startswith("install-")
    ip = kube.get(V1A1, "InstallPlan", ip_name, ns)
    assert ip.spec.clusterServiceVersionNames == [CSV_V110]
    assert ip.spec.approval == "Automatic" and ip.spec.approved is True
    assert ip.status.phase == "Complete"
    assert {s.resource.kind for s in ip.status.plan} >= {
        "ClusterServiceVersion",
        "CustomResourceDefinition",
    }
    csv = kube.get(V1A1, "ClusterServiceVersion", CSV_V110, ns).to_dict()
    assert csv["status"]["reason"] == "InstallSucceeded"
    assert csv["status"]["message"] == "install strategy completed with no errors"
    phases = [c["phase"] for c in csv["status"]["conditions"]]
    assert phases[:3] == ["Pending", "InstallReady", "Installing"] and phases[-1] == "Succeeded"
    assert csv["metadata"]["annotations"]["olm.targetNamespaces"] == ns
    assert csv["metadata"]["annotations"]["olm.operatorGroup"] == "og"
    # The operator's deployment runs, and its CRD now exists.
    dep = kube.get("apps/v1", "Deployment", "memcached-cluster-operator", ns)
    assert dep.status.availableReplicas == 1
    assert kube.get(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "memcachedclusters.daas.tenxcloud.com",
    )
    reasons = {e["reason"] for e in kube.events(ns, **{"involvedObject.name": CSV_V110})}
    assert {"RequirementsUnknown", "AllRequirementsMet", "InstallSucceeded"} <= reasons


def test_crd_is_created_only_once_the_csv_succeeds(fresh):
    kube = fresh(tick_interval=3600)
    ns = kube.namespace()
    cs = kube.r(V1A1, "CatalogSource")
    cs.create(
        namespace="olm",
        body={
            "metadata": {"name": "tenxcloud"},
            "spec": {"sourceType": "grpc", "image": REGISTRY_IMAGE},
        },
    )
    kube.operator_group(ns)
    kube.subscribe(ns)
    crds = kube.r("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    seen = []
    for _ in range(40):
        kube.sb.tick()
        try:
            phase = kube.csv_phase(ns, CSV_V110)
        except NotFoundError:
            phase = None
        present = bool(
            crds.get(field_selector="metadata.name=memcachedclusters.daas.tenxcloud.com").items
        )
        seen.append((phase, present))
        if phase == "Succeeded":
            break
    assert seen[-1] == ("Succeeded", True)
    assert all(not present for phase, present in seen if phase != "Succeeded")
    assert {"Pending", "InstallReady", "Installing"} <= {phase for phase, _ in seen}


def test_manual_approval(kube, ns):
    kube.catalog()
    kube.operator_group(ns)
    kube.subscribe(ns, approval="Manual")
    ip_name = wait_for(lambda: kube.sub_status(ns).get("installPlanRef", {}).get("name"))
    ip = wait_for(lambda: kube.get(V1A1, "InstallPlan", ip_name, ns))
    assert ip.status.phase == "RequiresApproval"
    assert ip.spec.approval == "Manual" and ip.spec.approved is False
    sub = wait_for(
        lambda: (s := kube.sub_status(ns)) and "InstallPlanPending" in conditions(s) and s
    )
    assert sub["state"] == "UpgradePending"
    assert conditions(sub)["InstallPlanPending"]["reason"] == "RequiresApproval"
    assert "installedCSV" not in sub
    with pytest.raises(NotFoundError):
        kube.get(V1A1, "ClusterServiceVersion", CSV_V110, ns)
    kube.r(V1A1, "InstallPlan").patch(
        namespace=ns,
        name=ip_name,
        body={"spec": {"approved": True}},
        content_type="application/merge-patch+json",
    )
    wait_for(lambda: kube.get(V1A1, "InstallPlan", ip_name, ns).status.phase == "Complete")
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Succeeded")
    wait_for(lambda: kube.sub_status(ns).get("state") == "AtLatestKnown")
    assert "InstallPlanPending" not in conditions(kube.sub_status(ns))


def test_starting_csv(kube, ns):
    kube.catalog()
    kube.operator_group(ns)
    kube.subscribe(ns, startingCSV=CSV_V100, approval="Manual")
    ip_name = wait_for(lambda: kube.sub_status(ns).get("installPlanRef", {}).get("name"))
    assert kube.get(V1A1, "InstallPlan", ip_name, ns).spec.clusterServiceVersionNames == [CSV_V100]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"package": "no-such-operator"},
            "constraints not satisfiable: no operators found in package no-such-operator in the "
            "catalog referenced by subscription memcached, subscription memcached exists",
        ),
        (
            {"channel": "beta"},
            f"constraints not satisfiable: no operators found in channel beta of package {PACKAGE} "
            "in the catalog referenced by subscription memcached, subscription memcached exists",
        ),
    ],
)
def test_resolution_failed(kube, ns, spec, message):
    kube.catalog()
    kube.operator_group(ns)
    kube.subscribe(ns, **spec)
    failed = wait_for(lambda: conditions(kube.sub_status(ns)).get("ResolutionFailed"))
    assert failed["status"] == "True"
    assert failed["reason"] == "ConstraintsNotSatisfiable"
    assert failed["message"] == message
    assert "installPlanRef" not in kube.sub_status(ns)
    # catalog/operator.go records the event on the Namespace (cluster-scoped: in "default").
    warnings = wait_for(
        lambda: kube.events("default", reason="ResolutionFailed", **{"involvedObject.name": ns})
    )
    assert warnings[0]["type"] == "Warning" and warnings[0]["message"] == message
    assert warnings[0]["involvedObject"]["kind"] == "Namespace"


def test_missing_catalog_is_unhealthy(kube, ns):
    kube.operator_group(ns)
    kube.subscribe(ns, source="no-such-catalog")
    # The first write says the list of catalogs grew (state.go UpdateHealth), the next one why.
    unhealthy = wait_for(
        lambda: (
            (c := conditions(kube.sub_status(ns)).get("CatalogSourcesUnhealthy"))
            and c["reason"] == "UnhealthyCatalogSourceFound"
            and c
        )
    )
    assert unhealthy["status"] == "True"
    assert unhealthy["message"] == "targeted catalogsource olm/no-such-catalog missing"
    assert (
        "no operators found from catalog no-such-catalog in namespace olm"
        in (conditions(kube.sub_status(ns))["ResolutionFailed"]["message"])
    )


def test_no_operator_group(kube, ns):
    # step_resolver.go ResolveSteps refuses to resolve without exactly one OperatorGroup:
    # no InstallPlan, no CSV (the CSV-level NoOperatorGroup is for CSVs already there).
    kube.catalog()
    kube.subscribe(ns)
    failed = wait_for(lambda: conditions(kube.sub_status(ns)).get("ResolutionFailed"))
    assert failed["reason"] == "ErrorPreventedResolution"
    assert failed["message"] == "expected 1 OperatorGroup in the namespace, found 0"
    assert "lastTransitionTime" not in failed
    assert not kube.r(V1A1, "ClusterServiceVersion").get(namespace=ns).items
    # Creating the OperatorGroup lets the install go through.
    kube.operator_group(ns)
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Succeeded")
    assert "ResolutionFailed" not in conditions(kube.sub_status(ns))
    # Deleting it afterwards fails the CSV (olm/operator.go operatorGroupForCSV).
    kube.r("operators.coreos.com/v1", "OperatorGroup").delete(namespace=ns, name="og")
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Failed")
    status = kube.status(V1A1, "ClusterServiceVersion", CSV_V110, ns)
    assert status["reason"] == "NoOperatorGroup"
    assert status["message"] == "csv in namespace with no operatorgroups"


def test_too_many_operator_groups(kube, ns):
    kube.catalog()
    kube.operator_group(ns)
    kube.subscribe(ns)
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Succeeded")
    kube.operator_group(ns, name="og-2")
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Failed")
    status = kube.status(V1A1, "ClusterServiceVersion", CSV_V110, ns)
    assert status["reason"] == "TooManyOperatorGroups"
    assert (
        status["message"]
        == "csv created in namespace with multiple operatorgroups, can't pick one automatically"
    )
    failed = wait_for(lambda: conditions(kube.sub_status(ns)).get("ResolutionFailed"))
    assert failed["message"] == "expected 1 OperatorGroup in the namespace, found 2"
    kube.r("operators.coreos.com/v1", "OperatorGroup").delete(namespace=ns, name="og-2")
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Succeeded")
    wait_for(lambda: "ResolutionFailed" not in conditions(kube.sub_status(ns)))


def test_unsupported_install_mode(kube, ns):
    kube.catalog("redis", image="dev-registry.tenxcloud.com/system_containers/redis-registry:v1")
    kube.operator_group(ns)
    kube.subscribe(ns, name="redis", package="redis-cluster-operator", source="redis")
    wait_for(lambda: kube.csv_phase(ns, "redis-cluster-operator.v0.9.0") == "Failed")
    status = kube.status(V1A1, "ClusterServiceVersion", "redis-cluster-operator.v0.9.0", ns)
    assert status["reason"] == "UnsupportedOperatorGroup"
    assert (
        status["message"]
        == "OwnNamespace InstallModeType not supported, cannot configure to watch own namespace"
    )


def test_all_namespaces_operator_group(kube, ns):
    kube.operator_group(ns, targets=[])
    assert wait_for(
        lambda: kube.status("operators.coreos.com/v1", "OperatorGroup", "og", ns).get("namespaces")
    ) == [""]
    status = kube.status("operators.coreos.com/v1", "OperatorGroup", "og", ns)
    assert status["lastUpdated"].endswith("Z")


def test_deleting_the_subscription_keeps_the_csv(kube, ns):
    kube.install_operator(ns)
    kube.r(V1A1, "Subscription").delete(namespace=ns, name="memcached")
    wait_for(lambda: not kube.r(V1A1, "InstallPlan").get(namespace=ns).items)  # GC'd with the sub
    assert kube.csv_phase(ns, CSV_V110) == "Succeeded"
    assert kube.get("apps/v1", "Deployment", "memcached-cluster-operator", ns)
    # Uninstall = delete the CSV too: its deployment goes with it.
    kube.r(V1A1, "ClusterServiceVersion").delete(namespace=ns, name=CSV_V110)
    wait_for(lambda: not kube.r("apps/v1", "Deployment").get(namespace=ns).items)


@pytest.mark.parametrize("approval", ["Automatic", "Manual"])
def test_upgrade_when_a_newer_csv_is_published(fresh, approval):
    kube = fresh()
    ns = kube.namespace()
    kube.catalog()
    kube.operator_group(ns)
    kube.subscribe(ns, approval=approval)
    if approval == "Manual":
        first_ip = wait_for(lambda: kube.sub_status(ns).get("installPlanRef", {}).get("name"))
        kube.r(V1A1, "InstallPlan").patch(
            namespace=ns,
            name=first_ip,
            body={"spec": {"approved": True}},
            content_type="application/merge-patch+json",
        )
    wait_for(lambda: kube.sub_status(ns).get("installedCSV") == CSV_V110)
    wait_for(lambda: kube.csv_phase(ns, CSV_V110) == "Succeeded")
    old_ip = kube.sub_status(ns)["installPlanRef"]["name"]

    new = kube.sb.publish_csv(package=PACKAGE, channel="stable", version="1.2.0")
    assert new == f"{PACKAGE}.v1.2.0"
    head = kube.get("packages.operators.coreos.com/v1", "PackageManifest", PACKAGE, ns)
    assert {c.name: c.currentCSV for c in head.status.channels}["stable"] == new

    new_ip = wait_for(
        lambda: (
            (name := kube.sub_status(ns).get("installPlanRef", {}).get("name")) != old_ip and name
        )
    )
    ip = kube.get(V1A1, "InstallPlan", new_ip, ns)
    assert ip.spec.clusterServiceVersionNames == [new]
    assert kube.sub_status(ns)["currentCSV"] == new
    if approval == "Manual":
        assert ip.status.phase == "RequiresApproval"
        assert kube.sub_status(ns)["state"] == "UpgradePending"
        assert kube.csv_phase(ns, CSV_V110) == "Succeeded"  # still running the old one
        kube.r(V1A1, "InstallPlan").patch(
            namespace=ns,
            name=new_ip,
            body={"spec": {"approved": True}},
            content_type="application/merge-patch+json",
        )
    wait_for(lambda: kube.csv_phase(ns, new) == "Succeeded")
    assert kube.get(V1A1, "ClusterServiceVersion", new, ns).spec.replaces == CSV_V110
    wait_for(
        lambda: (
            not kube.r(V1A1, "ClusterServiceVersion")
            .get(namespace=ns, field_selector=f"metadata.name={CSV_V110}")
            .items
        )
    )
    sub = wait_for(lambda: (s := kube.sub_status(ns)).get("installedCSV") == new and s)
    assert sub["state"] == "AtLatestKnown"
    dep = kube.get("apps/v1", "Deployment", "memcached-cluster-operator", ns)
    assert dep.spec.template.spec.containers[0].image.endswith(":v1.2.0")
    assert dep.metadata.labels["olm.owner"] == new


def test_changing_channel_switches_to_its_head(kube, ns):
    kube.install_operator(ns)
    kube.r(V1A1, "Subscription").patch(
        namespace=ns,
        name="memcached",
        body={"spec": {"channel": "alpha"}},
        content_type="application/merge-patch+json",
    )
    wait_for(lambda: kube.sub_status(ns).get("installedCSV") == CSV_ALPHA)
    wait_for(lambda: kube.csv_phase(ns, CSV_ALPHA) == "Succeeded")
    wait_for(
        lambda: (
            not kube.r(V1A1, "ClusterServiceVersion")
            .get(namespace=ns, field_selector=f"metadata.name={CSV_V110}")
            .items
        )
    )

"""deploy/: every overlay renders, every object is valid Kubernetes (offline, strict), and
the policies of issue 17 hold in what is rendered, not only in what was meant."""

from __future__ import annotations

import kubernetes_validate
import pytest

from .manifests import KUBERNETES_VERSION, OVERLAYS, by_kind, render

POD_OWNERS = ("Deployment", "StatefulSet", "Job")


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def test_both_overlays_exist():
    assert OVERLAYS == ["demo", "production"]


def test_every_object_validates_against_the_kubernetes_schemas(rendered):
    _overlay, objects = rendered
    assert objects
    for obj in objects:
        # strict: an unknown or misspelt field is an error, as with fieldValidation=Strict.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_fails_validation():
    """The validation above would catch a typo: it is not a schema that allows anything."""
    deployment = render("demo")
    web = by_kind(deployment, "Deployment")["marketplace-web"]
    web["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, KUBERNETES_VERSION, strict=True)


def _pod_specs(objects):
    for obj in objects:
        if obj["kind"] in POD_OWNERS:
            yield obj, obj["spec"]["template"]["spec"]


def test_every_pod_is_non_root_read_only_and_without_a_token(rendered):
    _overlay, objects = rendered
    specs = list(_pod_specs(objects))
    assert specs
    for owner, spec in specs:
        name = f"{owner['kind']}/{owner['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        # None of them calls the Kubernetes API of the cluster it runs in.
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name} {container['name']}"
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert {"cpu", "memory"} <= set(resources["limits"]), where
    for account in by_kind(objects, "ServiceAccount").values():
        assert account["automountServiceAccountToken"] is False


def test_beat_is_exactly_one_recreated_replica(rendered):
    _overlay, objects = rendered
    beat = by_kind(objects, "Deployment")["marketplace-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    targets = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(objects, "HorizontalPodAutoscaler").values()
    }
    assert "marketplace-beat" not in targets


def test_web_probes_are_healthz_and_readyz(rendered):
    _overlay, objects = rendered
    web = by_kind(objects, "Deployment")["marketplace-web"]
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    port = container["livenessProbe"]["httpGet"]["port"]
    assert port in [p["name"] for p in container["ports"]]
    # A pod IP is no allowed host: the probes name one that is.
    config = next(iter(by_kind(objects, "ConfigMap").values()))
    host = container["readinessProbe"]["httpGet"]["httpHeaders"][0]
    assert host["name"] == "Host" and host["value"] in config["data"]["ALLOWED_HOSTS"].split(",")


def test_web_worker_and_beat_wait_for_the_migration_job(rendered):
    _overlay, objects = rendered
    job = by_kind(objects, "Job")["marketplace-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == [
        "migrate",
        "--noinput",
    ]
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    for name in ("marketplace-web", "marketplace-worker", "marketplace-beat"):
        spec = by_kind(objects, "Deployment")[name]["spec"]["template"]["spec"]
        (init,) = spec["initContainers"]
        assert "migrate --check" in init["command"][-1], name
        assert init["image"] == image == spec["containers"][0]["image"], name


def test_pdb_and_hpa_cover_web_and_worker(rendered):
    _overlay, objects = rendered
    deployments = by_kind(objects, "Deployment")
    for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler"):
        found = by_kind(objects, kind)
        assert set(found) == {"marketplace-web", "marketplace-worker"}, kind
    for hpa in by_kind(objects, "HorizontalPodAutoscaler").values():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        assert target["name"] in deployments
    for pdb in by_kind(objects, "PodDisruptionBudget").values():
        labels = deployments[pdb["metadata"]["name"]]["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_network_policies(rendered):
    _overlay, objects = rendered
    policies = by_kind(objects, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    web = policies["marketplace-web"]["spec"]
    assert web["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    (rule,) = web["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    worker = policies["marketplace-worker"]["spec"]
    assert worker["policyTypes"] == ["Ingress", "Egress"]
    egress_ports = {p["port"] for rule in worker["egress"] for p in rule["ports"]}
    assert egress_ports == {53, 5432, 6379, 443, 6443}


def test_ingress_routes_to_the_web_service(rendered):
    _overlay, objects = rendered
    (ingress,) = by_kind(objects, "Ingress").values()
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = by_kind(objects, "Service")[backend["name"]]
    assert backend["port"]["name"] in [p["name"] for p in service["spec"]["ports"]]


def test_secret_keys_cover_the_secret_settings():
    objects = render("demo")
    secret = by_kind(objects, "Secret")["marketplace-secrets"]
    assert {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL"} <= set(
        secret["stringData"]
    )
    for owner, spec in _pod_specs(objects):
        for container in spec["containers"]:
            refs = [e.get("secretRef", {}).get("name") for e in container.get("envFrom", [])]
            if owner["metadata"]["name"].startswith("marketplace-"):
                assert "marketplace-secrets" in refs


def test_production_brings_no_secret_values_and_no_database():
    """`kubectl apply -k` must never overwrite the Secret filled by hand, and PostgreSQL and
    Redis are external there."""
    objects = render("production")
    assert not by_kind(objects, "Secret")
    assert not by_kind(objects, "StatefulSet")
    assert set(by_kind(objects, "Deployment")) == {
        "marketplace-web",
        "marketplace-worker",
        "marketplace-beat",
    }
    web = by_kind(objects, "Deployment")["marketplace-web"]["spec"]["template"]["spec"]
    data = next(v for v in web["volumes"] if v["name"] == "data")
    assert data["persistentVolumeClaim"]["claimName"] in by_kind(objects, "PersistentVolumeClaim")


def test_demo_bundles_postgres_redis_and_the_sandbox():
    objects = render("demo")
    assert set(by_kind(objects, "StatefulSet")) == {"postgres", "redis"}
    assert "sandbox" in by_kind(objects, "Deployment")
    secret = by_kind(objects, "Secret")["marketplace-secrets"]["stringData"]
    assert (
        secret["DATABASE_URL"].startswith("postgres://")
        and "@postgres:5432/" in secret["DATABASE_URL"]
    )
    assert secret["REDIS_URL"] == "redis://redis:6379/0"


def test_readme_names_the_kubernetes_version_validated_and_the_sandboxs():
    """The version the README promises is the one the schemas checked and the sandbox reports."""
    from sandbox.handler import VERSION_INFO

    from .manifests import ROOT

    major_minor = ".".join(KUBERNETES_VERSION.split(".")[:2])
    production = (ROOT / "README.md").read_text().split("## Production", 1)[1]
    assert f"**Kubernetes {major_minor}** or later" in production
    assert VERSION_INFO["gitVersion"].startswith(f"v{major_minor}.")
    for topic in (
        "### First admin",
        "### Upgrades (migrations first)",
        "### Backups of PostgreSQL",
    ):
        assert topic in production
    assert "### Rotating `FIELD_ENCRYPTION_KEYS`" in production

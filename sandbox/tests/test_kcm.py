"""Job, Endpoints, PodDisruptionBudget, HorizontalPodAutoscaler, Ingress and NetworkPolicy,
through the official client: served, defaulted, validated, and given the statuses a 1.29
cluster's kube-controller-manager writes."""

from __future__ import annotations

import pytest
from kubernetes.dynamic.exceptions import UnprocessibleEntityError

from .conftest import wait_for


def job_body(name="migrate", **spec):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "example/migrate:1"}],
                },
            },
            **spec,
        },
    }


def deployment_body(name="web", replicas=2):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "example/web:1",
                            "ports": [{"name": "http", "containerPort": 8000}],
                        }
                    ]
                },
            },
        },
    }


def _condition(status: dict, type_: str) -> dict | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), None)


def test_the_new_kinds_are_discoverable(dyn):
    for api_version, kind in (
        ("batch/v1", "Job"),
        ("v1", "Endpoints"),
        ("policy/v1", "PodDisruptionBudget"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("networking.k8s.io/v1", "Ingress"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
    ):
        assert dyn.resources.get(api_version=api_version, kind=kind).kind == kind


def test_job_is_defaulted_and_runs_to_completion(kube, ns):
    created = kube.r("batch/v1", "Job").create(body=job_body(), namespace=ns).to_dict()
    uid = created["metadata"]["uid"]
    spec = created["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"]) == ("NonIndexed", False)
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "migrate" and labels["controller-uid"] == uid
    assert created["metadata"]["labels"] == labels  # from the template, as defaults.go does

    status = wait_for(
        lambda: (s := kube.status("batch/v1", "Job", "migrate", ns)).get("succeeded") and s,
        message="the Job to succeed",
    )
    complete = _condition(status, "Complete")
    assert complete is not None and complete["status"] == "True"
    assert "reason" not in complete  # a 1.29 Complete condition has none
    assert status["completionTime"] and status["startTime"]
    assert (status["ready"], status["terminating"], status["uncountedTerminatedPods"]) == (0, 0, {})
    assert "active" not in status and "failed" not in status

    (pod,) = kube.r("v1", "Pod").get(namespace=ns, label_selector=f"controller-uid={uid}").items
    pod = pod.to_dict()
    assert pod["metadata"]["name"].startswith("migrate-")
    assert pod["metadata"]["generateName"] == "migrate-"
    assert not pod["metadata"].get("finalizers")  # job-tracking dropped once counted
    assert pod["status"]["phase"] == "Succeeded"
    (container,) = pod["status"]["containerStatuses"]
    terminated = container["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert _condition(pod["status"], "Ready")["reason"] == "PodCompleted"
    reasons = [e["reason"] for e in kube.events(ns, **{"involvedObject.name": "migrate"})]
    assert "SuccessfulCreate" in reasons and "Completed" in reasons


def test_job_rejects_restart_policy_always_and_a_changed_template(kube, ns):
    body = job_body("bad")
    body["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    with pytest.raises(UnprocessibleEntityError) as caught:
        kube.r("batch/v1", "Job").create(body=body, namespace=ns)
    assert "spec.template.spec.restartPolicy" in caught.value.body
    kube.r("batch/v1", "Job").create(body=job_body("once"), namespace=ns)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "other:2"}]}}}}
    with pytest.raises(UnprocessibleEntityError) as caught:
        kube.r("batch/v1", "Job").patch(
            name="once", namespace=ns, body=patch, content_type="application/merge-patch+json"
        )
    assert "field is immutable" in caught.value.body


def test_job_past_its_deadline_fails(kube, ns):
    kube.r("batch/v1", "Job").create(
        body=job_body("slow", activeDeadlineSeconds=0, suspend=False), namespace=ns
    )
    status = wait_for(
        lambda: _condition(kube.status("batch/v1", "Job", "slow", ns), "Failed"),
        message="the Job to fail",
    )
    assert (status["reason"], status["message"]) == (
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    )


def test_endpoints_follow_the_ready_pods_and_the_service(kube, ns):
    kube.r("apps/v1", "Deployment").create(body=deployment_body("web", 2), namespace=ns)
    kube.r("v1", "Service").create(
        body={
            "metadata": {"name": "web", "labels": {"tier": "front"}},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        namespace=ns,
    )

    def addresses():
        ep = kube.get("v1", "Endpoints", "web", ns).to_dict()
        subsets = ep.get("subsets") or []
        return len(subsets) == 1 and len(subsets[0].get("addresses") or []) == 2 and ep

    ep = wait_for(addresses, message="two ready addresses")
    (subset,) = ep["subsets"]
    assert subset["ports"] == [{"name": "http", "port": 8000, "protocol": "TCP"}]
    pods = {p.metadata.name: p.to_dict() for p in kube.r("v1", "Pod").get(namespace=ns).items}
    for address in subset["addresses"]:
        pod = pods[address["targetRef"]["name"]]
        assert address["ip"] == pod["status"]["podIP"]
        assert address["nodeName"] == pod["spec"]["nodeName"]
        assert address["targetRef"]["kind"] == "Pod"
    assert ep["metadata"]["labels"] == {"tier": "front"}
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]

    kube.r("v1", "Service").delete(name="web", namespace=ns)
    wait_for(
        lambda: not kube.r("v1", "Endpoints").get(namespace=ns).items,
        message="the Endpoints to go with the Service",
    )


def test_pdb_status(kube, ns):
    kube.r("apps/v1", "Deployment").create(body=deployment_body("web", 2), namespace=ns)
    for name, spec in (("min", {"minAvailable": 1}), ("max", {"maxUnavailable": 0})):
        kube.r("policy/v1", "PodDisruptionBudget").create(
            body={
                "metadata": {"name": name},
                "spec": {**spec, "selector": {"matchLabels": {"app": "web"}}},
            },
            namespace=ns,
        )
    status = wait_for(
        lambda: (
            (s := kube.status("policy/v1", "PodDisruptionBudget", "min", ns)).get("currentHealthy")
            == 2
            and s
        ),
        message="two healthy pods",
    )
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        2,
        1,
        1,
    )
    allowed = _condition(status, "DisruptionAllowed")
    assert (allowed["status"], allowed["reason"]) == ("True", "SufficientPods")
    status = wait_for(
        lambda: (
            (s := kube.status("policy/v1", "PodDisruptionBudget", "max", ns)).get("currentHealthy")
            == 2
            and s
        ),
        message="two healthy pods",
    )
    # maxUnavailable counts from the Deployment's scale.
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        2,
        2,
        0,
    )
    assert _condition(status, "DisruptionAllowed")["reason"] == "InsufficientPods"


def test_pdb_rejects_both_min_and_max(kube, ns):
    with pytest.raises(UnprocessibleEntityError):
        kube.r("policy/v1", "PodDisruptionBudget").create(
            body={
                "metadata": {"name": "both"},
                "spec": {"minAvailable": 1, "maxUnavailable": 1, "selector": {}},
            },
            namespace=ns,
        )


def test_hpa_rescales_below_min_then_reports_no_metrics_api(kube, ns):
    kube.r("apps/v1", "Deployment").create(body=deployment_body("web", 1), namespace=ns)
    created = kube.r("autoscaling/v2", "HorizontalPodAutoscaler").create(
        body={
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 5,
            },
        },
        namespace=ns,
    )
    spec = created.to_dict()["spec"]
    assert spec["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 80,
    }
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    wait_for(
        lambda: kube.get("apps/v1", "Deployment", "web", ns).spec.replicas == 2,
        message="the HPA to scale the Deployment to minReplicas",
    )
    status = wait_for(
        lambda: (
            _condition(
                s := kube.status("autoscaling/v2", "HorizontalPodAutoscaler", "web", ns),
                "ScalingActive",
            )
            and s
        ),
        message="ScalingActive",
    )
    assert (status["currentReplicas"], status["desiredReplicas"]) == (2, 2)
    active = _condition(status, "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert "pods.metrics.k8s.io" in active["message"]
    assert _condition(status, "AbleToScale")["status"] == "True"
    events = kube.events(ns, **{"involvedObject.kind": "HorizontalPodAutoscaler"})
    messages = {e["reason"]: e["message"] for e in events}
    assert messages["SuccessfulRescale"] == (
        "New size: 2; reason: Current number of replicas below Spec.MinReplicas"
    )
    assert "FailedGetResourceMetric" in messages


def test_hpa_without_its_target(kube, ns):
    kube.r("autoscaling/v2", "HorizontalPodAutoscaler").create(
        body={
            "metadata": {"name": "ghost"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gone"},
                "maxReplicas": 3,
            },
        },
        namespace=ns,
    )
    able = wait_for(
        lambda: _condition(
            kube.status("autoscaling/v2", "HorizontalPodAutoscaler", "ghost", ns), "AbleToScale"
        ),
        message="AbleToScale",
    )
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")
    assert 'deployments/scale.apps "gone" not found' in able["message"]


def test_ingress_and_network_policy_are_stored_defaulted_and_validated(kube, ns):
    ingress = kube.r("networking.k8s.io/v1", "Ingress")
    ingress.create(
        body={
            "metadata": {"name": "web"},
            "spec": {
                "rules": [
                    {
                        "host": "market.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
        namespace=ns,
    )
    # No ingress controller in the sandbox: nobody writes an address, as on such a cluster.
    assert (
        not (ingress.get(name="web", namespace=ns).to_dict().get("status") or {})
        .get("loadBalancer", {})
        .get("ingress")
    )
    with pytest.raises(UnprocessibleEntityError):
        ingress.create(body={"metadata": {"name": "empty"}, "spec": {}}, namespace=ns)
    policy = kube.r("networking.k8s.io/v1", "NetworkPolicy").create(
        body={
            "metadata": {"name": "p"},
            "spec": {
                "podSelector": {},
                "egress": [{"ports": [{"port": 53}]}],
            },
        },
        namespace=ns,
    )
    spec = policy.to_dict()["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["egress"][0]["ports"] == [{"port": 53, "protocol": "TCP"}]


def test_an_idle_sandbox_with_the_new_kinds_writes_nothing(kube, ns):
    kube.r("batch/v1", "Job").create(body=job_body("idle"), namespace=ns)
    kube.r("apps/v1", "Deployment").create(body=deployment_body("web", 1), namespace=ns)
    kube.r("v1", "Service").create(
        body={
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
        namespace=ns,
    )
    kube.r("policy/v1", "PodDisruptionBudget").create(
        body={
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        },
        namespace=ns,
    )
    wait_for(
        lambda: kube.status("batch/v1", "Job", "idle", ns).get("succeeded"),
        message="the Job to succeed",
    )
    sb = kube.sb

    # Settled once two passes in a row leave the store as it was.
    def settled():
        before = sb.store.revision
        passes = sb.passes
        wait_for(lambda: sb.passes >= passes + 2, timeout=10, message="two passes")
        return sb.store.revision == before

    wait_for(settled, timeout=20, message="the store to settle")
    revision = sb.store.revision
    sb.tick()
    sb.tick()
    assert sb.store.revision == revision

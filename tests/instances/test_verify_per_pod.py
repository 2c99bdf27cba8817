"""验证访问 proves the setup: after the round trip through the router, the key is read
straight from each memcached pod (the seed's telnet on every pod IP): replset → all hold
it, sharded → exactly one. Real memcached processes and routers answer on loopback
addresses, and the cluster reports them as a networked cluster does (status.podIP, the
router Service's spec.clusterIP), read through the product's own sync (`observe`)."""

import re

import pytest
from pymemcache.client.base import Client
from rest_framework.test import APIClient

from clusters import kube
from instances import records
from instances import tasks as instance_tasks
from tests.conftest import wait_until

from .conftest import create, follow
from .loopback import ReplicatingRouter, free_block, memcached_at, nutcracker_at


def _ready(instance, replicas):
    follow(instance, {"running"})

    def settled():
        instance_tasks.sync_instances(instance.cluster_id, force=True)
        instance.refresh_from_db()
        return instance.settled and instance.ready_replicas == replicas

    wait_until(settled, timeout=30, message=f"{replicas} replicas ready")
    return instance


@pytest.fixture
def replset(installed, django_capture_on_commit_callbacks):
    instance = create(
        installed, django_capture_on_commit_callbacks, name="rep", setup="replset", replicas=3
    )
    return _ready(instance, 3)


def reported_on(instance, block):
    """The cluster's objects as a networked cluster reports them: memcached pod i at
    block.(i+2), the router Service's ClusterIP block.1; recorded by the sync's `observe`."""
    gateway = kube.gateway_for(instance.cluster)
    ns, name = instance.namespace, instance.name
    cr = gateway.get(instance.api_version_full, instance.kind, name, ns)
    selector = f"memcached_cr={name}"
    pods = gateway.list("v1", "Pod", ns, label_selector=selector)
    services = gateway.list("v1", "Service", ns, label_selector=selector)
    memcached_pods = sorted(
        (p for p in pods if p["metadata"]["labels"].get("app") == "memcached"),
        key=lambda p: p["metadata"]["name"],
    )
    for index, pod in enumerate(memcached_pods):
        pod["status"]["podIP"] = f"{block}.{index + 2}"
    for service in services:
        if service["metadata"]["name"] == f"{name}-mcrouter-service":
            service["spec"]["clusterIP"] = f"{block}.1"
    observed = instance_tasks.observe(instance, cr, pods=pods, services_=services)
    records.record_observation(instance_id=instance.pk, observed=observed)
    instance.refresh_from_db()
    return [f"{block}.{i + 2}:11211" for i in range(len(memcached_pods))]


def _verify_over_api(instance, capture):
    api = APIClient()
    api.force_authenticate(instance.created_by)
    with capture(execute=True):
        asked = api.post(f"/api/v1/instances/{instance.pk}/verify/")
    assert asked.status_code == 202 and asked.json()["verification"]["running"] is True
    return api.get(f"/api/v1/instances/{instance.pk}/").json()["verification"]


def _key(message):
    return re.search(r"set (marketplace-verify-[0-9a-f]+)", message).group(1)


def _holds(html):
    return dict(re.findall(r'<tr data-pod="([^"]+)" data-holds="([^"]+)"', html))


def test_replset_every_pod_holds_the_key(
    replset, client, tmp_path, django_capture_on_commit_callbacks
):
    block = free_block()
    with (
        memcached_at(f"{block}.2") as a,
        memcached_at(f"{block}.3") as b,
        memcached_at(f"{block}.4") as c,
    ):
        pods = reported_on(replset, block)
        assert pods == [a, b, c]
        assert [p["port"] for p in replset.pods if p["role"] == "memcached"] == [11211] * 3
        assert replset.router_ip_address == f"{block}.1:11211"
        with ReplicatingRouter(f"{block}.1", pods):
            verification = _verify_over_api(replset, django_capture_on_commit_callbacks)
        assert verification["ok"] is True
        assert verification["address"] == f"{block}.1:11211"
        assert verification["address_source"] == "cluster-ip"
        assert verification["expectation"] == "all"
        assert verification["distribution_ok"] is True
        assert [(p["pod"], p["address"], p["holds"]) for p in verification["pods"]] == [
            ("rep-memcached-0", a, True),
            ("rep-memcached-1", b, True),
            ("rep-memcached-2", c, True),
        ]
        # The test key was deleted through the router afterwards, from every pod.
        key = _key(verification["message"])
        for address in pods:
            host, port = address.split(":")
            assert Client((host, int(port))).get(key) is None
    client.force_login(replset.created_by)
    html = client.get(f"/instances/{replset.pk}/access/").content.decode()
    assert 'data-testid="verify-distribution" data-ok="true"' in html
    assert "Expected (replset): every memcached pod holds the key." in html
    assert _holds(html) == {f"rep-memcached-{i}": "yes" for i in range(3)}
    assert f"Through the router Service&#x27;s ClusterIP: {block}.1:11211" in html


def test_sharded_exactly_one_pod_holds_the_key(
    running, tmp_path, django_capture_on_commit_callbacks
):
    block = free_block()
    with memcached_at(f"{block}.2") as a, memcached_at(f"{block}.3") as b:
        pods = reported_on(running, block)
        assert pods == [a, b]
        with nutcracker_at(f"{block}.1", pods, tmp_path):
            verification = _verify_over_api(running, django_capture_on_commit_callbacks)
    assert verification["ok"] is True and verification["address_source"] == "cluster-ip"
    assert verification["expectation"] == "one" and verification["distribution_ok"] is True
    assert sorted(p["holds"] for p in verification["pods"]) == [False, True]
    assert "1 of 2 pods hold it" in verification["distribution_message"]


def test_a_replset_pod_lacking_the_key_is_a_problem_with_the_expectation(
    replset, client, django_capture_on_commit_callbacks
):
    block = free_block()
    with (
        memcached_at(f"{block}.2") as a,
        memcached_at(f"{block}.3") as b,
        memcached_at(f"{block}.4"),
    ):
        reported_on(replset, block)
        # A router whose configuration still lists two pods (e.g. not reloaded after a scale).
        with ReplicatingRouter(f"{block}.1", [a, b]):
            verification = _verify_over_api(replset, django_capture_on_commit_callbacks)
    assert verification["ok"] is True  # the round trip itself works
    assert verification["distribution_ok"] is False
    assert verification["distribution_message"] == (
        "Expected replset: every memcached pod must hold the key, but 2 of 3 pods hold it; "
        "missing on rep-memcached-2."
    )
    replset.refresh_from_db()
    assert replset.events.filter(reason="KeyDistributionMismatch", type="Warning").exists()
    client.force_login(replset.created_by)
    html = client.get(f"/instances/{replset.pk}/access/").content.decode()
    assert 'data-testid="verify-distribution" data-ok="false"' in html
    assert "Problem: the key is not where it should be" in html
    assert _holds(html) == {
        "rep-memcached-0": "yes",
        "rep-memcached-1": "yes",
        "rep-memcached-2": "no",
    }


def test_an_unreachable_pod_is_a_problem(
    running, client, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.MEMCACHED_VERIFY_TIMEOUT = 1
    block = free_block()
    with memcached_at(f"{block}.2") as a:
        reported_on(running, block)  # pod 1 at block.3, where nothing listens
        with nutcracker_at(f"{block}.1", [a], tmp_path):
            verification = _verify_over_api(running, django_capture_on_commit_callbacks)
    assert verification["ok"] is True and verification["distribution_ok"] is False
    pods = {p["pod"]: p for p in verification["pods"]}
    assert pods["mem1-memcached-0"]["holds"] is True
    assert pods["mem1-memcached-1"]["holds"] is None
    assert pods["mem1-memcached-1"]["error"] == "connection refused"
    assert "mem1-memcached-1 could not be reached" in verification["distribution_message"]
    client.force_login(running.created_by)
    html = client.get(f"/instances/{running.pk}/access/").content.decode()
    assert _holds(html)["mem1-memcached-1"] == "unreachable"


def test_the_verdict_names_what_was_expected():
    from instances.memcached import distribution_verdict

    def rows(*holds):
        return [{"pod": f"p-{i}", "holds": h} for i, h in enumerate(holds)]

    assert distribution_verdict("replset", rows(True, True))[:2] == ("all", True)
    assert distribution_verdict("sharded", rows(False, True, False))[:2] == ("one", True)
    expectation, ok, message = distribution_verdict("sharded", rows(True, True))
    assert (expectation, ok) == ("one", False)
    assert message.english() == (
        "Expected sharded: exactly one memcached pod must hold the key, but 2 of 2 pods "
        "hold it; held by p-0, p-1."
    )
    assert distribution_verdict("sharded", rows(False, False))[1] is False
    assert distribution_verdict("replset", [])[1] is None


def test_the_api_schema_documents_the_per_pod_result(client, db):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    verification = components["Verification"]["properties"]
    assert {"address_source", "expectation", "distribution_ok", "pods"} <= set(verification)
    assert "exactly one" in verification["expectation"]["description"]
    assert "could not be reached" in components["PodKey"]["properties"]["holds"]["description"]
    instance = components["OperandInstance"]["properties"]
    assert {"router_ip_address", "stuck_rollout"} <= set(instance)
    assert "/api/v1/instances/{id}/delete-stuck-pods/" in schema["paths"]

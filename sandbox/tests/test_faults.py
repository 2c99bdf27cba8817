"""Fault injection: errors, latency, conflicts, an unreachable server; and /_sandbox/faults."""

import json
import time

import pytest
import urllib3
from kubernetes import client
from kubernetes.dynamic.exceptions import ConflictError, InternalServerError

from .conftest import wait_for


def test_error_rate_one_fails_every_request(fresh):
    kube = fresh()
    cms = kube.r("v1", "ConfigMap")
    kube.sb.faults.error_rate = 1.0
    with pytest.raises(InternalServerError) as exc:
        cms.get(namespace="default")
    status = json.loads(exc.value.body)
    assert exc.value.status == 500
    assert status["reason"] == "InternalError" and status["kind"] == "Status"
    with pytest.raises(client.ApiException) as exc:
        client.CoreV1Api(kube.dyn.client).list_namespace()
    assert exc.value.status == 500
    kube.sb.faults.error_rate = 0.0
    assert cms.get(namespace="default").kind == "ConfigMapList"


def test_partial_error_rate(fresh):
    kube = fresh()
    core = client.CoreV1Api(kube.dyn.client)
    kube.sb.faults.error_rate = 0.5
    outcomes = []
    for _ in range(60):
        try:
            core.read_namespace("default")
            outcomes.append("ok")
        except client.ApiException as exc:
            outcomes.append(exc.status)
    assert set(outcomes) == {"ok", 500}


def test_latency_is_added_to_each_request(fresh):
    kube = fresh()
    core = client.CoreV1Api(kube.dyn.client)
    core.read_namespace("default")
    kube.sb.faults.latency = 0.2
    started = time.monotonic()
    core.read_namespace("default")
    assert time.monotonic() - started >= 0.2
    kube.sb.faults.latency = 0
    started = time.monotonic()
    core.read_namespace("default")
    assert time.monotonic() - started < 0.2


def test_conflict_next_writes(fresh):
    kube = fresh()
    cms = kube.r("v1", "ConfigMap")
    kube.sb.faults.conflict_next_writes(2)
    for _ in range(2):
        with pytest.raises(ConflictError) as exc:
            cms.create(namespace="default", body={"metadata": {"name": "c"}})
        status = json.loads(exc.value.body)
        assert status["reason"] == "Conflict"
        assert status["message"].startswith('Operation cannot be fulfilled on configmaps "')
    # Reads are not affected, and the third write goes through.
    cms.get(namespace="default")
    assert cms.create(namespace="default", body={"metadata": {"name": "c"}}).metadata.name == "c"


def test_down_refuses_connections_and_comes_back_on_the_same_port(fresh):
    kube = fresh()
    core = client.CoreV1Api(kube.dyn.client)
    port = kube.sb.port
    core.read_namespace("default")  # leaves a kept-alive connection in the pool
    kube.sb.faults.down = True
    with pytest.raises(urllib3.exceptions.MaxRetryError) as exc:
        core.read_namespace("default")
    assert isinstance(exc.value.reason, urllib3.exceptions.NewConnectionError)
    assert "refused" in str(exc.value.reason).lower()
    kube.sb.faults.down = False
    assert kube.sb.port == port
    assert core.read_namespace("default").metadata.name == "default"


def test_request_log_records_api_requests(fresh):
    kube = fresh()
    kube.sb.clear_request_log()
    kube.r("v1", "ConfigMap").get(namespace="default", label_selector="a=b")
    log = kube.sb.request_log
    method, path, query = log[-1]
    assert (method, path) == ("GET", "/api/v1/namespaces/default/configmaps")
    assert query == {"labelSelector": "a=b"}
    kube.sb.clear_request_log()
    assert kube.sb.request_log == []


def test_faults_over_http(fresh):
    kube = fresh()
    rest = kube.dyn.client.rest_client
    url = f"{kube.sb.url}/_sandbox/faults"
    auth = {"authorization": "Bearer secret", "Content-Type": "application/json"}

    unauthorized = rest.request("GET", url, headers={"Content-Type": "application/json"})
    unauthorized.read()
    assert unauthorized.status == 401

    response = rest.request("POST", url, headers=auth, body={"error_rate": 1.0, "latency": 0.05})
    response.read()
    assert response.status == 200
    assert json.loads(response.data)["error_rate"] == 1.0
    assert kube.sb.faults.error_rate == 1.0 and kube.sb.faults.latency == 0.05
    with pytest.raises(client.ApiException):
        client.CoreV1Api(kube.dyn.client).read_namespace("default")

    response = rest.request(
        "POST", url, headers=auth, body={"reset": True, "conflict_next_writes": 1}
    )
    response.read()
    response = rest.request("GET", url, headers=auth)
    response.read()
    state = json.loads(response.data)
    assert state == {"error_rate": 0.0, "latency": 0.0, "conflict_next_writes": 1, "down": False}

    bad = rest.request("POST", url, headers=auth, body={"error_rate": 7})
    bad.read()
    assert bad.status == 400

    # Going down over HTTP needs a way back: down_for re-opens by itself.
    response = rest.request("POST", url, headers=auth, body={"down_for": 0.3})
    response.read()
    assert response.status == 200 and json.loads(response.data)["down"] is True
    wait_for(lambda: kube.sb.faults.down, timeout=2)  # goes down once the response is out
    wait_for(lambda: not kube.sb.faults.down, timeout=5)
    assert client.CoreV1Api(kube.dyn.client).read_namespace("default").metadata.name == "default"

"""添加路由规则: a route rule opens a chosen (or automatic) port on one of the cluster's exits
and forwards TCP to a Service of the instance; reached here with a real memcached client."""

import pytest
from django.core.exceptions import ValidationError
from pymemcache.client.base import Client
from rest_framework.test import APIClient

from clusters import services as cluster_services
from clusters.models import ClusterExit
from instances import memcached
from instances import services as instance_services
from tests.conftest import free_port, sandbox_object, wait_until

from .conftest import create, follow


def _free_node_port(cluster):
    """A node port no Service of the cluster holds yet (the whole cluster shares them)."""
    from clusters import kube

    taken = {
        port.get("nodePort")
        for service in kube.gateway_for(cluster).list("v1", "Service")
        for port in (service.get("spec") or {}).get("ports") or []
    }
    return next(p for p in range(31000, 32767) if p not in taken)


@pytest.fixture
def router_exit(sandbox_cluster, platform_admin):
    return cluster_services.add_cluster_exit(
        actor=platform_admin, cluster=sandbox_cluster, name="router", kind="NodePort"
    )


def _set_get(address):
    """set then get through the address; None while nothing answers there yet (the
    cluster's proxy opens the port on its next pass)."""
    host, port = memcached.split_address(address)
    client = Client((host, port), connect_timeout=3, timeout=3)
    try:
        client.set("route-rule", b"works")
        return client.get("route-rule")
    except OSError:
        return None
    finally:
        client.close()


def test_a_chosen_port_on_a_named_exit_is_reached_with_a_real_client(
    running, sandbox, router_exit, django_capture_on_commit_callbacks
):
    port = _free_node_port(running.cluster)
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.set_external_access(
            actor=running.created_by,
            instance=running,
            enabled=True,
            service_exit=router_exit,
            port=port,
            service="mem1-mcrouter-service",
        )
    running.refresh_from_db()
    service = sandbox_object(sandbox, "v1", "Service", running.namespace, "mem1-mcrouter-external")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == port
    assert running.access_state == "exposed"
    assert running.access_address == f"127.{sandbox.network.base}.0.11:{port}"
    # The seed's telnet step, with a real memcached client, through the exit's port.
    assert wait_until(lambda: _set_get(running.access_address) == b"works", timeout=15)


def test_a_port_taken_by_another_rule_or_out_of_range_is_refused_on_the_field(
    running, installed, router_exit, sandbox, django_capture_on_commit_callbacks
):
    port = _free_node_port(running.cluster)
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.set_external_access(
            actor=running.created_by, instance=running, enabled=True, port=port
        )
    other = create(installed, django_capture_on_commit_callbacks, name="mem2")
    follow(other, {"running"})
    with pytest.raises(ValidationError) as taken:
        instance_services.set_external_access(
            actor=other.created_by,
            instance=other,
            enabled=True,
            service_exit=router_exit,
            port=port,
        )
    assert taken.value.error_dict["port"][0].code == "route_port_taken"
    assert f"Port {port} is taken on this exit (by mem1)" in taken.value.messages[0]
    with pytest.raises(ValidationError) as out_of_range:
        instance_services.set_external_access(
            actor=other.created_by, instance=other, enabled=True, port=8080
        )
    assert "from 30000 to 32767" in out_of_range.value.messages[0]
    with pytest.raises(ValidationError) as unknown:
        instance_services.set_external_access(
            actor=other.created_by, instance=other, enabled=True, service="kube-dns"
        )
    assert unknown.value.error_dict["service"][0].code == "route_target_unknown"
    other.refresh_from_db()
    assert not other.expose_requested and other.access_state == "none"


def test_the_clusters_refusal_of_a_port_is_said_on_the_access_panel(
    running, sandbox, sandbox_cluster, django_capture_on_commit_callbacks
):
    """kube-apiserver refuses a nodePort another Service holds with a 422 whose cause reads
    "provided port is already allocated" (kubernetes pkg/registry/core/service/portallocator,
    ErrAllocated); its default --service-node-port-range is 30000-32767, the range the form
    checks. The product shows the cluster's words, whatever the cluster."""
    from clusters import kube

    port = _free_node_port(running.cluster)
    # Someone else's Service holds the port (not one of our route rules).
    kube.gateway_for(sandbox_cluster).apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "squatter", "namespace": running.namespace},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "none"},
                "ports": [{"port": 80, "nodePort": port}],
            },
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        instance_services.set_external_access(
            actor=running.created_by, instance=running, enabled=True, port=port
        )
    running.refresh_from_db()
    assert running.access_state == "failed"
    assert "provided port is already allocated" in running.access_error


def test_exits_over_the_api_and_the_route_rule_body(
    running, sandbox, sandbox_cluster, platform_admin, django_capture_on_commit_callbacks
):
    admin = APIClient()
    admin.force_authenticate(platform_admin)
    created = admin.post(
        f"/api/v1/clusters/{sandbox_cluster.pk}/exits/",
        {"name": "lb", "kind": "LoadBalancer"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    bad = admin.post(
        f"/api/v1/clusters/{sandbox_cluster.pk}/exits/",
        {"name": "lb", "kind": "Ingress"},
        format="json",
    )
    assert bad.status_code == 400 and "kind" in bad.json()["fields"]
    buyer = APIClient()
    buyer.force_authenticate(running.created_by)
    listed = buyer.get(f"/api/v1/clusters/{sandbox_cluster.pk}/exits/").json()
    assert [e["name"] for e in listed["results"]] == ["lb"]
    assert (
        buyer.post(
            f"/api/v1/clusters/{sandbox_cluster.pk}/exits/", {"name": "x", "kind": "NodePort"}
        ).status_code
        == 403
    )
    port = free_port() % 20000 + 20000  # any port: a LoadBalancer listens where asked
    with django_capture_on_commit_callbacks(execute=True):
        response = buyer.post(
            f"/api/v1/instances/{running.pk}/access/",
            {"exit": created.json()["id"], "port": port, "protocol": "TCP"},
            format="json",
        )
    assert response.status_code == 202, response.json()

    def exposed():
        from instances import tasks

        tasks.sync_instances(running.cluster_id, force=True)
        running.refresh_from_db()
        return running.access_state == "exposed"

    wait_until(exposed, timeout=15, message="the load balancer's address")
    assert running.access_address.endswith(f":{port}")
    assert wait_until(lambda: _set_get(running.access_address) == b"works", timeout=15)
    # The exit cannot go while the rule uses it.
    in_use = admin.delete(f"/api/v1/clusters/{sandbox_cluster.pk}/exits/{created.json()['id']}/")
    assert in_use.status_code == 400 and in_use.json()["code"] == "exit_in_use"
    assert ClusterExit.objects.filter(name="lb").exists()


def test_route_rule_form_on_the_access_tab(client, running, router_exit, sandbox):
    client.force_login(running.created_by)
    page = client.get(f"/instances/{running.pk}/access/").content.decode()
    assert 'data-testid="route-form"' in page
    assert '<option value="mem1-mcrouter-service" selected>' in page
    assert "router · NodePort" in page
    bad = client.post(
        f"/instances/{running.pk}/access/change/",
        {
            "enabled": "1",
            "service": "mem1-mcrouter-service",
            "exit": router_exit.pk,
            "protocol": "TCP",
            "port": "80",
        },
    )
    assert bad.status_code == 400
    assert "from 30000 to 32767" in bad.content.decode()

"""验证访问 and 监控 against Debian's real memcached (and a closed port).

Here the tests point MEMCACHED_ACCESS_OVERRIDES (kept for clusters the platform cannot
reach) at a memcached they start on a free loopback port; without it the worker goes to
the addresses the cluster reports (test_verify_per_pod.py).
"""

from datetime import timedelta

from django.utils import timezone
from pymemcache.client.base import Client

from instances import memcached
from instances import selectors as instance_selectors
from instances import services as instance_services
from instances import tasks as instance_tasks
from instances.models import InstanceMetric, OperandInstance
from tests.conftest import sandbox_object

from .conftest import follow


def _override(settings, instance, address):
    settings.MEMCACHED_ACCESS_OVERRIDES = {f"{instance.namespace}/{instance.name}": address}


def _verify(instance, capture):
    with capture(execute=True):
        instance_services.request_verify(actor=instance.created_by, instance=instance)
    instance.refresh_from_db()
    return instance


def test_verify_sets_then_gets_a_key_through_a_real_memcached(
    running, settings, memcached_server, django_capture_on_commit_callbacks
):
    _override(settings, running, memcached_server)
    _verify(running, django_capture_on_commit_callbacks)
    assert running.verify_ok is True and running.verify_running is False
    assert "STORED" in running.verify_message and memcached_server in running.verify_message
    assert running.verify_address == memcached_server
    assert running.verify_ms is not None and 0 < running.verify_ms < 3000
    assert running.events.filter(reason="AccessVerified").exists()
    # An override stands for a cluster the platform cannot reach: its pods are not read.
    assert running.verify_source == "override" and running.verify_pods == []
    assert running.verify_distribution_ok is None and running.verify_distribution_message
    # The key was really written there, and cleaned up afterwards.
    host, port = memcached_server.split(":")
    assert Client((host, int(port))).stats()[b"cmd_set"] >= 1


def test_verify_against_a_closed_port_says_connection_refused(
    running, settings, closed_port, django_capture_on_commit_callbacks
):
    _override(settings, running, closed_port)
    _verify(running, django_capture_on_commit_callbacks)
    assert running.verify_ok is False
    assert running.verify_message == f"{closed_port}: connection refused"
    assert running.verify_ms is None
    assert running.events.filter(reason="AccessVerifyFailed", type="Warning").exists()


def test_without_override_verify_goes_to_the_router_cluster_ip_the_cluster_reports(
    running, settings, sandbox, django_capture_on_commit_callbacks
):
    """No "simulated cluster" refusal: the worker runs in the cluster's network, so it
    connects to the router Service's spec.clusterIP:port as the sandbox reports it."""
    settings.MEMCACHED_ACCESS_OVERRIDES = {}
    settings.MEMCACHED_VERIFY_TIMEOUT = 1
    service = sandbox_object(sandbox, "v1", "Service", running.namespace, "mem1-mcrouter-service")
    cluster_ip = f"{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    assert running.router_ip_address == cluster_ip
    target = instance_selectors.access_target(running)
    assert (target.address, target.source, target.problem) == (cluster_ip, "cluster-ip", "")
    _verify(running, django_capture_on_commit_callbacks)
    assert (running.verify_address, running.verify_source) == (cluster_ip, "cluster-ip")
    assert cluster_ip in running.verify_message
    assert "simulated" not in running.verify_message


def test_the_target_is_the_override_then_the_exit_then_the_cluster_ip_then_dns(settings):
    instance = OperandInstance(namespace="shop", name="cache")
    target = instance_selectors.access_target(instance)
    assert (target.address, target.source) == ("cache-mcrouter-service.shop.svc:11211", "dns")
    instance.router_ip_address = "10.96.0.12:11211"
    target = instance_selectors.access_target(instance)
    assert (target.address, target.source) == ("10.96.0.12:11211", "cluster-ip")
    # An exit still opening is not used; once exposed it is.
    instance.access_address, instance.access_state = "192.168.2.65:57006", "exposing"
    assert instance_selectors.access_target(instance).source == "cluster-ip"
    instance.access_state = "exposed"
    target = instance_selectors.access_target(instance)
    assert (target.address, target.source) == ("192.168.2.65:57006", "external")
    settings.MEMCACHED_ACCESS_OVERRIDES = {"shop/cache": "127.0.0.1:11299"}
    target = instance_selectors.access_target(instance)
    assert (target.address, target.source) == ("127.0.0.1:11299", "override")
    assert "MEMCACHED_ACCESS_OVERRIDES" in target.label


def test_the_router_cluster_ip_comes_from_the_service_spec():
    def service(name, cluster_ip, ports):
        return {"metadata": {"name": name}, "spec": {"clusterIP": cluster_ip, "ports": ports}}

    router = service("c-mcrouter-service", "10.96.4.7", [{"port": 11211}])
    headless = service("c-memcached", "None", [{"port": 11211}])
    assert memcached.router_ip_address([headless, router], name="c") == "10.96.4.7:11211"
    assert memcached.router_ip_address([headless], name="c") == ""
    v6 = service("c-mcrouter-service", "fd00::12", [{"port": 9000}])
    assert memcached.router_ip_address([v6], name="c") == "[fd00::12]:9000"
    assert memcached.split_address("[fd00::12]:9000") == ("fd00::12", 9000)


def test_stats_polling_fills_the_time_series_and_the_charts(
    running, settings, memcached_server, time_machine
):
    _override(settings, running, memcached_server)
    host, port = memcached_server.split(":")
    client = Client((host, int(port)))
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    assert instance_tasks.poll_stats() == 1
    client.set("a", "1")
    client.set("b", "2")
    for key in ("a", "b", "a", "missing"):
        client.get(key)
    time_machine.move_to(start + timedelta(seconds=60), tick=False)
    instance_tasks.poll_stats()
    points = list(InstanceMetric.objects.filter(instance=running).order_by("time"))
    assert len(points) == 2
    assert (points[1].hits - points[0].hits, points[1].misses - points[0].misses) == (3, 1)
    assert points[1].items == 2 and points[1].limit_maxbytes == 16 * 2**20
    assert points[1].hit_ratio == round(points[1].hits / (points[1].hits + points[1].misses), 4)
    running.refresh_from_db()
    assert running.stats_error == "" and running.stats_at is not None
    metrics = instance_selectors.metrics_of(instance=running, range_name="1h")
    assert metrics["hits"][-1] == 3 and metrics["misses"][-1] == 1
    assert metrics["hit_ratio"][-1] == 75.0
    assert metrics["items"][-1] == 2
    assert metrics["latest"]["limit_maxbytes"] == 16 * 2**20


def test_stats_of_an_unreachable_instance_are_reported_not_raised(running, settings, closed_port):
    _override(settings, running, closed_port)
    assert instance_tasks.poll_stats() == 1
    running.refresh_from_db()
    assert running.stats_error == f"{closed_port}: connection refused"
    assert not InstanceMetric.objects.filter(instance=running).exists()


def test_old_points_are_pruned_and_ranges_cut(running, settings, time_machine, closed_port):
    now = timezone.now()
    time_machine.move_to(now, tick=False)
    for age in (timedelta(days=9), timedelta(days=3), timedelta(hours=5), timedelta(minutes=5)):
        InstanceMetric.objects.create(instance=running, time=now - age, hits=1, limit_maxbytes=1)
    _override(settings, running, closed_port)
    instance_tasks.poll_stats()  # nothing listens there: nothing read, old points go
    times = sorted(InstanceMetric.objects.filter(instance=running).values_list("time", flat=True))
    assert len(times) == 3 and min(times) > now - timedelta(days=8)
    assert len(instance_selectors.metrics_of(instance=running, range_name="1h")["labels"]) == 1
    assert len(instance_selectors.metrics_of(instance=running, range_name="24h")["labels"]) == 2
    assert len(instance_selectors.metrics_of(instance=running, range_name="7d")["labels"]) == 3
    running.refresh_from_db()
    assert running.stats_error == f"{closed_port}: connection refused"


def test_seven_days_of_points_are_drawn_with_at_most_240(running, time_machine):
    now = timezone.now()
    time_machine.move_to(now, tick=False)
    InstanceMetric.objects.bulk_create(
        InstanceMetric(instance=running, time=now - timedelta(minutes=10 * i), hits=10_000 - i)
        for i in range(1000)
    )
    metrics = instance_selectors.metrics_of(instance=running, range_name="7d")
    assert 200 <= len(metrics["labels"]) <= 240
    assert sum(h or 0 for h in metrics["hits"]) == 999


def test_instances_not_running_are_not_polled(
    installed, settings, memcached_server, django_capture_on_commit_callbacks
):
    from .conftest import create

    instance = create(installed, django_capture_on_commit_callbacks, name="young")
    follow(instance, {"creating", "running"})
    instance.status = "creating"
    instance.save()
    _override(settings, instance, memcached_server)
    assert instance_tasks.poll_stats() == 0

"""验证访问 and 监控 against Debian's real memcached (and a closed port).

Nothing answers on the sandbox's pod IPs or node ports, so the tests point
MEMCACHED_ACCESS_OVERRIDES at a memcached they start on a free loopback port.
"""

from datetime import timedelta

from django.utils import timezone
from pymemcache.client.base import Client

from instances import selectors as instance_selectors
from instances import services as instance_services
from instances import tasks as instance_tasks
from instances.models import InstanceMetric

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


def test_verify_on_a_simulated_cluster_without_override_connects_nowhere(
    running, settings, django_capture_on_commit_callbacks
):
    settings.MEMCACHED_ACCESS_OVERRIDES = {}
    _verify(running, django_capture_on_commit_callbacks)
    assert running.verify_ok is False
    assert "simulated cluster" in running.verify_message
    assert running.router_address in running.verify_message
    target = instance_selectors.access_target(running)
    assert target.address == "" and target.problem


def test_real_clusters_use_the_service_exit_then_the_router(running, sandbox_cluster):
    sandbox_cluster.is_sandbox = False
    sandbox_cluster.save()
    running.refresh_from_db()
    assert instance_selectors.access_target(running).address == (
        f"mem1-mcrouter-service.{running.namespace}.svc:11211"
    )
    running.access_address = "192.168.2.65:57006"
    target = instance_selectors.access_target(running)
    assert (target.address, target.source) == ("192.168.2.65:57006", "external")


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


def test_old_points_are_pruned_and_ranges_cut(running, settings, time_machine):
    settings.MEMCACHED_ACCESS_OVERRIDES = {}
    now = timezone.now()
    time_machine.move_to(now, tick=False)
    for age in (timedelta(days=9), timedelta(days=3), timedelta(hours=5), timedelta(minutes=5)):
        InstanceMetric.objects.create(instance=running, time=now - age, hits=1, limit_maxbytes=1)
    instance_tasks.poll_stats()  # the sandbox has no override: nothing read, old points go
    times = sorted(InstanceMetric.objects.filter(instance=running).values_list("time", flat=True))
    assert len(times) == 3 and min(times) > now - timedelta(days=8)
    assert len(instance_selectors.metrics_of(instance=running, range_name="1h")["labels"]) == 1
    assert len(instance_selectors.metrics_of(instance=running, range_name="24h")["labels"]) == 2
    assert len(instance_selectors.metrics_of(instance=running, range_name="7d")["labels"]) == 3
    running.refresh_from_db()
    assert "simulated cluster" in running.stats_error


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

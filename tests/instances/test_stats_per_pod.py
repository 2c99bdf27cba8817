"""监控 reads `stats` from each memcached pod, as a router's own `stats` are not memcached's
(twemproxy answers none over the protocol, mcrouter reports its routing): sharded pods add
up, replset pods each hold the whole set. Real memcached processes on loopback addresses,
reported as a networked cluster reports them."""

from django.utils import translation
from pymemcache.client.base import Client

from instances import tasks as instance_tasks
from instances.models import InstanceMetric
from tests.instances.test_event_language import page_text

from .loopback import free_block, memcached_at
from .test_verify_per_pod import replset, reported_on  # noqa: F401


def _put(address, keys):
    host, port = address.rsplit(":", 1)
    client = Client((host, int(port)), connect_timeout=2, timeout=2)
    try:
        for key in keys:
            client.set(key, b"x" * 10)
        client.get("a-miss-" + keys[0])
    finally:
        client.close()


def _latest(instance):
    instance_tasks.poll_stats()
    instance.refresh_from_db()
    return InstanceMetric.objects.filter(instance=instance).order_by("-time", "-id").first()


def test_sharded_stats_add_up_over_the_pods(running):
    block = free_block()
    with memcached_at(f"{block}.2") as a, memcached_at(f"{block}.3") as b:
        assert reported_on(running, block) == [a, b]
        _put(a, ["k1", "k2", "k3"])
        _put(b, ["k4", "k5"])
        point = _latest(running)
    assert running.stats_error == ""
    assert point.items == 5 and point.misses == 2
    assert point.limit_maxbytes == 2 * 16 * 1024 * 1024  # two pods of -m 16


def test_replset_stats_count_the_set_once(replset):  # noqa: F811
    block = free_block()
    with (
        memcached_at(f"{block}.2") as a,
        memcached_at(f"{block}.3") as b,
        memcached_at(f"{block}.4") as c,
    ):
        assert reported_on(replset, block) == [a, b, c]
        for address in (a, b, c):
            _put(address, ["same-1", "same-2"])
        point = _latest(replset)
    assert replset.stats_error == ""
    assert point.items == 2 and point.misses == 3
    assert point.limit_maxbytes == 16 * 1024 * 1024


def test_no_pod_answering_is_the_stats_error(running):
    block = free_block()
    reported_on(running, block)  # nothing listens there
    instance_tasks.poll_stats()
    running.refresh_from_db()
    assert "connection refused" in running.stats_error
    assert f"{block}.2:11211" in running.stats_error


def test_the_stats_error_reads_in_the_readers_language(running, client):
    """The worker writes it in English; a 中文 reader of 监控 reads it in Chinese, with the
    pods' addresses as the cluster reported them."""
    block = free_block()
    reported_on(running, block)  # nothing listens there
    with translation.override("en"):
        instance_tasks.poll_stats()
    running.refresh_from_db()
    first, second = f"{block}.2:11211", f"{block}.3:11211"
    assert running.stats_error == f"{first}: connection refused; {second}: connection refused"
    client.force_login(running.created_by)
    url = f"/instances/{running.pk}/monitoring/"
    zh = page_text(client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    assert f"{first}：连接被拒绝；{second}：连接被拒绝" in zh
    assert "connection refused" not in zh
    english = page_text(client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert running.stats_error in english

"""Installs done by a real Celery worker process on Redis against the sandbox cluster.

A worker killed mid-install and restarted finishes with exactly one Subscription; a
cluster answering 500s, or down, for a while delays an installation but never loses it.
"""

import time
import uuid

import pytest
import redis
from celery import Celery

from tests.conftest import sandbox_object, wait_until
from tests.provisioning.conftest import PACKAGE

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

V1 = "operators.coreos.com/v1alpha1"


@pytest.fixture
def not_eager(settings):
    """In these tests work goes through the broker to the real worker, never inline.

    Celery reads `task_always_eager` through the Django setting (namespace CELERY), so
    that is what is overridden; pytest-django restores it.
    """
    from marketplace.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert app.conf.task_always_eager is False


@pytest.fixture
def broker(redis_url):
    queue = f"prov-{uuid.uuid4().hex[:8]}"
    sender = Celery(broker=redis_url, set_as_current=False)
    yield sender, queue
    redis.Redis.from_url(redis_url).delete(queue)


def _request_install(buyer, version, cluster):
    from provisioning import services

    installation = services.request_installation(
        actor=buyer.owner,
        tenant=buyer,
        project=buyer.project,
        cluster=cluster,
        version=version,
        approval="Automatic",
    )
    return installation


def _send(broker, name, *args):
    sender, queue = broker
    sender.send_task(name, args=list(args), queue=queue)


def _subscriptions(sandbox, namespace):
    items, _rv = sandbox.store.list(sandbox.store.type_for(V1, "Subscription"), namespace)
    return items


def _follow_until_installed(broker, installation, timeout=60):
    def installed():
        _send(broker, "provisioning.tasks.sync_cluster", installation.cluster_id, True)
        time.sleep(0.5)
        installation.refresh_from_db()
        return installation.status == "installed"

    wait_until(installed, timeout=timeout, interval=0.5, message="installed")


def test_worker_killed_mid_install_finishes_with_one_subscription(
    worker_factory,
    broker,
    buyer,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    sandbox_faults,
    not_eager,
):
    installation = _request_install(buyer, on_sale_version, sandbox_cluster)
    _sender, queue = broker
    worker = worker_factory(queue=queue, TEST_CELERY_VISIBILITY_TIMEOUT="3")
    sandbox_faults.latency = 1.0  # every API call takes a second: time to kill mid-way
    sandbox.clear_request_log()
    _send(broker, "provisioning.tasks.install_operator", installation.pk)
    wait_until(
        lambda: any(r.method == "PATCH" for r in sandbox.request_log),
        timeout=30,
        message="the first write of the install",
    )
    worker.kill()
    installation.refresh_from_db()
    assert installation.status in ("pending", "subscribing")

    sandbox_faults.reset()
    worker_factory(queue=queue, TEST_CELERY_VISIBILITY_TIMEOUT="3")
    # The unacknowledged job is delivered again to the new worker (acks_late).
    wait_until(
        lambda: _subscriptions(sandbox, buyer.project.namespace),
        timeout=60,
        interval=0.5,
        message="the redelivered job to subscribe",
    )
    _follow_until_installed(broker, installation)
    assert len(_subscriptions(sandbox, buyer.project.namespace)) == 1
    groups, _rv = sandbox.store.list(
        sandbox.store.type_for("operators.coreos.com/v1", "OperatorGroup"), buyer.project.namespace
    )
    assert len(groups) == 1


def test_a_cluster_answering_500s_for_a_while_delays_but_never_loses_the_install(
    worker_factory,
    broker,
    buyer,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    sandbox_faults,
    not_eager,
):
    installation = _request_install(buyer, on_sale_version, sandbox_cluster)
    _sender, queue = broker
    worker = worker_factory(queue=queue, TEST_INSTALL_RESUBMIT_AFTER="3")
    sandbox_faults.error_rate = 1.0
    _send(broker, "provisioning.tasks.install_operator", installation.pk)

    def retried():
        installation.refresh_from_db()
        assert "install of" not in worker.log.read_text(), (
            installation.status,
            worker.log.read_text(),
        )
        return "Retry in" in worker.log.read_text()

    wait_until(retried, timeout=30, message="a retry with back-off")
    time.sleep(2)
    installation.refresh_from_db()
    assert installation.status in ("pending", "subscribing")  # delayed, not failed
    sandbox_faults.reset()
    _follow_until_installed(broker, installation, timeout=90)
    assert sandbox_object(sandbox, V1, "Subscription", buyer.project.namespace, PACKAGE)


def test_a_cluster_down_for_a_while_delays_but_never_loses_the_install(
    worker_factory,
    broker,
    buyer,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    sandbox_faults,
    not_eager,
):
    installation = _request_install(buyer, on_sale_version, sandbox_cluster)
    _sender, queue = broker
    worker = worker_factory(queue=queue)
    sandbox_faults.down = True
    _send(broker, "provisioning.tasks.install_operator", installation.pk)
    wait_until(
        lambda: "connection refused" in worker.log.read_text(),
        timeout=30,
        message="the worker to meet a cluster that is down",
    )
    sandbox_faults.down = False
    _follow_until_installed(broker, installation, timeout=90)
    assert len(_subscriptions(sandbox, buyer.project.namespace)) == 1

"""Paying and installing are two steps; a process that dies between them loses nothing.

A real process pays an order and is SIGKILLed at the moment it would enqueue the install
job (after the payment committed). A real worker then runs the reconciler, which finds the
paid order without an installation and installs it through the real queue, exactly once.
"""

import subprocess
import sys
import textwrap
import uuid
from decimal import Decimal

import pytest
import redis

from tests.conftest import wait_until
from tests.integration.conftest import ROOT, clean_env, database_url_of_test_db

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

V1 = "operators.coreos.com/v1alpha1"

PAYER = textwrap.dedent(
    """
    import os, signal, sys
    import django

    django.setup()
    from accounts.models import Project, User
    from assets.models import Plan
    from clusters.models import Cluster
    from orders import services
    from provisioning import paid_orders

    def die(*args, **kwargs):
        # The payment has committed (order_paid goes out on commit): die right here,
        # before the install job reaches the broker.
        os.kill(os.getpid(), signal.SIGKILL)

    paid_orders.install_paid_order.delay = die
    user_id, plan_id, project_id, cluster_id = map(int, sys.argv[1:5])
    services.place_order(
        actor=User.objects.get(pk=user_id),
        plan=Plan.objects.get(pk=plan_id),
        project=Project.objects.get(pk=project_id),
        cluster=Cluster.objects.get(pk=cluster_id),
        channel="stable",
        pay_now=True,
        idempotency_key=sys.argv[5],
    )
    print("survived", flush=True)
    """
)


@pytest.fixture
def not_eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False


def _succeeded(worker, task):
    return sum(
        1
        for line in worker.log.read_text().splitlines()
        if f"Task {task}[" in line and " succeeded in " in line
    )


def _subscriptions(sandbox, namespace):
    items, _rv = sandbox.store.list(sandbox.store.type_for(V1, "Subscription"), namespace)
    return items


def test_a_payer_killed_after_commit_still_gets_its_operator_installed_once(
    worker_factory,
    redis_url,
    tenant_with_owner,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    platform_admin,
    not_eager,
):
    from accounts import services as account_services
    from orders import services as order_services
    from orders.models import Order
    from provisioning.models import Installation

    tenant, owner = tenant_with_owner(f"payer-{uuid.uuid4().hex[:4]}")
    project = account_services.create_project(
        actor=owner, tenant=tenant, name="cache", namespace=f"cache-{uuid.uuid4().hex[:6]}"
    )
    order_services.top_up_wallet(
        actor=platform_admin, tenant=tenant, amount=Decimal("10.00"), reason="test credit"
    )
    queue = f"paid-{uuid.uuid4().hex[:8]}"
    env = clean_env(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DATABASE_URL=database_url_of_test_db(),
        TEST_CELERY_BROKER_URL=redis_url,
        TEST_CELERY_EAGER="0",
        TEST_CELERY_DEFAULT_QUEUE=queue,
    )
    payer = subprocess.run(
        [
            sys.executable,
            "-c",
            PAYER,
            str(owner.pk),
            str(on_sale_version.asset.plans.first().pk),
            str(project.pk),
            str(sandbox_cluster.pk),
            uuid.uuid4().hex,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert payer.returncode == -9, payer.stdout + payer.stderr
    order = Order.objects.get(buyer=tenant)
    assert order.status == Order.Status.PAID  # the money moved: the payment committed
    assert not Installation.objects.filter(order=order).exists()
    assert redis.Redis.from_url(redis_url).llen(queue) == 0  # and no job was sent

    # The reconciler's age threshold is 0 here; beat would find the order a minute later.
    worker = worker_factory(
        queue=queue, TEST_CELERY_DEFAULT_QUEUE=queue, PAID_ORDER_RECONCILE_AFTER="0"
    )
    from celery import Celery

    sender = Celery(broker=redis_url, set_as_current=False)
    sender.send_task("provisioning.paid_orders.reconcile_paid_orders", queue=queue)
    wait_until(
        lambda: _subscriptions(sandbox, project.namespace),
        timeout=60,
        interval=0.5,
        message="the reconciled order's Subscription",
    )
    # Beat keeps running the reconciler: nothing more happens.
    for _ in range(2):
        sender.send_task("provisioning.paid_orders.reconcile_paid_orders", queue=queue)
    sender.send_task("provisioning.paid_orders.install_paid_order", args=[order.pk], queue=queue)

    wait_until(
        lambda: (
            _succeeded(worker, "provisioning.paid_orders.reconcile_paid_orders") >= 3
            and _succeeded(worker, "provisioning.paid_orders.install_paid_order") >= 2
        ),
        timeout=60,
        interval=0.5,
        message="the worker to finish the reconciler rounds and both deliveries",
    )
    assert Installation.objects.filter(order=order).count() == 1
    assert len(_subscriptions(sandbox, project.namespace)) == 1
    redis.Redis.from_url(redis_url).delete(queue)

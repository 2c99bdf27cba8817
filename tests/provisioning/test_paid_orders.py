"""Paid orders become installations durably: one job per order, and a reconciler for the
payments whose job was lost. The worker's jobs run inline on commit (eager)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from orders import services as order_services
from orders.models import Order
from provisioning import paid_orders, services, tasks
from provisioning.models import Installation, OrderInstallRefusal


@pytest.fixture
def newcomer(tenant_with_owner, on_sale_version, platform_admin):
    """A buyer tenant with a project and 100 T, holding nothing yet."""
    from accounts import services as account_services

    tenant, owner = tenant_with_owner(f"new-{uuid.uuid4().hex[:4]}")
    tenant.owner = owner
    tenant.project = account_services.create_project(
        actor=owner, tenant=tenant, name="cache", namespace=f"cache-{uuid.uuid4().hex[:6]}"
    )
    order_services.top_up_wallet(
        actor=platform_admin, tenant=tenant, amount=Decimal("100.00"), reason="test credit"
    )
    return tenant


@pytest.fixture
def pay(newcomer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks):
    """pay(): the newcomer buys mem1 for its project on the sandbox and pays now."""

    def do():
        with django_capture_on_commit_callbacks(execute=True):
            return order_services.place_order(
                actor=newcomer.owner,
                plan=on_sale_version.asset.plans.first(),
                project=newcomer.project,
                cluster=sandbox_cluster,
                channel="stable",
                pay_now=True,
                idempotency_key=uuid.uuid4().hex,
            )

    return do


def _already_there(tenant, version, cluster):
    """The operator already runs in the tenant's namespace (say, from an earlier purchase
    whose entitlement lapsed before this one)."""
    return Installation.objects.create(
        tenant=tenant,
        project=tenant.project,
        cluster=cluster,
        asset=version.asset,
        version=version,
        namespace=tenant.project.namespace,
        package=version.package_name,
        channel="stable",
        catalog_source="mem-registry",
        catalog_namespace="olm",
        status=Installation.Status.INSTALLED,
    )


@pytest.fixture
def lost_jobs(monkeypatch):
    """The broker drops every install_paid_order message (as if the process that paid died
    between commit and enqueue); the list keeps what was dropped."""
    dropped = []
    monkeypatch.setattr(paid_orders.install_paid_order, "delay", lambda *args: dropped.append(args))
    return dropped


def test_paying_installs_once_and_links_the_order(pay):
    order = pay()
    installation = Installation.objects.get(order=order)
    assert order.status == Order.Status.PAID
    assert installation.namespace == order.project.namespace
    assert installation.cluster_id == order.cluster_id
    assert installation.channel == "stable" and installation.request_key == f"order:{order.code}"
    # The job delivered again (a redelivery after a worker died) installs nothing more.
    assert paid_orders.install_paid_order(order.pk) == installation.pk
    assert Installation.objects.filter(order=order).count() == 1


def test_a_lost_job_is_found_by_the_reconciler_and_installs_exactly_once(pay, lost_jobs, settings):
    settings.PAID_ORDER_RECONCILE_AFTER = 60
    order = pay()
    assert lost_jobs == [(order.pk,)]
    assert not Installation.objects.filter(order=order).exists()
    # Younger than a minute: maybe its job is just slow; the reconciler leaves it.
    assert paid_orders.reconcile_paid_orders() == 0
    with time_machine.travel(order.paid_at + timedelta(seconds=61), tick=False):
        lost_jobs.clear()
        assert paid_orders.reconcile_paid_orders() == 1
        assert lost_jobs == [(order.pk,)]
        # This time the job runs (the broker is back).
        paid_orders.install_paid_order(order.pk)
        installation = Installation.objects.get(order=order)
        assert installation.namespace == order.project.namespace
        # Found once, never again: a second round, and a late duplicate of the first
        # delivery, change nothing.
        lost_jobs.clear()
        assert paid_orders.reconcile_paid_orders() == 0 and lost_jobs == []
        paid_orders.install_paid_order(order.pk)
    assert Installation.objects.filter(order=order).count() == 1


def test_a_refused_install_is_recorded_once_and_not_retried(
    pay, lost_jobs, newcomer, on_sale_version, sandbox_cluster
):
    _already_there(newcomer, on_sale_version, sandbox_cluster)
    second = pay()  # the same operator, the same namespace: OLM allows one Subscription
    assert services.install_paid_order(order_id=second.pk) is None
    refusal = OrderInstallRefusal.objects.get(order=second)
    assert refusal.code == "already_installed"
    assert "already installed" in refusal.reason and second.project.namespace in refusal.reason
    assert not Installation.objects.filter(order=second).exists()
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        lost_jobs.clear()
        paid_orders.reconcile_paid_orders()
        assert (second.pk,) not in lost_jobs
    # Running the job again neither installs nor records a second refusal.
    assert services.install_paid_order(order_id=second.pk) is None
    assert OrderInstallRefusal.objects.filter(order=second).count() == 1


def test_the_order_page_says_where_it_installed(client, pay, newcomer):
    order = pay()
    client.force_login(newcomer.owner)
    html = client.get(f"/orders/{order.code}/").content.decode()
    assert f"/operators/{Installation.objects.get(order=order).pk}/" in html


def test_the_order_page_says_why_it_was_not_installed(
    client, pay, newcomer, on_sale_version, sandbox_cluster
):
    _already_there(newcomer, on_sale_version, sandbox_cluster)
    second = pay()
    client.force_login(newcomer.owner)
    refused = client.get(f"/orders/{second.code}/").content.decode()
    assert 'data-testid="install-refused"' in refused and "already installed" in refused
    assert "/orders/purchased/" in refused


def test_an_unpaid_order_is_never_installed(newcomer, on_sale_version):
    with_deadline = order_services.place_order(
        actor=newcomer.owner,
        plan=on_sale_version.asset.plans.first(),
        project=newcomer.project,
        channel="stable",
        pay_now=False,
    )
    assert services.install_paid_order(order_id=with_deadline.pk) is None
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert with_deadline.pk not in paid_orders.selectors.paid_orders_awaiting_installation(
            paid_before=timezone.now()
        )
    assert not Installation.objects.filter(order=with_deadline).exists()


def test_installation_sync_fans_out_one_job_per_cluster(installed_on_two_clusters, monkeypatch):
    sandbox_cluster, second = installed_on_two_clusters
    sent = []
    monkeypatch.setattr(
        tasks.sync_cluster, "apply_async", lambda args, **options: sent.append((args, options))
    )
    assert tasks.sync_installations() == 2
    assert sorted(args[0] for args, _options in sent) == sorted([sandbox_cluster.pk, second.pk])
    assert all(options.get("expires") for _args, options in sent)
    # While those wait in the queue, beat's later rounds (and install jobs asking for a
    # look) send nothing more: one pending sync per cluster.
    for _ in range(3):
        assert tasks.sync_installations() == 0
        tasks._follow_soon(sandbox_cluster.pk)
    assert len(sent) == 2


def test_the_order_api_links_the_installation_it_created_and_installations_filter_by_order(
    pay, newcomer, on_sale_version, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    from accounts import services as account_services

    order = pay()
    newcomer.project = account_services.create_project(
        actor=newcomer.owner, tenant=newcomer, name="two", namespace=f"two-{uuid.uuid4().hex[:6]}"
    )
    other = _already_there(newcomer, on_sale_version, order.cluster)  # not from this order
    installation = Installation.objects.get(order=order)
    api = APIClient()
    api.force_authenticate(newcomer.owner)
    detail = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["installations"] == [
        {
            "id": installation.pk,
            "url": f"http://testserver/api/v1/installations/{installation.pk}/",
            "status": installation.status,
        }
    ]
    listed = api.get("/api/v1/orders/").json()["results"]
    assert [o["installations"] for o in listed] == [detail["installations"]]
    assert api.get(detail["installations"][0]["url"]).json()["order"] == order.pk
    found = api.get("/api/v1/installations/", {"order": order.pk}).json()
    assert [i["id"] for i in found["results"]] == [installation.pk] != [other.pk]
    every = api.get("/api/v1/installations/").json()["results"]
    assert {i["id"] for i in every} == {installation.pk, other.pk}
    assert api.get("/api/v1/installations/", {"order": 987654}).status_code == 400

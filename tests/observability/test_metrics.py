"""/metrics: a 404 to anyone without the token; with it, every family of issue 17 after a
real purchase (installed on the sandbox through the official client), read from the
database and the broker at scrape time."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core import observability
from tests.provisioning.conftest import buy_now, follow

TOKEN = "scrape-token-0123456789"

pytestmark = pytest.mark.django_db


def scrape(client, token=TOKEN):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def samples(family, name=None, **labels):
    return [
        s.value
        for s in family.samples
        if (name is None or s.name == name)
        and all(s.labels.get(key) == value for key, value in labels.items())
    ]


@pytest.mark.parametrize(
    ("configured", "header"),
    [
        ("", f"Bearer {TOKEN}"),  # unset: nobody, whatever they send
        (TOKEN, ""),
        (TOKEN, "Bearer wrong-token-0123456789"),
        (TOKEN, f"Token {TOKEN}"),
        (TOKEN, f"Bearer {TOKEN}x"),
    ],
)
def test_metrics_are_a_404_without_the_right_bearer_token(client, settings, configured, header):
    settings.METRICS_TOKEN = configured
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 404
    assert b"marketplace_" not in response.content


def test_metrics_are_not_in_the_api_schema(client, settings):
    settings.METRICS_TOKEN = TOKEN
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/metrics" not in schema["paths"]
    assert not [path for path in schema["paths"] if not path.startswith("/api/")]


def test_a_scrape_after_a_purchase_finds_every_family(
    client,
    settings,
    shopper,
    on_sale_version,
    sandbox_cluster,
    django_capture_on_commit_callbacks,
):
    from orders import services as order_services
    from orders.models import Order
    from provisioning.models import Installation

    settings.METRICS_TOKEN = TOKEN
    before = scrape(client)
    paid_before = samples(before["marketplace_orders_paid"], "marketplace_orders_paid_total")[0]

    unpaid = order_services.place_order(
        actor=shopper.owner,
        plan=on_sale_version.asset.plans.first(),
        project=shopper.project,
        cluster=sandbox_cluster,
        channel="stable",
        pay_now=False,
        idempotency_key=uuid.uuid4().hex,
    )
    Order.objects.filter(pk=unpaid.pk).update(payment_deadline=timezone.now() - timedelta(1))
    assert order_services.expire_overdue_orders() == 1
    order = buy_now(shopper, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks)
    installation = follow(Installation.objects.get(order=order), {"installed"})
    client.force_login(shopper.owner)
    assert client.get("/orders/").status_code == 200

    families = scrape(client)

    # The business, counted in the database.
    assert samples(families["marketplace_orders_placed"], "marketplace_orders_placed_total") == [
        Order.objects.count()
    ]
    assert samples(families["marketplace_orders_paid"], "marketplace_orders_paid_total") == [
        paid_before + 1
    ]
    assert (
        samples(families["marketplace_orders_expired"], "marketplace_orders_expired_total")[0] >= 1
    )
    assert samples(families["marketplace_payments"], "marketplace_payments_total")[0] >= 1
    price = float(order.amount_paid)
    assert samples(families["marketplace_credits_moved"], kind="payment")[0] >= price > 0
    assert samples(families["marketplace_credits_moved"], kind="top_up")[0] >= 100
    assert samples(families["marketplace_installations"], status="installed")[0] >= 1
    assert {s.labels["status"] for s in families["marketplace_instances"].samples} == {
        "pending",
        "creating",
        "running",
        "degraded",
        "failed",
        "deleting",
        "deleted",
    }
    took = families["marketplace_installation_time_to_installed_seconds"]
    count = samples(took, "marketplace_installation_time_to_installed_seconds_count")[0]
    assert count == Installation.objects.filter(installed_at__isnull=False).count() >= 1
    spent = (installation.installed_at - installation.created_at).total_seconds()
    assert samples(took, "marketplace_installation_time_to_installed_seconds_sum")[0] >= spent
    age = samples(families["marketplace_catalog_sync_age_seconds"], cluster="sandbox")
    assert len(age) == 1 and 0 <= age[0] < 3600

    # The broker's queues, asked at scrape time (memory:// in these tests).
    assert samples(families["marketplace_celery_broker_up"]) == [1]
    queues = {
        s.labels["queue"]: s.value for s in families["marketplace_celery_queue_length"].samples
    }
    assert set(queues) == {
        settings.CELERY_TASK_DEFAULT_QUEUE,
        settings.INSTALL_QUEUE,
        settings.SYNC_QUEUE,
    }
    assert all(value >= 0 for value in queues.values())

    # This process's own: requests by route (not path), Kubernetes calls by cluster and verb
    # (the install jobs ran in this process, eagerly), jobs' run times.
    http = families["marketplace_http_request_duration_seconds"]
    views = {s.labels["view"] for s in http.samples}
    assert "orders:orders" in views
    assert not [v for v in views if v.startswith("/")]
    assert (
        samples(
            http, "marketplace_http_request_duration_seconds_count", view="metrics", status="200"
        )[0]
        >= 1
    )
    kube = families["marketplace_kube_api_requests"]
    assert (
        samples(kube, "marketplace_kube_api_requests_total", cluster="sandbox", verb="apply")[0]
        >= 3
    )
    assert (
        samples(kube, "marketplace_kube_api_requests_total", cluster="sandbox", verb="list")[0] >= 1
    )
    assert "marketplace_kube_api_errors" in families
    runtime = families["marketplace_celery_job_runtime_seconds"]
    assert (
        samples(
            runtime,
            "marketplace_celery_job_runtime_seconds_count",
            task="provisioning.tasks.install_operator",
            state="SUCCESS",
        )[0]
        >= 1
    )
    assert "marketplace_celery_job_wait_seconds" in families  # measured by a real worker


@pytest.mark.parametrize(
    ("method", "url", "content_type", "verb"),
    [
        ("GET", "https://k/version", "", "discovery"),
        ("GET", "https://k/apis", "", "discovery"),
        ("GET", "https://k/apis/operators.coreos.com/v1alpha1", "", "discovery"),
        ("GET", "https://k/api/v1/namespaces", "", "list"),
        ("GET", "https://k/api/v1/namespaces/team-a", "", "get"),
        ("GET", "https://k/api/v1/namespaces/team-a/pods?limit=500", "", "list"),
        ("GET", "https://k/api/v1/namespaces/team-a/pods/p-0/log?tailLines=5", "", "get"),
        ("GET", "https://k/api/v1/namespaces/team-a/pods?watch=true", "", "watch"),
        (
            "PATCH",
            "https://k/apis/operators.coreos.com/v1alpha1/namespaces/a/subscriptions/m",
            "application/apply-patch+yaml",
            "apply",
        ),
        (
            "PATCH",
            "https://k/apis/x.io/v1/namespaces/a/caches/m",
            "application/merge-patch+json",
            "patch",
        ),
        ("POST", "https://k/api/v1/namespaces", "application/json", "create"),
        ("PUT", "https://k/api/v1/namespaces/a/configmaps/c", "application/json", "update"),
        ("DELETE", "https://k/api/v1/namespaces/a/configmaps/c", "", "delete"),
        ("DELETE", "https://k/api/v1/namespaces/a/configmaps", "", "deletecollection"),
    ],
)
def test_kube_verbs_are_named_as_the_api_server_names_them(method, url, content_type, verb):
    assert observability.kube_verb(method, url, content_type) == verb


def test_failed_kube_calls_are_counted_by_status(sandbox):
    from clusters import kube
    from clusters.kubeconfig import Credentials

    def errors():
        return observability.KUBE_API_ERRORS.labels("bad-token", "discovery", "401")._value.get()

    before = errors()
    gateway = kube.Gateway(Credentials(api_url=sandbox.url, token="wrong"), cache_key="bad-token")
    with pytest.raises(kube.UnauthorizedError):
        gateway.version()
    assert errors() == before + 1


def test_queue_length_on_the_filesystem_broker_counts_its_message_files(tmp_path, monkeypatch):
    """`make run`'s broker: kombu's filesystem transport, one file per waiting message."""
    from celery import Celery

    from marketplace.celery import app
    from marketplace.metrics import QueueCollector

    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
    }
    monkeypatch.setitem(app.conf, "broker_url", "filesystem://")
    monkeypatch.setitem(app.conf, "broker_read_url", "filesystem://")
    monkeypatch.setitem(app.conf, "broker_transport_options", options)
    monkeypatch.setitem(app.conf, "CELERY_BROKER_TRANSPORT_OPTIONS", options)
    sender = Celery(broker="filesystem://", set_as_current=False)
    sender.conf.broker_transport_options = options
    for _ in range(2):
        sender.send_task("marketplace.ping", queue="fs-jobs")
    families = {f.name: f for f in QueueCollector(queues=["fs-jobs", "fs-empty"]).collect()}
    assert {
        s.labels["queue"]: s.value for s in families["marketplace_celery_queue_length"].samples
    } == {
        "fs-jobs": 2,
        "fs-empty": 0,
    }


def test_a_broker_that_does_not_answer_is_a_zero_not_a_failed_scrape(client, settings, monkeypatch):
    from marketplace.celery import app

    settings.METRICS_TOKEN = TOKEN
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_read_url", "redis://127.0.0.1:1/0")
    families = scrape(client)
    assert samples(families["marketplace_celery_broker_up"]) == [0]
    assert "marketplace_orders_placed" in families


def test_the_sample_dashboard_charts_only_metrics_we_export(client, settings):
    """deploy/grafana/marketplace-dashboard.json: valid JSON, and every series it queries is
    one the web's /metrics or the worker's port declares (same names in this process)."""
    import json
    import re
    from pathlib import Path

    settings.METRICS_TOKEN = TOKEN
    path = Path(settings.BASE_DIR) / "deploy" / "grafana" / "marketplace-dashboard.json"
    dashboard = json.loads(path.read_text())
    exported = set()
    for family in scrape(client).values():
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_count", "_sum"],
        }.get(family.type, [""])
        exported.update(family.name + suffix for suffix in suffixes)
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ] + [var["definition"] for var in dashboard["templating"]["list"] if "definition" in var]
    used = {name for query in queries for name in re.findall(r"\bmarketplace_[a-z_]+", query)}
    assert len(used) >= 15
    assert used <= exported, used - exported


def test_a_scrape_costs_six_queries_whatever_the_rows(client, settings, django_assert_num_queries):
    """One aggregate each: orders, ledger, installations, install times, instances, catalogs."""
    settings.METRICS_TOKEN = TOKEN
    with django_assert_num_queries(6):
        scrape(client)

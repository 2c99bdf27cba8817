"""A web request's id reaches the logs of the jobs it enqueued on a real worker, and the
worker's metrics port serves the job and Kubernetes families.

A real web-side process (Django's full middleware stack through the test client) asks for
a cluster's "Test connection" with an X-Request-ID; the job goes through Redis to a real
`celery worker`, which talks to the sandbox over the official client."""

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import redis
import requests
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, wait_until
from tests.integration.conftest import ROOT, clean_env, database_url_of_test_db

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOKEN = "worker-scrape-token-01"

WEB = textwrap.dedent(
    """
    import sys
    import django

    django.setup()
    from django.test import Client
    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(pk=int(sys.argv[1])))
    response = client.post(
        f"/api/v1/clusters/{sys.argv[2]}/test-connection/", HTTP_X_REQUEST_ID=sys.argv[3]
    )
    print("status", response.status_code, response.headers.get("X-Request-ID"), flush=True)
    """
)


def _json_lines(text):
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _families(port, token=TOKEN):
    response = requests.get(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(response.text)}


def test_a_requests_id_reaches_its_jobs_logs_and_the_worker_serves_its_metrics(
    worker_factory, redis_url, sandbox_cluster, platform_admin
):
    port = free_port()
    queue = f"obs-{uuid.uuid4().hex[:8]}"
    worker = worker_factory(queue=queue, METRICS_WORKER_PORT=str(port), METRICS_TOKEN=TOKEN)
    request_id = f"edge-{uuid.uuid4().hex[:12]}"
    web = subprocess.run(
        [sys.executable, "-c", WEB, str(platform_admin.pk), str(sandbox_cluster.pk), request_id],
        cwd=ROOT,
        env=clean_env(
            DJANGO_SETTINGS_MODULE="tests.settings",
            TEST_DATABASE_URL=database_url_of_test_db(),
            TEST_CELERY_BROKER_URL=redis_url,
            TEST_CELERY_EAGER="0",
            TEST_CELERY_DEFAULT_QUEUE=queue,
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"status 202 {request_id}" in web.stdout, web.stdout + web.stderr
    (request_line,) = [
        line for line in _json_lines(web.stderr) if line["name"] == "marketplace.request"
    ]
    assert request_line["request_id"] == request_id
    assert request_line["user"] == platform_admin.username

    def job_line():
        return next(
            (
                line
                for line in _json_lines(worker.log.read_text())
                if line.get("task") == "clusters.tasks.test_cluster_connection"
                and "succeeded" in line["message"]
            ),
            None,
        )

    wait_until(job_line, timeout=60, interval=0.2, message="the job's success line")
    line = job_line()
    assert line["request_id"] == request_id  # the same id as the web request's
    assert line["user"] == platform_admin.username
    assert line["objects"] == {"cluster_id": sandbox_cluster.pk} and line["task_id"]

    # The worker's port: what only the worker knows.
    assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 404
    families = _families(port)
    calls = [
        s.value
        for s in families["marketplace_kube_api_requests"].samples
        if s.labels == {"cluster": "sandbox", "verb": "discovery"}
    ]
    assert calls and calls[0] >= 2  # /version and /apis
    assert "marketplace_kube_api_errors" in families
    for family in ("marketplace_celery_job_wait_seconds", "marketplace_celery_job_runtime_seconds"):
        counts = [
            s.value
            for s in families[family].samples
            if s.name == f"{family}_count"
            and s.labels.get("task") == "clusters.tasks.test_cluster_connection"
        ]
        assert counts == [1], families[family].samples
    waits = [
        s
        for s in families["marketplace_celery_job_wait_seconds"].samples
        if s.name.endswith("_sum")
    ]
    assert waits[0].labels["queue"] == queue and 0 <= waits[0].value < 60


def test_queue_length_is_read_from_redis_at_scrape_time(redis_url, monkeypatch):
    from marketplace.celery import app
    from marketplace.metrics import QueueCollector

    queue = f"idle-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.conf, "broker_url", redis_url)
    monkeypatch.setitem(app.conf, "broker_read_url", redis_url)
    sender = Celery(broker=redis_url, set_as_current=False)
    try:
        for _ in range(3):
            sender.send_task("marketplace.ping", queue=queue)
        sender.send_task("marketplace.ping", queue=queue, priority=9)  # another Redis list
        families = {f.name: f for f in QueueCollector(queues=[queue]).collect()}
        assert [s.value for s in families["marketplace_celery_broker_up"].samples] == [1]
        (sample,) = families["marketplace_celery_queue_length"].samples
        assert sample.labels == {"queue": queue} and sample.value == 4
    finally:
        client = redis.Redis.from_url(redis_url)
        client.delete(*client.keys(f"{queue}*"))


def test_several_gunicorn_workers_report_one_exact_request_count(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR: whichever of gunicorn's workers answers the scrape, it
    counts the requests every worker served."""
    port = free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    log = tmp_path / "gunicorn.log"
    env = clean_env(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DATABASE_URL=database_url_of_test_db(),
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        METRICS_TOKEN=TOKEN,
    )
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "marketplace.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "3",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up():
            try:
                return requests.get(f"{base}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, timeout=60, interval=0.2, message=f"gunicorn:\n{log.read_text()}")
        # Counted on another view than the probe's (a probe that timed out is still served).
        for _ in range(30):
            assert requests.get(f"{base}/readyz", timeout=10).status_code in (200, 503)
        response = requests.get(
            f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert response.status_code == 200, response.text[:500]
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        counts = [
            s.value
            for s in families["marketplace_http_request_duration_seconds"].samples
            if s.name.endswith("_count") and s.labels.get("view") == "readyz"
        ]
        assert sum(counts) == 30
        assert "marketplace_orders_placed" in families  # and the database's numbers too
        assert len(list(multiproc.glob("histogram_*.db"))) >= 1
    finally:
        server.terminate()
        server.wait(timeout=20)

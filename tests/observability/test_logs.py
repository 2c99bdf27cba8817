"""Logs: one JSON object a line with the request id, user and tenant; the id a caller sent
(when well-formed) or a new one, echoed in the response; readable lines in development."""

import io
import json
import logging
import re

import pytest

from core import observability

pytestmark = pytest.mark.django_db


@pytest.fixture
def console():
    """What the configured console handler (settings.LOGGING) writes, as text."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h.formatter, (observability.JsonFormatter, observability.PlainFormatter))
    )
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def lines(buffer):
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_a_request_logs_json_with_its_request_id_user_and_tenant(
    client, console, tenant_with_owner
):
    tenant, owner = tenant_with_owner("log-corp")
    client.force_login(owner)
    response = client.get("/orders/", HTTP_X_REQUEST_ID="edge-4f2a9c11-77")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "edge-4f2a9c11-77"
    (line,) = [entry for entry in lines(console) if entry["name"] == "marketplace.request"]
    assert line["request_id"] == "edge-4f2a9c11-77"
    assert line["user"] == owner.username
    assert line["tenant"] == tenant.slug
    assert line["view"] == "orders:orders" and line["status"] == 200
    assert line["level"] == "INFO" and line["message"].startswith("GET /orders/ 200")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", line["time"])


@pytest.mark.parametrize(
    "sent", [None, "", "short", "has space 123456", "x" * 200, "a\nb-123456789"]
)
def test_a_missing_or_malformed_request_id_is_replaced(client, console, sent):
    extra = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
    response = client.get("/healthz", **extra)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_lines_django_logs_after_the_middleware_carry_the_id_too(client, console):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="trace-0000000001")
    assert response.status_code == 404
    not_found = [entry for entry in lines(console) if entry["name"] == "django.request"]
    assert not_found and not_found[0]["request_id"] == "trace-0000000001"
    # and nothing of the request is left for what this thread logs next
    logging.getLogger("tests").warning("after")
    assert lines(console)[-1]["request_id"] is None


def test_anonymous_requests_log_no_user_and_cost_no_query(
    client, console, django_assert_num_queries
):
    with django_assert_num_queries(0):
        client.get("/healthz")
    # /healthz is quiet (DEBUG); an INFO line of a page shows user and tenant as null
    client.get("/accounts/login/")
    (line,) = [e for e in lines(console) if e.get("path") == "/accounts/login/"]
    assert line["user"] is None and line["tenant"] is None and line["request_id"]


def test_the_plain_format_is_readable_with_the_context():
    record = logging.LogRecord("orders", logging.INFO, __file__, 1, "paid %s", ("X1",), None)
    with observability.bound(request_id="req-12345678", user="zs", tenant="acme"):
        text = observability.PlainFormatter().format(record)
    assert text.endswith("INFO orders [req=req-12345678 user=zs tenant=acme]: paid X1")
    job = logging.LogRecord("provisioning", logging.INFO, __file__, 1, "applied", (), None)
    with observability.bound(
        task="provisioning.tasks.install_operator", task_id="t1", objects={"installation_id": 7}
    ):
        text = observability.PlainFormatter().format(job)
    assert "[job=provisioning.tasks.install_operator[t1] installation_id=7]: applied" in text


def test_an_eager_job_started_from_a_request_logs_its_request_id_and_objects(console):
    from marketplace.celery import ping

    with observability.bound(request_id="req-eager-0001"):
        ping.delay()
    (line,) = [e for e in lines(console) if e["name"] == "celery.app.trace"]
    assert line["request_id"] == "req-eager-0001"
    assert line["task"] == "marketplace.ping" and line["task_id"]


def test_static_files_and_unknown_paths_are_two_bounded_view_labels(client, console):
    client.get("/static/does-not-exist.css")
    client.get("/no/such/path/42/")
    views = {e.get("view") for e in lines(console) if e["name"] == "marketplace.request"}
    assert views == {"<static>", "<unmatched>"}

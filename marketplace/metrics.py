"""Prometheus metrics: `/metrics` on the web, a port of its own on the worker.

What the database knows is read at scrape time with a few aggregate queries (orders,
payments, credits, installations, instances, catalog sync age) and the broker's queues are
measured then too: exact and the same whichever of several gunicorn workers answers, with
nothing kept in memory. What only a process knows (request latency, Kubernetes calls, job
wait and run times; core.observability) is kept by prometheus_client, across the processes
of one pod when PROMETHEUS_MULTIPROC_DIR is set (gunicorn's workers, the worker's pool).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Time from an installation's creation (the order paid) to OLM reporting it installed.
INSTALL_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class BusinessCollector(Collector):
    """Orders, money, installations, instances and catalogs, counted in the database."""

    def collect(self) -> Iterator[Metric]:
        from clusters.models import CatalogSource
        from instances.models import OperandInstance
        from orders.models import LedgerEntry, Order
        from provisioning.models import Installation

        orders = Order.objects.aggregate(
            placed=Count("id"),
            paid=Count("id", filter=Q(paid_at__isnull=False)),
            expired=Count("id", filter=Q(status=Order.Status.EXPIRED)),
            cancelled=Count("id", filter=Q(status=Order.Status.CANCELLED)),
        )
        for name, help_text in (
            ("placed", "Orders placed."),
            ("paid", "Orders paid."),
            ("expired", "Orders that expired unpaid."),
            ("cancelled", "Orders cancelled unpaid."),
        ):
            yield CounterMetricFamily(f"marketplace_orders_{name}", help_text, orders[name])

        moved = CounterMetricFamily(
            "marketplace_credits_moved",
            "Credits (T) moved through wallets, by ledger entry type (absolute amounts).",
            labels=["kind"],
        )
        entries = CounterMetricFamily(
            "marketplace_ledger_entries", "Wallet ledger entries, by type.", labels=["kind"]
        )
        payments = 0
        by_kind = {
            row["kind"]: row
            for row in LedgerEntry.objects.values("kind").annotate(n=Count("id"), s=Sum("amount"))
        }
        for kind in LedgerEntry.Kind.values:
            row = by_kind.get(kind, {"n": 0, "s": 0})
            moved.add_metric([kind], abs(float(row["s"] or 0)))
            entries.add_metric([kind], row["n"])
            if kind == LedgerEntry.Kind.PAYMENT:
                payments = row["n"]
        yield CounterMetricFamily("marketplace_payments", "Payments made from wallets.", payments)
        yield moved
        yield entries

        yield _by_status(
            "marketplace_installations",
            "Operator installations by status.",
            Installation.objects.values("status").annotate(n=Count("id")),
            Installation.Status.values,
        )
        yield _install_times(Installation)
        yield _by_status(
            "marketplace_instances",
            "Operand instances by status.",
            OperandInstance.objects.values("status").annotate(n=Count("id")),
            OperandInstance.Status.values,
        )

        age = GaugeMetricFamily(
            "marketplace_catalog_sync_age_seconds",
            "Seconds since the least recently synced ready catalog of each cluster was synced.",
            labels=["cluster"],
        )
        now = timezone.now()
        for row in (
            CatalogSource.objects.filter(
                state=CatalogSource.State.READY, packages_synced_at__isnull=False
            )
            .values("cluster__name")
            .annotate(oldest=Min("packages_synced_at"))
            .order_by("cluster__name")
        ):
            age.add_metric([row["cluster__name"]], (now - row["oldest"]).total_seconds())
        yield age


def _by_status(
    name: str, help_text: str, rows: Iterable[dict[str, Any]], statuses: list[str]
) -> GaugeMetricFamily:
    """Every status, zero included, so a dashboard's series do not come and go."""
    counts = {row["status"]: row["n"] for row in rows}
    family = GaugeMetricFamily(name, help_text, labels=["status"])
    for status in statuses:
        family.add_metric([status], counts.get(status, 0))
    return family


def _install_times(installation_model: Any) -> HistogramMetricFamily:
    """A histogram read in one query: how many installations reached installed within each
    bucket of their creation, and the sum of those durations."""
    duration = ExpressionWrapper(F("installed_at") - F("created_at"), output_field=DurationField())
    done = installation_model.objects.filter(installed_at__isnull=False).annotate(took=duration)
    aggregates: dict[str, Any] = {
        f"le_{i}": Count("id", filter=Q(took__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(INSTALL_BUCKETS)
    }
    row = done.aggregate(total=Count("id"), seconds=Sum("took"), **aggregates)
    buckets = [(str(float(b)), row[f"le_{i}"]) for i, b in enumerate(INSTALL_BUCKETS)]
    buckets.append(("+Inf", row["total"]))
    took: timedelta | None = row["seconds"]
    return HistogramMetricFamily(
        "marketplace_installation_time_to_installed_seconds",
        "From an installation's creation (the order paid) to OLM reporting it installed.",
        buckets=buckets,
        sum_value=took.total_seconds() if took else 0.0,
    )


class QueueCollector(Collector):
    """Jobs waiting in each of the broker's queues (Redis: LLEN over the priority lists;
    filesystem: the message files), asked of the broker through kombu at scrape time."""

    def __init__(self, queues: list[str] | None = None) -> None:
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        from celery import current_app as app  # the project's (marketplace.celery)

        up = GaugeMetricFamily("marketplace_celery_broker_up", "1 if the broker answered.")
        length = GaugeMetricFamily(
            "marketplace_celery_queue_length", "Jobs waiting in a queue.", labels=["queue"]
        )
        try:
            names = (
                self.queues
                or [queue.name for queue in app.conf.task_queues or []]
                or [app.conf.task_default_queue]
            )
            with app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, timeout=3)
                channel = conn.default_channel
                for name in names:
                    length.add_metric([name], _queue_size(channel, name))
        except Exception as exc:  # a broker down is a 0 here, never a failed scrape
            logger.warning("metrics: the broker did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield length


def _queue_size(channel: Any, name: str) -> int:
    from kombu.exceptions import ChannelError

    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except ChannelError:  # a queue the broker never saw (Redis: an empty list) holds none
        return 0


class _ProcessMetrics(Collector):
    """This process's own metrics, when they are not shared through PROMETHEUS_MULTIPROC_DIR."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _process_metrics(registry: CollectorRegistry) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())


def web_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    _process_metrics(registry)
    registry.register(BusinessCollector())
    registry.register(QueueCollector())
    return registry


def worker_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    _process_metrics(registry)
    return registry


def token_matches(authorization: str) -> bool:
    """`Bearer <METRICS_TOKEN>`, compared in constant time; nothing matches when unset."""
    expected = getattr(settings, "METRICS_TOKEN", "")
    scheme, _, given = (authorization or "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape. A 404 like any unknown path unless METRICS_TOKEN is set and sent
    as `Authorization: Bearer <token>`: nobody learns it exists."""
    if not token_matches(request.headers.get("Authorization", "")):
        raise Http404
    return HttpResponse(generate_latest(web_registry()), content_type=CONTENT_TYPE_LATEST)


# --- the worker's port -------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


def worker_app(registry: CollectorRegistry) -> Any:
    """The worker's metrics as WSGI; the same bearer token as /metrics when one is set."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if getattr(settings, "METRICS_TOKEN", "") and not token_matches(
            environ.get("HTTP_AUTHORIZATION", "")
        ):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found\n"]
        return metrics(environ, start_response)

    return app


def start_worker_server(*, port: int, addr: str = "0.0.0.0") -> WSGIServer:
    """Serves the worker's metrics from a daemon thread of the worker's main process."""
    server = make_server(
        addr, port, worker_app(worker_registry()), _ThreadingServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("worker metrics on port %s", server.server_port)
    return server

"""The Celery side of logs and metrics (connected by marketplace.celery).

A job sent from a web request (or from another job) carries the request id in its message
headers, with the user and tenant and the time it was sent; the worker binds them with the
job's id, name and object ids for every log line the job writes, and measures how long the
job waited and ran. The worker's main process serves its metrics on METRICS_WORKER_PORT.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import time
from contextvars import Token
from typing import Any

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
)

from core import observability

logger = logging.getLogger(__name__)

HEADERS = ("request_id", "user", "tenant")
SENT_AT = "sent_at"

# Per job being run in this process: the context token and when it started.
_running: dict[str, tuple[Token[dict[str, Any] | None], float]] = {}


@before_task_publish.connect
def _add_context_headers(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    if headers is None:
        return
    fields = observability.context_fields()
    for key in HEADERS:
        if fields.get(key) is not None and key not in headers:
            headers[key] = fields[key]
    headers[SENT_AT] = time.time()


def object_ids(task: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """The job's arguments that name objects (`order_id`, `cluster_id`, …) by their names."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return {}
    return {
        name: value
        for name, value in bound.arguments.items()
        if (name == "id" or name.endswith("_id")) and isinstance(value, (int, str))
    }


@task_prerun.connect
def _job_started(task_id: str = "", task: Any = None, args: Any = None, **kwargs: Any) -> None:
    request = getattr(task, "request", None)
    fields: dict[str, Any] = {
        "task_id": task_id,
        "task": getattr(task, "name", None),
        "objects": object_ids(task, args, kwargs.get("kwargs")),
    }
    for key in HEADERS:  # an eager job keeps the context of the code that called it
        value = getattr(request, key, None)
        if value is not None:
            fields[key] = value
    sent_at = getattr(request, SENT_AT, None)
    if isinstance(sent_at, (int, float)) and not getattr(request, "is_eager", False):
        queue = (getattr(request, "delivery_info", None) or {}).get("routing_key") or ""
        observability.JOB_WAIT.labels(fields["task"] or "", queue).observe(
            max(0.0, time.time() - sent_at)
        )
    _running[task_id] = (observability.bind(**fields), time.perf_counter())


@task_postrun.connect
def _job_finished(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _running.pop(task_id, None)
    if started is None:
        return
    token, at = started
    observability.JOB_RUNTIME.labels(getattr(task, "name", "") or "", state or "").observe(
        time.perf_counter() - at
    )
    with contextlib.suppress(ValueError):  # set in another context: nothing to restore
        observability.reset(token)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _use_our_formatter(logger: logging.Logger | None = None, **_kwargs: Any) -> None:
    """Celery sets up the worker's logging itself: its handlers get our formatter (JSON or
    plain as LOG_FORMAT says, with the job's context) instead of Celery's."""
    from django.conf import settings

    if logger is None:
        return
    for handler in logger.handlers:
        handler.setFormatter(observability.formatter(getattr(settings, "LOG_FORMAT", "plain")))


@worker_init.connect
def _serve_worker_metrics(sender: Any = None, **_kwargs: Any) -> None:
    from django.conf import settings

    port = getattr(settings, "METRICS_WORKER_PORT", 0)
    if not port:
        return
    pool = str(getattr(sender, "pool_cls", "") or "")
    if (
        "prefork" in pool
        and (getattr(sender, "concurrency", 1) or 1) > 1
        and not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    ):
        logger.warning(
            "worker metrics: a prefork pool without PROMETHEUS_MULTIPROC_DIR reports only "
            "this process, not the jobs its children run; set it (an empty directory)"
        )
    from marketplace.metrics import start_worker_server

    try:
        start_worker_server(port=port)
    except OSError as exc:  # a second worker in the same pod: its metrics go unserved
        logger.error("worker metrics: port %s: %s", port, exc)


@worker_process_shutdown.connect
def _forget_process(pid: int | None = None, **_kwargs: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())

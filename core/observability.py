"""Log context and the in-process metrics, below every app (core imports none).

One context per request or job, kept in a `ContextVar` (so threads and the worker's jobs
never see each other's): the request id, the user and the tenant; in the worker, the job's
id and name and the object ids it was given. Both formatters (JSON in production, plain in
development) put it on every line, whichever logger wrote it.

The counters and histograms here are the ones only a running process knows (Kubernetes
calls, job wait and run times, HTTP latency); numbers the database can tell (orders,
installations, …) are read at scrape time instead (marketplace.metrics), exact whatever the
number of processes.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import Counter, Histogram
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# --- log context -------------------------------------------------------------------------

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a client or a proxy: a uuid, a trace id, an ingress' request id; a
# value that could break a log line or fill it (spaces, quotes, newlines, 1 kB) is replaced.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")
FIELDS = ("request_id", "user", "tenant", "task_id", "task", "objects")

_context: ContextVar[dict[str, Any] | None] = ContextVar("log_context", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """The id a caller sent if it is well-formed, else a new one."""
    if value and _REQUEST_ID.match(value):
        return value
    return new_request_id()


def current() -> dict[str, Any]:
    """The context of this request or job: plain values, plus `lazy` (a callable giving
    those only known later, such as the request's user once it was loaded)."""
    return _context.get() or {}


def bind(**fields: Any) -> Token[dict[str, Any] | None]:
    """Adds to the context; `reset` with the returned token restores the previous one."""
    return _context.set({**current(), **fields})


def reset(token: Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


def start(**fields: Any) -> None:
    """A fresh context (a new request): nothing of the previous one in this thread stays."""
    _context.set(dict(fields))


def clear() -> None:
    _context.set(None)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)


def context_fields() -> dict[str, Any]:
    """request_id, user, tenant, task_id, task, objects: each a value or None."""
    ctx = current()
    values = {key: ctx.get(key) for key in FIELDS}
    lazy: Callable[[], dict[str, Any]] | None = ctx.get("lazy")
    if lazy is not None:
        try:
            later = lazy()
        except Exception:  # a log line never fails because its context could not be read
            later = {}
        for key, value in later.items():
            if values.get(key) is None:
                values[key] = value
    return {key: (value if value not in ("", {}) else None) for key, value in values.items()}


def add_context(record: logging.LogRecord) -> logging.LogRecord:
    """Puts the context on the record (its own `extra=` fields win) and a short `context`
    suffix for the plain format (" [req=… user=… tenant=… job=…]", empty outside one)."""
    fields = context_fields()
    for key, value in fields.items():
        if getattr(record, key, None) is None:
            setattr(record, key, value)
    parts = []
    for label, key in (("req", "request_id"), ("user", "user"), ("tenant", "tenant")):
        if getattr(record, key, None) is not None:
            parts.append(f"{label}={getattr(record, key)}")
    if getattr(record, "task", None):
        parts.append(f"job={getattr(record, 'task', '')}[{getattr(record, 'task_id', '')}]")
    objects = getattr(record, "objects", None)
    if objects:
        parts.extend(f"{key}={value}" for key, value in objects.items())
    record.context = f" [{' '.join(parts)}]" if parts else ""
    return record


class ContextFilter(logging.Filter):
    """For handlers whose formatter is not one of ours: adds the same attributes."""

    def filter(self, record: logging.LogRecord) -> bool:
        add_context(record)
        return True


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


class PlainFormatter(logging.Formatter):
    """Readable lines for development, with the context in brackets."""

    def __init__(self, fmt: str | None = None, **kwargs: Any) -> None:
        super().__init__(fmt or PLAIN_FORMAT, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return super().format(add_context(record))


class JsonFormatter(_JsonFormatter):
    """One JSON object a line (production): time, level, logger, message, the context
    fields (null when absent) and any `extra=` a caller passed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["asctime", "levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level"})
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "context", "color_message"])
        super().__init__(*args, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """ISO 8601 in UTC with milliseconds, whatever TIME_ZONE the process runs in."""
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        add_context(record)
        for key in FIELDS:  # always present, so every line has the same keys
            if not hasattr(record, key):
                setattr(record, key, None)
        return super().format(record)


def formatter(name: str) -> logging.Formatter:
    """The formatter LOG_FORMAT names: "json" or "plain"."""
    return JsonFormatter() if name == "json" else PlainFormatter()


# --- metrics recorded in process ---------------------------------------------------------

HTTP_REQUEST_DURATION = Histogram(
    "marketplace_http_request_duration_seconds",
    "Web requests by resolved view (route name), method and status: rate and latency.",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
KUBE_API_REQUESTS = Counter(
    "marketplace_kube_api_requests",
    "Kubernetes API calls by cluster and verb (as the API server names them).",
    ["cluster", "verb"],
)
KUBE_API_ERRORS = Counter(
    "marketplace_kube_api_errors",
    "Kubernetes API calls that failed, by cluster, verb and HTTP status (or 'connection').",
    ["cluster", "verb", "code"],
)
JOB_WAIT = Histogram(
    "marketplace_celery_job_wait_seconds",
    "How long a job waited between being sent and a worker starting it, by task and queue.",
    ["task", "queue"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
JOB_RUNTIME = Histogram(
    "marketplace_celery_job_runtime_seconds",
    "How long a job ran, by task and final state (SUCCESS, FAILURE, RETRY, …).",
    ["task", "state"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


def kube_verb(method: str, url: str, content_type: str = "") -> str:
    """The API server's verb for a request, as its RequestInfoFactory tells them apart
    (k8s.io/apiserver pkg/endpoints/request/requestinfo.go): get/list/watch by whether a
    name is given and `watch` is asked; apply is a PATCH of apply-patch content; anything
    outside /api and /apis (or above a resource) is discovery."""
    split = urlsplit(url)
    parts = [p for p in split.path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return "discovery"
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if not rest:
        return "discovery"
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    named = len(rest) >= 2
    method = method.upper()
    if method == "GET":
        query = parse_qs(split.query)
        if query.get("watch", [""])[0] in ("true", "1"):
            return "watch"
        return "get" if named else "list"
    if method == "PATCH":
        return "apply" if "apply-patch" in content_type else "patch"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return {"POST": "create", "PUT": "update"}.get(method, method.lower())


def instrument_api_client(api_client: Any, *, cluster: Callable[[], str]) -> None:
    """Counts every call the official client's `ApiClient` makes (typed APIs and the dynamic
    client alike go through `call_api`), and the failed ones by status."""
    call_api = api_client.call_api

    def counted(method: str, url: str, header_params: Any = None, *args: Any, **kwargs: Any):
        headers = header_params or {}
        verb = kube_verb(method, url, str(headers.get("Content-Type", "")))
        name = cluster()
        KUBE_API_REQUESTS.labels(name, verb).inc()
        try:
            response = call_api(method, url, header_params, *args, **kwargs)
        except Exception as exc:
            status = getattr(exc, "status", None)
            KUBE_API_ERRORS.labels(name, verb, str(status or "connection")).inc()
            raise
        if getattr(response, "status", 200) >= 400:
            KUBE_API_ERRORS.labels(name, verb, str(response.status)).inc()
        return response

    api_client.call_api = counted

"""Request id, log context and request metrics: the first middleware, so every log line of
a request (and every job it enqueues, marketplace.observability) carries the same id."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from core import observability

logger = logging.getLogger("marketplace.request")

# Probes and scrapes would drown the request log; they are logged at DEBUG only.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _loaded(request: HttpRequest, name: str) -> Any:
    """`request.<name>` if it is already loaded, else None: a log line never costs a query
    (the user and the workspace are lazy; a view that never reads them logs them as null)."""
    value = request.__dict__.get(name)
    wrapped = getattr(value, "_wrapped", None)
    if value is None or wrapped is empty:
        return None
    return wrapped if wrapped is not None else value


def _who(request: HttpRequest) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    user = _loaded(request, "user")
    if user is not None and getattr(user, "is_authenticated", False):
        fields["user"] = user.get_username()
    workspace = _loaded(request, "workspace")
    tenant = getattr(workspace, "tenant", None) if workspace is not None else None
    if tenant is not None:
        fields["tenant"] = getattr(tenant, "slug", None) or str(tenant.pk)
    return fields


def view_name(request: HttpRequest) -> str:
    """The route, never the raw path (bounded label values): `orders:detail`,
    `api:order-list`; a path no route matched is `<unmatched>`, a static file `<static>`."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        # WhiteNoise answers static files before any URL is resolved.
        return "<static>" if request.path.startswith(settings.STATIC_URL) else "<unmatched>"
    return match.view_name or match._func_path or "<unnamed>"


class RequestContextMiddleware:
    """Takes the caller's X-Request-ID when well-formed (a proxy's or a client's), else makes
    one; echoes it in the response; binds it with the user and tenant for the log; times
    the request by view, method and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = observability.clean_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Kept until the response is closed (request_finished), so Django's own lines logged
        # after the middleware (django.request's "Not Found: …") carry the id too.
        observability.start(request_id=request_id, lazy=lambda: _who(request))
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        view = view_name(request)
        observability.HTTP_REQUEST_DURATION.labels(
            view, request.method or "", str(response.status_code)
        ).observe(elapsed)
        response[observability.REQUEST_ID_HEADER] = request_id
        logger.log(
            logging.DEBUG if request.path in QUIET_PATHS else logging.INFO,
            "%s %s %s %.0fms",
            request.method,
            request.path,
            response.status_code,
            elapsed * 1000,
            extra={
                "view": view,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response


@receiver(request_finished)
def _request_done(**_kwargs: Any) -> None:
    observability.clear()

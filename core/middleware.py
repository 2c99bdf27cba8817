"""Maps domain errors raised under a page view to the site's error pages; API calls in UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from .errors import NotFound


class DomainErrorMiddleware:
    """A selector's `NotFound` becomes the 404 page (the API maps it itself, in core.api)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, NotFound):
            raise Http404(exception.message) from exception


class ApiInUtcMiddleware:
    """The API speaks UTC: under `/api/` the current time zone is UTC, so every DRF
    DateTimeField writes (and reads a naive input as) UTC ISO 8601 with `Z`. Pages keep
    TIME_ZONE, the time a person reads."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith("/api/"):
            return self.get_response(request)
        with timezone.override(UTC):
            return self.get_response(request)

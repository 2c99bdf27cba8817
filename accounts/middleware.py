from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from .workspace import resolve_workspace


class ActiveTenantMiddleware:
    """Puts `request.workspace` (active tenant, role, project) on every request, lazily."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        workspace = SimpleLazyObject(lambda: resolve_workspace(request))
        request.workspace = workspace  # type: ignore[attr-defined]  # see WorkspaceRequest
        return self.get_response(request)

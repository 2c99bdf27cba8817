"""Pages of a list screen: one helper, one template (`core/pagination.html`)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 20


def query_without_page(request: HttpRequest) -> str:
    """The current filters, so the page links keep them."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def paginate(request: HttpRequest, items: Any, *, per_page: int | None = None) -> dict[str, Any]:
    """`{"page", "query_string"}` for the template; a page number out of range shows the last."""
    page: Page = Paginator(items, per_page or PAGE_SIZE).get_page(request.GET.get("page"))
    return {"page": page, "query_string": query_without_page(request)}

"""API-wide conventions: one error body shape and one pagination style."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import NON_FIELD, NotFound, error_code, messages_by_field


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100


def require_query_params(request: Request, *names: str) -> None:
    """A missing query parameter is a 400 that names it, never a 404 of what it would find."""
    missing = {
        n: [_("This query parameter is required.")]
        for n in names
        if not request.query_params.get(n)
    }
    if missing:
        raise exceptions.ValidationError(missing)


def _flatten_field_errors(detail, prefix=""):
    """DRF nests errors by field; clients want `{"field": ["message", ...]}`."""
    fields = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten_field_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            fields[prefix or NON_FIELD] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                fields.update(_flatten_field_errors(item, f"{prefix}[{index}]"))
    else:
        fields[prefix or NON_FIELD] = [str(detail)]
    return fields


def error_body(
    *, status_code: int, code: str, message: str, fields: dict | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status_code, "code": code, "detail": message}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every API error is `{"status", "code", "detail", "fields"?}`; `code` is the domain's
    stable code when a service or selector gave one (see core.errors)."""
    domain_code = None
    if isinstance(exc, NotFound):
        domain_code = str(exc.code)
        exc = exceptions.NotFound(exc.message)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        domain_code = error_code(exc)
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; the API reports it field by field.
        domain_code = error_code(exc)
        exc = exceptions.ValidationError(messages_by_field(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten_field_errors(exc.detail)
        first = next(iter(fields.items()))
        message = first[1][0] if first[0] == NON_FIELD else f"{first[0]}: {first[1][0]}"
        response.data = error_body(
            status_code=response.status_code,
            code=domain_code or "invalid",
            message=message,
            fields=fields,
        )
    else:
        detail = getattr(exc, "detail", str(exc))
        code = domain_code or (detail.code if hasattr(detail, "code") else "error")
        response.data = error_body(
            status_code=response.status_code, code=str(code), message=str(detail)
        )
    return response

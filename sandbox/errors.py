"""Kubernetes `Status` errors with the API server's real reasons and messages.

Clients branch on `reason`, `code` and sometimes on the message text, so the
wording follows k8s.io/apimachinery/pkg/api/errors exactly.
"""

from __future__ import annotations

import json


class ApiError(Exception):
    """An error the API server answers as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource: str, group: str) -> str:
    """`deployments.apps`, or just `pods` for the core group."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str, **extra) -> dict:
    details = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details.update(extra)
    return details


def not_found(*, resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{qualified(resource, group)} "{name}" not found',
        _details(name, group, resource),
    )


def already_exists(*, resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(*, resource: str, group: str, name: str, why: str | None = None) -> ApiError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


class FieldError:
    """One `field.Error`: renders as `path: Type: detail` like apimachinery."""

    def __init__(self, field: str, kind: str, value=None, detail: str = "", supported=None):
        self.field = field
        self.kind = kind  # Invalid | Required | NotSupported | Forbidden | Duplicate
        self.value = value
        self.detail = detail
        self.supported = supported or []

    @property
    def reason(self) -> str:
        return {
            "Invalid": "FieldValueInvalid",
            "Required": "FieldValueRequired",
            "NotSupported": "FieldValueNotSupported",
            "Forbidden": "FieldValueForbidden",
            "Duplicate": "FieldValueDuplicate",
        }[self.kind]

    def body(self) -> str:
        if self.kind == "Required":
            return "Required value" + (f": {self.detail}" if self.detail else "")
        if self.kind == "Forbidden":
            return "Forbidden" + (f": {self.detail}" if self.detail else "")
        value = _render_value(self.value)
        if self.kind == "NotSupported":
            choices = ", ".join(json.dumps(s) for s in self.supported)
            return f"Unsupported value: {value}: supported values: {choices}"
        if self.kind == "Duplicate":
            return f"Duplicate value: {value}"
        return f"Invalid value: {value}" + (f": {self.detail}" if self.detail else "")

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict:
        return {"reason": self.reason, "message": self.body(), "field": self.field}


def _render_value(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return '"object"' if isinstance(value, dict) else '"array"'


def invalid(*, kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid: `Kind.group "name" is invalid: field: ...` (bracketed when several)."""
    rendered = [str(e) for e in errors]
    joined = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{qualified(kind, group)} "{name}" is invalid: {joined}',
        _details(name, group, kind, causes=[e.cause() for e in errors]),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_allowed() -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def unsupported_patch(*, strategic: bool) -> ApiError:
    """415 for a patch type the resource does not take (custom resources refuse strategic)."""
    types = ["application/json-patch+json", "application/merge-patch+json"]
    if strategic:
        types.append("application/strategic-merge-patch+json")
    types.append("application/apply-patch+yaml")
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(types),
    )


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f'application/json, application/yaml (got "{content_type}")',
    )


def internal_error(message: str) -> ApiError:
    return ApiError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


def page_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def forbidden(*, resource: str, group: str, name: str, message: str) -> ApiError:
    """403 Forbidden as apimachinery's `NewForbidden(GroupResource{group, resource}, name, err)`:

        forbidden: <err>                         (no resource: non-resource URLs)
        <resource>[.<group>] is forbidden: <err>
        <resource>[.<group>] "<name>" is forbidden: <err>

    details carry name/group/kind (kind = the plural resource), each omitted when empty.
    """
    if not resource and not group:
        text = f"forbidden: {message}"
    elif not name:
        text = f"{qualified(resource, group)} is forbidden: {message}"
    else:
        text = f'{qualified(resource, group)} "{name}" is forbidden: {message}'
    details: dict = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return ApiError(403, "Forbidden", text, details)

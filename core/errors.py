"""Domain errors: what a service or selector refuses, with a stable code and the field at fault.

Services raise Django's `ValidationError` for bad input (forms and model validation speak
it already), built here so that every message carries a code from its app's `ErrorCode`
enum; `NotPermitted` when the caller may not act; selectors raise `NotFound` for what is
missing or another tenant's. The HTTP layer maps them in one place each: `apply_to_form`
and `error_text` for pages, `core.api.exception_handler` for the API, and
`core.middleware.DomainErrorMiddleware` for the 404 page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError

NON_FIELD = "non_field_errors"


class ErrorCode(StrEnum):
    """Base of every app's error codes; the API error body shows them as they are."""


class CoreErrorCode(ErrorCode):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"


class NotFound(Exception):
    """Nothing the caller may see answers to this (missing, or another tenant's): a 404.

    Another tenant's object is "not found", never "forbidden": its existence is not ours
    to reveal.
    """

    def __init__(self, message: str = "Not found.", *, code: ErrorCode = CoreErrorCode.NOT_FOUND):
        super().__init__(message)
        self.message = message
        self.code = code


class NotPermitted(PermissionDenied):
    """The caller may not do this (a 403); a `PermissionDenied`, so Django and DRF know it."""

    def __init__(
        self, message: str = "", *, code: ErrorCode = CoreErrorCode.PERMISSION_DENIED
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return str(self.message)


def invalid(message: Any, *, code: ErrorCode, field: str = NON_FIELD) -> ValidationError:
    """One refused input: the message on its field, with the app's stable code."""
    return ValidationError({field: [ValidationError(message, code=str(code))]})


class FieldErrors:
    """Collects a service's field errors (each with its code) and raises them together."""

    def __init__(self) -> None:
        self._errors: dict[str, list[ValidationError]] = {}

    def add(self, field: str, message: Any, *, code: ErrorCode) -> None:
        self._errors.setdefault(field, []).append(ValidationError(message, code=str(code)))

    def extend(self, field: str, messages: Iterable[Any], *, code: ErrorCode) -> None:
        for message in messages:
            self.add(field, message, code=code)

    def merge(self, exc: ValidationError) -> None:
        """Adds a ValidationError's messages (e.g. from `full_clean`), keeping their codes."""
        for field, errors in _by_field(exc).items():
            self._errors.setdefault(field, []).extend(errors)

    def __contains__(self, field: str) -> bool:
        return field in self._errors

    def __bool__(self) -> bool:
        return bool(self._errors)

    def error(self) -> ValidationError:
        return ValidationError(dict(self._errors))

    def raise_if_any(self) -> None:
        if self._errors:
            raise self.error()


def _by_field(exc: ValidationError) -> dict[str, list[ValidationError]]:
    if hasattr(exc, "error_dict"):
        return {
            (NON_FIELD if field == NON_FIELD_ERRORS else field): list(errors)
            for field, errors in exc.error_dict.items()
        }
    return {NON_FIELD: list(exc.error_list)}


def messages_by_field(exc: ValidationError) -> dict[str, list[str]]:
    """`{"field": ["message", ...]}`, the form a client reads; non-field errors under NON_FIELD."""
    return {
        field: [message for error in errors for message in error.messages]
        for field, errors in _by_field(exc).items()
    }


def error_code(exc: Exception) -> str:
    """The stable code of an error: the first app code it carries, else a generic one."""
    if isinstance(exc, NotFound | NotPermitted):
        return str(exc.code)
    if isinstance(exc, PermissionDenied):
        return str(CoreErrorCode.PERMISSION_DENIED)
    if isinstance(exc, ValidationError):
        for errors in _by_field(exc).values():
            for error in errors:
                for part in getattr(error, "error_list", [error]):
                    if _is_app_code(part.code):
                        return str(part.code)
    return str(CoreErrorCode.INVALID)


def _is_app_code(code: object) -> bool:
    return isinstance(code, str) and code in _registered_codes()


def _registered_codes() -> set[str]:
    codes: set[str] = set()
    pending = list(ErrorCode.__subclasses__())
    while pending:
        enum = pending.pop()
        codes.update(member.value for member in enum)
        pending.extend(enum.__subclasses__())
    return codes


def error_text(exc: Exception) -> str:
    """One line for a flash message: every message of the error, in order."""
    if isinstance(exc, ValidationError):
        return " ".join(m for messages in messages_by_field(exc).values() for m in messages)
    return str(exc)


def apply_to_form(form: Any, exc: Exception, *, field_map: Mapping[str, str] | None = None) -> None:
    """A service's refusal onto the form: each message on the field it names (through
    `field_map` when the service's names differ), the rest on top of the form."""
    if not isinstance(exc, ValidationError):
        form.add_error(None, str(exc))
        return
    for field, messages in messages_by_field(exc).items():
        target = (field_map or {}).get(field, field)
        form.add_error(target if target in form.fields else None, messages)

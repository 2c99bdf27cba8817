"""How the API writes a moment: ISO 8601 in UTC with `Z`, as DRF's DateTimeField does once
`core.middleware.ApiInUtcMiddleware` has made UTC the current time zone of an API call."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(value: datetime) -> str:
    """`2026-12-01T14:03:07.123456Z`; a naive value is taken as UTC already."""
    aware = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.isoformat().removesuffix("+00:00") + "Z"

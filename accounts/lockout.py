"""Brute-force protection around django-axes: the one place that knows how axes keeps its
lockouts (failed attempts per username + client address, forgotten after a cool-off).

Axes counts the failures and refuses a locked-out pair in its authentication backend; this
module turns that into what people see (the login form's message, the API's 429 with
`Retry-After`), reads the client address the same way as the API throttles, and hands the
lockout to the audit trail (`services.record_login_lockout`)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import ngettext


def client_ip(request: Any) -> str:
    """The caller's address: REMOTE_ADDR, or behind TRUSTED_PROXIES proxies the address the
    outermost of them saw in X-Forwarded-For (as DRF's throttles read it, NUM_PROXIES)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


def is_locked_out(request: Any) -> bool:
    """Did axes refuse (or just lock) this request's sign-in? It flags the request it saw."""
    return bool(getattr(request, "axes_locked_out", False))


def locked_until(*, username: str, ip_address: str) -> datetime | None:
    """When the lockout of this pair ends: its last counted failure plus the cool-off."""
    cool_off = get_cool_off()
    if cool_off is None:
        return None
    last = AccessAttempt.objects.filter(username=username, ip_address=ip_address).aggregate(
        last=Max("attempt_time")
    )["last"]
    return (last or timezone.now()) + cool_off


def retry_after_seconds(request: Any, username: str) -> int | None:
    """Whole seconds until the caller may try again (at least 1), None without a cool-off."""
    until = locked_until(username=username, ip_address=client_ip(request))
    if until is None:
        return None
    return max(1, math.ceil((until - timezone.now()).total_seconds()))


def lockout_message(seconds: int | None) -> str:
    if seconds is None:
        return str(getattr(settings, "AXES_PERMALOCK_MESSAGE", ""))
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-ins for this account from your address: it is locked for "
        "%(minutes)d more minute. A platform administrator can unlock it sooner.",
        "Too many failed sign-ins for this account from your address: it is locked for "
        "%(minutes)d more minutes. A platform administrator can unlock it sooner.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: keep the page the view rendered (the login form with its
    message), as 429 Too Many Requests with Retry-After."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    seconds = retry_after_seconds(request, username)
    response = original_response
    if response is None:
        response = HttpResponse(lockout_message(seconds), content_type="text/plain")
    response.status_code = 429
    if seconds is not None:
        response["Retry-After"] = str(seconds)
    return response


def on_user_locked_out(sender: Any, request: Any, username: str, ip_address: str, **kwargs):
    """Receiver of axes' `user_locked_out`: audits the failure that locked the pair. Axes
    sends it again for every refused attempt while locked; those change nothing."""
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    from . import services

    services.record_login_lockout(
        username=username or "",
        ip_address=ip_address or "",
        failures=request.axes_failures_since_start,
        until=locked_until(username=username or "", ip_address=ip_address or ""),
    )

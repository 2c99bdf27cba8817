"""API throttles whose rates are read per request from REST_FRAMEWORK's
DEFAULT_THROTTLE_RATES (DRF's own classes read them once, at import), so settings and tests
can change them; a rate of None switches that scope off. A 429 carries `Retry-After`."""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _RatesFromSettings(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope or "")


class AnonThrottle(_RatesFromSettings, AnonRateThrottle):
    """Anonymous callers, per client address (scope `anon`)."""


class UserThrottle(_RatesFromSettings, UserRateThrottle):
    """Signed-in callers, per user (scope `user`); anonymous ones per address."""


class SignInThrottle(_RatesFromSettings):
    """The token endpoint, per client address whoever is named (scope `sign_in`): the lockout
    counts failures per username and address; this bounds one address trying many names."""

    scope = "sign_in"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

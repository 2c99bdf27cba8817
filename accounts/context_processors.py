"""What every page's header needs: the workspace, the admin flag, the unread badge."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from .backends import UNREAD_CACHE_ATTR
from .models import User
from .permissions import is_platform_admin
from .selectors import unread_notification_count


def _unread_count(user: User | AnonymousUser | None) -> Callable[[], int]:
    """The header's badge: read with the user (accounts.backends), else one COUNT query,
    run only if a template asks, at most once."""

    @cache
    def count() -> int:
        cached = getattr(user, UNREAD_CACHE_ATTR, None)
        if cached is not None:
            return int(cached)
        return unread_notification_count(user=user)

    return count


def _admin_flag(user: User | AnonymousUser | None) -> Callable[[], bool]:
    """Asked only by templates that show admin links (a template calls a callable)."""

    @cache
    def flag() -> bool:
        return is_platform_admin(user)

    return flag


def workspace(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "workspace": getattr(request, "workspace", None),
        "is_platform_admin": _admin_flag(user),
        "unread_notifications": _unread_count(user),
    }

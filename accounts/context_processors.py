"""What every page's header needs: the workspace, the admin flag, the unread badge."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from .models import User
from .permissions import is_platform_admin
from .selectors import unread_notification_count


def _unread_count(user: User | AnonymousUser | None) -> Callable[[], int]:
    """The header's badge: one COUNT query, run only if a template asks, at most once."""

    @cache
    def count() -> int:
        return unread_notification_count(user=user)

    return count


def workspace(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "workspace": getattr(request, "workspace", None),
        "is_platform_admin": is_platform_admin(user),
        "unread_notifications": _unread_count(user),
    }

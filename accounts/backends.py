"""The signed-in user, loaded with what every page's header asks about them.

Django loads the session's user with one query on every request; the header then asked
three more (is this a platform admin, how many unread notifications, the workspace
switcher's tenants and projects). Here the user's row comes with all three, as
subqueries of that one query, so a page makes no extra round trip for them. Passwords are checked exactly as Django's ModelBackend checks them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from .models import Notification, User
from .permissions import ADMIN_CACHE_ATTR, PLATFORM_ADMIN_PERMISSION

UNREAD_CACHE_ATTR = "_unread_notifications_cached"


def _holds_admin_permission() -> Exists:
    from django.contrib.auth.models import Permission

    app_label, codename = PLATFORM_ADMIN_PERMISSION.split(".")
    return Exists(
        Permission.objects.filter(content_type__app_label=app_label, codename=codename).filter(
            Q(user=OuterRef("pk")) | Q(group__user=OuterRef("pk"))
        )
    )


def _unread_count() -> Coalesce:
    unread = (
        Notification.objects.filter(user=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), Value(0))


def user_with_header(user_id: Any) -> User | None:
    """The user by id with the header's admin flag and unread count remembered on it
    (`is_platform_admin` and the unread badge read them): one query."""
    from django.db import connection

    from .workspace import WORKSPACE_ROWS_ATTR, rows_from_json, workspace_rows_sql

    user = (
        User._default_manager.filter(pk=user_id)
        .annotate(
            header_admin=_holds_admin_permission(),
            header_unread=_unread_count(),
            header_workspace=RawSQL(workspace_rows_sql(connection.vendor), []),
        )
        .first()
    )
    if user is None:
        return None
    attrs = user.__dict__
    attrs[ADMIN_CACHE_ATTR] = bool(
        user.is_active and (user.is_superuser or attrs.pop("header_admin"))
    )
    attrs[UNREAD_CACHE_ATTR] = int(attrs.pop("header_unread") or 0)
    attrs[WORKSPACE_ROWS_ATTR] = rows_from_json(attrs.pop("header_workspace"))
    return user


class HeaderUserBackend(ModelBackend):
    """ModelBackend whose `get_user` (once per request, from the session) is that one
    query."""

    def get_user(self, user_id: Any) -> User | None:
        user = user_with_header(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

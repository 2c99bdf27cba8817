"""Who may act as a platform admin: one permission, granted through one group.

Code asks `is_platform_admin(user)`; nothing checks `is_superuser` by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request
    from rest_framework.views import APIView

    from .models import User

PLATFORM_ADMIN_PERMISSION = "accounts.platform_admin"
PLATFORM_ADMIN_GROUP = "Platform admins"


def is_platform_admin(user: User | AnonymousUser | None) -> bool:
    """The one question every app asks (the permission, through the group or directly)."""
    return bool(user and user.is_authenticated and user.has_perm(PLATFORM_ADMIN_PERMISSION))


def ensure_platform_admin_group(**_kwargs: Any) -> None:
    """Runs after migrate: the group exists and carries the permission."""
    from django.contrib.auth.models import Group, Permission

    permission = Permission.objects.filter(
        codename="platform_admin", content_type__app_label="accounts"
    ).first()
    if permission is None:
        return
    group, _created = Group.objects.get_or_create(name=PLATFORM_ADMIN_GROUP)
    group.permissions.add(permission)


class IsPlatformAdmin(BasePermission):
    message = _("Only platform administrators may do this.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_platform_admin(request.user)

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


ADMIN_CACHE_ATTR = "_platform_admin_cached"


def is_platform_admin(user: User | AnonymousUser | None) -> bool:
    """The one question every app asks (the permission, through the group or directly).

    Every page's header asks it, so it is one EXISTS query (Django's `has_perm` loads the
    user's and the groups' permissions in two), remembered on the user object: once per
    request. Same rules as the model backend: inactive never, superuser always."""
    if not (user and user.is_authenticated):
        return False
    cached = getattr(user, ADMIN_CACHE_ATTR, None)
    if cached is None:
        cached = user.is_active and (user.is_superuser or _holds_admin_permission(user))
        setattr(user, ADMIN_CACHE_ATTR, cached)
    return bool(cached)


def _holds_admin_permission(user: Any) -> bool:
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    app_label, codename = PLATFORM_ADMIN_PERMISSION.split(".")
    return (
        Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        .filter(Q(user=user) | Q(group__user=user))
        .exists()
    )


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

"""Reads of the accounts app, always scoped to the acting user."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.errors import NotFound

from .models import Membership, Notification, Project, Tenant, User
from .permissions import PLATFORM_ADMIN_PERMISSION


def memberships_for(*, user: User | AnonymousUser) -> QuerySet[Membership]:
    """The workspace switcher's choices, with their tenants, in one query."""
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def roles_of(*, user: User | AnonymousUser) -> dict[int, str]:
    """The user's role in each of their tenants, by tenant id (its keys: the user's tenants)."""
    if not user.is_authenticated:
        return {}
    return dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))


def tenants_for(*, user: User | AnonymousUser) -> QuerySet[Tenant]:
    """The tenants the user may act for."""
    if not user.is_authenticated:
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user).order_by("name")


def projects_for(*, user: User | AnonymousUser, tenant: Tenant | None = None) -> QuerySet[Project]:
    """Projects of the tenants the user belongs to (optionally one of them)."""
    if not user.is_authenticated:
        return Project.objects.none()
    projects = Project.objects.filter(tenant__memberships__user=user).select_related("tenant")
    if tenant is not None:
        projects = projects.filter(tenant=tenant)
    return projects.order_by("tenant__name", "name")


def get_tenant_for(*, user: User | AnonymousUser, tenant_id: int | str) -> Tenant:
    """Another tenant's object is "not found", never "forbidden": its existence is not ours
    to reveal."""
    try:
        return tenants_for(user=user).get(pk=tenant_id)
    except (Tenant.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such tenant.")) from None


def get_project_for(*, user: User | AnonymousUser, project_id: int | str) -> Project:
    """One of the user's projects; another tenant's is "not found"."""
    try:
        return projects_for(user=user).get(pk=project_id)
    except (Project.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such project.")) from None


def tenant_owners(*, tenant: Tenant | int) -> list[User]:
    """The active owners of a tenant: who hears about what happens to it."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    return list(
        User.objects.filter(
            memberships__tenant_id=tenant_id,
            memberships__role=Membership.Role.OWNER,
            is_active=True,
        ).order_by("pk")
    )


def platform_admins(*, excluding_tenant: Tenant | None = None) -> QuerySet[User]:
    """Everyone who may act as a platform admin (through the group, directly, or superuser),
    optionally without the members of one tenant (who may not decide for it)."""
    # Permissions are answered by our backend (axes', first in the list, only refuses
    # locked-out sign-ins); with several backends Django asks which one.
    admins = User.objects.with_perm(
        PLATFORM_ADMIN_PERMISSION, is_active=True, backend="accounts.backends.HeaderUserBackend"
    )
    if excluding_tenant is not None:
        admins = admins.exclude(memberships__tenant=excluding_tenant)
    return admins


# --- notifications ------------------------------------------------------------------------


def notifications_for(*, user: User | AnonymousUser) -> QuerySet[Notification]:
    """The user's own notifications, newest first."""
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def get_notification_for(*, user: User | AnonymousUser, notification_id: int | str) -> Notification:
    """One of the user's notifications; anybody else's is "not found"."""
    try:
        return notifications_for(user=user).get(pk=notification_id)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such notification.")) from None


def unread_notification_count(*, user: User | AnonymousUser | None) -> int:
    """The header's badge: one COUNT query."""
    if user is None or not user.is_authenticated:
        return 0
    return notifications_for(user=user).filter(read_at__isnull=True).count()

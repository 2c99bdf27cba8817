"""Reads of the accounts app, always scoped to the acting user."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.errors import NotFound

from .models import Membership, Notification, Project, Tenant, User


def memberships_for(*, user: User) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def roles_of(*, user: User) -> dict[int, str]:
    """The user's role in each of their tenants, by tenant id."""
    return dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))


def tenants_for(*, user: User) -> QuerySet[Tenant]:
    if not user.is_authenticated:
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user).order_by("name")


def projects_for(*, user: User, tenant: Tenant | None = None) -> QuerySet[Project]:
    """Projects of the tenants the user belongs to (optionally one of them)."""
    projects = Project.objects.filter(tenant__memberships__user=user).select_related("tenant")
    if tenant is not None:
        projects = projects.filter(tenant=tenant)
    return projects.order_by("tenant__name", "name")


def get_tenant_for(*, user: User, tenant_id: object) -> Tenant:
    """Another tenant's object is "not found", never "forbidden": its existence is not ours
    to reveal."""
    try:
        return tenants_for(user=user).get(pk=tenant_id)
    except (Tenant.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such tenant.")) from None


def get_project_for(*, user: User, project_id: object) -> Project:
    try:
        return projects_for(user=user).get(pk=project_id)
    except (Project.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such project.")) from None


def notifications_for(*, user: User) -> QuerySet[Notification]:
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def get_notification_for(*, user: User, notification_id: object) -> Notification:
    try:
        return notifications_for(user=user).get(pk=notification_id)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such notification.")) from None

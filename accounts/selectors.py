"""Reads of the accounts app, always scoped to the acting user."""

from django.http import Http404

from .models import Membership, Project, Tenant


def memberships_for(*, user):
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def tenants_for(*, user):
    if not user.is_authenticated:
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user).order_by("name")


def projects_for(*, user, tenant=None):
    """Projects of the tenants the user belongs to (optionally one of them)."""
    projects = Project.objects.filter(tenant__memberships__user=user).select_related("tenant")
    if tenant is not None:
        projects = projects.filter(tenant=tenant)
    return projects.order_by("tenant__name", "name")


def get_tenant_for(*, user, tenant_id):
    """Another tenant's object is a 404, never a 403: its existence is not ours to reveal."""
    try:
        return tenants_for(user=user).get(pk=tenant_id)
    except (Tenant.DoesNotExist, ValueError, TypeError):
        raise Http404("No such tenant.") from None


def get_project_for(*, user, project_id):
    try:
        return projects_for(user=user).get(pk=project_id)
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("No such project.") from None


def role_in(*, user, tenant):
    membership = Membership.objects.filter(user=user, tenant=tenant).only("role").first()
    return membership.role if membership else None

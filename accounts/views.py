"""HTML views of the accounts app: thin, they call services and selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import NotPermitted, apply_to_form
from core.http import is_safe_url, safe_next_url
from core.pagination import paginate

from . import selectors, services
from .errors import AccountsErrorCode
from .forms import ProjectForm, WorkspaceSwitchForm
from .workspace import WorkspaceRequest, activate


@login_required
@require_POST
def switch_workspace(request: WorkspaceRequest) -> HttpResponse:
    """The header's switcher: act for another of one's tenants (and projects)."""
    form = WorkspaceSwitchForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Choose a tenant."))
    tenant = selectors.get_tenant_for(user=request.user, tenant_id=form.cleaned_data["tenant"])
    project_id = form.cleaned_data.get("project")
    if project_id is not None:
        project = selectors.get_project_for(user=request.user, project_id=project_id)
        if project.tenant_id != tenant.pk:
            return HttpResponseBadRequest(_("That project belongs to another tenant."))
    activate(request, tenant_id=tenant.pk, project_id=project_id)
    return redirect(safe_next_url(request, reverse("home")))


@login_required
def project_list(request: WorkspaceRequest) -> HttpResponse:
    """The active tenant's projects."""
    tenant = request.workspace.tenant
    projects = selectors.projects_for(user=request.user, tenant=tenant) if tenant else []
    return render(request, "accounts/project_list.html", {"projects": projects})


@login_required
def project_create(request: WorkspaceRequest) -> HttpResponse:
    """Owners create a project in the active tenant; it becomes the active project."""
    tenant = request.workspace.tenant
    if tenant is None:
        raise NotPermitted(
            _("You are not a member of any tenant yet."), code=AccountsErrorCode.NO_TENANT
        )
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(
                actor=request.user,
                tenant=tenant,
                name=form.cleaned_data["name"],
                namespace=form.cleaned_data["namespace"],
                description=form.cleaned_data["description"],
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_to_form(form, exc)
        else:
            activate(request, tenant_id=tenant.pk, project_id=project.pk)
            messages.success(request, _("Project “%(name)s” created.") % {"name": project.name})
            return redirect("accounts:project-list")
    return render(request, "accounts/project_form.html", {"form": form})


# --- notifications ------------------------------------------------------------------------


@login_required
def notification_list(request: WorkspaceRequest) -> HttpResponse:
    """The user's notifications, newest first, a page at a time."""
    notifications = selectors.notifications_for(user=request.user)
    return render(request, "accounts/notification_list.html", paginate(request, notifications))


@login_required
@require_POST
def notification_read(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """Mark one read; with `open`, go where it points (a link inside this site only)."""
    note = selectors.get_notification_for(user=request.user, notification_id=pk)
    services.mark_notifications_read(user=request.user, ids=[note.pk])
    if "open" in request.POST and is_safe_url(request, note.url):
        return redirect(note.url)
    return redirect(safe_next_url(request, reverse("accounts:notifications")))


@login_required
@require_POST
def notification_read_all(request: WorkspaceRequest) -> HttpResponse:
    """Mark every unread notification read."""
    count = services.mark_notifications_read(user=request.user)
    if count:
        messages.success(request, _("All notifications are marked as read."))
    return redirect("accounts:notifications")

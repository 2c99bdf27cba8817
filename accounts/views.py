"""HTML views of the accounts app: thin, they call services and selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import ProjectForm, WorkspaceSwitchForm
from .workspace import activate


@login_required
def home(request):
    return render(request, "accounts/home.html")


@login_required
@require_POST
def switch_workspace(request):
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
    target = form.cleaned_data.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "home"
    return redirect(target)


@login_required
def project_list(request):
    tenant = request.workspace.tenant
    projects = selectors.projects_for(user=request.user, tenant=tenant) if tenant else []
    return render(request, "accounts/project_list.html", {"projects": projects})


@login_required
def project_create(request):
    tenant = request.workspace.tenant
    if tenant is None:
        raise PermissionDenied(_("You are not a member of any tenant yet."))
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
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            activate(request, tenant_id=tenant.pk, project_id=project.pk)
            messages.success(request, _("Project “%(name)s” created.") % {"name": project.name})
            return redirect("project-list")
    return render(request, "accounts/project_form.html", {"form": form})

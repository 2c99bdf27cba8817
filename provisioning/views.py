"""容器应用 → Operator 应用: installed operators, live; thin views over services."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.decorators import platform_admin_required
from accounts.selectors import projects_for
from accounts.workspace import WorkspaceRequest
from assets.storefront.selectors import get_asset_by_code
from clusters.models import Cluster
from clusters.selectors import clusters_open_to
from core.errors import apply_to_form, error_text
from core.pagination import paginate
from orders.selectors import active_entitlement

from . import selectors, services
from .forms import ClusterWideInstallForm, InstallForm, SubscriptionForm, UninstallForm
from .models import Installation


@login_required
def installation_list(request: WorkspaceRequest) -> HttpResponse:
    tenant = request.workspace.tenant
    status = request.GET.get("status", "")
    installations = selectors.filter_installations(
        selectors.installations_for(user=request.user, tenant=tenant), status=status
    )
    context = paginate(request, installations)
    page = context["page"]
    context |= {
        "rows": [(i, selectors.step_indicator(i)) for i in page.object_list],
        "status": status,
        "statuses": Installation.Status.choices,
        "live": any(i.is_unfinished or i.needs_approval for i in page.object_list),
    }
    if request.htmx and request.GET.get("fragment") == "rows":
        return render(request, "provisioning/_installation_rows.html", context)
    return render(request, "provisioning/installation_list.html", context)


@login_required
def installation_detail(
    request: WorkspaceRequest, installation_id: int, tab: str = "details"
) -> HttpResponse:
    installation = selectors.get_installation_for(
        user=request.user, installation_id=installation_id
    )
    context = {
        "installation": installation,
        "steps": selectors.step_indicator(installation),
        "tab": tab,
        "live": installation.is_unfinished or installation.needs_approval,
    }
    if tab == "subscription":
        context["form"] = SubscriptionForm(installation=installation)
    elif tab == "events":
        context["events"] = selectors.events_of(installation=installation)
    if request.htmx and request.GET.get("fragment") == "status":
        return render(request, "provisioning/_status_panel.html", context)
    return render(request, "provisioning/installation_detail.html", context)


def _installation_or_404(request: WorkspaceRequest, installation_id: int) -> Installation:
    return selectors.get_installation_for(user=request.user, installation_id=installation_id)


def _run(request: WorkspaceRequest, action: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        action(actor=request.user, **kwargs)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return False
    return True


@login_required
@require_POST
def installation_retry(request: WorkspaceRequest, installation_id: int) -> HttpResponse:
    installation = _installation_or_404(request, installation_id)
    if _run(request, services.retry_installation, installation=installation):
        messages.success(request, _("Retrying the installation."))
    return redirect("provisioning:installation-detail", installation_id=installation.pk)


@login_required
@require_POST
def installation_approve(request: WorkspaceRequest, installation_id: int) -> HttpResponse:
    installation = _installation_or_404(request, installation_id)
    if _run(request, services.approve_install_plan, installation=installation):
        messages.success(request, _("Upgrade approved; the operator is being installed."))
    return redirect(
        "provisioning:installation-tab", installation_id=installation.pk, tab="subscription"
    )


@login_required
@require_POST
def installation_subscription(request: WorkspaceRequest, installation_id: int) -> HttpResponse:
    installation = _installation_or_404(request, installation_id)
    form = SubscriptionForm(request.POST, installation=installation)
    if form.is_valid() and _run(
        request,
        services.change_subscription,
        installation=installation,
        channel=form.cleaned_data["channel"],
        approval=form.cleaned_data["approval"],
    ):
        messages.success(request, _("Subscription updated."))
    elif not form.is_valid():
        messages.error(request, error_text(ValidationError(form.errors)))
    return redirect(
        "provisioning:installation-tab", installation_id=installation.pk, tab="subscription"
    )


@login_required
def installation_uninstall(request: WorkspaceRequest, installation_id: int) -> HttpResponse:
    installation = _installation_or_404(request, installation_id)
    running = services.instance_count(installation)
    form = UninstallForm(request.POST if request.method == "POST" else None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _run(
            request,
            services.request_uninstall,
            installation=installation,
            delete_instances=form.cleaned_data["delete_instances"],
        )
    ):
        messages.success(request, _("Uninstalling %(name)s.") % {"name": installation.package})
        return redirect("provisioning:installed-operators")
    return render(
        request,
        "provisioning/uninstall_confirm.html",
        {"installation": installation, "form": form, "running": running},
    )


@login_required
def installation_create(request: WorkspaceRequest, asset_code: str) -> HttpResponse:
    """安装: into one of the tenant's projects, for a tenant holding the asset."""
    tenant = request.workspace.tenant
    asset = get_asset_by_code(code=asset_code)
    entitlement = active_entitlement(tenant, asset) if tenant is not None else None
    version = selectors.installable_version(asset=asset)
    if tenant is None or entitlement is None or version is None:
        return render(
            request,
            "provisioning/install_unavailable.html",
            {"asset": asset, "version": version, "entitlement": entitlement},
            status=403 if entitlement is None else 409,
        )
    form = InstallForm(
        request.POST or None,
        projects=projects_for(user=request.user, tenant=tenant),
        clusters=clusters_open_to(tenant=tenant),
        version=version,
        initial={"request_key": uuid.uuid4().hex, "project": request.workspace.project},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            installation = services.request_installation(
                actor=request.user,
                tenant=tenant,
                project=data["project"],
                cluster=data["cluster"],
                version=version,
                channel=data["channel"],
                approval=data["approval"],
                request_key=data["request_key"],
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_to_form(form, exc)
        else:
            messages.success(request, _("Installing %(name)s…") % {"name": asset.name})
            return redirect("provisioning:installation-detail", installation_id=installation.pk)
    return render(
        request,
        "provisioning/install_form.html",
        {"form": form, "asset": asset, "version": version, "entitlement": entitlement},
    )


@platform_admin_required(
    gettext_lazy("Only platform administrators install operators cluster-wide.")
)
def cluster_wide(request: WorkspaceRequest) -> HttpResponse:
    """Operators that watch all namespaces: installed once per cluster, used by projects."""
    form = ClusterWideInstallForm(
        request.POST or None,
        versions=selectors.cluster_wide_candidates(),
        clusters=Cluster.objects.order_by("name"),
    )
    if request.method == "POST" and form.is_valid():
        try:
            installation = services.install_cluster_wide(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_to_form(form, exc)
        else:
            messages.success(
                request,
                _("Installing %(package)s cluster-wide on %(cluster)s.")
                % {"package": installation.package, "cluster": installation.cluster},
            )
            return redirect("provisioning:installation-detail", installation_id=installation.pk)
    context = paginate(request, selectors.cluster_wide_installations())
    context["form"] = form
    failed = request.method == "POST" and bool(form.errors)
    return render(request, "provisioning/cluster_wide.html", context, status=400 if failed else 200)

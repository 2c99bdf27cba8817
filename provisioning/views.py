"""容器应用 → Operator 应用: installed operators, live; thin views over services."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import InstallForm, SubscriptionForm, UninstallForm
from .models import Installation

TABS = ("details", "subscription", "events", "instances")


def _errors(exc):
    if hasattr(exc, "error_dict"):
        return " ".join(m for messages_ in exc.message_dict.values() for m in messages_)
    return " ".join(exc.messages)


@login_required
def installation_list(request):
    tenant = request.workspace.tenant
    installations = selectors.installations_for(user=request.user, tenant=tenant)
    status = request.GET.get("status", "")
    if status in Installation.Status.values:
        installations = installations.filter(status=status)
    page = Paginator(installations, 20).get_page(request.GET.get("page"))
    rows = [(i, selectors.step_indicator(i)) for i in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "status": status,
        "statuses": Installation.Status.choices,
        "live": any(i.is_unfinished or i.needs_approval for i in page.object_list),
    }
    if request.htmx and request.GET.get("fragment") == "rows":
        return render(request, "provisioning/_installation_rows.html", context)
    return render(request, "provisioning/installation_list.html", context)


@login_required
def installation_detail(request, installation_id, tab="details"):
    if tab not in TABS:
        tab = "details"
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


def _installation_or_404(request, installation_id):
    return selectors.get_installation_for(user=request.user, installation_id=installation_id)


def _run(request, action, **kwargs):
    try:
        action(actor=request.user, **kwargs)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _errors(exc) if isinstance(exc, ValidationError) else str(exc))
        return False
    return True


@login_required
@require_POST
def installation_retry(request, installation_id):
    installation = _installation_or_404(request, installation_id)
    if _run(request, services.retry_installation, installation=installation):
        messages.success(request, _("Retrying the installation."))
    return redirect("provisioning:installation-detail", installation_id=installation.pk)


@login_required
@require_POST
def installation_approve(request, installation_id):
    installation = _installation_or_404(request, installation_id)
    if _run(request, services.approve_install_plan, installation=installation):
        messages.success(request, _("Upgrade approved; the operator is being installed."))
    return redirect(
        "provisioning:installation-tab", installation_id=installation.pk, tab="subscription"
    )


@login_required
@require_POST
def installation_subscription(request, installation_id):
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
        messages.error(request, _errors(ValidationError(form.errors)))
    return redirect(
        "provisioning:installation-tab", installation_id=installation.pk, tab="subscription"
    )


@login_required
def installation_uninstall(request, installation_id):
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
def installation_create(request, asset_code):
    """安装: into one of the tenant's projects, for a tenant holding the asset."""
    from accounts.selectors import projects_for
    from assets.models import Asset
    from clusters.selectors import clusters_open_to
    from orders.selectors import active_entitlement

    tenant = request.workspace.tenant
    asset = Asset.objects.filter(code=asset_code).first()
    if tenant is None or asset is None:
        raise Http404("No such asset.")
    entitlement = active_entitlement(tenant, asset)
    version = selectors.installable_version(asset=asset)
    if entitlement is None or version is None:
        return render(
            request,
            "provisioning/install_unavailable.html",
            {"asset": asset, "version": version, "entitlement": entitlement},
            status=403 if entitlement is None else 409,
        )
    projects = projects_for(user=request.user, tenant=tenant)
    clusters = clusters_open_to(tenant=tenant)
    form = InstallForm(
        request.POST or None,
        projects=projects,
        clusters=clusters,
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
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Installing %(name)s…") % {"name": asset.name})
            return redirect("provisioning:installation-detail", installation_id=installation.pk)
    return render(
        request,
        "provisioning/install_form.html",
        {"form": form, "asset": asset, "version": version, "entitlement": entitlement},
    )

"""HTML views of the review queue (审批) and the providers' requests: thin.

The queue decides in place over htmx (the row re-renders); every action also works as a
plain form post without JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.decorators import platform_admin_required
from accounts.workspace import WorkspaceRequest
from assets import selectors as asset_selectors
from assets.models import AssetVersion
from core.errors import apply_to_form, error_text, messages_by_field
from core.http import safe_next_url
from core.pagination import paginate

from . import selectors, services
from .forms import ApproveForm, QueueFilterForm, RejectForm, SubmitForm
from .models import ApprovalRequest

admins_only = platform_admin_required(
    gettext_lazy("Only platform administrators review listing requests.")
)


# --- the queue (审批) ---------------------------------------------------------------------------


@admins_only
def approval_list(request: WorkspaceRequest) -> HttpResponse:
    """状态, 申请人, 资产名称 … 操作: pending first, then newest; filters; pagination."""
    if request.htmx and request.GET.get("fragment") == "pending-count":
        return render(
            request,
            "approvals/includes/pending_count.html",
            {"pending_count": selectors.pending_count(user=request.user)},
        )
    filters = QueueFilterForm(request.GET or None)
    status = kind = ""
    if filters.is_valid():
        status, kind = filters.cleaned_data["status"], filters.cleaned_data["kind"]
    requests = selectors.filter_requests(
        selectors.requests_for(user=request.user), status=status, kind=kind
    )
    context = paginate(request, requests)
    page = context["page"]
    page.object_list = selectors.attach_scan_summaries(
        selectors.attach_user_counts(page.object_list)
    )
    return render(
        request,
        "approvals/approval_list.html",
        {
            **context,
            "filters": filters,
            "filtered": bool(status or kind),
            "pending_count": selectors.pending_count(user=request.user),
            "own_tenants": selectors.own_tenant_ids(user=request.user),
        },
    )


def _row(
    request: WorkspaceRequest,
    approval_id: int,
    *,
    mode: str = "",
    form: Form | None = None,
    note: str = "",
    errors: Sequence[str] = (),
    status: int = 200,
) -> HttpResponse:
    """One queue row, as htmx swaps it in after an action."""
    approval = selectors.get_request_for(user=request.user, request_id=approval_id)
    selectors.attach_user_counts([approval])
    selectors.attach_scan_summaries([approval])
    return render(
        request,
        "approvals/includes/approval_row.html",
        {
            "r": approval,
            "mode": mode,
            "form": form,
            "note": note,
            "row_errors": list(errors),
            "own_tenants": selectors.own_tenant_ids(user=request.user),
        },
        status=status,
    )


@admins_only
def approval_row(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """htmx: the row as it is now (the reject form's Cancel)."""
    return _row(request, pk)


def _detail_context(
    request: WorkspaceRequest, approval: ApprovalRequest, **extra: Any
) -> dict[str, Any]:
    selectors.attach_user_counts([approval])
    material = selectors.review_material(approval=approval)
    version = material["version"]
    images = asset_selectors.version_images(version=version) if version else []
    timeline = selectors.version_timelines(version_ids=[version.pk])[version.pk] if version else []
    return {
        "r": approval,
        "asset": approval.asset,
        "timeline": timeline,
        "can_decide": approval.is_pending
        and approval.tenant_id not in selectors.own_tenant_ids(user=request.user),
        "approve_form": ApproveForm(),
        "reject_form": RejectForm(),
        "images": images,
        "scan_blockers": asset_selectors.listing_blockers(images=images),
        "revision_diff": selectors.revision_diff(revision=approval.revision)
        if approval.revision is not None
        else None,
        **material,
        **extra,
    }


@admins_only
def approval_detail(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """What is being approved: the asset as buyers will see it, its plans and the version."""
    approval = selectors.get_request_for(user=request.user, request_id=pk)
    return render(request, "approvals/approval_detail.html", _detail_context(request, approval))


def _decided(request: WorkspaceRequest, approval: ApprovalRequest, note: str) -> HttpResponse:
    if request.htmx:
        response = _row(request, approval.pk, note=note)
        # The page's "N pending" badge asks again (hx-trigger="approvals-changed from:body").
        response["HX-Trigger"] = "approvals-changed"
        return response
    messages.success(request, note)
    return redirect(safe_next_url(request, reverse("approvals:approvals")))


def _refused(request: WorkspaceRequest, approval: ApprovalRequest, exc: Exception) -> HttpResponse:
    if request.htmx:
        return _row(request, approval.pk, errors=[error_text(exc)])
    messages.error(request, error_text(exc))
    default = reverse("approvals:approval-detail", args=[approval.pk])
    return redirect(safe_next_url(request, default))


@admins_only
@require_POST
def approval_approve(request: WorkspaceRequest, pk: int) -> HttpResponse:
    approval = selectors.get_request_for(user=request.user, request_id=pk)
    form = ApproveForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        approval = services.approve_request(actor=request.user, approval=approval, reason=reason)
    except (ValidationError, PermissionDenied) as exc:
        return _refused(request, approval, exc)
    if approval.is_listing:
        note = _("Approved: %(asset)s %(version)s is on sale.")
    else:
        note = _("Approved: %(asset)s %(version)s is delisted.")
    return _decided(
        request, approval, note % {"asset": approval.asset.name, "version": approval.version_number}
    )


@admins_only
def approval_reject(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """GET (htmx): the row with its required reason field; POST: reject."""
    approval = selectors.get_request_for(user=request.user, request_id=pk)
    if request.method != "POST":
        if request.htmx:
            return _row(request, pk, mode="reject", form=RejectForm())
        return redirect(reverse("approvals:approval-detail", args=[pk]) + "#decide")
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            approval = services.reject_request(
                actor=request.user, approval=approval, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            if "reason" not in messages_by_field(exc):
                return _refused(request, approval, exc)
            apply_to_form(form, exc)
        except PermissionDenied as exc:
            return _refused(request, approval, exc)
        else:
            note = _("Rejected: %(asset)s %(version)s; the provider has been told why.") % {
                "asset": approval.asset.name,
                "version": approval.version_number,
            }
            return _decided(request, approval, note)
    if request.htmx:
        return _row(request, pk, mode="reject", form=form)
    context = _detail_context(request, approval, reject_form=form)
    return render(request, "approvals/approval_detail.html", context, status=400)


# --- the provider's side (the version card on the asset page) -----------------------------------


def _version_anchor(version: AssetVersion) -> str:
    return reverse("assets:asset-detail", args=[version.asset.code]) + f"#version-{version.pk}"


@login_required
@require_POST
def version_submit(request: WorkspaceRequest, version_id: int) -> HttpResponse:
    """申请上架 / 申请下架 from the version card."""
    version = asset_selectors.get_version_for(user=request.user, version_id=version_id)
    form = SubmitForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:  # an ErrorList yields its messages
                messages.error(request, str(error))
        return redirect(_version_anchor(version))
    try:
        approval = services.submit_request(
            actor=request.user,
            version=version,
            kind=form.cleaned_data["kind"],
            reason=form.cleaned_data["reason"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        if approval.is_listing:
            note = _(
                "Version %(version)s is submitted for listing; the platform reviews it "
                "within 1–2 working days."
            )
        else:
            note = _(
                "Delisting of version %(version)s is requested; it stays on sale until the "
                "platform decides."
            )
        messages.success(request, note % {"version": version.version})
    return redirect(_version_anchor(version))


@login_required
@require_POST
def approval_withdraw(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """撤回申请: back to draft (listing) or on sale (delisting)."""
    approval = selectors.get_request_for(user=request.user, request_id=pk)
    try:
        services.withdraw_request(actor=request.user, approval=approval)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("Your changes waiting for review are withdrawn.")
            if approval.is_revision
            else _("Your request for version %(version)s is withdrawn.")
            % {"version": approval.version_number},
        )
    target = reverse("assets:asset-detail", args=[approval.asset.code])
    if approval.version_id:
        target += f"#version-{approval.version_id}"
    return redirect(target)

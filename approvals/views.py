"""HTML views of the review queue (审批), the provider's requests and notifications: thin.

The queue decides in place over htmx (the row re-renders); every action also works as a
plain form post without JavaScript.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.permissions import is_platform_admin
from assets import selectors as asset_selectors

from . import selectors, services
from .forms import ApproveForm, QueueFilterForm, RejectForm, SubmitForm
from .models import ApprovalRequest

PAGE_SIZE = 20


def platform_admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not is_platform_admin(request.user):
            raise PermissionDenied(_("Only platform administrators review listing requests."))
        return view(request, *args, **kwargs)

    return wrapper


def _errors(exc):
    if isinstance(exc, ValidationError):
        return exc.messages
    return [str(exc) or _("You may not do this.")]


def _safe_next(request, default):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _without_page(querydict):
    params = querydict.copy()
    params.pop("page", None)
    return params.urlencode()


# --- the queue (审批) ---------------------------------------------------------------------------


@platform_admin_required
def approval_list(request):
    """状态, 申请人, 资产名称 … 操作: pending first, then newest; filters; pagination."""
    filters = QueueFilterForm(request.GET or None)
    status = kind = ""
    if filters.is_valid():
        status, kind = filters.cleaned_data["status"], filters.cleaned_data["kind"]
    everything = selectors.requests_for(user=request.user)
    requests = selectors.filter_requests(everything, status=status, kind=kind)
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.attach_user_counts(page.object_list)
    filtered = bool(status or kind)
    return render(
        request,
        "approvals/approval_list.html",
        {
            "page": page,
            "filters": filters,
            "filtered": filtered,
            "pending_count": everything.filter(status=ApprovalRequest.Status.PENDING).count(),
            "own_tenants": selectors.own_tenant_ids(user=request.user),
            "query_string": _without_page(request.GET),
        },
    )


def _row(request, approval_id, *, mode="", form=None, note="", errors=(), status=200):
    """One queue row, as htmx swaps it in after an action."""
    approval = selectors.get_request_for(user=request.user, request_id=approval_id)
    selectors.attach_user_counts([approval])
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


@platform_admin_required
def approval_row(request, pk):
    """htmx: the row as it is now (the reject form's Cancel)."""
    return _row(request, pk)


def _detail_context(request, approval, **extra):
    selectors.attach_user_counts([approval])
    material = selectors.review_material(approval=approval)
    version = material["version"]
    timeline = selectors.version_timelines(version_ids=[version.pk])[version.pk] if version else []
    return {
        "r": approval,
        "asset": approval.asset,
        "timeline": timeline,
        "can_decide": approval.is_pending
        and approval.tenant_id not in selectors.own_tenant_ids(user=request.user),
        "approve_form": ApproveForm(),
        "reject_form": RejectForm(),
        **material,
        **extra,
    }


@platform_admin_required
def approval_detail(request, pk):
    """What is being approved: the asset as buyers will see it, its plans and the version."""
    approval = selectors.get_request_for(user=request.user, request_id=pk)
    return render(request, "approvals/approval_detail.html", _detail_context(request, approval))


def _decided(request, approval, note):
    if request.htmx:
        return _row(request, approval.pk, note=note)
    messages.success(request, note)
    return redirect(_safe_next(request, reverse("approvals:approvals")))


def _refused(request, approval, exc):
    if request.htmx:
        return _row(request, approval.pk, errors=_errors(exc))
    for error in _errors(exc):
        messages.error(request, error)
    return redirect(_safe_next(request, reverse("approvals:approval-detail", args=[approval.pk])))


@platform_admin_required
@require_POST
def approval_approve(request, pk):
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


@platform_admin_required
def approval_reject(request, pk):
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
            if not (hasattr(exc, "error_dict") and "reason" in exc.error_dict):
                return _refused(request, approval, exc)
            form.add_error("reason", exc.error_dict["reason"])
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


def _version_anchor(version):
    return reverse("assets:asset-detail", args=[version.asset.code]) + f"#version-{version.pk}"


@login_required
@require_POST
def version_submit(request, version_id):
    """申请上架 / 申请下架 from the version card."""
    version = asset_selectors.get_version_for(user=request.user, version_id=version_id)
    form = SubmitForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(_version_anchor(version))
    try:
        approval = services.submit_request(
            actor=request.user,
            version=version,
            kind=form.cleaned_data["kind"],
            reason=form.cleaned_data["reason"],
        )
    except (ValidationError, PermissionDenied) as exc:
        for error in _errors(exc):
            messages.error(request, error)
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
def approval_withdraw(request, pk):
    """撤回申请: back to draft (listing) or on sale (delisting)."""
    approval = selectors.get_request_for(user=request.user, request_id=pk)
    try:
        services.withdraw_request(actor=request.user, approval=approval)
    except (ValidationError, PermissionDenied) as exc:
        for error in _errors(exc):
            messages.error(request, error)
    else:
        messages.success(
            request,
            _("Your request for version %(version)s is withdrawn.")
            % {"version": approval.version_number},
        )
    target = reverse("assets:asset-detail", args=[approval.asset.code])
    if approval.version_id:
        target += f"#version-{approval.version_id}"
    return redirect(target)

"""HTML views of the provider portal (资产管理): thin, they call services and selectors."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from approvals import selectors as approval_selectors
from core.errors import apply_to_form, error_text, messages_by_field
from core.pagination import paginate

from . import scans, selectors, services, uploads
from .forms import (
    DELIVERY_EXPLANATIONS,
    AssetFilterForm,
    AssetForm,
    PlanForm,
    PlanFormSet,
    ScanReportForm,
    ScreenshotForm,
    VersionForm,
)
from .images import clean_icon, clean_screenshot
from .lifecycle import lifecycle_steps
from .markdown import render_markdown
from .models import AssetRevision, Screenshot
from .services import ASSET_FIELDS


def provider_required(view):
    """The portal is for members of a provider tenant; others learn why, not a bare 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        tenant = request.workspace.tenant
        if tenant is None or not tenant.is_provider:
            providers = list(selectors.provider_tenants_for(user=request.user))
            return render(request, "assets/not_provider.html", {"providers": providers}, status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _asset_context(request, code, tab):
    asset = selectors.get_asset_for(user=request.user, code=code)
    return asset, {
        "asset": asset,
        "tab": tab,
        "delivery_explanation": DELIVERY_EXPLANATIONS[asset.delivery_type],
        **_revision_context(asset),
    }


def _revision_context(asset):
    """A listed asset's edits wait for review: the banner, its diff and the withdraw button."""
    review = approval_selectors.pending_revision_request(asset=asset)
    return {
        "is_live": services.is_live(asset=asset),
        "revision_review": review,
        "revision_diff": approval_selectors.revision_diff(revision=review.revision)
        if review is not None and review.revision is not None
        else None,
    }


def _held_message(request):
    messages.info(
        request,
        _(
            "This asset is on sale, so your changes are held for review: buyers see the "
            "current page until a platform administrator approves them."
        ),
    )


# --- 资产管理 list and 添加资产 --------------------------------------------------------------


@provider_required
def asset_list(request):
    tenant = request.workspace.tenant
    filters = AssetFilterForm(request.GET or None)
    query = status = ""
    if filters.is_valid():
        query, status = filters.cleaned_data["q"], filters.cleaned_data["status"]
    all_assets = selectors.assets_for(user=request.user, tenant=tenant)
    assets = selectors.search_assets(all_assets, query=query, status=status)
    pagination = paginate(request, assets)
    page = pagination["page"]
    page.object_list = selectors.attach_current_versions(page.object_list)
    filtered = bool(query or status)
    return render(
        request,
        "assets/asset_list.html",
        {
            **pagination,
            "filters": filters,
            "filtered": filtered,
            "has_any": filtered or page.paginator.count > 0 or all_assets.exists(),
        },
    )


def _add_new_errors(form, exc):
    """A service's check of the fields that parsed: its messages on fields the form has
    not already refused (one message per problem), the rest on top of the form."""
    if not isinstance(exc, ValidationError):
        apply_to_form(form, exc)
        return
    for field, field_messages in messages_by_field(exc).items():
        target = field if field in form.fields else None
        if target is None or not form.errors.get(target):
            form.add_error(target, field_messages)


def _kept_from_post(request, *, screenshots=True):
    if request.method != "POST":
        return None, []
    icon = uploads.kept(request=request, token=request.POST.get("icon_kept"))
    shots = (
        uploads.kept_list(request=request, tokens=request.POST.getlist("screenshots_kept"))
        if screenshots
        else []
    )
    return icon, shots


def _keep_for_next_submit(request, form):
    """After a failed submit: new images that passed their check are kept (replacing what
    was kept before), so the provider does not choose them again."""
    icon = request.FILES.get("icon")
    if icon:
        if form.kept_icon is not None:
            uploads.discard(request=request, uploads=[form.kept_icon])
        form.kept_icon = uploads.keep_checked(request=request, upload=icon, cleaner=clean_icon)
    shots = (
        [f for f in request.FILES.getlist("screenshots") if f]
        if "screenshots" in form.fields
        else []
    )
    if shots:
        uploads.discard(request=request, uploads=form.kept_screenshots)
        kept = [
            uploads.keep_checked(request=request, upload=shot, cleaner=clean_screenshot)
            for shot in shots[: Screenshot.MAX_PER_ASSET]
        ]
        form.kept_screenshots = [k for k in kept if k is not None]


@provider_required
def asset_create(request):
    """添加资产. Every error shows at once: when some fields do not parse, the service
    still checks the others (icon, screenshots, the plans that parsed)."""
    tenant = request.workspace.tenant
    kept_icon, kept_shots = _kept_from_post(request)
    form = AssetForm(
        request.POST or None,
        request.FILES or None,
        kept_icon=kept_icon,
        kept_screenshots=kept_shots,
    )
    plans = PlanFormSet(request.POST or None, prefix="plans")
    if request.method == "POST":
        parsed = form.is_valid() & plans.is_valid()
        icon = form.cleaned_data.get("icon")
        shots = form.cleaned_data.get("screenshots")
        opened = [] if icon or kept_icon is None else [uploads.open_kept(kept_icon)]
        icon = icon or (opened[0] if opened else None)
        if not shots and kept_shots:
            shots = [uploads.open_kept(k) for k in kept_shots]
            opened += shots
        try:
            if parsed:
                asset = services.register_asset(
                    actor=request.user,
                    tenant=tenant,
                    icon=icon,
                    screenshots=shots,
                    plans=plans.plans(),
                    **form.service_fields(),
                )
            else:
                services.validate_registration(
                    actor=request.user,
                    tenant=tenant,
                    icon=icon,
                    screenshots=shots,
                    plans=plans.valid_plans(),
                    **form.service_fields(partial=True),
                )
        except (ValidationError, PermissionDenied) as exc:
            _add_new_errors(form, exc)
        else:
            if parsed:
                uploads.discard(request=request, uploads=[*filter(None, [kept_icon]), *kept_shots])
                messages.success(
                    request,
                    _("Asset “%(name)s” registered as %(code)s. Next: define a version.")
                    % {"name": asset.name, "code": asset.code},
                )
                return redirect("assets:asset-detail", code=asset.code)
        finally:
            _close(*opened)
        _keep_for_next_submit(request, form)
    return render(
        request,
        "assets/asset_form.html",
        {"form": form, "plans": plans, "creating": True},
    )


def _close(*files):
    for file in files:
        if file:
            file.close()


@login_required
def kept_upload(request, token):
    """The preview of an image a failed submit kept: this session's own, re-encoded by us."""
    upload = uploads.kept(request=request, token=token)
    if upload is None:
        raise Http404
    content_type = "image/jpeg" if upload.name.endswith(".jpg") else "image/png"
    response = FileResponse(uploads.open_kept(upload), content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response


# --- the asset page and its tabs ------------------------------------------------------------


@login_required
def asset_versions(request, code):
    """Operator 定义: the versions with their lifecycle bar."""
    asset, context = _asset_context(request, code, "versions")
    versions = list(selectors.versions_for(user=request.user, asset=asset))
    summaries = selectors.scan_summaries(version_ids=[v.pk for v in versions])
    for version in versions:
        version.steps = lifecycle_steps(version)
        version.scan_summary = summaries.get(version.pk)
    context.update(versions=versions, checklist=selectors.listing_checklist(asset=asset))
    return render(request, "assets/asset_versions.html", context)


def _screenshots_context(request, asset, context):
    """The 资产截图 panel: the live screenshots and the held changes, marked (a held removal
    stays visible to buyers until approved; a held new one is not shown to them yet)."""
    shots = list(selectors.screenshots_for(user=request.user, asset=asset))
    diff = context["revision_diff"]
    changes = diff["screenshots"] if diff else []
    removing = {c["screenshot"]: c["key"] for c in changes if c["action"] == "remove"}
    for shot in shots:
        shot.held_removal = removing.get(shot.pk, "")
    added = [c for c in changes if c["action"] == "add"]
    return {
        "screenshots": shots,
        "held_screenshots": added,
        "screenshot_count": len(shots) - len(removing) + len(added),
    }


@login_required
def asset_info(request, code):
    """资产信息: everything buyers will read, rendered as they will see it."""
    asset, context = _asset_context(request, code, "info")
    context.update(
        **_screenshots_context(request, asset, context),
        screenshot_form=ScreenshotForm(),
        description_html=render_markdown(asset.description),
    )
    return render(request, "assets/asset_info.html", context)


@login_required
def asset_edit(request, code):
    asset, context = _asset_context(request, code, "info")
    initial = {field: getattr(asset, field) for field in ASSET_FIELDS}
    initial["category"] = asset.category_id
    if context["revision_review"] is not None:  # edit the held changes, not the live page
        initial.update(context["revision_review"].revision.fields)
    kept_icon, _shots = _kept_from_post(request, screenshots=False)
    form = AssetForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        editing=True,
        kept_icon=kept_icon,
    )
    if request.method == "POST":
        parsed = form.is_valid()
        icon = form.cleaned_data.get("icon")
        opened = [] if icon or kept_icon is None else [uploads.open_kept(kept_icon)]
        icon = icon or (opened[0] if opened else None)
        result = None
        try:
            if parsed:
                result = services.update_asset(
                    actor=request.user, asset=asset, icon=icon, **form.service_fields()
                )
            else:
                services.validate_asset_update(
                    actor=request.user,
                    asset=asset,
                    icon=icon,
                    **form.service_fields(partial=True),
                )
        except (ValidationError, PermissionDenied) as exc:
            _add_new_errors(form, exc)
        else:
            if parsed:
                uploads.discard(request=request, uploads=[*filter(None, [kept_icon])])
                if isinstance(result, AssetRevision):
                    _held_message(request)
                else:
                    messages.success(request, _("Asset information saved."))
                return redirect("assets:asset-info", code=asset.code)
        finally:
            _close(*opened)
        _keep_for_next_submit(request, form)
    context.update(form=form, creating=False)
    return render(request, "assets/asset_form.html", context)


@login_required
@require_POST
def screenshot_add(request, code):
    asset, context = _asset_context(request, code, "info")
    form = ScreenshotForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            result = services.add_screenshot(
                actor=request.user, asset=asset, image=form.cleaned_data["image"]
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_to_form(form, exc)
        else:
            if isinstance(result, AssetRevision):
                _held_message(request)
            else:
                messages.success(request, _("Screenshot added."))
            return redirect("assets:asset-info", code=asset.code)
    context.update(
        **_screenshots_context(request, asset, context),
        screenshot_form=form,
        description_html=render_markdown(asset.description),
    )
    return render(request, "assets/asset_info.html", context, status=400)


@login_required
def screenshot_delete(request, code, screenshot_id):
    asset, context = _asset_context(request, code, "info")
    screenshot = selectors.get_screenshot_for(user=request.user, screenshot_id=screenshot_id)
    if screenshot.asset_id != asset.pk:
        return redirect("assets:asset-info", code=asset.code)
    if request.method == "POST":
        if services.remove_screenshot(actor=request.user, screenshot=screenshot) is not None:
            _held_message(request)
        else:
            messages.success(request, _("Screenshot removed."))
        return redirect("assets:asset-info", code=asset.code)
    context.update(
        title=_("Remove this screenshot?"),
        body=_(
            "This asset is on sale: buyers keep seeing the screenshot until a platform "
            "administrator approves its removal."
        )
        if context["is_live"]
        else _("Buyers will no longer see it. You can upload another one later."),
        confirm_label=_("Remove screenshot"),
        cancel_url="assets:asset-info",
        image=screenshot.image,
    )
    return render(request, "assets/confirm.html", context)


@login_required
@require_POST
def screenshot_undo(request, code, key):
    """Takes back a held screenshot change: a new one is dropped, a removal cancelled."""
    asset, _context = _asset_context(request, code, "info")
    if services.undo_screenshot_change(actor=request.user, asset=asset, key=key) is None:
        messages.success(request, _("Nothing of this asset is waiting for review any more."))
    else:
        messages.success(request, _("The screenshot change waiting for review is taken back."))
    return redirect("assets:asset-info", code=asset.code)


@login_required
def asset_plans(request, code):
    """规格与定价: a plan with a held archive, restore or delete is marked with it."""
    asset, context = _asset_context(request, code, "plans")
    plans = list(selectors.plans_for(user=request.user, asset=asset))
    diff = context["revision_diff"]
    moves = {move["plan"]: move for move in diff["plan_actions"]} if diff else {}
    for plan in plans:
        plan.held_move = moves.get(plan.pk)
    context.update(
        plans=[p for p in plans if not p.is_archived],
        archived_plans=[p for p in plans if p.is_archived],
    )
    return render(request, "assets/asset_plans.html", context)


@login_required
def plan_create(request, code):
    asset, context = _asset_context(request, code, "plans")
    form = PlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.create_plan(actor=request.user, asset=asset, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            apply_to_form(form, exc)
        else:
            if isinstance(plan, AssetRevision):
                _held_message(request)
            else:
                messages.success(request, _("Plan “%(name)s” added.") % {"name": plan.name})
            return redirect("assets:asset-plans", code=asset.code)
    context.update(form=form, plan=None)
    return render(request, "assets/plan_form.html", context)


def _plan_of(request, asset, plan_id):
    return selectors.get_plan_for(user=request.user, plan_id=plan_id, asset=asset)


@login_required
def plan_edit(request, code, plan_id):
    asset, context = _asset_context(request, code, "plans")
    plan = _plan_of(request, asset, plan_id)
    initial = {f: getattr(plan, f) for f in ("name", "price", "duration_value", "duration_unit")}
    form = PlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.update_plan(actor=request.user, plan=plan, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            apply_to_form(form, exc)
        else:
            if isinstance(result, AssetRevision):
                _held_message(request)
                return redirect("assets:asset-plans", code=asset.code)
            messages.success(request, _("Plan “%(name)s” saved.") % {"name": plan.name})
            return redirect("assets:asset-plans", code=asset.code)
    context.update(form=form, plan=plan)
    return render(request, "assets/plan_form.html", context)


@login_required
def plan_archive(request, code, plan_id):
    asset, context = _asset_context(request, code, "plans")
    plan = _plan_of(request, asset, plan_id)
    if request.method == "POST":
        if isinstance(services.archive_plan(actor=request.user, plan=plan), AssetRevision):
            _held_message(request)
        else:
            messages.success(request, _("Plan “%(name)s” archived.") % {"name": plan.name})
        return redirect("assets:asset-plans", code=asset.code)
    context.update(
        title=_("Archive the plan “%(name)s”?") % {"name": plan.name},
        body=_(
            "Buyers can no longer order it. Existing orders keep it and its price; "
            "you can restore it later."
        ),
        confirm_label=_("Archive plan"),
        cancel_url="assets:asset-plans",
    )
    return render(request, "assets/confirm.html", context)


@login_required
@require_POST
def plan_restore(request, code, plan_id):
    asset, _context = _asset_context(request, code, "plans")
    plan = _plan_of(request, asset, plan_id)
    try:
        result = services.restore_plan(actor=request.user, plan=plan)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        if isinstance(result, AssetRevision):
            _held_message(request)
        else:
            messages.success(request, _("Plan “%(name)s” is on sale again.") % {"name": plan.name})
    return redirect("assets:asset-plans", code=asset.code)


@login_required
def plan_delete(request, code, plan_id):
    asset, context = _asset_context(request, code, "plans")
    plan = _plan_of(request, asset, plan_id)
    if request.method == "POST":
        try:
            held = services.delete_plan(actor=request.user, plan=plan)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            if held is not None:
                _held_message(request)
            else:
                messages.success(request, _("Plan “%(name)s” deleted.") % {"name": plan.name})
        return redirect("assets:asset-plans", code=asset.code)
    context.update(
        title=_("Delete the plan “%(name)s”?") % {"name": plan.name},
        body=_("Nobody has ordered it, so it can be deleted for good. This cannot be undone."),
        confirm_label=_("Delete plan"),
        cancel_url="assets:asset-plans",
        danger=True,
    )
    return render(request, "assets/confirm.html", context)


@login_required
def asset_users(request, code):
    """用户: each buying tenant, its plan, when it bought and when it expires."""
    from orders.selectors import asset_users as buyers_of

    asset, context = _asset_context(request, code, "users")
    context.update(paginate(request, buyers_of(asset=asset)))
    return render(request, "assets/asset_users.html", context)


# --- versions (Operator 定义) ----------------------------------------------------------------


def _version_refresh_initial(params):
    initial = {
        name: params.get(name)
        for name in ("project", "cluster", "catalog_source", "package_name", "default_channel")
    }
    initial["channels"] = params.getlist("channels")
    return initial


def _version_form_page(request, asset, context, *, version=None):
    if request.method == "POST" and "refresh" not in request.POST:
        form = VersionForm(request.POST, asset=asset)
        if form.is_valid():
            try:
                if version is None:
                    version = services.create_version(
                        actor=request.user, asset=asset, **form.service_kwargs()
                    )
                    message = _("Version %(version)s created as a draft.")
                else:
                    version = services.update_version(
                        actor=request.user, version=version, **form.service_kwargs()
                    )
                    message = _("Version %(version)s saved.")
            except (ValidationError, PermissionDenied) as exc:
                apply_to_form(form, exc)
            else:
                messages.success(request, message % {"version": version.version})
                return redirect("assets:asset-detail", code=asset.code)
    elif request.method == "POST":  # the no-JavaScript "refresh choices" button
        form = VersionForm(initial=_version_refresh_initial(request.POST), asset=asset)
    else:
        initial = {"project": request.workspace.project}
        if version is not None:
            initial = {
                "project": version.project_id,
                "cluster": version.cluster_id,
                "catalog_source": version.catalog_source_id,
                "package_name": version.package_name,
                "channels": version.channels,
                "default_channel": version.default_channel,
            }
        form = VersionForm(initial=initial, asset=asset)
    context.update(form=form, version=version)
    return render(request, "assets/version_form.html", context)


@login_required
def version_create(request, code):
    asset, context = _asset_context(request, code, "versions")
    if not asset.is_operator:
        messages.error(request, _("Only Operator assets have versions backed by a CatalogSource."))
        return redirect("assets:asset-detail", code=asset.code)
    return _version_form_page(request, asset, context)


@login_required
def version_edit(request, code, version_id):
    asset, context = _asset_context(request, code, "versions")
    version = selectors.get_version_for(user=request.user, version_id=version_id, asset=asset)
    if not version.is_editable:
        messages.error(
            request,
            _("Only a draft version can be edited; this one is “%(status)s”.")
            % {"status": version.get_status_display()},
        )
        return redirect("assets:asset-detail", code=asset.code)
    return _version_form_page(request, asset, context, version=version)


@login_required
def version_fields(request, code):
    """htmx: the dependent selects, refreshed after each choice."""
    asset = selectors.get_asset_for(user=request.user, code=code)
    form = VersionForm(initial=_version_refresh_initial(request.GET), asset=asset)
    return render(request, "assets/includes/version_fields.html", {"form": form, "asset": asset})


@login_required
def version_delete(request, code, version_id):
    asset, context = _asset_context(request, code, "versions")
    version = selectors.get_version_for(user=request.user, version_id=version_id, asset=asset)
    if request.method == "POST":
        try:
            services.delete_version(actor=request.user, version=version)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(
                request, _("Version %(version)s deleted.") % {"version": version.version}
            )
        return redirect("assets:asset-detail", code=asset.code)
    if not version.is_deletable:
        messages.error(
            request,
            _("Only draft or delisted versions can be deleted; this one is “%(status)s”.")
            % {"status": version.get_status_display()},
        )
        return redirect("assets:asset-detail", code=asset.code)
    context.update(
        title=_("Delete version %(version)s?") % {"version": version.version},
        body=_(
            "The version (package %(package)s, channels %(channels)s) is removed for good. "
            "This cannot be undone."
        )
        % {"package": version.package_name, "channels": ", ".join(version.channels)},
        confirm_label=_("Delete version"),
        cancel_url="assets:asset-detail",
        danger=True,
    )
    return render(request, "assets/confirm.html", context)


# --- Markdown preview for django-markdownx -------------------------------------------------


@login_required
@require_POST
def markdown_preview(request):
    """markdownx's live preview, through our sanitising renderer."""
    return HttpResponse(render_markdown(request.POST.get("content", "")))


@login_required
@require_POST
def markdown_upload(request):
    """Images are not uploaded into descriptions: screenshots have their own checked field."""
    return JsonResponse(
        {"detail": _("Images cannot be pasted into the description; add them as screenshots.")},
        status=400,
    )


@login_required
def version_scans(request, code, version_id):
    """资产镜像安全扫描结果 of one version, and the upload of a Trivy report."""
    asset, context = _asset_context(request, code, "versions")
    version = selectors.get_version_for(user=request.user, version_id=version_id, asset=asset)
    form = ScanReportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                raw = scans.report_from_upload(form.cleaned_data["report"])
                scan = scans.upload_report(actor=request.user, version=version, raw=raw)
            except (ValidationError, PermissionDenied) as exc:
                apply_to_form(form, exc)
            else:
                messages.success(
                    request,
                    _("Scan report of %(image)s recorded.") % {"image": scan.image.reference},
                )
                return redirect("assets:version-scans", code=asset.code, version_id=version.pk)
        status = 400
    images = selectors.version_images(version=version)
    context.update(
        version=version,
        images=images,
        form=form,
        blockers=selectors.listing_blockers(images=images),
        max_severity=settings.LISTING_MAX_SEVERITY,
        max_bytes=settings.IMAGE_SCAN_REPORT_MAX_BYTES,
    )
    return render(request, "assets/version_scans.html", context, status=status)

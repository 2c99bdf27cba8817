"""Operator instances (实例) and the service catalog (平台服务目录): thin views over services.

Pages read what the worker last recorded and poll with htmx while anything is unfinished;
every change goes through `services` and is carried out by the worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Tenant
from accounts.selectors import projects_for
from accounts.workspace import WorkspaceRequest
from assets.models import Asset
from assets.storefront.selectors import get_asset_by_code
from clusters import selectors as cluster_selectors
from clusters.selectors import clusters_open_to
from core.errors import NON_FIELD, apply_to_form, error_text, messages_by_field
from core.pagination import paginate
from provisioning.selectors import get_installation_for

from . import memcached, operand_form, schema, selectors, services
from .forms import (
    FIELD_FOR_PATH,
    CatalogPlacementForm,
    LogsForm,
    ManifestForm,
    MemcachedForm,
    OperandForm,
    RouteRuleForm,
    ScaleForm,
    initial_from_manifest,
)
from .manifests import manifest_of
from .models import OperandInstance

FRAGMENTS = {
    "status": "instances/_status_panel.html",
    "overview": "instances/_overview_live.html",
    "access": "instances/_access_live.html",
    "logs": "instances/_log_box.html",
    "log-containers": "instances/_log_container.html",
}


def _run(request: WorkspaceRequest, action: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return action(actor=request.user, **kwargs)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return None


def _instance_or_404(request, instance_id):
    return selectors.get_instance_for(user=request.user, instance_id=instance_id)


def _blocked(request, *, asset, tenant, status=403):
    """An ended entitlement: no new instance, a renew link instead."""
    active, ended = selectors.entitlement_state(tenant=tenant, asset=asset)
    return render(
        request,
        "instances/entitlement_blocked.html",
        {"asset": asset, "entitlement": ended, "active": active},
        status=status,
    )


# --- lists --------------------------------------------------------------------------------


@login_required
def instance_list(request):
    """容器应用 → Operator 实例: every instance of the active tenant, live while unfinished."""
    tenant = request.workspace.tenant
    status = request.GET.get("status", "")
    instances = selectors.filter_instances(
        selectors.instances_for(user=request.user, tenant=tenant), status=status
    )
    context = paginate(request, instances)
    page = context["page"]
    context |= {
        "instances": page.object_list,
        "status": status,
        "statuses": [
            c for c in OperandInstance.Status.choices if c[0] != OperandInstance.Status.DELETED
        ],
        "live": any(i.is_unfinished for i in page.object_list),
    }
    if request.htmx and request.GET.get("fragment") == "rows":
        return render(request, "instances/_instance_rows.html", context)
    return render(request, "instances/instance_list.html", context)


@login_required
def installation_instances(request, installation_id):
    """The installation page's 'Operator instances' tab body (polled while unfinished)."""
    installation = get_installation_for(user=request.user, installation_id=installation_id)
    from .templatetags.instance_tags import instances_tab_context

    return render(request, "instances/_installation_tab.html", instances_tab_context(installation))


# --- create / edit (Form and YAML tabs) -----------------------------------------------------


def _editor(request, *, csv_info, namespace, kind, initial, fixed_name="", with_expose=True):
    """The two tabs of the create/edit page: (form, submitted and valid)."""
    options = {
        "csv_info": csv_info,
        "namespace": namespace,
        "fixed_name": fixed_name,
        "with_expose": with_expose,
    }
    generic = kind != memcached.KIND
    yaml_options = {**options, "kind": kind}
    key = uuid.uuid4().hex
    if request.method != "POST":
        tab = "yaml" if generic or request.GET.get("tab") == "yaml" else "form"
        if tab == "yaml":
            return ManifestForm(
                initial={"yaml": memcached.to_yaml(initial), "request_key": key}, **yaml_options
            ), False
        return MemcachedForm(
            initial={**initial_from_manifest(initial), "request_key": key}, **options
        ), False
    current = "yaml" if generic else request.POST.get("_current", "form")
    switch = request.POST.get("_switch", "")
    bound = (
        ManifestForm(request.POST, **yaml_options)
        if current == "yaml"
        else MemcachedForm(request.POST, **options)
    )
    common = {
        "request_key": request.POST.get("request_key") or key,
        "expose": request.POST.get("expose") in ("on", "true", "1"),
    }
    if switch == "yaml" and current == "form":
        return ManifestForm(
            initial={**common, "yaml": memcached.to_yaml(bound.lenient_manifest())},
            **yaml_options,
        ), False
    if switch == "form" and current == "yaml" and not generic:
        obj = bound.parsed()
        if obj is None:
            return bound, False
        if obj.get("kind") != memcached.KIND:
            bound.add_error(
                "yaml",
                _("The Form tab edits a MemcachedCluster; this YAML is a %(kind)s.")
                % {"kind": obj.get("kind")},
            )
            return bound, False
        return MemcachedForm(initial={**common, **initial_from_manifest(obj)}, **options), False
    return bound, bound.is_valid() and bound.manifest is not None


def _owned_api(installation, kind):
    api = memcached.find_api(installation.csv_info, kind)
    if api is None and kind == memcached.KIND and not installation.csv_info:
        return None
    return api


def _kind_and_version(csv_info, kind, version_name, *, fallback=False):
    """The owned kind and the served version asked for (the default one when none): 404s.

    `fallback` (an existing instance): a version no longer served opens the default one,
    whose check then says which apiVersion to write."""
    kind_api = schema.find_kind(csv_info, kind)
    if kind_api is None:
        raise Http404("The operator provides no such API.")
    version = schema.version_of(kind_api, version_name)
    if version is None and fallback:
        version = schema.version_of(kind_api, None)
    if version is None:
        raise Http404("The operator serves no such version of that API.")
    return kind_api, version


def _operand_form(request, *, csv_info, kind_api, version, namespace, initial, **options):
    data = request.POST if request.method == "POST" else None
    return OperandForm(
        data,
        csv_info=csv_info,
        kind_api=kind_api,
        version=version,
        namespace=namespace,
        initial=initial,
        **options,
    )


def _operand_context(kind_api, version, *, sync_url):
    return {
        "kind_api": kind_api,
        "version": version,
        "cluster_scoped": schema.cluster_scoped(kind_api),
        "cluster_scoped_reason": schema.cluster_scoped_reason(kind_api["kind"]),
        "sync_url": sync_url,
    }


def _operand_create(request, installation, kind):
    kind_api, version = _kind_and_version(installation.csv_info, kind, request.GET.get("version"))
    initial = operand_form.start_object(
        installation.csv_info, kind_api, version, namespace=installation.namespace
    )
    form = _operand_form(
        request,
        csv_info=installation.csv_info,
        kind_api=kind_api,
        version=version,
        namespace=installation.namespace,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            instance = services.request_instance(
                actor=request.user,
                installation=installation,
                manifest=form.manifest,
                request_key=form.request_key,
            )
        except ValidationError as exc:
            _attach(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            _pruned_notice(request, form)
            return _to_the_new_instance(instance)
    sync_url = reverse("instances:instance-create-sync", args=[installation.pk])
    return render(
        request,
        "instances/create.html",
        {
            "installation": installation,
            "kind": kind,
            "form": form,
            "action": request.get_full_path(),
            **_operand_context(
                kind_api, version, sync_url=f"{sync_url}?kind={kind}&version={version['name']}"
            ),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


def _pruned_notice(request, form):
    if form.pruned:
        messages.warning(
            request,
            _(
                "The operator's schema has no %(fields)s: left out, as the API server "
                "would have dropped them."
            )
            % {"fields": ", ".join(form.pruned)},
        )


@login_required
@require_POST
def operand_sync(request, installation_id=None, instance_id=None):
    """The editor's other side, for static/js/operand-editor.js: `_source=form` answers the
    YAML of the form's values; `_source=yaml` the form drawn from the YAML (or why not)."""
    if instance_id is not None:
        instance = _instance_or_404(request, instance_id)
        installation, namespace = instance.installation, instance.namespace
        kind, version_name, fixed_name = instance.kind, instance.api_version, instance.name
    else:
        installation = get_installation_for(user=request.user, installation_id=installation_id)
        namespace, fixed_name = installation.namespace, ""
        kind, version_name = request.GET.get("kind", ""), request.GET.get("version")
    kind_api, version = _kind_and_version(
        installation.csv_info, kind, version_name, fallback=instance_id is not None
    )
    options = {
        "csv_info": installation.csv_info,
        "kind_api": kind_api,
        "version": version,
        "namespace": namespace,
        "fixed_name": fixed_name,
    }
    if request.POST.get("_source") == "yaml":
        try:
            obj = memcached.parse_yaml(request.POST.get("yaml", ""))
        except memcached.ManifestError as exc:
            return JsonResponse({"yaml_error": str(exc)})
        form = OperandForm(initial=obj, **options)
        html = render_to_string("instances/_operand_fields.html", {"form": form}, request=request)
        return JsonResponse({"fields_html": html})
    data = request.POST.copy()
    data["_base"] = data.get("yaml", "")
    form = OperandForm(data, **options)
    if form.obj is None:
        data["yaml"] = data["_base"] = request.POST.get("_base", "")
        form = OperandForm(data, **options)
    problems = {
        leaf.path: [str(e) for e in leaf.errors]
        for f in form.fields
        for leaf in f.leaves()
        if leaf.errors
    }
    return JsonResponse({"yaml": form.yaml_text, "problems": problems})


@login_required
def instance_create(request, installation_id):
    """创建 Memcached 集群, or an instance of any other API the CSV owns (form and YAML)."""
    installation = get_installation_for(user=request.user, installation_id=installation_id)
    kind = request.GET.get("kind") or memcached.KIND
    api = _owned_api(installation, kind)
    if api is None:
        raise Http404("The operator provides no such API.")
    if not installation.is_serving:
        messages.error(request, _("Instances are created once the operator is installed."))
        return redirect(
            "provisioning:installation-tab", installation_id=installation.pk, tab="instances"
        )
    if services.entitlement_error(tenant=installation.tenant, asset=installation.asset):
        return _blocked(request, asset=installation.asset, tenant=installation.tenant)
    if kind != memcached.KIND:
        return _operand_create(request, installation, kind)
    initial_spec = memcached.initial_spec(installation.csv_info)
    name = initial_spec.pop("name")
    example = memcached.manifest(
        name=name,
        namespace=installation.namespace,
        spec={k: v for k, v in initial_spec.items() if v not in (None, {}, [])},
    )
    form, ok = _editor(
        request,
        csv_info=installation.csv_info,
        namespace=installation.namespace,
        kind=kind,
        initial=example,
        with_expose=True,
    )
    if ok:
        try:
            instance = services.request_instance(
                actor=request.user,
                installation=installation,
                manifest=form.manifest,
                request_key=form.cleaned_data.get("request_key", ""),
                expose=form.cleaned_data.get("expose", False),
            )
        except ValidationError as exc:
            _attach(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            return _to_the_new_instance(instance)
    return render(
        request,
        "instances/create.html",
        {
            "installation": installation,
            "api": api,
            "kind": kind,
            "form": form,
            "action": request.get_full_path(),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


def _attach(form: Any, exc: ValidationError) -> None:
    """A service's errors (by custom-resource path) onto the tab that was submitted."""
    for path, messages_ in messages_by_field(exc).items():
        if path == NON_FIELD or form.tab == "operand":
            form.add_error(None if path == NON_FIELD else path, messages_)
            continue
        if form.tab == "yaml":
            field = "yaml"
            messages_ = [f"{path}: {m}" for m in messages_] if "." in path else messages_
        else:
            field = FIELD_FOR_PATH.get(path, path)
        form.add_error(field if field in form.fields else None, messages_)


def _operand_edit(request, instance):
    installation = instance.installation
    kind_api, version = _kind_and_version(
        installation.csv_info, instance.kind, instance.api_version, fallback=True
    )
    form = _operand_form(
        request,
        csv_info=installation.csv_info,
        kind_api=kind_api,
        version=version,
        namespace=instance.namespace,
        initial=manifest_of(instance),
        fixed_name=instance.name,
        secrets=instance.spec,
    )
    if request.method == "POST" and form.is_valid() and _updated(request, instance, form):
        _pruned_notice(request, form)
        return redirect("instances:instance-detail", instance_id=instance.pk)
    return render(
        request,
        "instances/create.html",
        {
            "installation": installation,
            "instance": instance,
            "kind": instance.kind,
            "form": form,
            "action": request.get_full_path(),
            **_operand_context(
                kind_api,
                version,
                sync_url=reverse("instances:instance-edit-sync", args=[instance.pk]),
            ),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


def _updated(request, instance, form) -> bool:
    """编辑's save: the new spec applied (and said so), or the reasons on the form."""
    try:
        services.update_instance(actor=request.user, instance=instance, manifest=form.manifest)
    except ValidationError as exc:
        _attach(form, exc)
        return False
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return False
    messages.success(request, _("Applying the new spec of %(name)s…") % {"name": instance.name})
    return True


@login_required
def instance_edit(request, instance_id):
    """编辑: the same form, the name fixed; a failed instance is created again with the fix."""
    instance = _instance_or_404(request, instance_id)
    if instance.status in (OperandInstance.Status.DELETING, OperandInstance.Status.DELETED):
        raise Http404("This instance is being deleted.")
    if instance.kind != memcached.KIND and schema.find_kind(
        instance.installation.csv_info, instance.kind
    ):
        return _operand_edit(request, instance)
    form, ok = _editor(
        request,
        csv_info=instance.installation.csv_info,
        namespace=instance.namespace,
        kind=instance.kind,
        initial=manifest_of(instance),
        fixed_name=instance.name,
        with_expose=False,
    )
    if ok and _updated(request, instance, form):
        return redirect("instances:instance-detail", instance_id=instance.pk)
    return render(
        request,
        "instances/create.html",
        {
            "installation": instance.installation,
            "instance": instance,
            "kind": instance.kind,
            "api": memcached.find_api(instance.installation.csv_info, instance.kind),
            "form": form,
            "action": request.get_full_path(),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


# --- detail and its actions ---------------------------------------------------------------


def _to_the_new_instance(instance):
    """The instance page, asked to say how the creation ends: its status line reads
    "Creating …" and is replaced by the outcome, where a flash message would go stale."""
    return redirect(reverse("instances:instance-detail", args=[instance.pk]) + "?created=1")


@login_required
def instance_detail(request, instance_id, tab="overview"):
    instance = _instance_or_404(request, instance_id)
    context = {
        "instance": instance,
        "installation": instance.installation,
        "tab": tab,
        "live": instance.is_unfinished,
        "just_created": request.GET.get("created") == "1",
        "pod_addresses": selectors.pod_addresses(instance),
    }
    fragment = request.GET.get("fragment", "")
    if tab == "events":
        context["events"] = selectors.events_of(instance=instance)
    elif tab == "yaml":
        context["yaml"] = memcached.to_yaml(manifest_of(instance))
    elif tab == "access":
        context.update(_access_context(instance))
    elif tab == "monitoring":
        range_name = request.GET.get("range", "1h")
        context["range"] = range_name if range_name in selectors.RANGES else "1h"
        context["ranges"] = list(selectors.RANGES)
        metrics = selectors.metrics_of(instance=instance, range_name=context["range"])
        context["latest"] = metrics["latest"]
        context["has_points"] = bool(metrics["labels"])
        context["stats_interval"] = settings.MEMCACHED_STATS_INTERVAL
        context["chart_labels"] = {
            "hits": _("Hits"),
            "misses": _("Misses"),
            "ratio": _("Hit ratio"),
            "items": _("Items"),
            "bytes": _("Bytes used"),
            "limit": _("Limit"),
            "connections": _("Connections"),
            "evictions": _("Evictions"),
        }
    elif tab == "logs":
        context.update(_logs_context(request, instance))
    if request.htmx and fragment in FRAGMENTS:
        if fragment == "access":
            context.update(_access_context(instance))
        return render(request, FRAGMENTS[fragment], context)
    context["scale_form"] = ScaleForm(initial={"replicas": instance.replicas})
    return render(request, "instances/detail.html", context)


def _access_context(instance, route_form=None):
    return {
        "route_form": route_form
        or RouteRuleForm(
            instance=instance, exits=cluster_selectors.exits_of(cluster=instance.cluster)
        ),
        "target": selectors.access_target(instance),
        "verify_label": selectors.target_label(instance.verify_source),
        "pod_addresses": selectors.pod_addresses(instance),
    }


def _logs_context(request, instance):
    pods = instance.pods or []
    pod_name = request.GET.get("pod") or (pods[0]["name"] if pods else "")
    pod = next((p for p in pods if p["name"] == pod_name), None)
    containers = (pod or {}).get("containers") or []
    container = request.GET.get("container", "")
    if container not in containers:  # none asked, or one of another pod: the pod's first
        container = containers[0] if containers else ""
    logs = selectors.logs_of(instance=instance)
    log = logs.get((pod_name, container))
    form = LogsForm(
        instance=instance,
        initial={"pod": pod_name, "container": container, "tail": log.tail_lines if log else 100},
    )
    # The container list follows the pod: htmx asks for the chosen pod's containers.
    form.fields["pod"].widget.attrs.update(
        {
            "hx-get": reverse("instances:instance-tab", args=[instance.pk, "logs"])
            + "?fragment=log-containers",
            "hx-trigger": "change",
            "hx-include": "this",
            "hx-target": "#log-container",
            "hx-swap": "outerHTML",
        }
    )
    return {
        "logs_form": form,
        "log": log,
        "log_pod": pod_name,
        "log_container": container,
    }


@login_required
@require_POST
def instance_scale(request, instance_id):
    instance = _instance_or_404(request, instance_id)
    form = ScaleForm(request.POST)
    if not form.is_valid():
        messages.error(request, error_text(ValidationError(form.errors)))
    elif (
        _run(
            request,
            services.scale_instance,
            instance=instance,
            replicas=form.cleaned_data["replicas"],
        )
        is not None
    ):
        messages.success(
            request,
            _("Scaling %(name)s to %(replicas)s replicas…")
            % {"name": instance.name, "replicas": form.cleaned_data["replicas"]},
        )
    return redirect("instances:instance-detail", instance_id=instance.pk)


@login_required
def instance_delete(request, instance_id):
    instance = _instance_or_404(request, instance_id)
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip() != instance.name:
            messages.error(request, _("Type the instance's name to confirm."))
        elif _run(request, services.request_delete, instance=instance) is not None:
            messages.success(request, _("Deleting %(name)s…") % {"name": instance.name})
            return redirect(
                "provisioning:installation-tab",
                installation_id=instance.installation_id,
                tab="instances",
            )
    return render(request, "instances/confirm_delete.html", {"instance": instance})


@login_required
@require_POST
def instance_access(request, instance_id):
    """可集群外访问 as a route rule (service, exit, TCP, port) / 仅在集群内访问."""
    instance = _instance_or_404(request, instance_id)
    enabled = request.POST.get("enabled") == "1"
    if not enabled:
        if _run(request, services.set_external_access, instance=instance, enabled=False):
            messages.success(request, _("Removing external access…"))
        return redirect("instances:instance-tab", instance_id=instance.pk, tab="access")
    form = RouteRuleForm(
        request.POST, instance=instance, exits=cluster_selectors.exits_of(cluster=instance.cluster)
    )
    if form.is_valid():
        try:
            services.set_external_access(
                actor=request.user,
                instance=instance,
                enabled=True,
                service_exit=form.cleaned_data["exit"],
                port=form.cleaned_data["port"],
                service=form.cleaned_data["service"],
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_to_form(form, exc)
        else:
            messages.success(request, _("Opening external access…"))
            return redirect("instances:instance-tab", instance_id=instance.pk, tab="access")
    context = {
        "instance": instance,
        "installation": instance.installation,
        "tab": "access",
        "live": False,
        **_access_context(instance, route_form=form),
    }
    context["scale_form"] = ScaleForm(initial={"replicas": instance.replicas})
    return render(request, "instances/detail.html", context, status=400)


@login_required
@require_POST
def instance_verify(request, instance_id):
    """验证访问."""
    instance = _instance_or_404(request, instance_id)
    _run(request, services.request_verify, instance=instance)
    if request.htmx:
        instance.refresh_from_db()
        return render(
            request,
            "instances/_access_live.html",
            {"instance": instance, **_access_context(instance)},
        )
    return redirect("instances:instance-tab", instance_id=instance.pk, tab="access")


@login_required
@require_POST
def instance_delete_stuck_pods(request, instance_id):
    """The stuck rollout's fix: delete the old-revision pod left Pending (confirmed first)."""
    instance = _instance_or_404(request, instance_id)
    if _run(request, services.delete_stuck_pods, instance=instance) is not None:
        messages.success(
            request,
            _("Deleting the stuck pod; the StatefulSet recreates it with the new spec…"),
        )
    return redirect("instances:instance-detail", instance_id=instance.pk)


@login_required
@require_POST
def instance_logs(request, instance_id):
    """日志: asks the worker for the pod's last lines."""
    instance = _instance_or_404(request, instance_id)
    form = LogsForm(request.POST, instance=instance)
    if not form.is_valid():
        messages.error(request, error_text(ValidationError(form.errors)))
        return redirect("instances:instance-tab", instance_id=instance.pk, tab="logs")
    log = _run(
        request,
        services.request_logs,
        instance=instance,
        pod=form.cleaned_data["pod"],
        container=form.cleaned_data["container"],
        tail_lines=form.cleaned_data["tail"],
    )
    url = reverse("instances:instance-tab", args=[instance.pk, "logs"])
    if log is not None:
        url += f"?pod={log.pod}&container={log.container}"
    return redirect(url)


# --- the service catalog (平台服务目录) ------------------------------------------------------


@login_required
def catalog_index(request):
    tenant = request.workspace.tenant
    return render(
        request,
        "instances/catalog_index.html",
        {"offerings": selectors.memcached_offerings(tenant=tenant)},
    )


def _catalog_asset(request: WorkspaceRequest, asset_code: str) -> tuple[Tenant, Asset]:
    tenant = request.workspace.tenant
    asset = get_asset_by_code(code=asset_code)
    if tenant is None:
        raise Http404("No such asset.")
    return tenant, asset


@login_required
def catalog_create(request, asset_code):
    """One form: project and cluster, then the MemcachedCluster; the platform does the rest."""
    tenant, asset = _catalog_asset(request, asset_code)
    if services.entitlement_error(tenant=tenant, asset=asset):
        return _blocked(request, asset=asset, tenant=tenant)
    projects = projects_for(user=request.user, tenant=tenant)
    clusters = clusters_open_to(tenant=tenant)
    placement = CatalogPlacementForm(
        request.POST or None,
        projects=projects,
        clusters=clusters,
        initial={"project": request.workspace.project},
    )
    project = None
    if request.method == "POST" and placement.is_valid():
        project = placement.cleaned_data["project"]
    elif request.method == "POST":
        project = next(
            (p for p in projects if str(p.pk) == (request.POST.get("project") or "")), None
        )
    else:
        project = request.workspace.project or projects.first()
    namespace = project.namespace if project else ""
    csv_info = selectors.best_csv_info(tenant=tenant, asset=asset)
    spec = memcached.initial_spec(csv_info)
    name = spec.pop("name")
    initial = memcached.manifest(
        name=name,
        namespace=namespace,
        spec={k: v for k, v in spec.items() if v not in (None, {}, [])},
    )
    form, ok = _editor(
        request,
        csv_info=csv_info,
        namespace=namespace if placement.is_bound is False or placement.is_valid() else None,
        kind=memcached.KIND,
        initial=initial,
    )
    if ok and placement.is_valid():
        try:
            instance = services.request_catalog_instance(
                actor=request.user,
                tenant=tenant,
                asset=asset,
                project=placement.cleaned_data["project"],
                cluster=placement.cleaned_data["cluster"],
                manifest=form.manifest,
                expose=form.cleaned_data.get("expose", False),
                request_key=form.cleaned_data.get("request_key", ""),
            )
        except ValidationError as exc:
            errors = messages_by_field(exc)
            for field in ("project", "cluster"):
                if field in errors:
                    placement.add_error(field, errors.pop(field))
            if errors:
                _attach(form, ValidationError(errors))
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("instances:service-catalog-progress", instance_id=instance.pk)
    return render(
        request,
        "instances/catalog_form.html",
        {
            "asset": asset,
            "placement": placement,
            "form": form,
            "kind": memcached.KIND,
            "action": request.get_full_path(),
        },
        status=400 if request.method == "POST" and (form.errors or placement.errors) else 200,
    )


@login_required
def catalog_progress(request, instance_id):
    """Each step live (operator, cluster, pods, access); ends on the instance page."""
    instance = _instance_or_404(request, instance_id)
    steps = selectors.catalog_steps(instance)
    done = selectors.catalog_done(steps)
    context = {"instance": instance, "steps": steps, "done": done}
    if request.htmx and request.GET.get("fragment") == "steps":
        response = render(request, "instances/_catalog_steps.html", context)
        if done:
            response["HX-Redirect"] = reverse(
                "instances:instance-tab", args=[instance.pk, "access"]
            )
        return response
    return render(request, "instances/catalog_progress.html", context)

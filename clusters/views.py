"""HTML views of clusters and CatalogSources: thin, over services and selectors."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.decorators import platform_admin_required
from accounts.models import Tenant
from accounts.permissions import is_platform_admin
from core.errors import NotPermitted, apply_to_form, error_text
from core.pagination import paginate

from . import selectors, services
from .errors import ClustersErrorCode
from .forms import CatalogSourceForm, CatalogSourceYamlForm, ClusterExitForm, ClusterForm
from .models import CatalogSource, ClusterExit

admins_only = platform_admin_required(
    gettext_lazy("Only platform administrators may manage clusters.")
)


@admins_only
def cluster_list(request):
    clusters = selectors.clusters_for(user=request.user)
    return render(request, "clusters/cluster_list.html", paginate(request, clusters))


def _cluster_service_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": data["name"],
        "api_url": data.get("api_url", ""),
        "kubeconfig": data.get("kubeconfig", ""),
        "token": data.get("token", ""),
        "ca_data": data.get("ca_data", ""),
        "skip_tls_verify": data.get("skip_tls_verify", False),
        "is_default": data.get("is_default", False),
        "catalog_namespace": data["catalog_namespace"],
        "external_access": data["external_access"],
        "external_host": data.get("external_host", ""),
        "projects": list(data.get("projects") or []),
    }


@admins_only
def cluster_create(request):
    form = ClusterForm(
        request.POST or None,
        request.FILES or None,
        projects=selectors.linkable_projects(user=request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            cluster = services.register_cluster(
                actor=request.user,
                auth_method=form.cleaned_data["auth_method"],
                **_cluster_service_kwargs(form.cleaned_data),
            )
        except ValidationError as exc:
            apply_to_form(form, exc)
        else:
            messages.success(
                request,
                _("Cluster “%(name)s” registered; testing the connection…") % {"name": cluster},
            )
            return redirect("clusters:cluster-detail", cluster_id=cluster.pk)
    return render(request, "clusters/cluster_form.html", {"form": form, "cluster": None})


@admins_only
def cluster_edit(request, cluster_id):
    cluster = selectors.get_cluster_for(user=request.user, cluster_id=cluster_id)
    initial = {
        "name": cluster.name,
        "auth_method": cluster.auth_method,
        "api_url": cluster.api_url,
        "skip_tls_verify": cluster.skip_tls_verify,
        "is_default": cluster.is_default,
        "catalog_namespace": cluster.catalog_namespace,
        "external_access": cluster.external_access,
        "external_host": cluster.external_host,
        "projects": list(selectors.projects_of(cluster=cluster)),
    }
    form = ClusterForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        editing=True,
        projects=selectors.linkable_projects(user=request.user),
    )
    if request.method == "POST" and form.is_valid():
        kwargs = _cluster_service_kwargs(form.cleaned_data)
        if not kwargs["api_url"]:
            kwargs["api_url"] = cluster.api_url
        try:
            services.update_cluster(
                actor=request.user,
                cluster=cluster,
                auth_method=form.cleaned_data["auth_method"],
                **kwargs,
            )
        except ValidationError as exc:
            apply_to_form(form, exc)
        else:
            messages.success(request, _("Cluster “%(name)s” saved.") % {"name": kwargs["name"]})
            return redirect("clusters:cluster-detail", cluster_id=cluster.pk)
    return render(request, "clusters/cluster_form.html", {"form": form, "cluster": cluster})


@admins_only
def cluster_detail(request, cluster_id):
    cluster = selectors.get_cluster_for(user=request.user, cluster_id=cluster_id)
    catalogs = selectors.catalog_sources_for(user=request.user, cluster=cluster)
    projects = selectors.projects_of(cluster=cluster)
    exit_form = ClusterExitForm(request.POST or None)
    if request.method == "POST" and exit_form.is_valid():
        try:
            services.add_cluster_exit(actor=request.user, cluster=cluster, **exit_form.cleaned_data)
        except ValidationError as exc:
            apply_to_form(exit_form, exc)
        else:
            messages.success(
                request,
                _("Service exit “%(name)s” added.") % {"name": exit_form.cleaned_data["name"]},
            )
            return redirect(reverse("clusters:cluster-detail", args=[cluster.pk]) + "#exits")
    return render(
        request,
        "clusters/cluster_detail.html",
        {
            "cluster": cluster,
            "catalogs": catalogs,
            "projects": projects,
            "exits": selectors.exits_of(cluster=cluster),
            "exit_form": exit_form,
        },
        status=400 if request.method == "POST" else 200,
    )


@admins_only
@require_POST
def cluster_exit_delete(request, cluster_id, exit_id):
    cluster = selectors.get_cluster_for(user=request.user, cluster_id=cluster_id)
    service_exit = get_object_or_404(ClusterExit, pk=exit_id, cluster=cluster)
    try:
        services.delete_cluster_exit(actor=request.user, service_exit=service_exit)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, _("Service exit “%(name)s” deleted.") % {"name": service_exit.name}
        )
    return redirect(reverse("clusters:cluster-detail", args=[cluster.pk]) + "#exits")


@admins_only
def cluster_connection(request, cluster_id):
    """The connection panel, polled by htmx while a test is running."""
    cluster = selectors.get_cluster_for(user=request.user, cluster_id=cluster_id)
    return render(request, "clusters/_connection.html", {"cluster": cluster})


@admins_only
@require_POST
def cluster_test(request, cluster_id):
    cluster = selectors.get_cluster_for(user=request.user, cluster_id=cluster_id)
    services.request_connection_test(actor=request.user, cluster=cluster)
    if request.htmx:
        return render(request, "clusters/_connection.html", {"cluster": cluster})
    return redirect("clusters:cluster-detail", cluster_id=cluster.pk)


@admins_only
def cluster_delete(request, cluster_id):
    cluster = selectors.get_cluster_for(user=request.user, cluster_id=cluster_id)
    if request.method == "POST":
        try:
            services.delete_cluster(actor=request.user, cluster=cluster)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
            return redirect("clusters:cluster-detail", cluster_id=cluster.pk)
        messages.success(request, _("Cluster “%(name)s” deleted.") % {"name": cluster.name})
        return redirect("clusters:clusters")
    return render(request, "clusters/cluster_confirm_delete.html", {"cluster": cluster})


# --- CatalogSources ---------------------------------------------------------------------------


def _catalog_tenant(request):
    """The provider tenant the user works in; None for a platform admin outside one."""
    tenant = request.workspace.tenant
    if tenant is None or not tenant.is_provider:
        if is_platform_admin(request.user):
            return None
        raise NotPermitted(
            _("CatalogSources belong to provider tenants."), code=ClustersErrorCode.NOT_A_PROVIDER
        )
    return tenant


@login_required
def catalog_list(request):
    tenant = _catalog_tenant(request)
    state = request.GET.get("state", "")
    if state not in CatalogSource.State.values:
        state = ""
    catalogs = selectors.catalog_sources_for(user=request.user, tenant=tenant, state=state)
    return render(
        request,
        "clusters/catalog_list.html",
        {
            **paginate(request, catalogs),
            "state": state,
            "states": CatalogSource.State.choices,
            "can_submit": tenant is not None,
        },
    )


@login_required
def catalog_create(request):
    tenant = _catalog_tenant(request)
    if tenant is None:
        raise NotPermitted(
            _("Switch to a provider tenant to submit a CatalogSource."),
            code=ClustersErrorCode.NOT_A_PROVIDER,
        )
    clusters = selectors.clusters_open_to(tenant=tenant)
    found = list(selectors.found_catalog_sources_for(tenants=Tenant.objects.filter(pk=tenant.pk)))
    initial = {}
    if request.method == "GET" and request.GET.get("found"):
        picked = selectors.get_found_catalog_source_for(
            tenant=tenant, found_id=request.GET["found"]
        )
        initial = {
            "cluster": picked.cluster_id,
            "name": picked.name if len(picked.name) <= 63 else "",
            "display_name": picked.display_name or picked.name,
            "image": picked.image,
            "publisher": picked.publisher,
        }
    # Two ways to submit, one page: the form, or the YAML (the seed's memcached.yaml).
    by_yaml = request.method == "POST" and request.POST.get("submit_as") == "yaml"
    form = CatalogSourceForm(
        request.POST if request.method == "POST" and not by_yaml else None,
        clusters=clusters,
        initial=initial,
    )
    yaml_form = CatalogSourceYamlForm(
        request.POST if by_yaml else None, request.FILES if by_yaml else None, clusters=clusters
    )
    catalog = None
    if by_yaml and yaml_form.is_valid():
        try:
            catalog = services.submit_catalog_source_manifest(
                actor=request.user,
                tenant=tenant,
                cluster=yaml_form.cleaned_data["cluster"],
                manifest=yaml_form.cleaned_data["manifest"],
            )
        except ValidationError as exc:
            apply_to_form(yaml_form, exc)
    elif request.method == "POST" and not by_yaml and form.is_valid():
        try:
            catalog = services.submit_catalog_source(
                actor=request.user, tenant=tenant, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_to_form(form, exc)
    if catalog is not None:
        messages.success(
            request,
            _("CatalogSource “%(name)s” submitted; the platform is deploying it.")
            % {"name": catalog.name},
        )
        return redirect("clusters:catalog-detail", catalog_id=catalog.pk)
    return render(
        request,
        "clusters/catalog_form.html",
        {
            "form": form,
            "yaml_form": yaml_form,
            "by_yaml": by_yaml,
            "no_clusters": not clusters.exists(),
            "found": found,
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def catalog_detail(request, catalog_id):
    catalog = selectors.get_catalog_source_for(user=request.user, catalog_source_id=catalog_id)
    packages = selectors.packages_of(catalog_source=catalog)
    template = "clusters/_catalog_state.html" if request.htmx else "clusters/catalog_detail.html"
    return render(request, template, {"catalog": catalog, "packages": packages})


@login_required
@require_POST
def catalog_redeploy(request, catalog_id):
    catalog = selectors.get_catalog_source_for(user=request.user, catalog_source_id=catalog_id)
    try:
        services.redeploy_catalog_source(actor=request.user, catalog_source=catalog)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, _("CatalogSource “%(name)s” is being deployed again.") % {"name": catalog.name}
        )
    return redirect("clusters:catalog-detail", catalog_id=catalog.pk)


@login_required
def catalog_delete(request, catalog_id):
    catalog = selectors.get_catalog_source_for(user=request.user, catalog_source_id=catalog_id)
    if request.method == "POST":
        try:
            services.delete_catalog_source(actor=request.user, catalog_source=catalog)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
            return redirect("clusters:catalog-detail", catalog_id=catalog.pk)
        messages.success(
            request, _("CatalogSource “%(name)s” is being removed.") % {"name": catalog.name}
        )
        return redirect("clusters:catalog-list")
    reasons = services.catalog_source_users(catalog)
    return render(
        request, "clusters/catalog_confirm_delete.html", {"catalog": catalog, "reasons": reasons}
    )

"""Every write of the clusters app: keyword-only, one transaction each.

Nothing here talks to a cluster: work that does is enqueued for the worker on commit.
"""

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership, Project, rfc1123_label_validator
from accounts.permissions import is_platform_admin
from accounts.services import record_audit

from . import signals
from .kube import KubeconfigError, parse_kubeconfig
from .models import CatalogPackage, CatalogSource, Cluster
from .selectors import clusters_open_to

PEM_CERTIFICATE_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
IMAGE_REFERENCE_RE = re.compile(r"^[a-z0-9]+([._/:@-][A-Za-z0-9_.-]+)*$")

# OLM's lastObservedState → our state.
OBSERVED_TO_STATE = {
    "READY": CatalogSource.State.READY,
    "CONNECTING": CatalogSource.State.CONNECTING,
    "IDLE": CatalogSource.State.CONNECTING,
    "TRANSIENT_FAILURE": CatalogSource.State.FAILED,
    "SHUTDOWN": CatalogSource.State.FAILED,
}


def _require_platform_admin(actor):
    if not is_platform_admin(actor):
        raise PermissionDenied(_("Only platform administrators may manage clusters."))


def _enqueue(task_name, *args):
    """Celery work leaves only after the transaction commits."""
    from . import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))


def _credentials_from_input(*, auth_method, kubeconfig, token, ca_data, api_url):
    """Validates credentials; returns (api_url, stored credentials) or raises field errors."""
    if auth_method == Cluster.AuthMethod.KUBECONFIG:
        if not (kubeconfig or "").strip():
            raise ValidationError({"kubeconfig": [_("Paste or upload a kubeconfig.")]})
        try:
            parsed = parse_kubeconfig(kubeconfig)
        except KubeconfigError as exc:
            raise ValidationError(
                {"kubeconfig": [_("This kubeconfig cannot be used: %(why)s.") % {"why": exc}]}
            ) from None
        return parsed.api_url, {
            "token": parsed.token,
            "ca_data": parsed.ca_data,
            "client_cert_data": parsed.client_cert_data,
            "client_key_data": parsed.client_key_data,
            "context": parsed.extra.get("context", ""),
        }
    if auth_method == Cluster.AuthMethod.TOKEN:
        errors = {}
        if not (token or "").strip():
            errors["token"] = [_("Enter the service account's bearer token.")]
        if ca_data and not PEM_CERTIFICATE_RE.search(ca_data):
            errors["ca_data"] = [
                _(
                    "The CA bundle must be PEM: -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----."
                )
            ]
        if not (api_url or "").strip():
            errors["api_url"] = [_("Enter the API server URL, e.g. https://10.0.0.1:6443.")]
        if errors:
            raise ValidationError(errors)
        return api_url.strip(), {"token": token.strip(), "ca_data": (ca_data or "").strip()}
    raise ValidationError({"auth_method": [_("Choose kubeconfig or bearer token.")]})


def _validate_cluster_fields(*, name, api_url, catalog_namespace, exclude_pk=None):
    errors = {}
    if not (name or "").strip():
        errors["name"] = [_("Enter a name.")]
    elif Cluster.objects.exclude(pk=exclude_pk).filter(name__iexact=name.strip()).exists():
        errors["name"] = [_("A cluster called “%(name)s” already exists.") % {"name": name}]
    try:
        URLValidator(schemes=["http", "https"])(api_url)
    except ValidationError:
        errors["api_url"] = [_("Enter an http:// or https:// URL of the API server.")]
    try:
        rfc1123_label_validator(catalog_namespace)
    except ValidationError as exc:
        errors["catalog_namespace"] = exc.messages
    if errors:
        raise ValidationError(errors)


def _make_default(cluster):
    Cluster.objects.select_for_update().filter(is_default=True).exclude(pk=cluster.pk).update(
        is_default=False
    )


def register_cluster(
    *,
    actor,
    name,
    auth_method,
    api_url="",
    kubeconfig="",
    token="",
    ca_data="",
    skip_tls_verify=False,
    is_default=False,
    is_sandbox=False,
    catalog_namespace="olm",
    external_access=Cluster.ExternalAccess.NODE_PORT,
    external_host="",
    projects=(),
):
    """Registers a cluster and tests its connection on the worker."""
    _require_platform_admin(actor)
    api_url, credentials = _credentials_from_input(
        auth_method=auth_method,
        kubeconfig=kubeconfig,
        token=token,
        ca_data=ca_data,
        api_url=api_url,
    )
    _validate_cluster_fields(name=name, api_url=api_url, catalog_namespace=catalog_namespace)
    with transaction.atomic():
        cluster = Cluster(
            name=name.strip(),
            api_url=api_url,
            auth_method=auth_method,
            credentials=credentials,
            skip_tls_verify=skip_tls_verify,
            is_default=is_default,
            is_sandbox=is_sandbox,
            catalog_namespace=catalog_namespace,
            external_access=external_access,
            external_host=external_host,
            connection_state=Cluster.ConnectionState.TESTING,
            created_by=actor,
        )
        if is_default:
            _make_default(cluster)
        try:
            with transaction.atomic():
                cluster.save()
        except IntegrityError:
            raise ValidationError(
                {"name": [_("A cluster called “%(name)s” already exists.") % {"name": name}]}
            ) from None
        cluster.projects.set(projects)
        record_audit(
            actor=actor,
            action="cluster.registered",
            obj=cluster,
            changes={
                "api_url": api_url,
                "auth_method": auth_method,
                "skip_tls_verify": skip_tls_verify,
            },
        )
        _enqueue("test_cluster_connection", cluster.pk)
    return cluster


def update_cluster(
    *,
    actor,
    cluster,
    name,
    api_url,
    skip_tls_verify,
    is_default,
    catalog_namespace,
    external_access,
    external_host,
    projects,
    auth_method=None,
    kubeconfig="",
    token="",
    ca_data="",
):
    """Blank credential fields keep the stored ones; new ones are tested again."""
    _require_platform_admin(actor)
    new_credentials = None
    if kubeconfig.strip() or token.strip():
        api_url, new_credentials = _credentials_from_input(
            auth_method=auth_method or cluster.auth_method,
            kubeconfig=kubeconfig,
            token=token,
            ca_data=ca_data,
            api_url=api_url,
        )
    _validate_cluster_fields(
        name=name, api_url=api_url, catalog_namespace=catalog_namespace, exclude_pk=cluster.pk
    )
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        before = {
            "name": cluster.name,
            "api_url": cluster.api_url,
            "skip_tls_verify": cluster.skip_tls_verify,
            "is_default": cluster.is_default,
        }
        cluster.name = name.strip()
        cluster.api_url = api_url
        cluster.skip_tls_verify = skip_tls_verify
        cluster.catalog_namespace = catalog_namespace
        cluster.external_access = external_access
        cluster.external_host = external_host
        if new_credentials is not None:
            cluster.credentials = new_credentials
            cluster.auth_method = auth_method or cluster.auth_method
        retest = (
            new_credentials is not None
            or before["api_url"] != api_url
            or (before["skip_tls_verify"] != skip_tls_verify)
        )
        if is_default and not cluster.is_default:
            _make_default(cluster)
        cluster.is_default = is_default
        if retest:
            cluster.connection_state = Cluster.ConnectionState.TESTING
        cluster.save()
        cluster.projects.set(projects)
        after = {
            "name": cluster.name,
            "api_url": cluster.api_url,
            "skip_tls_verify": cluster.skip_tls_verify,
            "is_default": cluster.is_default,
        }
        changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        if new_credentials is not None:
            changes["credentials"] = "replaced"
        record_audit(actor=actor, action="cluster.updated", obj=cluster, changes=changes)
        if retest:
            _enqueue("test_cluster_connection", cluster.pk)
    return cluster


def request_connection_test(*, actor, cluster):
    _require_platform_admin(actor)
    with transaction.atomic():
        Cluster.objects.filter(pk=cluster.pk).update(
            connection_state=Cluster.ConnectionState.TESTING
        )
        _enqueue("test_cluster_connection", cluster.pk)
    cluster.connection_state = Cluster.ConnectionState.TESTING


def record_connection_result(*, cluster_id, report):
    """Called by the worker with a kube.ConnectionReport."""
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster_id)
        previous = cluster.connection_state
        cluster.connection_state = (
            Cluster.ConnectionState.CONNECTED if report.ok else Cluster.ConnectionState.FAILED
        )
        cluster.last_checked_at = timezone.now()
        cluster.last_error = report.error
        if report.ok:
            cluster.server_version = report.server_version
            cluster.olm_available = report.olm_available
        cluster.save(
            update_fields=[
                "connection_state",
                "last_checked_at",
                "last_error",
                "server_version",
                "olm_available",
                "updated_at",
            ]
        )
        if previous != cluster.connection_state:
            record_audit(
                actor=None,
                action="cluster.connection",
                obj=cluster,
                from_state=previous,
                to_state=cluster.connection_state,
                reason=report.error,
            )
    return cluster


def delete_cluster(*, actor, cluster):
    _require_platform_admin(actor)
    try:
        with transaction.atomic():
            record_audit(actor=actor, action="cluster.deleted", obj=cluster)
            cluster.delete()
    except ProtectedError:
        raise ValidationError(
            _("This cluster still has CatalogSources or installations; delete them first.")
        ) from None


# --- CatalogSources -------------------------------------------------------------------------


def submit_catalog_source(*, actor, tenant, cluster, name, display_name, image, publisher=""):
    """A provider hands its operator catalog to the platform, which deploys it."""
    if not tenant.is_provider:
        raise PermissionDenied(_("Only provider tenants can submit CatalogSources."))
    if not Membership.objects.filter(user=actor, tenant=tenant).exists():
        raise PermissionDenied(_("You are not a member of %(tenant)s.") % {"tenant": tenant})
    name = (name or "").strip()
    image = (image or "").strip()
    errors = {}
    try:
        rfc1123_label_validator(name)
    except ValidationError as exc:
        errors["name"] = exc.messages
    if not name:
        errors["name"] = [_("Enter a name.")]
    if not (display_name or "").strip():
        errors["display_name"] = [_("Enter a display name.")]
    if not IMAGE_REFERENCE_RE.match(image):
        errors["image"] = [
            _("Enter an image reference such as registry.example.com/team/catalog:v1.")
        ]
    if cluster is None or not clusters_open_to(tenant=tenant).filter(pk=cluster.pk).exists():
        errors["cluster"] = [_("Choose a cluster your tenant may deploy to.")]
    elif (
        "name" not in errors
        and CatalogSource.objects.filter(
            cluster=cluster, namespace=cluster.catalog_namespace, name=name
        ).exists()
    ):
        errors["name"] = [
            _("A CatalogSource called “%(name)s” already exists on %(cluster)s.")
            % {"name": name, "cluster": cluster}
        ]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            catalog = CatalogSource.objects.create(
                cluster=cluster,
                tenant=tenant,
                name=name,
                namespace=cluster.catalog_namespace,
                display_name=display_name.strip(),
                image=image,
                publisher=(publisher or "").strip() or tenant.name,
                state=CatalogSource.State.PENDING,
                state_changed_at=timezone.now(),
                created_by=actor,
            )
            record_audit(
                actor=actor,
                action="catalogsource.submitted",
                obj=catalog,
                tenant=tenant,
                to_state=catalog.state,
                changes={"image": image, "cluster": cluster.name},
            )
            _enqueue("deploy_catalog_source", catalog.pk)
    except IntegrityError:
        raise ValidationError(
            {"name": [_("A CatalogSource with this name was just created; choose another.")]}
        ) from None
    return catalog


def record_catalog_state(*, catalog_source_id, state, observed="", message=""):
    """The worker reports what the cluster says; the audit keeps each change."""
    with transaction.atomic():
        catalog = CatalogSource.objects.select_for_update().get(pk=catalog_source_id)
        if catalog.state == CatalogSource.State.DELETING:
            return catalog
        changed = catalog.state != state
        if not changed and catalog.last_observed_state == observed and catalog.message == message:
            return catalog
        previous = catalog.state
        catalog.state = state
        catalog.last_observed_state = observed
        catalog.message = message
        if changed:
            catalog.state_changed_at = timezone.now()
            record_audit(
                actor=None,
                action="catalogsource.state",
                obj=catalog,
                tenant=catalog.tenant,
                from_state=previous,
                to_state=state,
                reason=message,
            )
        catalog.save()
    return catalog


def record_observed_catalog(*, catalog_source_id, observed, message=""):
    state = OBSERVED_TO_STATE.get(observed, CatalogSource.State.CONNECTING)
    if state == CatalogSource.State.FAILED and not message:
        message = _("The catalog image could not be served (%(state)s).") % {"state": observed}
    return record_catalog_state(
        catalog_source_id=catalog_source_id, state=state, observed=observed, message=message
    )


def store_catalog_packages(*, catalog_source_id, packages):
    """Replaces the cached packages of a catalog with what its PackageManifests say."""
    with transaction.atomic():
        catalog = CatalogSource.objects.select_for_update().get(pk=catalog_source_id)
        seen = set()
        for package in packages:
            seen.add(package["name"])
            CatalogPackage.objects.update_or_create(
                catalog_source=catalog,
                name=package["name"],
                defaults={
                    "display_name": package.get("display_name", ""),
                    "provider": package.get("provider", ""),
                    "default_channel": package.get("default_channel", ""),
                    "channels": package.get("channels", []),
                },
            )
        catalog.packages.exclude(name__in=seen).delete()
        catalog.packages_synced_at = timezone.now()
        catalog.save(update_fields=["packages_synced_at", "updated_at"])
    return catalog


def catalog_source_users(catalog_source):
    """Why a catalog cannot go: reasons from the apps that use it (see signals)."""
    reasons = []
    for _receiver, response in signals.catalog_source_usage.send(
        sender=CatalogSource, catalog_source=catalog_source
    ):
        reasons.extend(response or [])
    return reasons


def delete_catalog_source(*, actor, catalog_source):
    """Refused while a listed version uses it; otherwise removed from the cluster first."""
    is_member = Membership.objects.filter(user=actor, tenant=catalog_source.tenant_id).exists()
    if not (is_member or is_platform_admin(actor)):
        raise PermissionDenied(_("You cannot delete this CatalogSource."))
    reasons = catalog_source_users(catalog_source)
    if reasons:
        raise ValidationError(
            _("This CatalogSource is in use and cannot be deleted: %(uses)s.")
            % {"uses": "; ".join(reasons)}
        )
    with transaction.atomic():
        catalog = CatalogSource.objects.select_for_update().get(pk=catalog_source.pk)
        previous = catalog.state
        catalog.state = CatalogSource.State.DELETING
        catalog.state_changed_at = timezone.now()
        catalog.save(update_fields=["state", "state_changed_at", "updated_at"])
        record_audit(
            actor=actor,
            action="catalogsource.delete_requested",
            obj=catalog,
            tenant=catalog.tenant,
            from_state=previous,
            to_state=catalog.state,
        )
        _enqueue("remove_catalog_source", catalog.pk)
    return catalog


def forget_catalog_source(*, catalog_source_id):
    """After the cluster object is gone; the database row goes too, unless still referenced."""
    with transaction.atomic():
        catalog = CatalogSource.objects.select_for_update().filter(pk=catalog_source_id).first()
        if catalog is None:
            return
        record_audit(actor=None, action="catalogsource.deleted", obj=catalog, tenant=catalog.tenant)
        try:
            with transaction.atomic():
                catalog.delete()
        except ProtectedError:
            catalog.state = CatalogSource.State.FAILED
            catalog.message = _("Removed from the cluster, but versions still refer to it.")
            catalog.save(update_fields=["state", "message", "updated_at"])


def link_projects(*, actor, cluster, projects):
    _require_platform_admin(actor)
    with transaction.atomic():
        cluster.projects.set(projects)
        record_audit(
            actor=actor,
            action="cluster.projects",
            obj=cluster,
            changes={
                "projects": sorted(
                    p.namespace for p in Project.objects.filter(pk__in=[p.pk for p in projects])
                )
            },
        )

"""Every write of the clusters app: keyword-only, one transaction each.

Nothing here talks to a cluster: work that does is enqueued for the worker on commit.
Refusals carry a `ClustersErrorCode` (bad input) or come from `accounts.guards` (who the
caller is), so the pages and the API report them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.guards import require_member, require_platform_admin
from accounts.models import Project, Tenant, User, rfc1123_label_validator
from accounts.permissions import is_platform_admin
from accounts.services import record_audit
from core.errors import FieldErrors, NotPermitted, invalid
from core.jobs import enqueue_on_commit

from . import manifests, signals, tasks
from .errors import ClustersErrorCode as Code
from .kubeconfig import KubeconfigError, parse_kubeconfig
from .models import CatalogSource, Cluster, ClusterExit
from .selectors import clusters_open_to

PEM_CERTIFICATE_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
IMAGE_REFERENCE_RE = re.compile(r"^[a-z0-9]+([._/:@-][A-Za-z0-9_.-]+)*$")


def _require_platform_admin(actor: User | None) -> None:
    require_platform_admin(
        user=actor, message=_("Only platform administrators may manage clusters.")
    )


def _credentials_from_input(
    *, auth_method: str, kubeconfig: str, token: str, ca_data: str, api_url: str
) -> tuple[str, dict[str, str]]:
    """Validates credentials; returns (api_url, stored credentials) or raises field errors."""
    if auth_method == Cluster.AuthMethod.KUBECONFIG:
        if not (kubeconfig or "").strip():
            raise invalid(
                _("Paste or upload a kubeconfig."),
                code=Code.KUBECONFIG_MISSING,
                field="kubeconfig",
            )
        try:
            parsed = parse_kubeconfig(kubeconfig)
        except KubeconfigError as exc:
            raise invalid(
                _("This kubeconfig cannot be used: %(why)s.") % {"why": exc},
                code=Code.KUBECONFIG_INVALID,
                field="kubeconfig",
            ) from None
        return parsed.api_url, {
            "token": parsed.token,
            "ca_data": parsed.ca_data,
            "client_cert_data": parsed.client_cert_data,
            "client_key_data": parsed.client_key_data,
            "context": parsed.extra.get("context", ""),
        }
    if auth_method == Cluster.AuthMethod.TOKEN:
        errors = FieldErrors()
        if not (token or "").strip():
            errors.add(
                "token", _("Enter the service account's bearer token."), code=Code.TOKEN_MISSING
            )
        if ca_data and not PEM_CERTIFICATE_RE.search(ca_data):
            errors.add(
                "ca_data",
                _(
                    "The CA bundle must be PEM: -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----."
                ),
                code=Code.CA_BUNDLE_INVALID,
            )
        if not (api_url or "").strip():
            errors.add(
                "api_url",
                _("Enter the API server URL, e.g. https://10.0.0.1:6443."),
                code=Code.API_URL_MISSING,
            )
        errors.raise_if_any()
        return api_url.strip(), {"token": token.strip(), "ca_data": (ca_data or "").strip()}
    raise invalid(
        _("Choose kubeconfig or bearer token."),
        code=Code.AUTH_METHOD_INVALID,
        field="auth_method",
    )


def _validate_cluster_fields(
    *, name: str, api_url: str, catalog_namespace: str, exclude_pk: int | None = None
) -> None:
    errors = FieldErrors()
    others = Cluster.objects.all() if exclude_pk is None else Cluster.objects.exclude(pk=exclude_pk)
    if not (name or "").strip():
        errors.add("name", _("Enter a name."), code=Code.CLUSTER_NAME_MISSING)
    elif others.filter(name__iexact=name.strip()).exists():
        errors.add(
            "name",
            _("A cluster called “%(name)s” already exists.") % {"name": name},
            code=Code.CLUSTER_NAME_TAKEN,
        )
    try:
        URLValidator(schemes=["http", "https"])(api_url)
    except ValidationError:
        errors.add(
            "api_url",
            _("Enter an http:// or https:// URL of the API server."),
            code=Code.API_URL_INVALID,
        )
    try:
        rfc1123_label_validator(catalog_namespace)
    except ValidationError as exc:
        errors.extend("catalog_namespace", exc.messages, code=Code.CATALOG_NAMESPACE_INVALID)
    errors.raise_if_any()


def _make_default(cluster: Cluster) -> None:
    """One default cluster at a time: the others lose the flag (under a row lock)."""
    Cluster.objects.select_for_update().filter(is_default=True).exclude(pk=cluster.pk).update(
        is_default=False
    )


def register_cluster(
    *,
    actor: User | None,
    name: str,
    auth_method: str,
    api_url: str = "",
    kubeconfig: str = "",
    token: str = "",
    ca_data: str = "",
    skip_tls_verify: bool = False,
    is_default: bool = False,
    is_sandbox: bool = False,
    catalog_namespace: str = "olm",
    external_access: str = Cluster.ExternalAccess.NODE_PORT,
    external_host: str = "",
    projects: Iterable[Project] = (),
) -> Cluster:
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
            raise invalid(
                _("A cluster called “%(name)s” already exists.") % {"name": name},
                code=Code.CLUSTER_NAME_TAKEN,
                field="name",
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
        enqueue_on_commit(tasks.test_cluster_connection, cluster.pk)
    return cluster


def update_cluster(
    *,
    actor: User | None,
    cluster: Cluster,
    name: str,
    api_url: str,
    skip_tls_verify: bool,
    is_default: bool,
    catalog_namespace: str,
    external_access: str,
    external_host: str,
    projects: Iterable[Project],
    auth_method: str | None = None,
    kubeconfig: str = "",
    token: str = "",
    ca_data: str = "",
) -> Cluster:
    """Blank credential fields keep the stored ones; new ones are tested again."""
    _require_platform_admin(actor)
    new_credentials: dict[str, str] | None = None
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
        changes: dict[str, Any] = {
            k: [before[k], after[k]] for k in before if before[k] != after[k]
        }
        if new_credentials is not None:
            changes["credentials"] = "replaced"
        record_audit(actor=actor, action="cluster.updated", obj=cluster, changes=changes)
        if retest:
            enqueue_on_commit(tasks.test_cluster_connection, cluster.pk)
    return cluster


def request_connection_test(*, actor: User | None, cluster: Cluster) -> None:
    """Runs "Test connection": the worker probes the cluster after commit; the page polls."""
    _require_platform_admin(actor)
    with transaction.atomic():
        Cluster.objects.filter(pk=cluster.pk).update(
            connection_state=Cluster.ConnectionState.TESTING
        )
        enqueue_on_commit(tasks.test_cluster_connection, cluster.pk)
    cluster.connection_state = Cluster.ConnectionState.TESTING


def delete_cluster(*, actor: User | None, cluster: Cluster) -> None:
    """Refused while CatalogSources or installations still point at it (PROTECT)."""
    _require_platform_admin(actor)
    try:
        with transaction.atomic():
            record_audit(actor=actor, action="cluster.deleted", obj=cluster)
            cluster.delete()
    except ProtectedError:
        raise invalid(
            _("This cluster still has CatalogSources or installations; delete them first."),
            code=Code.CLUSTER_IN_USE,
        ) from None


# --- service exits (网络出口) -----------------------------------------------------------------

_HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$")


def add_cluster_exit(
    *, actor: User | None, cluster: Cluster, name: str, kind: str, address: str = ""
) -> ClusterExit:
    """A named exit buyers' route rules may open ports on (the cluster's own setting stays
    the default exit)."""
    _require_platform_admin(actor)
    name, address = (name or "").strip(), (address or "").strip()
    errors = FieldErrors()
    if not name or len(name) > 63:
        errors.add("name", _("Enter a name of at most 63 characters."), code=Code.EXIT_NAME_INVALID)
    elif ClusterExit.objects.filter(cluster=cluster, name=name).exists():
        errors.add(
            "name",
            _("%(cluster)s already has an exit called “%(name)s”.")
            % {"cluster": cluster, "name": name},
            code=Code.EXIT_NAME_TAKEN,
        )
    if kind not in Cluster.ExternalAccess.values:
        errors.add(
            "kind",
            _("Choose NodePort or LoadBalancer."),
            code=Code.EXIT_KIND_INVALID,
        )
    if address and not _HOST_RE.match(address):
        errors.add(
            "address",
            _("Enter a host name or an IP address, without a port."),
            code=Code.EXIT_ADDRESS_INVALID,
        )
    errors.raise_if_any()
    with transaction.atomic():
        service_exit = ClusterExit.objects.create(
            cluster=cluster, name=name, kind=kind, address=address
        )
        record_audit(
            actor=actor,
            action="cluster.exit_added",
            obj=cluster,
            changes={"exit": name, "kind": kind, "address": address},
        )
    return service_exit


def delete_cluster_exit(*, actor: User | None, service_exit: ClusterExit) -> None:
    """Refused while a route rule uses it: deleting it would strand the buyers' addresses."""
    _require_platform_admin(actor)
    try:
        with transaction.atomic():
            record_audit(
                actor=actor,
                action="cluster.exit_deleted",
                obj=service_exit.cluster,
                changes={"exit": service_exit.name},
            )
            service_exit.delete()
    except ProtectedError:
        raise invalid(
            _("Route rules still use the exit “%(name)s”; they must be removed first.")
            % {"name": service_exit.name},
            code=Code.EXIT_IN_USE,
        ) from None


# --- CatalogSources -------------------------------------------------------------------------


def submit_catalog_source(
    *,
    actor: User | None,
    tenant: Tenant,
    cluster: Cluster | None,
    name: str,
    display_name: str,
    image: str,
    publisher: str = "",
) -> CatalogSource:
    """A provider hands its operator catalog to the platform, which deploys it."""
    if not tenant.is_provider:
        raise NotPermitted(
            _("Only provider tenants can submit CatalogSources."), code=Code.NOT_A_PROVIDER
        )
    require_member(user=actor, tenant=tenant)
    name = (name or "").strip()
    image = (image or "").strip()
    errors = FieldErrors()
    if not name:
        errors.add("name", _("Enter a name."), code=Code.CATALOG_NAME_MISSING)
    else:
        try:
            rfc1123_label_validator(name)
        except ValidationError as exc:
            errors.extend("name", exc.messages, code=Code.CATALOG_NAME_INVALID)
    if not (display_name or "").strip():
        errors.add("display_name", _("Enter a display name."), code=Code.DISPLAY_NAME_MISSING)
    if not IMAGE_REFERENCE_RE.match(image):
        errors.add(
            "image",
            _("Enter an image reference such as registry.example.com/team/catalog:v1."),
            code=Code.IMAGE_INVALID,
        )
    if cluster is None or not clusters_open_to(tenant=tenant).filter(pk=cluster.pk).exists():
        errors.add(
            "cluster", _("Choose a cluster your tenant may deploy to."), code=Code.CLUSTER_NOT_OPEN
        )
    elif (
        "name" not in errors
        and CatalogSource.objects.filter(
            cluster=cluster, namespace=cluster.catalog_namespace, name=name
        ).exists()
    ):
        errors.add(
            "name",
            _("A CatalogSource called “%(name)s” already exists on %(cluster)s.")
            % {"name": name, "cluster": cluster},
            code=Code.CATALOG_NAME_TAKEN,
        )
    errors.raise_if_any()
    assert cluster is not None  # refused above otherwise
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
            enqueue_on_commit(tasks.deploy_catalog_source, catalog.pk)
    except IntegrityError:
        raise invalid(
            _("A CatalogSource with this name was just created; choose another."),
            code=Code.CATALOG_NAME_TAKEN,
            field="name",
        ) from None
    return catalog


# Where a submitted CatalogSource's fields live in its YAML, so the errors name the path.
_MANIFEST_PATHS = {
    "name": "metadata.name",
    "display_name": "spec.displayName",
    "image": "spec.image",
    "publisher": "spec.publisher",
}


def submit_catalog_source_manifest(
    *, actor: User | None, tenant: Tenant, cluster: Cluster | None, manifest: str
) -> CatalogSource:
    """The seed's way: a provider hands over its memcached.yaml (pasted or uploaded) instead of
    filling the form. Its namespace must be one the tenant owns on that cluster or the global
    catalog namespace; the platform deploys the catalog in the global one either way, as it
    does for the form, because only there can every project's Subscriptions use it."""
    text = manifest or ""
    if not text.strip():
        raise invalid(
            _("Paste the CatalogSource YAML or choose a file."),
            code=Code.MANIFEST_MISSING,
            field="manifest",
        )
    if len(text.encode()) > manifests.MANIFEST_MAX_BYTES:
        raise invalid(
            _("The YAML is larger than %(size)d KiB; a CatalogSource is a few lines.")
            % {"size": manifests.MANIFEST_MAX_BYTES // 1024},
            code=Code.MANIFEST_TOO_LARGE,
            field="manifest",
        )
    try:
        parsed = manifests.parse_catalog_source_yaml(text)
    except manifests.ManifestError as exc:
        errors = FieldErrors()
        errors.extend("manifest", exc.problems, code=Code.MANIFEST_INVALID)
        errors.raise_if_any()
        raise  # unreachable: the problems are never empty
    if cluster is not None and parsed.namespace != cluster.catalog_namespace:
        owned = Project.objects.filter(tenant=tenant, namespace=parsed.namespace)
        if not clusters_open_to(project=owned.first()).filter(pk=cluster.pk).exists():
            raise invalid(
                _(
                    "metadata.namespace: “%(namespace)s” is neither a namespace of your projects "
                    "on %(cluster)s nor its global catalog namespace “%(global)s”."
                )
                % {
                    "namespace": parsed.namespace,
                    "cluster": cluster,
                    "global": cluster.catalog_namespace,
                },
                code=Code.MANIFEST_NAMESPACE_NOT_YOURS,
                field="manifest",
            )
    try:
        return submit_catalog_source(
            actor=actor,
            tenant=tenant,
            cluster=cluster,
            name=parsed.name,
            display_name=parsed.display_name,
            image=parsed.image,
            publisher=parsed.publisher,
        )
    except ValidationError as exc:
        raise _errors_on_paths(exc) from None


def _errors_on_paths(exc: ValidationError) -> ValidationError:
    """The form's field errors, moved onto the YAML field and prefixed with their path; each
    keeps its code (the API's `code`), so a taken name is still `catalog_name_taken`."""
    if not hasattr(exc, "error_dict"):
        return exc
    moved: dict[str, list[ValidationError]] = {}
    for field, errors in exc.error_dict.items():
        path = _MANIFEST_PATHS.get(field)
        for error in errors:
            for message in error.messages:
                text = f"{path}: {message}" if path else message
                moved.setdefault("manifest" if path else field, []).append(
                    ValidationError(text, code=error.code)
                )
    return ValidationError(moved)


def catalog_source_users(catalog_source: CatalogSource) -> list[str]:
    """Why a catalog cannot go: reasons from the apps that use it (see signals)."""
    reasons: list[str] = []
    for _receiver, response in signals.catalog_source_usage.send(
        sender=CatalogSource, catalog_source=catalog_source
    ):
        reasons.extend(response or [])
    return reasons


def redeploy_catalog_source(*, actor: User | None, catalog_source: CatalogSource) -> CatalogSource:
    """重新部署: a failed (or withdrawn) catalog is applied to its cluster again."""
    if not is_platform_admin(actor):
        require_member(
            user=actor,
            tenant=catalog_source.tenant,
            message=_("You cannot redeploy this CatalogSource."),
        )
    with transaction.atomic():
        catalog = CatalogSource.objects.select_for_update().get(pk=catalog_source.pk)
        if catalog.state != CatalogSource.State.FAILED:
            raise invalid(
                _("Only a failed CatalogSource can be redeployed; this one is %(state)s.")
                % {"state": catalog.get_state_display().lower()},
                code=Code.CATALOG_NOT_FAILED,
            )
        previous = catalog.state
        catalog.state = CatalogSource.State.DEPLOYING
        catalog.state_changed_at = timezone.now()
        catalog.message = ""
        catalog.save(update_fields=["state", "state_changed_at", "message", "updated_at"])
        record_audit(
            actor=actor,
            action="catalogsource.redeploy_requested",
            obj=catalog,
            tenant=catalog.tenant,
            from_state=previous,
            to_state=catalog.state,
        )
        enqueue_on_commit(tasks.deploy_catalog_source, catalog.pk)
    return catalog


def delete_catalog_source(*, actor: User | None, catalog_source: CatalogSource) -> CatalogSource:
    """Refused while a listed version uses it; otherwise removed from the cluster first."""
    if not is_platform_admin(actor):
        require_member(
            user=actor,
            tenant=catalog_source.tenant,
            message=_("You cannot delete this CatalogSource."),
        )
    reasons = catalog_source_users(catalog_source)
    if reasons:
        raise invalid(
            _("This CatalogSource is in use and cannot be deleted: %(uses)s.")
            % {"uses": "; ".join(reasons)},
            code=Code.CATALOG_IN_USE,
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
        enqueue_on_commit(tasks.remove_catalog_source, catalog.pk)
    return catalog

"""The Kubernetes gateway: the only module that imports `kubernetes`, and only when used.

One `ApiClient` + `DynamicClient` per cluster per process, reused; writes are
server-side apply under one field manager, so every task can be re-run safely.
Every API error leaves this module as one of our own exception types.

The official client is imported inside the gateway (and `translate`), never at import
time: web processes import this module through the apps' tasks (to enqueue jobs) and must
not pay for, or depend on, the client. Only the worker builds gateways.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from core import observability, retry
from core.i18n import Text, english

from .kubeconfig import Credentials

if TYPE_CHECKING:
    from .models import Cluster

FIELD_MANAGER = "operator-marketplace"
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
OLM_GROUPS = ("operators.coreos.com", "packages.operators.coreos.com")

Manifest = dict[str, Any]

# A list asked as metadata only (what client-go's metadata informers ask for), plain JSON
# otherwise: a server that cannot convert answers the full list, which is read as such.
METADATA_LIST_ACCEPT = (
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
)
# A reusing list fetches at most this many changed objects one by one; more, one full list.
CHANGED_GETS_UP_TO = 10


# --- errors -------------------------------------------------------------------------------


class KubeError(Exception):
    """A Kubernetes API call failed; `message` is fit to show to a person."""

    transient = False

    def __init__(
        self,
        message: str | Text,
        *,
        status: int | None = None,
        reason: str = "",
        causes: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(english(message))
        self.message = english(message)
        # Our own sentence stays a Text, so whoever records it keeps it in every language;
        # the cluster's own words are a plain string.
        self.text: str | Text = message
        self.status = status
        self.reason = reason
        self.causes = causes or []


class TransientError(KubeError, retry.TransientError):
    """5xx, 429, timeouts, connection errors: retried with backoff (core.retry's policy)."""

    transient = True


class ConnectionFailed(TransientError):
    pass


class TLSError(KubeError):
    pass


class UnauthorizedError(KubeError):
    pass


class ForbiddenError(KubeError):
    """403 from RBAC; `permission` names what the credentials lack (see `missing_permission`)."""

    permission: dict[str, str] | None = None


# The API server's wording (k8s.io/apiserver pkg/endpoints/handlers/responsewriters/errors.go,
# forbiddenMessage): `User "u" cannot list resource "subscriptions" in API group
# "operators.coreos.com" in the namespace "team-b"` or `... at the cluster scope`.
_FORBIDDEN = re.compile(
    r'cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"'
    r'(?: in the namespace "(?P<namespace>[^"]+)"| at the cluster scope)'
)


def missing_permission(message: str) -> dict[str, str] | None:
    """{verb, resource, group, namespace} from an RBAC denial, or None if not worded so."""
    match = _FORBIDDEN.search(message or "")
    if not match:
        return None
    return {k: v or "" for k, v in match.groupdict().items()}


def _forbidden(message: str, **kwargs: Any) -> ForbiddenError:
    permission = missing_permission(message)
    if permission is None:
        error = ForbiddenError(f"403 Forbidden: {message}", **kwargs)
    else:
        resource = permission["resource"]
        if permission["group"]:
            resource = f"{resource}.{permission['group']}"
        where = (
            f"in namespace {permission['namespace']}"
            if permission["namespace"]
            else "across the cluster"
        )
        error = ForbiddenError(
            f"The cluster's credentials may not {permission['verb']} {resource} {where}: "
            f"a cluster administrator must grant that permission (RBAC) to the account "
            f"the marketplace uses. Server: {message}",
            **kwargs,
        )
    error.permission = permission
    return error


class NotFoundError(KubeError):
    pass


class ConflictError(KubeError):
    """409: AlreadyExists, a stale resourceVersion or a server-side apply field conflict."""


class InvalidError(KubeError):
    """422: the server's `causes` (field, reason, message) are kept for the user."""


def _status_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return {"message": str(body)[:500]}
    return data if isinstance(data, dict) else {}


def _from_api_status(status: int | None, body: Any, fallback_reason: str = "") -> KubeError:
    data = _status_body(body)
    message = data.get("message") or fallback_reason or f"HTTP {status}"
    reason = data.get("reason", "")
    causes = (data.get("details") or {}).get("causes") or []
    kwargs: dict[str, Any] = {"status": status, "reason": reason, "causes": causes}
    if status == 401:
        return UnauthorizedError("401 Unauthorized: token rejected", **kwargs)
    if status == 403:
        return _forbidden(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 409:
        return ConflictError(message, **kwargs)
    if status == 422:
        return InvalidError(message, **kwargs)
    if status == 429 or (status and status >= 500):
        return TransientError(f"{status} {reason or 'server error'}: {message}", **kwargs)
    return KubeError(message, **kwargs)


def _describe_network_error(exc: BaseException) -> KubeError:
    """Plain words for what went wrong on the way to the API server."""
    import urllib3

    text = f"{exc} {getattr(exc, 'reason', '') or ''}"
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return TLSError("certificate not trusted: the server's TLS certificate was not verified")
    if isinstance(exc, urllib3.exceptions.SSLError) or "SSLError" in text:
        return TLSError("TLS handshake with the API server failed")
    if "Connection refused" in text or "ConnectionRefused" in text:
        return ConnectionFailed("connection refused")
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError) or "timed out" in text:
        return TransientError("timed out waiting for the API server")
    if "Name or service not known" in text or "nodename nor servname" in text:
        return ConnectionFailed("host name not found")
    return ConnectionFailed("cannot reach the API server")


def translate(exc: BaseException) -> KubeError:
    """Maps anything the client raises to our exception types."""
    if isinstance(exc, KubeError):
        return exc
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic import exceptions as dynamic_exceptions

    if isinstance(exc, dynamic_exceptions.ResourceNotFoundError):
        return NotFoundError(str(exc), reason="NotServed")
    if isinstance(exc, dynamic_exceptions.DynamicApiError):
        return _from_api_status(exc.status, exc.body, exc.reason)
    if isinstance(exc, ApiException):
        if exc.status in (0, None):
            return _describe_network_error(exc)
        return _from_api_status(exc.status, exc.body, exc.reason)
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return _describe_network_error(exc)
    return KubeError(f"{type(exc).__name__}: {exc}")


# --- the gateway ---------------------------------------------------------------------------


def _k8s() -> Any:
    """The official client's `kubernetes.client`, imported on first use (worker only)."""
    from kubernetes import client

    return client


def _write_secret_file(directory: str, name: str, content: str) -> str:
    path = Path(directory) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return str(path)


class Gateway:
    """One cluster's API: server-side apply, get, list, merge patch, delete, logs."""

    def __init__(self, credentials: Credentials, *, cache_key: str, label: str = "") -> None:
        import urllib3

        k8s = _k8s()
        self.credentials = credentials
        self.cache_key = cache_key
        configuration = k8s.Configuration()
        configuration.host = credentials.api_url.rstrip("/")
        configuration.verify_ssl = not credentials.skip_tls_verify
        configuration.retries = False  # our callers decide about retries
        self._secret_dir = tempfile.mkdtemp(prefix="kube-")
        if credentials.token:
            configuration.api_key = {"authorization": credentials.token}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        if credentials.ca_data:
            configuration.ssl_ca_cert = _write_secret_file(
                self._secret_dir, "ca.crt", credentials.ca_data
            )
        if credentials.client_cert_data:
            configuration.cert_file = _write_secret_file(
                self._secret_dir, "client.crt", credentials.client_cert_data
            )
            configuration.key_file = _write_secret_file(
                self._secret_dir, "client.key", credentials.client_key_data
            )
        self.api_client: Any = k8s.ApiClient(configuration)
        # Every call counted by cluster and verb (the worker's metrics port serves them).
        self.label = label or cache_key
        observability.instrument_api_client(self.api_client, cluster=lambda: self.label)
        self.api_client.rest_client.pool_manager.connection_pool_kw["timeout"] = urllib3.Timeout(
            connect=CONNECT_TIMEOUT, read=READ_TIMEOUT
        )
        self._dynamic: Any = None
        self._lock = threading.Lock()
        # What `list(..., reuse=True)` read in full last time, per query: by (namespace,
        # name), kept only while the object's resourceVersion stays the same.
        self._known: dict[tuple[Any, ...], dict[tuple[str, str], Manifest]] = {}

    # The discovery cache lives in a file the project owns, one per cluster.
    @property
    def discovery_cache_file(self) -> str:
        directory = Path(settings.DATA_DIR) / "kube-discovery"
        directory.mkdir(parents=True, exist_ok=True)
        return str(directory / f"{self.cache_key}.json")

    @property
    def dynamic(self) -> Any:
        """The `DynamicClient`, built on first use (its discovery reads the server)."""
        with self._lock:
            if self._dynamic is None:
                from kubernetes.dynamic import DynamicClient

                try:
                    self._dynamic = DynamicClient(
                        self.api_client, cache_file=self.discovery_cache_file
                    )
                except Exception as exc:
                    raise translate(exc) from exc
            return self._dynamic

    def _resource(self, api_version: str, kind: str) -> Any:
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except Exception as exc:
            raise translate(exc) from exc

    def _call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_request_timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            raise translate(exc) from exc
        return result.to_dict() if hasattr(result, "to_dict") else result

    def apply(
        self, manifest: Manifest, *, force: bool = False, field_manager: str = FIELD_MANAGER
    ) -> Manifest:
        """Server-side apply: creates or updates; `force` takes fields other managers own."""
        resource = self._resource(manifest["apiVersion"], manifest["kind"])
        return self._call(
            self.dynamic.server_side_apply,
            resource,
            body=manifest,
            namespace=manifest.get("metadata", {}).get("namespace"),
            field_manager=field_manager,
            force_conflicts=force,
        )

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Manifest:
        resource = self._resource(api_version, kind)
        return self._call(self.dynamic.get, resource, name=name, namespace=namespace)

    def get_or_none(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Manifest | None:
        try:
            return self.get(api_version, kind, name, namespace)
        except NotFoundError:
            return None

    def _get_json(self, resource: Any, **kwargs: Any) -> dict[str, Any]:
        """A GET whose JSON body is parsed as plain dicts: a list of a thousand objects
        costs its parse, not the client's ResourceInstance wrapping of every field."""
        response = self._call(self.dynamic.get, resource, serialize=False, **kwargs)
        try:
            data = json.loads(response.data)
        except (AttributeError, TypeError, ValueError) as exc:
            raise KubeError(f"unreadable answer from the API server: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def _pages(
        self, resource: Any, query: dict[str, Any], *, accept: str | None = None
    ) -> tuple[builtins.list[Manifest], str]:
        """Every matching object, fetched in pages of `KUBE_LIST_PAGE_SIZE` (`limit` and
        `continue`, as kubectl and client-go's pager do), so no answer grows with the
        cluster; and the kind of list the server answered (`PartialObjectMetadataList` when
        `accept` asked for it and the server could convert).

        A continue token that expired (410 Expired, the server compacted past it) starts the
        list over once without paging, as client-go's pager falls back to a full list.
        """
        headers = {"header_params": {"Accept": accept}} if accept else {}
        page_size = int(getattr(settings, "KUBE_LIST_PAGE_SIZE", 500))
        items: builtins.list[Manifest] = []
        token: str | None = None
        while True:
            try:
                result = self._get_json(
                    resource, limit=page_size, _continue=token, **query, **headers
                )
            except KubeError as exc:
                if token is None or exc.status != 410:
                    raise
                result = self._get_json(resource, **query, **headers)
                return result.get("items") or [], str(result.get("kind") or "")
            items.extend(result.get("items") or [])
            token = (result.get("metadata") or {}).get("continue") or None
            if not token:
                return items, str(result.get("kind") or "")

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        reuse: bool = False,
    ) -> builtins.list[Manifest]:
        """Every matching object, paged (see `_pages`).

        `reuse`: the list is asked as metadata only and an object whose resourceVersion is
        the one read last time (on this gateway, for the same query) is that object again —
        the API server changes an object's resourceVersion on every write to it, spec or
        status, and on nothing else (a resourceVersion is compared for equality only, it is
        opaque). Only the changed ones are then read in full: one GET each when they are
        few, else one full list. A settled cluster's tick so reads names and versions, not
        every CSV's install strategy, at the same number of calls.
        """
        resource = self._resource(api_version, kind)
        query = {
            "namespace": namespace,
            "label_selector": label_selector,
            "field_selector": field_selector,
        }
        if not reuse:
            return self._pages(resource, query)[0]
        key = (api_version, kind, namespace, label_selector, field_selector)
        known = self._known.get(key, {})
        listed, list_kind = self._pages(resource, query, accept=METADATA_LIST_ACCEPT)
        if list_kind != "PartialObjectMetadataList":  # the server sent the objects
            return self._remember(key, listed)
        objects: builtins.list[Manifest | None] = []
        changed: builtins.list[tuple[int, str, str]] = []
        for item in listed:
            meta = item.get("metadata") or {}
            where = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            have = known.get(where)
            have_meta = (have or {}).get("metadata") or {}
            if (
                have is not None
                and meta.get("resourceVersion")
                and have_meta.get("resourceVersion") == meta.get("resourceVersion")
                and have_meta.get("uid") == meta.get("uid")
            ):
                objects.append(have)
            else:
                objects.append(None)
                changed.append((len(objects) - 1, *where))
        if len(changed) > CHANGED_GETS_UP_TO:
            return self._remember(key, self._pages(resource, query)[0])
        for index, in_namespace, name in changed:
            with contextlib.suppress(NotFoundError):  # deleted since the list: gone here too
                objects[index] = self._get_json(resource, name=name, namespace=in_namespace or None)
        return self._remember(key, [o for o in objects if o is not None])

    def _remember(
        self, key: tuple[Any, ...], objects: builtins.list[Manifest]
    ) -> builtins.list[Manifest]:
        """Keeps this read for the next `list(..., reuse=True)` of the same query (what is
        gone from the cluster is forgotten with it)."""
        self._known[key] = {
            (
                str((o.get("metadata") or {}).get("namespace") or ""),
                str((o.get("metadata") or {}).get("name") or ""),
            ): o
            for o in objects
        }
        return objects

    def list_in_namespaces(
        self,
        api_version: str,
        kind: str,
        namespaces: Iterable[str],
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        reuse: bool = False,
    ) -> builtins.list[Manifest]:
        """The objects of `kind` in `namespaces`: one list per namespace when they are few (the
        answer then grows with our installations, not with the cluster), one cluster-wide
        list otherwise; per namespace too when the credentials may not list cluster-wide
        (a token bound to the tenants' namespaces gets 403 at the cluster scope). `reuse`:
        unchanged objects are not read again (see `list`)."""
        wanted = sorted(set(namespaces))
        selectors: dict[str, Any] = {
            "label_selector": label_selector,
            "field_selector": field_selector,
            "reuse": reuse,
        }
        if len(wanted) > int(getattr(settings, "KUBE_PER_NAMESPACE_LISTS_UP_TO", 8)):
            try:
                found = self.list(api_version, kind, **selectors)
            except ForbiddenError:
                pass
            else:
                keep = set(wanted)
                return [o for o in found if (o.get("metadata") or {}).get("namespace") in keep]
        items: builtins.list[Manifest] = []
        for namespace in wanted:
            items.extend(self.list(api_version, kind, namespace=namespace, **selectors))
        return items

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: dict[str, Any],
        namespace: str | None = None,
    ) -> Manifest:
        """JSON merge patch (RFC 7386)."""
        resource = self._resource(api_version, kind)
        return self._call(
            self.dynamic.patch,
            resource,
            body=patch,
            name=name,
            namespace=namespace,
            content_type="application/merge-patch+json",
        )

    def patch_status(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: dict[str, Any],
        namespace: str | None = None,
    ) -> Manifest:
        resource = self._resource(api_version, kind).subresources["status"]
        return self._call(
            self.dynamic.patch,
            resource,
            body=patch,
            name=name,
            namespace=namespace,
            content_type="application/merge-patch+json",
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        missing_ok: bool = True,
    ) -> Manifest | None:
        resource = self._resource(api_version, kind)
        try:
            return self._call(self.dynamic.delete, resource, name=name, namespace=namespace)
        except NotFoundError:
            if missing_ok:
                return None
            raise

    def read_pod_log(
        self,
        name: str,
        namespace: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
    ) -> str:
        core = _k8s().CoreV1Api(self.api_client)
        kwargs = {"container": container, "tail_lines": tail_lines}
        return self._call(
            core.read_namespaced_pod_log,
            name,
            namespace,
            **{k: v for k, v in kwargs.items() if v is not None},
        )

    def version(self) -> dict[str, Any]:
        try:
            info = (
                _k8s()
                .VersionApi(self.api_client)
                .get_code(_request_timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
            )
        except Exception as exc:
            raise translate(exc) from exc
        return info.to_dict()

    def api_groups(self) -> set[str]:
        try:
            groups = (
                _k8s()
                .ApisApi(self.api_client)
                .get_api_versions(_request_timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
            )
        except Exception as exc:
            raise translate(exc) from exc
        return {group.name for group in groups.groups or []}

    def invalidate_discovery(self) -> None:
        """After a CRD appears, so the new kind is found without waiting for the cache."""
        with self._lock:
            if self._dynamic is not None:
                try:
                    self._dynamic.resources.invalidate_cache()
                except Exception as exc:
                    raise translate(exc) from exc

    def close(self) -> None:
        try:
            self.api_client.close()
        finally:
            for name in ("ca.crt", "client.crt", "client.key"):
                Path(self._secret_dir, name).unlink(missing_ok=True)
            Path(self._secret_dir).rmdir()


_gateways: dict[str, Gateway] = {}
_gateways_lock = threading.Lock()


def gateway_for_credentials(credentials: Credentials, *, name: str, label: str = "") -> Gateway:
    """Reused per process while the credentials stay the same; `label` names the cluster
    in the metrics (its name; `name` by default)."""
    key = f"{name}-{credentials.fingerprint()}"
    with _gateways_lock:
        gateway = _gateways.get(key)
        if gateway is None:
            stale = [k for k in _gateways if k.startswith(f"{name}-")]
            for old in stale:
                _gateways.pop(old).close()
            gateway = _gateways[key] = Gateway(credentials, cache_key=key)
        gateway.label = label or name  # a renamed cluster keeps its gateway, not its old name
        return gateway


@dataclass
class ConnectionReport:
    ok: bool
    server_version: str = ""
    olm_available: bool | None = None
    error: str = ""


def probe(gateway: Gateway) -> ConnectionReport:
    """What the cluster page shows after "Test connection"."""
    try:
        version = gateway.version()
        groups = gateway.api_groups()
    except KubeError as exc:
        return ConnectionReport(ok=False, error=exc.message)
    return ConnectionReport(
        ok=True,
        server_version=version.get("git_version") or version.get("gitVersion") or "",
        olm_available=all(group in groups for group in OLM_GROUPS),
    )


def gateway_for(cluster: Cluster) -> Gateway:
    """The gateway of a registered `clusters.Cluster` (credentials decrypted in memory only)."""
    stored = cluster.credentials or {}
    credentials = Credentials(
        api_url=cluster.api_url,
        token=stored.get("token", ""),
        ca_data=stored.get("ca_data", ""),
        client_cert_data=stored.get("client_cert_data", ""),
        client_key_data=stored.get("client_key_data", ""),
        skip_tls_verify=cluster.skip_tls_verify,
    )
    return gateway_for_credentials(credentials, name=f"cluster{cluster.pk}", label=cluster.name)

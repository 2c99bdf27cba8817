"""HTTP layer: Kubernetes REST paths, verbs, auth, faults, watch streams.

Maps `/api/v1/...` and `/apis/{group}/{version}/...` onto the store the way the
API server's handler chain does: authentication, authorization (RBAC, see
rbac.py), then (sandbox) fault injection, then discovery or resource routing;
every error is a `Status`.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import yaml

from . import errors, kcm_printing, logs, logstream, openapi, printing, rbac
from .errors import ApiError
from .label_selectors import parse_field_selector, parse_label_selector
from .patch import json_patch, merge_patch
from .resources import ResourceType
from .store import APPLY, JSON_PATCH, MERGE, STRATEGIC

# The kcm.py kinds' columns (Job, Endpoints, PDB, HPA, Ingress, NetworkPolicy) join the
# built-in table convertor here, where both are imported (kcm_printing builds on printing).
printing.BUILTIN.update(kcm_printing.PRINTERS)

VERSION_INFO = {
    "major": "1",
    "minor": "29",
    "gitVersion": "v1.29.4",
    "gitCommit": "55019c83b0fd51ef4ced8c29eec2c4847f896e74",
    "gitTreeState": "clean",
    "buildDate": "2024-04-16T15:03:24Z",
    "goVersion": "go1.21.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}

PATCH_TYPES = {APPLY, MERGE, STRATEGIC, JSON_PATCH}
# namespaces/{ns}/serviceaccounts/{name}/token: the TokenRequest subresource
_TOKEN_PATH = ["namespaces", "serviceaccounts", "token"]


class Response:
    def __init__(
        self,
        code: int,
        body,
        content_type: str = "application/json",
        headers: list[tuple[str, str]] | None = None,
    ):
        self.code = code
        self.body = body
        self.content_type = content_type
        self.headers = headers or []  # extra headers, e.g. `Warning: 299 - "..."`


class Request:
    """A parsed API request."""

    def __init__(self, handler: BaseHTTPRequestHandler, method: str):
        parsed = urllib.parse.urlsplit(handler.path)
        self.method = method
        # Decoded, as Go's url.URL.Path: clients escape `:` in names (clusterroles/system%3Aview).
        path = urllib.parse.unquote(parsed.path)
        self.raw_path = path  # as the authorizer sees it ("/version/" is not "/version")
        self.path = path.rstrip("/") or "/"
        self.raw_query = parsed.query
        self.query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        self.headers = handler.headers
        length = int(handler.headers.get("Content-Length") or 0)
        self.body = handler.rfile.read(length) if length else b""
        self.content_type = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
        self.user: rbac.UserInfo | None = None  # set once authenticated

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("true", "1")

    def json_body(self):
        if not self.body:
            return None
        try:
            if "yaml" in self.content_type:
                return yaml.safe_load(self.body)
            return json.loads(self.body)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(
                f"error decoding request body: {str(exc).splitlines()[0]}"
            ) from None

    @property
    def manager(self) -> str:
        explicit = self.query.get("fieldManager")
        if explicit:
            return explicit
        agent = self.headers.get("User-Agent") or "unknown"
        return agent.split("/")[0].strip() or "unknown"


class Target:
    """What a resource path names: type, namespace, name, subresource."""

    def __init__(self, rt: ResourceType, namespace: str | None, name: str | None, sub: str | None):
        self.rt, self.namespace, self.name, self.sub = rt, namespace, name, sub


class Router:
    """Dispatch parsed requests to discovery, the store or the package server."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store

    # -- entry -----------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if req.path == "/version":
            return Response(200, VERSION_INFO)
        if req.path in ("/healthz", "/livez", "/readyz"):
            return Response(200, "ok", "text/plain")
        if parts[:1] == ["openapi"] and req.method == "GET":
            reply = openapi.serve(self.store, req.path, req.query, req.headers.get("Accept"))
            return Response(reply.code, reply.body, reply.content_type, reply.headers)
        if not parts or parts[0] not in ("api", "apis"):
            raise errors.page_not_found()
        index = self.store.types()
        if parts[0] == "api":
            if len(parts) == 1:
                return Response(
                    200,
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": self.cluster.address}
                        ],
                    },
                )
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) == 1:
                return Response(200, index.api_group_list())
            if len(parts) == 2:
                if parts[1] not in index.group_versions():
                    raise errors.page_not_found()
                return Response(200, index.api_group(parts[1]))
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            doc = index.resource_list(group, version)
            if doc is None:
                raise errors.page_not_found()
            return Response(200, doc)
        if (group, version) == ("", "v1") and len(rest) == 5 and rest[0:5:2] == _TOKEN_PATH:
            return self._token_request(req, rest[1], rest[3])
        target = self._target(index, group, version, rest)
        if target.rt.kind == "PackageManifest":
            return self._packages(req, target)
        if target.rt in rbac.REVIEW_TYPES:
            return self._review(req, target)
        return self._resource(req, target)

    def _target(self, index, group, version, rest) -> Target:
        namespace = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        rt = index.by_path(group, version, plural)
        if rt is None or len(rest) > 3:
            raise errors.page_not_found()
        if namespace is not None and not rt.namespaced:
            raise errors.page_not_found()
        if rt.namespaced and name and namespace is None:
            raise errors.page_not_found()
        if sub and sub not in rt.subresources:
            raise errors.page_not_found()
        return Target(rt, namespace, name, sub)

    # -- resources -------------------------------------------------------------------------

    def _resource(self, req: Request, t: Target) -> Response:
        store, rt, method = self.store, t.rt, req.method
        dry_run = _dry_run(req)
        if t.name is None:
            if method == "GET":
                if req.flag("watch"):
                    return Response(200, ("watch", t))
                return self._listed(req, rt, self._list_page(req, t))
            if method == "POST":
                if rt.namespaced and t.namespace is None:
                    raise errors.page_not_found()
                self._require_body_type(req)
                body, warnings = openapi.check_body(
                    store, rt, req.json_body(), req.query, options_kind="CreateOptions"
                )
                obj = store.create(rt, t.namespace, body, manager=req.manager, dry_run=dry_run)
                return Response(201, obj, headers=warnings)
            if method == "DELETE":
                return self._delete_collection(req, t)
            raise errors.method_not_allowed()
        if t.sub == "log":
            if method != "GET":
                raise errors.method_not_allowed()
            return self._pod_log(req, t)
        if t.sub == "scale":
            return self._scale(req, t, dry_run)
        if t.sub == "finalize":
            raise errors.method_not_allowed()
        if method == "GET":
            return self._got(req, rt, store.get(rt, t.namespace, t.name))
        if method == "PUT":
            self._require_body_type(req)
            body, warnings = openapi.check_body(
                store, rt, req.json_body(), req.query, options_kind="UpdateOptions"
            )
            obj = store.update(
                rt,
                t.namespace,
                t.name,
                body,
                manager=req.manager,
                subresource=t.sub,
                dry_run=dry_run,
            )
            return Response(200, obj, headers=warnings)
        if method == "PATCH":
            if req.content_type not in PATCH_TYPES:
                raise errors.unsupported_patch(strategic=not rt.crd)
            if req.content_type == STRATEGIC and rt.crd:
                raise errors.unsupported_patch(strategic=False)
            existed = store.peek(rt, t.namespace, t.name) is not None
            force = req.query.get("force", "").lower() == "true"
            if req.content_type == APPLY:
                if "force" in req.query and req.query["force"].lower() not in ("true", "false"):
                    raise errors.bad_request(f'invalid value for force: "{req.query["force"]}"')
                manager = req.query.get("fieldManager")
                if not existed and req.user is not None:
                    self.cluster.rbac.check_create(req.user, "PATCH", req.raw_path, req.query)
            else:
                if "force" in req.query:
                    raise errors.invalid(
                        kind="PatchOptions",
                        group="meta.k8s.io",
                        name="",
                        errors=[
                            errors.FieldError(
                                "force",
                                "Forbidden",
                                detail="may not be specified for non-apply patch",
                            )
                        ],
                    )
                manager = req.manager
            patch_body, warnings = openapi.check_patch_request(store, req, t)
            obj = store.patch(
                rt,
                t.namespace,
                t.name,
                req.content_type,
                patch_body,
                manager=manager,
                force=force,
                subresource=t.sub,
                dry_run=dry_run,
            )
            return Response(200 if existed else 201, obj, headers=warnings)
        if method == "DELETE":
            if t.sub:
                raise errors.method_not_allowed()
            options = req.json_body() or {}
            propagation = req.query.get("propagationPolicy") or options.get("propagationPolicy")
            if req.flag("orphanDependents") or options.get("orphanDependents"):
                propagation = "Orphan"
            obj, remains = store.delete(
                rt,
                t.namespace,
                t.name,
                propagation=propagation,
                preconditions=options.get("preconditions"),
                dry_run=dry_run or options.get("dryRun") == ["All"],
            )
            if remains:
                return Response(200 if rt.kind == "Namespace" else 202, obj)
            if rt.return_deleted:
                return Response(200, obj)
            return Response(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": t.name,
                        **({"group": rt.group} if rt.group else {}),
                        "kind": rt.plural,
                        "uid": obj["metadata"]["uid"],
                    },
                },
            )
        raise errors.method_not_allowed()

    def _listed(self, req: Request, rt: ResourceType, body: dict) -> Response:
        """A list, or the Table / PartialObjectMetadataList the Accept header asks for."""
        conversion = printing.negotiate(req.headers.get("Accept"))
        if conversion is None:
            return Response(200, body)
        return Response(200, printing.convert_list(rt, self.store, body, conversion, req.query))

    def _got(self, req: Request, rt: ResourceType, obj: dict) -> Response:
        conversion = printing.negotiate(req.headers.get("Accept"))
        if conversion is None:
            return Response(200, obj)
        return Response(200, printing.convert_object(rt, self.store, obj, conversion, req.query))

    def _require_body_type(self, req: Request) -> None:
        if req.content_type and req.content_type not in (
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
            "*/*",
        ):
            raise errors.unsupported_media_type(req.content_type)

    def _list_page(self, req: Request, t: Target) -> dict:
        """GET of a collection: only the page asked for (`limit`/`continue`) is read out (only
        its metadata when the client asks for a PartialObjectMetadataList)."""
        limit = int(req.query.get("limit") or 0)
        start = self._continue_start(req)
        conversion = printing.negotiate(req.headers.get("Accept"))
        items, rv, total = self.store.list_page(
            t.rt,
            t.namespace,
            label_selector=req.query.get("labelSelector"),
            field_selector=req.query.get("fieldSelector"),
            start=start,
            limit=limit,
            metadata_only=conversion is not None and conversion.kind == "PartialObjectMetadataList",
        )
        meta: dict = {"resourceVersion": rv}
        if limit > 0 and start + limit < total:
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"rv": rv, "start": start + limit}).encode()
            ).decode()
            meta["remainingItemCount"] = total - start - limit
        return self._list_envelope(t.rt, items, meta)

    @staticmethod
    def _continue_start(req: Request) -> int:
        token = req.query.get("continue")
        if not token:
            return 0
        try:
            return int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
        except (ValueError, KeyError, TypeError):
            raise errors.bad_request("continue key is not valid") from None

    def _list_envelope(self, rt: ResourceType, items: list[dict], meta: dict) -> dict:
        if not rt.crd:
            # Typed lists of built-in kinds carry no per-item kind/apiVersion.
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": items,
        }

    def _list_body(self, rt: ResourceType, items: list[dict], rv: str, req: Request) -> dict:
        limit = int(req.query.get("limit") or 0)
        start = self._continue_start(req)
        meta: dict = {"resourceVersion": rv}
        if limit > 0:
            page = items[start : start + limit]
            if start + limit < len(items):
                meta["continue"] = base64.urlsafe_b64encode(
                    json.dumps({"rv": rv, "start": start + limit}).encode()
                ).decode()
                meta["remainingItemCount"] = len(items) - start - limit
            items = page
        elif start:
            items = items[start:]
        return self._list_envelope(rt, items, meta)

    def _delete_collection(self, req: Request, t: Target) -> Response:
        if "deletecollection" not in t.rt.verbs:
            raise errors.method_not_allowed()
        items, rv = self.store.list(
            t.rt,
            t.namespace,
            label_selector=req.query.get("labelSelector"),
            field_selector=req.query.get("fieldSelector"),
        )
        deleted = []
        for item in items:
            try:
                obj, _ = self.store.delete(
                    t.rt,
                    item["metadata"].get("namespace"),
                    item["metadata"]["name"],
                    propagation=req.query.get("propagationPolicy"),
                )
                deleted.append(obj)
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return Response(200, self._list_body(t.rt, deleted, self.store.resource_version, req))

    def _pod_log(self, req: Request, t: Target) -> Response:
        pod = self.store.get(t.rt, t.namespace, t.name)

        def number(key):
            value = req.query.get(key)
            if value is None:
                return None
            try:
                return int(value)
            except ValueError:
                raise errors.bad_request(f"invalid {key}: {value!r}") from None

        text = logs.pod_log(
            pod,
            container=req.query.get("container"),
            tail_lines=number("tailLines"),
            timestamps=req.flag("timestamps"),
            since_seconds=number("sinceSeconds"),
            limit_bytes=number("limitBytes"),
            source=getattr(self.cluster, "container_log", None),
        )
        container = req.query.get("container") or pod["spec"]["containers"][0]["name"]
        real = getattr(self.cluster, "container_log", None)
        source = self.cluster.log_source or (
            lambda pod, container: _whole_log(pod, container, real=real)
        )
        if self.cluster.log_source is not None:  # another source (real output): tail/limit only
            text = logstream.render(
                source(pod, container),
                tail_lines=number("tailLines"),
                limit_bytes=number("limitBytes"),
            )
        if not req.flag("follow"):
            return Response(200, text, "text/plain")
        store, rt, namespace, name = self.store, t.rt, t.namespace, t.name
        cluster = self.cluster

        def stream(handler: BaseHTTPRequestHandler) -> None:
            logstream.follow(
                handler,
                initial=text,
                source=source,
                current_pod=lambda: store.peek(rt, namespace, name),
                container=container,
                timestamps=req.flag("timestamps"),
                limit_bytes=number("limitBytes"),
                stopping=lambda: cluster.stopping,
            )

        return Response(200, ("stream", stream))

    def _scale(self, req: Request, t: Target, dry_run: bool) -> Response:
        assert t.name is not None  # _resource routes only named targets to subresources
        obj = self.store.get(t.rt, t.namespace, t.name)

        def scale_of(o):
            selector = ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    k: o["metadata"][k]
                    for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                    if k in o["metadata"]
                },
                "spec": {"replicas": (o.get("spec") or {}).get("replicas", 0)},
                "status": {
                    "replicas": (o.get("status") or {}).get("replicas", 0),
                    "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
                },
            }

        if req.method == "GET":
            return Response(200, scale_of(obj))
        if req.method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed()
        body = req.json_body() or {}
        if req.method == "PATCH":
            current = scale_of(obj)
            body = (
                json_patch(current, body)
                if req.content_type == JSON_PATCH
                else merge_patch(current, body)
            )
        replicas = (body.get("spec") or {}).get("replicas")
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != obj["metadata"]["resourceVersion"]:
            raise errors.conflict(resource=t.rt.plural, group=t.rt.group, name=t.name)
        obj["spec"]["replicas"] = replicas
        obj["metadata"].pop("resourceVersion", None)
        updated = self.store.update(
            t.rt, t.namespace, t.name, obj, manager=req.manager, dry_run=dry_run
        )
        return Response(200, scale_of(updated))

    # -- authentication.k8s.io / authorization.k8s.io ----------------------------------------

    def _review(self, req: Request, t: Target) -> Response:
        """Access/rules/subject reviews: create-only, answered from the authorizer."""
        if req.method != "POST" or t.name is not None:
            raise errors.method_not_allowed()
        if t.rt.namespaced and t.namespace is None:
            raise errors.page_not_found()
        user = req.user or rbac.ADMIN
        body = rbac.review(self.cluster.rbac.authorizer, user, t.rt, t.namespace, req.json_body())
        return Response(201, body)

    def _token_request(self, req: Request, namespace: str, name: str) -> Response:
        """POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token (`kubectl create token`)."""
        if req.method != "POST":
            raise errors.method_not_allowed()
        self._require_body_type(req)
        tokens = self.cluster.rbac.tokens
        return Response(201, tokens.token_request(namespace, name, req.json_body()))

    # -- packages.operators.coreos.com -------------------------------------------------------

    def _packages(self, req: Request, t: Target) -> Response:
        if req.method != "GET":
            raise errors.method_not_allowed()
        olm = self.cluster.olm
        if t.name is None:
            if req.flag("watch"):
                raise errors.method_not_allowed()
            items = olm.package_manifests(
                t.namespace,
                label_selector=req.query.get("labelSelector"),
                field_selector=req.query.get("fieldSelector"),
            )
            body = self._list_body(t.rt, items, self.store.resource_version, req)
            return self._listed(req, t.rt, body)
        items = [m for m in olm.package_manifests(t.namespace) if m["metadata"]["name"] == t.name]
        if not items:
            raise errors.not_found(resource=t.rt.plural, group=t.rt.group, name=t.name)
        if t.sub == "icon":
            data, media_type = olm.package_icon(items[0])
            return Response(200, data, media_type)
        return self._got(req, t.rt, items[0])


_OPTIONS_KIND = {
    "POST": "CreateOptions",
    "PUT": "UpdateOptions",
    "PATCH": "PatchOptions",
    "DELETE": "DeleteOptions",
}


class _UnsupportedDryRun(errors.FieldError):
    """field.NotSupported on a []string: the value renders as Go's %#v does."""

    def body(self) -> str:
        values = ", ".join(json.dumps(v) for v in self.value)
        return f'Unsupported value: []string{{{values}}}: supported values: "All"'


def _dry_run(req: Request) -> bool:
    """`dryRun=All` (repeatable); any other value is 422 on the verb's options, as
    apimachinery's ValidateDryRun (before anything is written)."""
    values = [
        v for k, v in urllib.parse.parse_qsl(req.raw_query, keep_blank_values=True) if k == "dryRun"
    ]
    if not values:
        return False
    kind = _OPTIONS_KIND.get(req.method)
    if kind and any(v != "All" for v in values):
        raise errors.invalid(
            kind=kind,
            group="meta.k8s.io",
            name="",
            errors=[_UnsupportedDryRun("dryRun", "NotSupported", value=values, supported=["All"])],
        )
    return kind is not None


def _whole_log(pod: dict, container: str, *, real=None) -> str:
    """The default follow source: the container's whole log so far ("" while it cannot be
    read): the real process output where it runs for real (`real`), else the synthetic one."""
    try:
        return logs.pod_log(pod, container=container, source=real)
    except ApiError:
        return ""


def faults_response(cluster, req: Request) -> tuple[Response, dict]:
    """GET/POST `/_sandbox/faults`; returns the response and any deferred down change."""
    if req.method == "GET":
        return Response(200, cluster.faults.as_dict()), {}
    if req.method != "POST":
        raise errors.method_not_allowed()
    values = req.json_body() or {}
    if not isinstance(values, dict):
        raise errors.bad_request("expected a JSON object")
    try:
        cluster.faults.update(values)
    except (TypeError, ValueError) as exc:
        raise errors.bad_request(str(exc)) from None
    deferred = {k: values[k] for k in ("down", "down_for") if k in values}
    state = cluster.faults.as_dict()
    if deferred.get("down") or deferred.get("down_for"):
        state["down"] = True
    return Response(200, state), deferred


def watch_stream(handler: BaseHTTPRequestHandler, cluster, req: Request, t: Target) -> None:
    """Stream watch events (chunked JSON lines) until timeoutSeconds or shutdown.

    As the API server's watch cache: a selector-filtered watch turns a change that makes an
    object match into ADDED and one that makes it stop matching into DELETED (with the
    object as it was); `sendInitialEvents=true` ends the initial ADDED events with a
    BOOKMARK annotated `k8s.io/initial-events-end`; a Table Accept header turns every object
    into a one-row Table (column definitions in the first event only).
    """
    store = cluster.store
    labels_match = parse_label_selector(req.query.get("labelSelector"))
    fields_match = parse_field_selector(req.query.get("fieldSelector"), t.rt.kind, crd=t.rt.crd)
    timeout = float(req.query.get("timeoutSeconds") or 1800)
    deadline = time.monotonic() + timeout
    conversion = printing.negotiate(req.headers.get("Accept"))
    include = printing.include_object(req.query)
    table = (
        printing.TablePrinter(t.rt, store)
        if conversion is not None and conversion.kind == "Table"
        else None
    )
    initial_events = req.flag("sendInitialEvents")
    if initial_events and req.query.get("resourceVersionMatch") != "NotOlderThan":
        raise errors.invalid(
            kind="ListOptions",
            group="meta.k8s.io",
            name="",
            errors=[
                errors.FieldError(
                    "resourceVersionMatch",
                    "Forbidden",
                    detail="sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                )
            ],
        )
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Cache-Control", "no-cache, private")
    handler.end_headers()
    # Headers go out now: client-go's watch call returns only once it has them, and an
    # informer (kubectl wait, rollout status) waits for that before it reports its list.
    handler.wfile.flush()
    headers_sent = False

    def send(event_type: str, obj: dict) -> None:
        nonlocal headers_sent
        if event_type not in ("ERROR", "BOOKMARK") and conversion is not None:
            if table is not None:
                obj = table.table(
                    [obj],
                    conversion=conversion,
                    include_object=include,
                    list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                    headers=not headers_sent,
                )
                headers_sent = True
            else:
                obj = printing.partial(obj, conversion.version)
        line = json.dumps({"type": event_type, "object": obj}).encode() + b"\n"
        handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        handler.wfile.flush()

    def matches(obj: dict | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if t.rt.namespaced and t.namespace and meta.get("namespace") != t.namespace:
            return False
        return labels_match(meta.get("labels") or {}) and fields_match(obj)

    def bookmark(rv: int, *, initial_end: bool) -> dict:
        meta: dict = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": t.rt.kind, "apiVersion": t.rt.api_version, "metadata": meta}

    try:
        rv = req.query.get("resourceVersion") or "0"
        with store.lock:
            if rv in ("0", "") or initial_events:
                items, current = store.list(t.rt, t.namespace)
                initial = [i for i in items if matches(i)]
                since = int(current)
            else:
                since = int(rv)
                oldest = store.history[0].rv if store.history else int(store.resource_version) + 1
                initial = []
                if since < oldest - 1 and since < int(store.resource_version):
                    expired = ApiError(
                        410, "Expired", f"too old resource version: {since} ({oldest - 1})"
                    ).status()
                    initial = None
        if initial is None:
            send("ERROR", expired)
        else:
            for obj in initial:
                send("ADDED", obj)
            if initial_events:
                send("BOOKMARK", bookmark(since, initial_end=True))
            while not cluster.stopping and time.monotonic() < deadline:
                with store.lock:
                    pending = [e for e in store.history if e.rv > since and e.key == t.rt.key]
                    if not pending and store.history and store.history[-1].rv > since:
                        since = store.history[-1].rv
                    if not pending:
                        store.changed.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
                        continue
                for event in pending:
                    since = event.rv
                    obj = dict(event.object)
                    obj["apiVersion"], obj["kind"] = t.rt.api_version, t.rt.kind
                    now_matches = matches(obj)
                    if event.type != "MODIFIED":
                        if now_matches:
                            send(event.type, obj)
                        continue
                    before = event.prev
                    was_matching = matches(before) if before is not None else now_matches
                    if now_matches:
                        send("MODIFIED" if was_matching else "ADDED", obj)
                    elif was_matching and before is not None:
                        gone = dict(before, apiVersion=t.rt.api_version, kind=t.rt.kind)
                        gone["metadata"] = dict(
                            before.get("metadata") or {}, resourceVersion=str(event.rv)
                        )
                        send("DELETED", gone)
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError, OSError):
        handler.close_connection = True

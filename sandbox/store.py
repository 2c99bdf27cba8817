"""The object store: API-server semantics for create/read/update/patch/delete.

One re-entrant lock guards everything; the HTTP handlers and the controller
ticker both go through the same methods, so every write gets the same
treatment (resourceVersion, generation, managedFields, status rules, admission,
validation) whoever makes it.
"""

from __future__ import annotations

import builtins
import collections
import copy
import datetime
import marshal
import pickle
import random
import threading
import uuid

from . import admission, errors, managed
from .addresses import UNCLAIMED_BASE, AddressPlan
from .errors import ApiError, FieldError
from .label_selectors import parse_field_selector, parse_label_selector
from .listtypes import list_types
from .patch import json_patch, merge_patch, strategic_merge
from .resources import BUILTIN_TYPES, ResourceType, TypeIndex, crd_is_established, crd_types
from .validation import (
    prune_custom_resource,
    validate_custom_resource,
    validate_labels,
    validate_name,
)

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_KEY = ("", "namespaces")

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def clone(obj):
    """Deep copy of JSON-like data: a marshal round trip (~1.6x faster than pickle, ~5x
    faster than copy.deepcopy); pickle for anything marshal refuses (a str subclass)."""
    try:
        return marshal.loads(marshal.dumps(obj))
    except ValueError:
        return pickle.loads(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(_GENERATE_ALPHABET) for _ in range(length))


def _spec_part(obj: dict) -> dict:
    """Everything generation tracks: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _unchanged(old: dict, new: dict) -> bool:
    """Equal but for managedFields timestamps (a no-op apply stores nothing)."""

    def untimed(obj):
        obj = copy.deepcopy(obj)
        for entry in obj.get("metadata", {}).get("managedFields") or []:
            entry.pop("time", None)
        return obj

    return untimed(old) == untimed(new)


def _check_apply_body(rt: ResourceType, body) -> None:
    """What the field manager refuses before merging (k8s.io/apimachinery
    util/managedfields/internal versioncheck.go and structuredmerge.go `Apply`)."""
    if not isinstance(body, dict):
        return  # _check_body answers that
    api_version = body["apiVersion"] if isinstance(body.get("apiVersion"), str) else ""
    kind = body["kind"] if isinstance(body.get("kind"), str) else ""
    if (api_version, kind) != (rt.api_version, rt.kind):
        group, _, version = api_version.rpartition("/")
        raise errors.bad_request(f"invalid object type: {group}/{version}, Kind={kind}")
    meta = body.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("managedFields"), list):
        raise errors.bad_request("metadata.managedFields must be nil")


class WatchEvent:
    __slots__ = ("rv", "key", "namespace", "type", "object", "prev")

    def __init__(self, rv, key, namespace, type_, obj, prev=None):
        self.rv, self.key, self.namespace, self.type, self.object = rv, key, namespace, type_, obj
        # The stored object before this change (no apiVersion/kind): a selector-filtered
        # watch turns MODIFIED into ADDED/DELETED when the match changes, as the watch cache.
        self.prev = prev


class Store:
    """All cluster state, and the API server's write rules."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._rv = 0
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self._index: TypeIndex | None = None
        self.history: collections.deque[WatchEvent] = collections.deque(maxlen=10000)
        self.dirty = False
        self.last_change = 0.0
        # What changed, for the controllers' work queues: (revision, type key, namespace,
        # name) per write, oldest first. Bounded; a revision older than what it still holds
        # (or than a restore) answers None from changes_since: "reconcile everything".
        self._changes: collections.deque[tuple[int, tuple[str, str], str, str]] = collections.deque(
            maxlen=100_000
        )
        self._changes_floor = 0
        # uid -> (type key, (namespace, name)): the garbage collector finds owners by uid.
        self._uids: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {}
        # namespace ("" for cluster-scoped) -> type key -> names: a namespace's objects
        # without walking every object (etcd's key prefix /<type>/<namespace>/).
        self._by_ns: dict[str, dict[tuple[str, str], dict[str, None]]] = {}  # insertion-ordered
        # The sandbox's 127.N.0.0/16 (SandboxCluster claims N at start; admission allocates
        # ClusterIPs from it, the kubelet pod IPs).
        self.addresses = AddressPlan(UNCLAIMED_BASE)

    # -- types ---------------------------------------------------------------------------

    def types(self) -> TypeIndex:
        with self.lock:
            if self._index is None:
                types = list(BUILTIN_TYPES)
                for crd in self._objects.get(CRD_KEY, {}).values():
                    if crd_is_established(crd) and not crd["metadata"].get("deletionTimestamp"):
                        types.extend(crd_types(crd))
                self._index = TypeIndex(types)
            return self._index

    def type_for(self, api_version: str, kind: str) -> ResourceType | None:
        return self.types().by_kind(api_version, kind)

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    @property
    def revision(self) -> int:
        """Bumped by every write (and restore): equal revisions mean an unchanged store."""
        return self._rv

    def changes_since(
        self, revision: int | None
    ) -> builtins.set[tuple[tuple[str, str], str, str]] | None:
        """(type key, namespace, name) of every object written after `revision` (its own
        namespace for a Namespace's name: ""), or None when that is no longer known (None
        given, too old, or before a restore): then everything counts as changed."""
        with self.lock:
            if revision is None or revision < self._changes_floor:
                return None
            if self._changes and revision < self._changes[0][0] - 1:
                return None
            found: set[tuple[tuple[str, str], str, str]] = set()
            for rv, key, namespace, name in reversed(self._changes):
                if rv <= revision:
                    break
                found.add((key, namespace, name))
            return found

    # -- reads ---------------------------------------------------------------------------

    def _bucket(self, rt: ResourceType) -> dict[tuple[str, str], dict]:
        return self._objects.setdefault(rt.key, {})

    def _ns(self, rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    def _present(self, rt: ResourceType, obj: dict) -> dict:
        out = clone(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        return out

    def peek(self, rt: ResourceType, namespace: str | None, name: str) -> dict | None:
        """The stored object or None (a copy; controllers use this)."""
        with self.lock:
            obj = self._bucket(rt).get((self._ns(rt, namespace), name))
            return self._present(rt, obj) if obj is not None else None

    def view(self, rt: ResourceType, namespace: str | None, name: str) -> dict | None:
        """The stored object itself (no apiVersion/kind) or None — READ-ONLY, no copy: for
        controllers that only look (peek copies, for those that change and save it)."""
        with self.lock:
            return self._bucket(rt).get((self._ns(rt, namespace), name))

    def by_uid(self, uid: str) -> dict | None:
        """The stored object with this uid, or None — READ-ONLY, no copy."""
        with self.lock:
            where = self._uids.get(uid)
            if where is None:
                return None
            obj = self._objects.get(where[0], {}).get(where[1])
            return obj if obj is not None and obj["metadata"].get("uid") == uid else None

    def scan(self, rt: ResourceType, namespace: str | None = None) -> list[dict]:
        """Stored objects without copying — READ-ONLY, for controllers' cheap lookups."""
        with self.lock:
            if rt.namespaced and namespace:
                bucket = self._bucket(rt)
                names = self._by_ns.get(namespace, {}).get(rt.key, ())
                return [bucket[(namespace, n)] for n in names if (namespace, n) in bucket]
            return [
                obj
                for (ns, _name), obj in self._bucket(rt).items()
                if not (rt.namespaced and namespace) or ns == namespace
            ]

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict:
        obj = self.peek(rt, namespace, name)
        if obj is None:
            raise errors.not_found(resource=rt.plural, group=rt.group, name=name)
        return obj

    def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict], str]:
        items, revision, _matched = self.list_page(
            rt, namespace, label_selector=label_selector, field_selector=field_selector
        )
        return items, revision

    def list_page(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        start: int = 0,
        limit: int = 0,
        metadata_only: bool = False,
    ) -> tuple[builtins.list[dict], str, int]:
        """One page of `list` (`limit` 0: all from `start`) and how many matched in all; only
        the page is copied, so a paged list costs its page, as etcd's range reads do
        (`metadata_only`: only its objects' metadata, for a PartialObjectMetadataList)."""
        labels_match = parse_label_selector(label_selector)
        fields_match = parse_field_selector(field_selector, rt.kind, crd=rt.crd)
        with self.lock:
            bucket = self._bucket(rt)
            if rt.namespaced and namespace:  # one namespace: its own objects only
                names = sorted(self._by_ns.get(namespace, {}).get(rt.key, ()))
                items = [
                    ((namespace, n), bucket[(namespace, n)])
                    for n in names
                    if (namespace, n) in bucket
                ]
            else:
                items = sorted(bucket.items())
            matched = [
                obj
                for (ns, _name), obj in items
                if not (rt.namespaced and namespace and ns != namespace)
                and labels_match((obj.get("metadata") or {}).get("labels") or {})
                and fields_match(obj)
            ]
            page = matched[start : start + limit] if limit > 0 else matched[start:]
            if metadata_only:
                presented = [
                    {
                        "apiVersion": rt.api_version,
                        "kind": rt.kind,
                        "metadata": clone(obj["metadata"]),
                    }
                    for obj in page
                ]
            else:
                presented = [self._present(rt, obj) for obj in page]
            return presented, self.resource_version, len(matched)

    def in_namespaces(self, namespaces) -> builtins.list[tuple[ResourceType, dict]]:
        """(type, stored object) for every served object in these namespaces ("": the
        cluster-scoped ones) — READ-ONLY, no copy."""
        with self.lock:
            by_key: dict[tuple[str, str], ResourceType] = {}
            for t in self.types().types:
                by_key.setdefault(t.key, t)
            found: list[tuple[ResourceType, dict]] = []
            for namespace in namespaces:
                for key, names in self._by_ns.get(namespace, {}).items():
                    rt = by_key.get(key)
                    bucket = self._objects.get(key)
                    if rt is None or bucket is None:
                        continue
                    found.extend(
                        (rt, bucket[(namespace, n)]) for n in names if (namespace, n) in bucket
                    )
            return found

    # In the class body `list` now names the method above, hence `builtins.list`.
    def all_objects(self) -> builtins.list[tuple[ResourceType, dict]]:
        """(type, stored object) for every object whose type is served (GC, cleanup)."""
        with self.lock:
            by_key: dict[tuple[str, str], ResourceType] = {}
            for t in self.types().types:
                by_key.setdefault(t.key, t)
            found: list[tuple[ResourceType, dict]] = []
            for key, bucket in self._objects.items():
                rt = by_key.get(key)
                if rt is not None:
                    found.extend((rt, obj) for obj in bucket.values())
            return found

    # -- writes --------------------------------------------------------------------------

    def _check_namespace(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if not rt.namespaced:
            return
        if not namespace:
            raise errors.bad_request("the server could not find the requested resource")
        ns = self._objects.get(NAMESPACE_KEY, {}).get(("", namespace))
        if ns is None:
            raise errors.not_found(resource="namespaces", group="", name=namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{errors.qualified(rt.plural, rt.group)} "{name}" is forbidden: unable to '
                f"create new content in namespace {namespace} because it is being terminated",
                {
                    "name": name,
                    **({"group": rt.group} if rt.group else {}),
                    "kind": rt.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _check_body(self, rt: ResourceType, body, namespace: str | None) -> dict:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        body = clone(body)
        api_version = body.get("apiVersion") or rt.api_version
        kind = body.get("kind") or rt.kind
        if kind != rt.kind or api_version.rpartition("/")[0] != rt.group:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
                if kind == rt.kind
                else f"Object '{kind}' is not of kind '{rt.kind}'"
            )
        meta = body.get("metadata")
        if meta is None:
            meta = body["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace or body_ns
        else:
            meta.pop("namespace", None)
        body["apiVersion"], body["kind"] = rt.api_version, rt.kind
        return body

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: dict,
        *,
        manager: str,
        dry_run: bool = False,
        _applied: bool = False,
    ) -> dict:
        with self.lock:
            obj = self._check_body(rt, body, namespace)
            meta = obj["metadata"]
            name = meta.get("name") or ""
            if not name and meta.get("generateName"):
                errs = validate_name(rt.kind, meta["generateName"], generate_name=True)
                if errs:
                    raise errors.invalid(kind=rt.kind, group=rt.group, name="", errors=errs)
                for _ in range(10):
                    name = meta["generateName"] + random_suffix()
                    if (self._ns(rt, meta.get("namespace")), name) not in self._bucket(rt):
                        break
                meta["name"] = name
            if not name:
                raise errors.invalid(
                    kind=rt.kind,
                    group=rt.group,
                    name="",
                    errors=[
                        FieldError(
                            "metadata.name", "Required", detail="name or generateName is required"
                        )
                    ],
                )
            self._check_namespace(rt, meta.get("namespace"), name)
            errs = validate_name(rt.kind, name) + validate_labels(meta)
            if errs:
                raise errors.invalid(kind=rt.kind, group=rt.group, name=name, errors=errs)
            if (self._ns(rt, meta.get("namespace")), name) in self._bucket(rt):
                raise errors.already_exists(resource=rt.plural, group=rt.group, name=name)
            for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(key, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if rt.generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if rt.has_status:
                obj.pop("status", None)
            if not _applied:
                meta.pop("managedFields", None)
                managed.record_update(
                    None,
                    obj,
                    manager=manager,
                    api_version=rt.api_version,
                    now=now(),
                    has_status=rt.has_status,
                    lists=list_types(rt),
                )
            obj = self._admit(rt, obj, None)
            return self._commit(rt, obj, "ADDED", dry_run=dry_run)

    def _admit(self, rt: ResourceType, obj: dict, old: dict | None) -> dict:
        """Defaulting, pruning and validation (admission chain + schema)."""
        if rt.crd:
            obj = prune_custom_resource(obj, rt.schema)
        admission.mutate(self, rt, obj, old)
        errs = admission.validate(self, rt, obj, old)
        if rt.crd:
            errs += validate_custom_resource(obj, rt.schema)
        if errs:
            raise errors.invalid(
                kind=rt.kind, group=rt.group, name=obj["metadata"].get("name", ""), errors=errs
            )
        return obj

    def _commit(self, rt: ResourceType, obj: dict, event: str, *, dry_run: bool) -> dict:
        if dry_run:
            return self._present(rt, obj)
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        stored = clone(obj)
        stored.pop("apiVersion", None)
        stored.pop("kind", None)
        key = (self._ns(rt, obj["metadata"].get("namespace")), obj["metadata"]["name"])
        prev = self._bucket(rt).get(key)
        uid = stored["metadata"].get("uid")
        if event == "DELETED":
            self._bucket(rt).pop(key, None)
            if uid:
                self._uids.pop(uid, None)
            names = self._by_ns.get(key[0], {}).get(rt.key)
            if names is not None:
                names.pop(key[1], None)
        else:
            self._bucket(rt)[key] = stored
            if uid:
                self._uids[uid] = (rt.key, key)
            self._by_ns.setdefault(key[0], {}).setdefault(rt.key, {})[key[1]] = None
        self._notify(rt, obj, event, prev=prev)
        return self._present(rt, stored)

    def _notify(self, rt: ResourceType, obj: dict, event: str, *, prev: dict | None = None) -> None:
        if rt.key == CRD_KEY:
            self._index = None
        presented = self._present(rt, obj)
        namespace = obj["metadata"].get("namespace", "")
        self.history.append(WatchEvent(self._rv, rt.key, namespace, event, presented, prev))
        self._changes.append((self._rv, rt.key, namespace, obj["metadata"]["name"]))
        self.dirty = True
        self.changed.notify_all()

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: dict,
        *,
        manager: str,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        """PUT: replace the object (or its status), honouring resourceVersion preconditions."""
        with self.lock:
            obj = self._check_body(rt, body, namespace)
            body_name = obj["metadata"].get("name")
            if body_name and body_name != name:
                raise errors.bad_request(
                    f"the name of the object ({body_name}) does not match the name on the URL "
                    f"({name})"
                )
            obj["metadata"]["name"] = name
            old = self._bucket(rt).get((self._ns(rt, namespace), name))
            if old is None:
                raise errors.not_found(resource=rt.plural, group=rt.group, name=name)
            wanted_rv = obj["metadata"].get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(resource=rt.plural, group=rt.group, name=name)
            return self._replace(
                rt, old, obj, manager=manager, subresource=subresource, dry_run=dry_run
            )

    def _replace(
        self,
        rt: ResourceType,
        old: dict,
        new: dict,
        *,
        manager: str,
        subresource: str | None,
        dry_run: bool,
        applied: bool = False,
    ) -> dict:
        old = self._present(rt, old)
        new = clone(new)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        meta = new.setdefault("metadata", {})
        # Preconditions were checked by the caller; the stored resourceVersion stands until commit.
        for key in (
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "deletionTimestamp",
            "resourceVersion",
        ):
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        meta["generation"] = old["metadata"].get("generation")
        if meta["generation"] is None:
            del meta["generation"]
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if applied:
                new["metadata"]["managedFields"] = meta.get("managedFields", [])
        elif rt.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if not applied:
            new["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
        if (
            old["metadata"].get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and old["metadata"].get("finalizers")
        ):
            # The last finalizer was removed: the object goes away.
            return self._commit(rt, new, "DELETED", dry_run=dry_run)
        if rt.generation and _spec_part(old) != _spec_part(new):
            new["metadata"]["generation"] = (old["metadata"].get("generation") or 0) + 1
        if not applied:
            managed.record_update(
                old,
                new,
                manager=manager,
                api_version=rt.api_version,
                now=now(),
                has_status=rt.has_status,
                subresource=subresource,
                lists=list_types(rt),
            )
        new = self._admit(rt, new, old)
        if _unchanged(old, new):
            return old  # no-op writes do not bump resourceVersion, like etcd3 storage
        return self._commit(rt, new, "MODIFIED", dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        body,
        *,
        manager: str | None,
        force: bool = False,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        with self.lock:
            old = self._bucket(rt).get((self._ns(rt, namespace), name))
            if content_type == APPLY:
                return self._apply(
                    rt, namespace, name, old, body, manager, force, subresource, dry_run
                )
            if old is None:
                raise errors.not_found(resource=rt.plural, group=rt.group, name=name)
            current = self._present(rt, old)
            if content_type in (MERGE, STRATEGIC):
                if not isinstance(body, dict):
                    raise errors.bad_request("json: cannot unmarshal into object")
                merge = strategic_merge if content_type == STRATEGIC else merge_patch
                new = merge(current, body)
            elif content_type == JSON_PATCH:
                new = json_patch(current, body)
            else:
                raise errors.unsupported_patch(strategic=not rt.crd)
            wanted_rv = (new.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(resource=rt.plural, group=rt.group, name=name)
            if (new.get("metadata") or {}).get("name", name) != name:
                raise errors.bad_request(
                    f"the name of the object ({new['metadata']['name']}) does not match the "
                    f"name on the URL ({name})"
                )
            # Only apply may come without a field manager (_apply rejects that); the handler
            # names one for every other patch.
            assert manager is not None
            return self._replace(
                rt, old, new, manager=manager, subresource=subresource, dry_run=dry_run
            )

    def _apply(self, rt, namespace, name, old, body, manager, force, subresource, dry_run):
        if not manager:
            raise errors.invalid(
                kind="PatchOptions",
                group="meta.k8s.io",
                name="",
                errors=[
                    FieldError("fieldManager", "Required", detail="is required for apply patch")
                ],
            )
        _check_apply_body(rt, body)
        config = self._check_body(rt, body, namespace)
        if config["metadata"].get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({config['metadata']['name']}) does not match the "
                f"name on the URL ({name})"
            )
        config["metadata"]["name"] = name
        wanted_rv = config["metadata"].get("resourceVersion")
        if wanted_rv and (old is None or wanted_rv != old["metadata"]["resourceVersion"]):
            raise errors.conflict(resource=rt.plural, group=rt.group, name=name)
        kwargs = {
            "manager": manager,
            "force": force,
            "api_version": rt.api_version,
            "now": now(),
            "has_status": rt.has_status,
            "subresource": subresource,
            "lists": list_types(rt),
            # objectGVKNN: how the field manager names the object in its errors
            "subject": f"{namespace or ''}/{name}; {rt.group}/{rt.version}, Kind={rt.kind}",
        }
        if old is None:
            if subresource:
                raise errors.not_found(resource=rt.plural, group=rt.group, name=name)
            merged = managed.apply(None, config, **kwargs)
            merged["apiVersion"], merged["kind"] = rt.api_version, rt.kind
            merged["metadata"]["name"] = name
            if rt.namespaced:
                merged["metadata"]["namespace"] = namespace
            return self.create(
                rt, namespace, merged, manager=manager, dry_run=dry_run, _applied=True
            )
        merged = managed.apply(self._present(rt, old), config, **kwargs)
        return self._replace(
            rt,
            old,
            merged,
            manager=manager,
            subresource=subresource,
            dry_run=dry_run,
            applied=True,
        )

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: dict | None = None,
        dry_run: bool = False,
    ) -> tuple[dict, bool]:
        """Delete; returns (object, still_present) — finalizers keep an object around."""
        with self.lock:
            old = self._bucket(rt).get((self._ns(rt, namespace), name))
            if old is None:
                raise errors.not_found(resource=rt.plural, group=rt.group, name=name)
            preconditions = preconditions or {}
            if preconditions.get("uid") and preconditions["uid"] != old["metadata"]["uid"]:
                raise errors.conflict(
                    resource=rt.plural,
                    group=rt.group,
                    name=name,
                    why=f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                    f"UID in object meta: {old['metadata']['uid']}",
                )
            want_rv = preconditions.get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(
                    resource=rt.plural,
                    group=rt.group,
                    name=name,
                    why=f"Precondition failed: ResourceVersion in precondition: {want_rv}, "
                    f"ResourceVersion in object meta: {old['metadata']['resourceVersion']}",
                )
            obj = self._present(rt, old)
            if propagation == "Orphan" and not dry_run:
                self._orphan(obj["metadata"]["uid"])
            terminating = rt.key == NAMESPACE_KEY or obj["metadata"].get("finalizers")
            if propagation == "Foreground" and not terminating:
                obj["metadata"].setdefault("finalizers", []).append("foregroundDeletion")
                terminating = True
            if terminating:
                if obj["metadata"].get("deletionTimestamp"):
                    return obj, True
                obj["metadata"]["deletionTimestamp"] = now()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                if rt.key == NAMESPACE_KEY:
                    obj.setdefault("status", {})["phase"] = "Terminating"
                return self._commit(rt, obj, "MODIFIED", dry_run=dry_run), True
            if rt.key == CRD_KEY and not dry_run:
                self._drop_bucket((obj["spec"]["group"], obj["spec"]["names"]["plural"]))
            return self._commit(rt, obj, "DELETED", dry_run=dry_run), False

    def remove(self, rt: ResourceType, obj: dict) -> None:
        """Drop an object outright (controllers: GC, namespace cleanup, finalizers done)."""
        with self.lock:
            key = (self._ns(rt, obj["metadata"].get("namespace")), obj["metadata"]["name"])
            if key in self._bucket(rt):
                if rt.key == CRD_KEY:
                    self._drop_bucket((obj["spec"]["group"], obj["spec"]["names"]["plural"]))
                self._commit(rt, self._present(rt, self._bucket(rt)[key]), "DELETED", dry_run=False)

    def _drop_bucket(self, key: tuple[str, str]) -> None:
        """A CRD went: its objects go with it (and out of the namespace index)."""
        self._objects.pop(key, None)
        for types in self._by_ns.values():
            types.pop(key, None)

    def _orphan(self, owner_uid: str) -> None:
        for rt, obj in list(self.all_objects()):
            refs = obj["metadata"].get("ownerReferences") or []
            kept = [r for r in refs if r.get("uid") != owner_uid]
            if len(kept) != len(refs):
                new = self._present(rt, obj)
                new["metadata"]["ownerReferences"] = kept
                if not kept:
                    del new["metadata"]["ownerReferences"]
                self._replace(
                    rt,
                    obj,
                    new,
                    manager="kube-controller-manager",
                    subresource=None,
                    dry_run=False,
                )

    # -- controller conveniences ----------------------------------------------------------

    def save(self, rt: ResourceType, obj: dict, *, manager: str, status: bool = False) -> dict:
        """Create or unconditionally update an object on behalf of a controller."""
        with self.lock:
            meta = obj["metadata"]
            old = self._bucket(rt).get((self._ns(rt, meta.get("namespace")), meta["name"]))
            if old is None:
                created = self.create(rt, meta.get("namespace"), obj, manager=manager)
                if status and obj.get("status") is not None and rt.has_status:
                    created["status"] = obj["status"]
                    return self._replace(
                        rt,
                        self._bucket(rt)[(self._ns(rt, meta.get("namespace")), meta["name"])],
                        created,
                        manager=manager,
                        subresource="status",
                        dry_run=False,
                    )
                return created
            body = copy.deepcopy(obj)
            body["metadata"].pop("resourceVersion", None)
            return self._replace(
                rt,
                old,
                body,
                manager=manager,
                subresource="status" if status else None,
                dry_run=False,
            )

    # -- persistence ---------------------------------------------------------------------

    def snapshot(self) -> dict:
        with self.lock:
            objects = []
            for (group, plural), bucket in self._objects.items():
                for obj in bucket.values():
                    objects.append({"group": group, "plural": plural, "object": obj})
            return {"resourceVersion": self._rv, "objects": objects}

    def restore(self, data: dict) -> None:
        with self.lock:
            self._objects.clear()
            self._uids.clear()
            self._by_ns.clear()
            for record in data.get("objects", []):
                obj = record["object"]
                key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                self._objects.setdefault((record["group"], record["plural"]), {})[key] = obj
                if obj["metadata"].get("uid"):
                    self._uids[obj["metadata"]["uid"]] = ((record["group"], record["plural"]), key)
                self._by_ns.setdefault(key[0], {}).setdefault(
                    (record["group"], record["plural"]), {}
                )[key[1]] = None
            self._rv = int(data.get("resourceVersion", 0))
            self._index = None
            self.dirty = False
            self._changes.clear()
            self._changes_floor = self._rv

"""The custom resource of an instance: which rules check it, and how it is written back.

Pure (no database, no cluster): the create form, the YAML editor, the API and the worker
all check a manifest here, so they agree on every error, named by its path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core.errors import FieldErrors, invalid

from . import memcached, schema
from .errors import InstancesErrorCode as Code
from .models import OperandInstance

Errors = dict[str, list[str]]
PODCOUNT = "urn:alm:descriptor:com.tectonic.ui:podCount"
RESOURCES = "urn:alm:descriptor:com.tectonic.ui:resourceRequirements"


def validate_manifest(
    *, csv_info: dict[str, Any], namespace: str | None, obj: Any, kind: str | None = None
) -> tuple[dict[str, Any] | None, Errors]:
    """(manifest, errors by path): MemcachedCluster by its rules, other owned APIs by the
    schema of the version their apiVersion names (and refused when cluster-scoped).

    `kind` is the API an editor is for; without it the object's own kind decides.
    """
    check = check_manifest(csv_info=csv_info, namespace=namespace, obj=obj, kind=kind)
    return check.manifest, check.errors


@dataclass
class Check:
    manifest: dict[str, Any] | None
    errors: Errors
    pruned: list[str] = field(default_factory=list)
    cluster_scoped: bool = False


def check_manifest(
    *, csv_info: dict[str, Any], namespace: str | None, obj: Any, kind: str | None = None
) -> Check:
    """`validate_manifest` with what it found on the way: the fields the API server would
    prune, and whether the kind was refused for being cluster-scoped."""
    kind = kind or (obj.get("kind") if isinstance(obj, dict) else None)
    if kind == memcached.KIND or not csv_info:
        manifest, errors = memcached.validate_memcached(
            obj,
            namespace=namespace,
            versions=memcached.offered_versions(csv_info),
            max_replicas=settings.MEMCACHED_MAX_REPLICAS,
        )
        return Check(manifest, errors)
    kind_api = schema.find_kind(csv_info, kind or "")
    if kind_api is None:
        kinds = ", ".join(k["kind"] for k in schema.owned_kinds(csv_info))
        return Check(
            None, {"kind": [_("This operator provides %(kinds)s.") % {"kinds": kinds or "-"}]}
        )
    if schema.cluster_scoped(kind_api):
        return Check(
            None, {"kind": [schema.cluster_scoped_reason(kind_api["kind"])]}, cluster_scoped=True
        )
    return validate_operand(obj, kind_api=kind_api, namespace=namespace)


def _descriptor_errors(spec: dict[str, Any], descriptors: list[dict[str, Any]]) -> Errors:
    """What a podCount or resourceRequirements x-descriptor promises of its field."""
    errors: Errors = {}
    for descriptor in descriptors:
        path = descriptor.get("path") or ""
        xs = descriptor.get("x_descriptors") or []
        found, value = _lookup(spec, path)
        if not found or value is None:
            continue
        where = f"spec.{path}"
        if PODCOUNT in xs and (not memcached._is_int(value) or value < 0):
            errors.setdefault(where, []).append(_("A pod count: a whole number, 0 or more."))
        if RESOURCES in xs and isinstance(value, dict):
            for part in ("limits", "requests"):
                amounts = value.get(part)
                if not isinstance(amounts, dict):
                    continue
                for resource, amount in amounts.items():
                    try:
                        if memcached.parse_quantity(amount) < 0:
                            raise ValueError(amount)
                    except ValueError:
                        errors.setdefault(f"{where}.{part}.{resource}", []).append(
                            _("“%(value)s” is not a Kubernetes quantity (e.g. 500m, 1, 512Mi).")
                            % {"value": amount}
                        )
    return errors


def _lookup(obj: Any, path: str) -> tuple[bool, Any]:
    node = obj
    for key in [p for p in path.split(".") if p]:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def validate_operand(obj: Any, *, kind_api: dict[str, Any], namespace: str | None) -> Check:
    """Any owned API but MemcachedCluster: apiVersion one of the kind's served versions, a
    valid name in the project's namespace, and the rest checked by that version's schema and
    pruned as the API server would. What the server writes (status, uid, …) is dropped."""
    errors: dict[str, list[str]] = {}
    if not isinstance(obj, dict):
        return Check(None, {"non_field_errors": [_("The YAML must describe one object.")]})
    obj = json.loads(json.dumps(obj))
    obj.pop("status", None)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for key in schema.SERVER_METADATA:
            if key in ("finalizers", "ownerReferences"):
                continue
            metadata.pop(key, None)
        for key in ("finalizers", "ownerReferences"):
            if metadata.get(key):
                errors.setdefault(f"metadata.{key}", []).append(
                    _("Set by the operator and the cluster, not here; remove it.")
                )
            metadata.pop(key, None)
    served = [v["api_version"] for v in kind_api["versions"]]
    version = next(
        (v for v in kind_api["versions"] if v["api_version"] == obj.get("apiVersion")), None
    )
    if version is None:
        errors.setdefault("apiVersion", []).append(
            _("Must be %(value)s.") % {"value": served[0]}
            if len(served) == 1
            else _("Must be one of %(values)s.") % {"values": ", ".join(served)}
        )
    if obj.get("kind") != kind_api["kind"]:
        errors.setdefault("kind", []).append(_("Must be %(value)s.") % {"value": kind_api["kind"]})
    found = memcached._Errors()
    memcached._metadata(
        obj,
        found,
        namespace=namespace,
        name_rule=lambda n: memcached.name_error(n, max_length=63, letter_first=False),
    )
    for path, messages in found.items():
        errors.setdefault(path, []).extend(messages)
    pruned: list[str] = []
    version_schema = (version or {}).get("schema")
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if version_schema:
        top = {
            **version_schema,
            "properties": {
                k: v
                for k, v in (version_schema.get("properties") or {}).items()
                if k not in ("apiVersion", "kind", "metadata", "status")
            },
        }
        top.pop("required", None)
        required = [
            k
            for k in version_schema.get("required") or []
            if k not in ("apiVersion", "kind", "metadata")
        ]
        if required:
            top["required"] = required
        body, found_errors, pruned = schema.validate(body, top)
        for path, messages in found_errors.items():
            errors.setdefault(path, []).extend(messages)
    else:
        if body.get("spec") is not None and not isinstance(body.get("spec"), dict):
            errors.setdefault("spec", []).append(_("Must be a mapping."))
        for key in body:
            if key != "spec":
                errors.setdefault("non_field_errors", []).append(
                    _(
                        "Unknown top-level field “%(field)s”; write apiVersion, kind, metadata "
                        "and spec."
                    )
                    % {"field": key}
                )
    if isinstance(body.get("spec"), dict):
        for path, messages in _descriptor_errors(
            body["spec"], (version or kind_api["versions"][0])["spec_descriptors"]
        ).items():
            errors.setdefault(path, []).extend(messages)
    if errors:
        return Check(None, errors, pruned)
    result = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": obj["metadata"],
        **body,
    }
    return Check(memcached._normalised(result, namespace=namespace), {}, pruned)


def manifest_errors(errors: Errors) -> ValidationError:
    """The path-named errors of `validate_manifest` as one coded ValidationError."""
    collected = FieldErrors()
    for path, messages in errors.items():
        code = Code.UNKNOWN_KIND if path == "kind" else Code.INVALID_MANIFEST
        collected.extend(path, messages, code=code)
    return collected.error()


def clean_manifest(*, csv_info: dict[str, Any], namespace: str, obj: Any) -> dict[str, Any]:
    """The manifest as we would apply it, or the ValidationError naming each wrong path.

    A cluster-scoped kind is refused here, so the pages, the API and the worker all refuse
    it (code `cluster_scoped`, on `kind`)."""
    check = check_manifest(csv_info=csv_info, namespace=namespace, obj=obj)
    if check.cluster_scoped:
        raise invalid(check.errors["kind"][0], code=Code.CLUSTER_SCOPED, field="kind")
    if check.errors or check.manifest is None:
        raise manifest_errors(check.errors)
    return check.manifest


def manifest_of(instance: OperandInstance) -> dict[str, Any]:
    """The custom resource as we apply it (the detail page's YAML and the edit form's start)."""
    return memcached.manifest(
        name=instance.name,
        namespace=instance.namespace,
        spec=json.loads(json.dumps(instance.spec or {})),
        kind=instance.kind,
        api_version=instance.api_version_full,
        labels=dict(instance.labels or {}),
    )

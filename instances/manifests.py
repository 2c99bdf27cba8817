"""The custom resource of an instance: which rules check it, and how it is written back.

Pure (no database, no cluster): the create form, the YAML editor, the API and the worker
all check a manifest here, so they agree on every error, named by its path.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core.errors import FieldErrors

from . import memcached
from .errors import InstancesErrorCode as Code
from .models import OperandInstance

Errors = dict[str, list[str]]


def validate_manifest(
    *, csv_info: dict[str, Any], namespace: str | None, obj: Any, kind: str | None = None
) -> tuple[dict[str, Any] | None, Errors]:
    """(manifest, errors by path): MemcachedCluster by its rules, other owned APIs generically.

    `kind` is the API an editor is for; without it the object's own kind decides.
    """
    kind = kind or (obj.get("kind") if isinstance(obj, dict) else None)
    if kind == memcached.KIND or not csv_info:
        return memcached.validate_memcached(
            obj,
            namespace=namespace,
            versions=memcached.offered_versions(csv_info),
            max_replicas=settings.MEMCACHED_MAX_REPLICAS,
        )
    api = memcached.find_api(csv_info, kind)
    if api is None:
        kinds = ", ".join(a["kind"] for a in memcached.owned_apis(csv_info))
        return None, {"kind": [_("This operator provides %(kinds)s.") % {"kinds": kinds or "-"}]}
    return memcached.validate_generic(obj, api=api, namespace=namespace)


def manifest_errors(errors: Errors) -> ValidationError:
    """The path-named errors of `validate_manifest` as one coded ValidationError."""
    collected = FieldErrors()
    for path, messages in errors.items():
        code = Code.UNKNOWN_KIND if path == "kind" else Code.INVALID_MANIFEST
        collected.extend(path, messages, code=code)
    return collected.error()


def clean_manifest(*, csv_info: dict[str, Any], namespace: str, obj: Any) -> dict[str, Any]:
    """The manifest as we would apply it, or the ValidationError naming each wrong path."""
    manifest, errors = validate_manifest(csv_info=csv_info, namespace=namespace, obj=obj)
    if errors or manifest is None:
        raise manifest_errors(errors)
    return manifest


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

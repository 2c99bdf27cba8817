"""Owned APIs as the cluster serves them: one entry per kind, its versions, scope and schema.

Pure (no database, no cluster). The installed CSV (`installation.csv_info`) lists its owned
APIs (`provided_apis`, one row per kind *and* version) and, once the operator is installed,
the owned CRDs as the API server serves them (`csv_info["crds"]`, apiextensions v1). From
them this module answers:

- `owned_kinds`: one entry per kind, with its served versions and the default one
  (the storage version, else the newest served by Kubernetes' version priority);
- `cluster_scoped`: whether a tenant must be refused the kind (see its docstring for what
  is decided when the CRDs are not known);
- `clean_example`: an alm-example stripped of what the API server sets (status, uid, …);
- `skeleton`: the start of a form when the CSV has no example (required fields, defaults);
- `validate`: a value checked against an openAPIV3Schema the way the API server does
  (types, required, enum, bounds, pattern, additionalProperties) and pruned of unknown
  fields, errors named by path.

The `csv_info["crds"]` fields read: per CRD name, `group`, `scope`, `kind`, `plural` and
`versions[].name / served / storage / schema`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext as _

Obj = dict[str, Any]
Errors = dict[str, list[str]]

CLUSTER = "Cluster"
NAMESPACED = "Namespaced"

# What the API server writes on an object: an example copied from a live cluster has them,
# a create must not (status is the operator's, the rest the server's).
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "managedFields",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def version_priority(name: str) -> tuple[int, int, int, str]:
    """Kubernetes' order of versions (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others);
    smaller sorts first. apimachinery's version.CompareKubeAwareVersionStrings."""
    match = _VERSION.match(name or "")
    if not match:
        return (3, 0, 0, name or "")
    major, stage, minor = int(match[1]), match[2], int(match[3] or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, "")


def _group_of(api: Obj) -> str:
    return (api.get("name") or "").partition(".")[2]


def owned_kinds(csv_info: Obj | None) -> list[Obj]:
    """One entry per owned kind, in the CSV's order.

    Each: kind, group, plural, crd_name, scope ("Namespaced", "Cluster" or "" when the CRD
    is not known), display_name, description, versions (served ones, each with name,
    api_version, storage, schema or None, spec_descriptors) and default_version.
    """
    info = csv_info or {}
    crds = info.get("crds") if isinstance(info.get("crds"), dict) else {}
    kinds: dict[tuple[str, str], Obj] = {}
    for api in info.get("provided_apis") or []:
        group, kind = _group_of(api), api.get("kind") or ""
        if not kind:
            continue
        entry = kinds.get((group, kind))
        crd = crds.get(api.get("name") or "") if crds else None
        if entry is None:
            entry = kinds[(group, kind)] = {
                "kind": kind,
                "group": (crd or {}).get("group") or group,
                "plural": (crd or {}).get("plural") or (api.get("name") or "").partition(".")[0],
                "crd_name": api.get("name") or "",
                "scope": (crd or {}).get("scope") or "",
                "display_name": api.get("display_name") or "",
                "description": api.get("description") or "",
                "versions": [],
                "_descriptors": {},
                "_crd": crd,
            }
        entry["_descriptors"][api.get("version") or ""] = api.get("spec_descriptors") or []
        if not entry["display_name"]:
            entry["display_name"] = api.get("display_name") or ""
        if not entry["description"]:
            entry["description"] = api.get("description") or ""
    result = []
    for entry in kinds.values():
        crd, by_version = entry.pop("_crd"), entry.pop("_descriptors")
        fallback: list[Obj] = next((d for d in by_version.values() if d), [])
        rows: list[Obj]
        if crd and crd.get("versions"):
            rows = [
                {
                    "name": v.get("name") or "",
                    "storage": bool(v.get("storage")),
                    "schema": v.get("schema") if isinstance(v.get("schema"), dict) else None,
                }
                for v in crd["versions"]
                if v.get("served", True) and v.get("name")
            ]
        else:
            rows = [{"name": name, "storage": False, "schema": None} for name in by_version]
        rows.sort(key=lambda v: version_priority(str(v["name"])))
        for row in rows:
            row["api_version"] = f"{entry['group']}/{row['name']}"
            row["spec_descriptors"] = by_version.get(row["name"]) or fallback
        entry["versions"] = rows
        storage = next((v["name"] for v in rows if v["storage"]), "")
        entry["default_version"] = storage or (rows[0]["name"] if rows else "")
        if rows:
            result.append(entry)
    return result


def find_kind(csv_info: Obj | None, kind: str) -> Obj | None:
    return next((k for k in owned_kinds(csv_info) if k["kind"] == kind), None)


def version_of(kind_api: Obj, version: str | None) -> Obj | None:
    """The served version named (`v1beta1` or `group/v1beta1`), or the default one."""
    name = (version or "").rpartition("/")[2] or kind_api["default_version"]
    return next((v for v in kind_api["versions"] if v["name"] == name), None)


def cluster_scoped(kind_api: Obj) -> bool:
    """Whether the kind lives outside namespaces (a tenant must never create it).

    The CRD's `scope` decides. When the CRDs are not known (the operator is not installed
    yet, or the CSV was read before the platform recorded them), a kind whose name starts
    with "Cluster" and another capital (ClusterIssuer, ClusterSecretStore, ClusterPolicy…)
    is taken as cluster-scoped: refusing a namespaced one is an inconvenience, applying a
    cluster-scoped one would let a tenant take over an object every tenant shares. The
    worker checks again with the CRDs recorded at install time.
    """
    scope = kind_api.get("scope") or ""
    if scope:
        return scope == CLUSTER
    kind = kind_api.get("kind") or ""
    return kind.startswith("Cluster") and len(kind) > 7 and kind[7].isupper()


def cluster_scoped_reason(kind: str) -> str:
    return _(
        "%(kind)s is cluster-scoped: it would be shared by every tenant of the cluster, so it "
        "cannot be created from a project."
    ) % {"kind": kind}


# --- examples and skeletons -------------------------------------------------------------------


def clean_example(example: Obj, *, namespace: str) -> Obj:
    """An alm-example as the start of a form: what the server or the operator writes goes."""
    obj = _copy(example)
    obj.pop("status", None)
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            metadata.pop("annotations")
    metadata["namespace"] = namespace
    obj["metadata"] = metadata
    return obj


def _scalar_start(schema: Obj) -> Any:
    if "default" in schema:
        return _copy(schema["default"])
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return ""
    if kind in ("integer", "number"):
        minimum = schema.get("minimum")
        return minimum if isinstance(minimum, int | float) and minimum > 0 else 0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return {}


def skeleton(schema: Obj | None) -> Any:
    """The smallest value a schema accepts to begin with: required fields and defaults."""
    schema = schema or {}
    if "default" in schema:
        return _copy(schema["default"])
    if schema.get("type") == "object" or "properties" in schema:
        result: Obj = {}
        required = set(schema.get("required") or [])
        for key, child in (schema.get("properties") or {}).items():
            if not isinstance(child, dict):
                continue
            if key in required:
                result[key] = skeleton(child)
            elif "default" in child:
                result[key] = _copy(child["default"])
            elif child.get("type") == "object" and _has_defaults(child):
                result[key] = skeleton(child)
        return result
    return _scalar_start(schema)


def _has_defaults(schema: Obj) -> bool:
    for child in (schema.get("properties") or {}).values():
        if isinstance(child, dict) and (
            "default" in child or (child.get("type") == "object" and _has_defaults(child))
        ):
            return True
    return False


# --- validation and pruning -------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_ok(value: Any, expected: str, schema: Obj) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    actual = _type_name(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer" and actual == "number":
        return float(value).is_integer()
    return actual == expected


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Result:
    def __init__(self) -> None:
        self.errors: Errors = {}
        self.pruned: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "spec", []).append(message)


def _check(value: Any, schema: Obj, path: str, out: _Result) -> Any:
    if not isinstance(schema, dict) or not schema:
        return value
    if value is None:
        if not schema.get("nullable"):
            out.add(path, _("Must not be null."))
        return value
    expected = schema.get("type")
    if expected and not _type_ok(value, expected, schema):
        names = {
            "string": _("a string"),
            "integer": _("a whole number"),
            "number": _("a number"),
            "boolean": _("true or false"),
            "array": _("a list"),
            "object": _("a mapping"),
        }
        out.add(path, _("Must be %(type)s.") % {"type": names.get(expected, expected)})
        return value
    enum = schema.get("enum")
    if enum and value not in enum:
        out.add(
            path,
            _("“%(value)s” is not allowed; choose one of %(choices)s.")
            % {"value": value, "choices": ", ".join(str(c) for c in enum)},
        )
    if isinstance(value, str):
        _check_string(value, schema, path, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, schema, path, out)
    elif isinstance(value, list):
        return _check_array(value, schema, path, out)
    elif isinstance(value, dict):
        return _check_object(value, schema, path, out)
    return value


def _check_string(value: str, schema: Obj, path: str, out: _Result) -> None:
    if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
        out.add(path, _("At least %(n)s characters.") % {"n": schema["minLength"]})
    if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
        out.add(path, _("At most %(n)s characters.") % {"n": schema["maxLength"]})
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # an ECMA-only construct: the API server will judge
        if not matched:
            out.add(path, _("Must match the pattern %(pattern)s.") % {"pattern": pattern})


def _check_number(value: float, schema: Obj, path: str, out: _Result) -> None:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if isinstance(minimum, int | float):
        if schema.get("exclusiveMinimum") is True and value <= minimum:
            out.add(path, _("Must be greater than %(n)s.") % {"n": minimum})
        elif value < minimum:
            out.add(path, _("Must be at least %(n)s.") % {"n": minimum})
    if isinstance(maximum, int | float):
        if schema.get("exclusiveMaximum") is True and value >= maximum:
            out.add(path, _("Must be less than %(n)s.") % {"n": maximum})
        elif value > maximum:
            out.add(path, _("Must be at most %(n)s.") % {"n": maximum})
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0 and (value / step) % 1:
        out.add(path, _("Must be a multiple of %(n)s.") % {"n": step})


def _check_array(value: list, schema: Obj, path: str, out: _Result) -> list:
    if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
        out.add(path, _("At least %(n)s items.") % {"n": schema["minItems"]})
    if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
        out.add(path, _("At most %(n)s items.") % {"n": schema["maxItems"]})
    items = schema.get("items")
    if not isinstance(items, dict):
        return value
    return [_check(item, items, f"{path}[{index}]", out) for index, item in enumerate(value)]


def _check_object(value: Obj, schema: Obj, path: str, out: _Result) -> Obj:
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    result: Obj = {}
    for key, item in value.items():
        child_path = _join(path, str(key))
        child = (properties or {}).get(key) if isinstance(properties, dict) else None
        if child is None and isinstance(additional, dict):
            child = additional
        if item is None and isinstance(child, dict) and not child.get("nullable"):
            continue  # the API server drops a null it was not told to keep
        if isinstance(properties, dict) and key in properties:
            result[key] = _check(item, properties[key], child_path, out)
        elif isinstance(additional, dict):
            result[key] = _check(item, additional, child_path, out)
        elif additional is False:
            out.add(child_path, _("Unknown field: this object allows only its listed fields."))
        elif preserve or additional is True:
            result[key] = item
        elif properties is None and schema.get("type") != "object":
            result[key] = item  # no structure given: nothing to prune by
        else:
            out.pruned.append(child_path)  # what the API server drops without a word
    for key in schema.get("required") or []:
        if key not in result:
            out.add(_join(path, key), _("Required."))
    count = len(result)
    if isinstance(schema.get("minProperties"), int) and count < schema["minProperties"]:
        out.add(path, _("At least %(n)s entries.") % {"n": schema["minProperties"]})
    if isinstance(schema.get("maxProperties"), int) and count > schema["maxProperties"]:
        out.add(path, _("At most %(n)s entries.") % {"n": schema["maxProperties"]})
    return result


def validate(value: Any, schema: Obj | None, *, path: str = "") -> tuple[Any, Errors, list[str]]:
    """(the value pruned as the API server would, errors by path, the pruned paths)."""
    out = _Result()
    if not schema:
        return value, {}, []
    cleaned = _check(value, schema, path, out)
    return cleaned, out.errors, out.pruned


def subschema(schema: Obj | None, path: str) -> Obj | None:
    """The schema at a dotted path of plain properties (`spec.resources.limits`)."""
    node = schema
    for key in [p for p in path.split(".") if p]:
        if not isinstance(node, dict):
            return None
        properties = node.get("properties") or {}
        if key in properties:
            node = properties[key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node if isinstance(node, dict) else None

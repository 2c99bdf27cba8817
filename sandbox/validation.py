"""Object validation: metadata names and a CRD's structural openAPIV3Schema.

Messages are apimachinery's, so a client sees the same 422 causes here as on a
real cluster (e.g. `spec.setup: Unsupported value: "x": supported values: ...`).
"""

from __future__ import annotations

import copy
import re

from .errors import FieldError

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)

# Kinds whose names must be DNS labels (they become DNS names or label values).
_LABEL_KINDS = {"Namespace"}
_DNS1035_KINDS = {"Service"}


def validate_name(kind: str, name: str, *, generate_name: bool = False) -> list[FieldError]:
    """Name rules per kind; for generateName only the prefix is checked loosely."""
    field = "metadata.generateName" if generate_name else "metadata.name"
    if kind in _DNS1035_KINDS:
        pattern, msg, limit = DNS1035_LABEL, DNS1035_MSG, 63
    elif kind in _LABEL_KINDS:
        pattern, msg, limit = DNS1123_LABEL, LABEL_MSG, 63
    else:
        pattern, msg, limit = DNS1123_SUBDOMAIN, SUBDOMAIN_MSG, 253
    if generate_name:
        name = name.rstrip("-") or "a"
    errors = []
    if len(name) > limit:
        errors.append(
            FieldError(field, "Invalid", name, f"must be no more than {limit} characters")
        )
    if not pattern.match(name):
        errors.append(FieldError(field, "Invalid", name, msg))
    return errors


def validate_labels(meta: dict) -> list[FieldError]:
    errors = []
    for key, value in (meta.get("labels") or {}).items():
        if (
            not isinstance(value, str)
            or not re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", value)
            or len(value) > 63
        ):
            errors.append(
                FieldError(
                    "metadata.labels",
                    "Invalid",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                )
            )
        if not re.match(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", key):
            errors.append(
                FieldError(
                    "metadata.labels",
                    "Invalid",
                    key,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and "
                    "must start and end with an alphanumeric character",
                )
            )
    return errors


# -- structural schema ------------------------------------------------------------------

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}


def _type_ok(expected: str, value) -> bool:
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    py = _TYPES.get(expected)
    return py is None or isinstance(value, py)


def validate_schema(obj, schema: dict | None, path: str = "") -> list[FieldError]:
    """Validate against an openAPIV3Schema subset: type, enum, min/max, required, items."""
    if not schema:
        return []
    errors: list[FieldError] = []
    _validate(obj, schema, path, errors)
    return errors


def _validate(value, schema: dict, path: str, errors: list[FieldError]) -> None:
    if value is None:
        if not schema.get("nullable"):
            # A null in a typed field is dropped by pruning on a real server; treat as absent.
            return
        return
    expected = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            errors.append(
                FieldError(path, "Invalid", value, f"{path} in body must be of type integer,string")
            )
        return
    if expected and not _type_ok(expected, value):
        got = _json_type(value)
        errors.append(
            FieldError(
                path, "Invalid", value, f'{path} in body must be of type {expected}: "{got}"'
            )
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(FieldError(path, "NotSupported", value, supported=list(schema["enum"])))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(
                FieldError(
                    path,
                    "Invalid",
                    value,
                    f"{path} in body should be greater than or equal to {schema['minimum']}",
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(
                FieldError(
                    path,
                    "Invalid",
                    value,
                    f"{path} in body should be less than or equal to {schema['maximum']}",
                )
            )
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(
                FieldError(
                    path, "Invalid", value, f"may not be more than {schema['maxLength']} bytes"
                )
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(
                FieldError(
                    path, "Invalid", value, f"{path} in body should match '{schema['pattern']}'"
                )
            )
    if isinstance(value, dict):
        for req in schema.get("required") or []:
            if req not in value:
                errors.append(FieldError(_join(path, req), "Required", detail=""))
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                _validate(sub, props[key], _join(path, key), errors)
            elif isinstance(additional, dict):
                _validate(sub, additional, _join(path, key), errors)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _validate(item, schema["items"], f"{path}[{i}]", errors)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_type(value) -> str:
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
    return "object"


def prune(obj, schema: dict | None):
    """Drop unknown fields and fill `default`s, as the API server does for custom resources."""
    if not schema:
        return obj
    if isinstance(obj, dict) and schema.get("type", "object") == "object":
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        out = {}
        for key, value in obj.items():
            if key in props:
                out[key] = prune(value, props[key])
            elif isinstance(additional, dict):
                out[key] = prune(value, additional)
            elif additional is True or preserve:
                out[key] = value
        for key, sub in props.items():
            if key not in out and "default" in sub:
                out[key] = prune(copy.deepcopy(sub["default"]), sub)
        return out
    if isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"]) for item in obj]
    return obj


def prune_custom_resource(obj: dict, schema: dict | None) -> dict:
    """Prune everything but apiVersion/kind/metadata, which the server always keeps."""
    if not schema:
        return obj
    head = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    body = {k: v for k, v in obj.items() if k not in head}
    props = dict(schema.get("properties") or {})
    for k in ("apiVersion", "kind", "metadata"):
        props.pop(k, None)
    pruned = prune(body, {**schema, "properties": props})
    return {**head, **pruned}


def validate_custom_resource(obj: dict, schema: dict | None) -> list[FieldError]:
    if not schema:
        return []
    props = dict(schema.get("properties") or {})
    for k in ("apiVersion", "kind", "metadata"):
        props.pop(k, None)
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    trimmed = {**schema, "properties": props}
    trimmed["required"] = [r for r in schema.get("required") or [] if r not in ("metadata",)]
    return validate_schema(body, trimmed)

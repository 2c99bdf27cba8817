"""Object validation: metadata names and a CRD's structural openAPIV3Schema.

Messages are apimachinery's, so a client sees the same 422 causes here as on a
real cluster (e.g. `spec.setup: Unsupported value: "x": supported values: ...`).
"""

from __future__ import annotations

import copy
import json
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
#
# What the API server does with a custom resource, in order
# (apiextensions-apiserver pkg/apiserver/customresource_handler.go and
# pkg/apiserver/validation/validation.go, kube-openapi pkg/validation/validate):
#   1. pruning: fields the version's schema does not specify are dropped, unless a
#      level has `x-kubernetes-preserve-unknown-fields: true` (or the CRD has
#      `spec.preserveUnknownFields: true`, v1beta1 legacy: then nothing is pruned);
#      `null` in a non-nullable field without a default is dropped;
#   2. defaulting: `default` values fill absent fields (and nulls) of present objects;
#   3. validation: type (with `x-kubernetes-int-or-string`, `nullable`), enum,
#      required, min/max, lengths, items, pattern... Messages and causes are the
#      API server's (`spec.x: Invalid value: "string": spec.x in body must be of type
#      integer: "string"`).


class _TypeInvalid(FieldError):
    """field.TypeInvalid: reason FieldValueTypeInvalid, rendered `Invalid value: ...`."""

    @property
    def reason(self) -> str:
        return "FieldValueTypeInvalid"


class _TooLong(FieldError):
    """field.TooLong: `Too long: may not be more than N bytes` (the value is not shown)."""

    @property
    def reason(self) -> str:
        return "FieldValueTooLong"

    def body(self) -> str:
        return f"Too long: {self.detail}"


class _TooMany(FieldError):
    """field.TooMany: `Too many: 3: must have at most 2 items`."""

    @property
    def reason(self) -> str:
        return "FieldValueTooMany"

    def body(self) -> str:
        return f"Too many: {self.value}: {self.detail}"


_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}


def _type_ok(expected: str, value) -> bool:
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    py = _TYPES.get(expected)
    return py is None or isinstance(value, py)


def _num(value) -> str:
    """A bound as Go's %v prints a float64: 1, 0.5, 1e+06."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def validate_schema(obj, schema: dict | None, path: str = "") -> list[FieldError]:
    """Validate against a structural openAPIV3Schema as kube-openapi does for CRs."""
    if not schema:
        return []
    errors: list[FieldError] = []
    _validate(obj, schema, path, errors)
    return errors


def _validate(value, schema: dict, path: str, errors: list[FieldError]) -> None:
    expected = schema.get("type")
    if value is None:
        if schema.get("nullable"):
            return
        if schema.get("x-kubernetes-int-or-string"):
            errors.append(
                _TypeInvalid(
                    path,
                    "Invalid",
                    "null",
                    f'{path} in body must be of type integer,string: "null"',
                )
            )
        elif expected:
            errors.append(
                _TypeInvalid(
                    path, "Invalid", "null", f'{path} in body must be of type {expected}: "null"'
                )
            )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            got = _json_type(value)
            errors.append(
                _TypeInvalid(
                    path, "Invalid", got, f'{path} in body must be of type integer,string: "{got}"'
                )
            )
    elif expected and not _type_ok(expected, value):
        got = _json_type(value)
        errors.append(
            _TypeInvalid(
                path, "Invalid", got, f'{path} in body must be of type {expected}: "{got}"'
            )
        )
        if "enum" in schema and value not in schema["enum"]:
            errors.append(FieldError(path, "NotSupported", value, supported=_enum_strings(schema)))
        return
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        errors.append(FieldError(path, "NotSupported", value, supported=_enum_strings(schema)))
    if isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path, errors)
    if isinstance(value, str):
        _validate_string(value, schema, path, errors)
    if isinstance(value, dict):
        _validate_object(value, schema, path, errors)
    if isinstance(value, list):
        _validate_array(value, schema, path, errors)


def _same(value, candidate) -> bool:
    if isinstance(value, bool) or isinstance(candidate, bool):
        return value is candidate
    return value == candidate


def _enum_strings(schema: dict) -> list:
    return [e if isinstance(e, str) else json.dumps(e) for e in schema["enum"]]


def _validate_number(value, schema: dict, path: str, errors: list[FieldError]) -> None:
    if "minimum" in schema:
        low = schema["minimum"]
        if schema.get("exclusiveMinimum") and value <= low:
            errors.append(
                FieldError(
                    path, "Invalid", value, f"{path} in body should be greater than {_num(low)}"
                )
            )
        elif value < low:
            errors.append(
                FieldError(
                    path,
                    "Invalid",
                    value,
                    f"{path} in body should be greater than or equal to {_num(low)}",
                )
            )
    if "maximum" in schema:
        high = schema["maximum"]
        if schema.get("exclusiveMaximum") and value >= high:
            errors.append(
                FieldError(
                    path, "Invalid", value, f"{path} in body should be less than {_num(high)}"
                )
            )
        elif value > high:
            errors.append(
                FieldError(
                    path,
                    "Invalid",
                    value,
                    f"{path} in body should be less than or equal to {_num(high)}",
                )
            )
    if schema.get("multipleOf"):
        quotient = value / schema["multipleOf"]
        if abs(quotient - round(quotient)) > 1e-9:
            errors.append(
                FieldError(
                    path,
                    "Invalid",
                    value,
                    f"{path} in body should be a multiple of {_num(schema['multipleOf'])}",
                )
            )


def _validate_string(value: str, schema: dict, path: str, errors: list[FieldError]) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(
            _TooLong(path, "Invalid", value, f"may not be more than {schema['maxLength']} bytes")
        )
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(
            FieldError(
                path,
                "Invalid",
                value,
                f"{path} in body should be at least {schema['minLength']} chars long",
            )
        )
    if "pattern" in schema:
        try:
            matched = re.search(schema["pattern"], value)
        except re.error as exc:
            errors.append(
                FieldError(
                    path,
                    "Invalid",
                    value,
                    f"{path} in body should match '{schema['pattern']}, but pattern is invalid: {exc}'",
                )
            )
        else:
            if not matched:
                errors.append(
                    FieldError(
                        path, "Invalid", value, f"{path} in body should match '{schema['pattern']}'"
                    )
                )


def _validate_object(value: dict, schema: dict, path: str, errors: list[FieldError]) -> None:
    for req in schema.get("required") or []:
        if req not in value:
            errors.append(FieldError(_join(path, req), "Required", detail=""))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        errors.append(
            _TooMany(
                path, "Invalid", len(value), f"must have at most {schema['maxProperties']} items"
            )
        )
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        errors.append(
            FieldError(
                path,
                "Invalid",
                "",
                f"{path} in body should have at least {schema['minProperties']} properties",
            )
        )
    props = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, sub in value.items():
        if key in props:
            _validate(sub, props[key], _join(path, key), errors)
        elif isinstance(additional, dict):
            _validate(sub, additional, _join(path, key), errors)


def _validate_array(value: list, schema: dict, path: str, errors: list[FieldError]) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(
            _TooMany(path, "Invalid", len(value), f"must have at most {schema['maxItems']} items")
        )
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(
            FieldError(
                path,
                "Invalid",
                "",
                f"{path} in body should have at least {schema['minItems']} items",
            )
        )
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", errors)
    if schema.get("x-kubernetes-list-type") == "set" or schema.get("uniqueItems"):
        seen: list = []
        for i, item in enumerate(value):
            if item in seen:
                errors.append(FieldError(f"{path}[{i}]", "Duplicate", item))
            else:
                seen.append(item)


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
    if value is None:
        return "null"
    return "object"


_EMBEDDED = ("apiVersion", "kind", "metadata")


def prune(obj, schema: dict | None, *, drop_unknown: bool = True):
    """Drop unknown fields (and non-nullable nulls) and fill `default`s, as the API server
    does for custom resources. With `drop_unknown=False` (a CRD with
    `spec.preserveUnknownFields: true`) only defaults are applied."""
    if not schema:
        return obj
    if isinstance(obj, dict) and schema.get("type", "object") == "object":
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = (
            not drop_unknown
            or schema.get("x-kubernetes-preserve-unknown-fields")
            or additional is True
        )
        embedded = schema.get("x-kubernetes-embedded-resource")
        out = {}
        for key, value in obj.items():
            sub = props.get(key)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if value is None and drop_unknown and sub is not None and not sub.get("nullable"):
                if "default" in sub:
                    out[key] = prune(copy.deepcopy(sub["default"]), sub, drop_unknown=drop_unknown)
                continue  # structuraldefaulting.PruneNonNullableNullsWithoutDefaults
            if sub is not None:
                out[key] = prune(value, sub, drop_unknown=drop_unknown)
            elif preserve or (embedded and key in _EMBEDDED):
                out[key] = value
        for key, sub in props.items():
            if key not in out and key not in obj and "default" in sub:
                out[key] = prune(copy.deepcopy(sub["default"]), sub, drop_unknown=drop_unknown)
        return out
    if isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"], drop_unknown=drop_unknown) for item in obj]
    return obj


def _root_schema(schema: dict) -> dict:
    props = dict(schema.get("properties") or {})
    for k in _EMBEDDED:
        props.pop(k, None)
    return {**schema, "properties": props}


def prune_custom_resource(obj: dict, schema: dict | None) -> dict:
    """Prune and default everything but apiVersion/kind/metadata, which the server keeps."""
    if not schema:
        return obj
    drop_unknown = not getattr(schema, "preserve_unknown_fields", False)
    head = {k: obj[k] for k in _EMBEDDED if k in obj}
    body = {k: v for k, v in obj.items() if k not in head}
    pruned = prune(body, _root_schema(schema), drop_unknown=drop_unknown)
    return {**head, **pruned}


def validate_custom_resource(obj: dict, schema: dict | None) -> list[FieldError]:
    if not schema:
        return []
    body = {k: v for k, v in obj.items() if k not in _EMBEDDED}
    trimmed = _root_schema(schema)
    trimmed["required"] = [r for r in schema.get("required") or [] if r not in ("metadata",)]
    return validate_schema(body, trimmed)

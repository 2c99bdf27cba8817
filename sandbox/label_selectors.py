"""Label and field selectors with the API server's syntax and error messages."""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import bad_request

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)\s*$")
_EQ = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|!=|=)\s*(?P<value>[^=!,\s]*)\s*$")
_EXISTS = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")

Predicate = Callable[[dict], bool]


def _split_requirements(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def _label_in(key: str, values: set[str], *, negate: bool) -> Predicate:
    if negate:
        return lambda labels: labels.get(key) not in values
    return lambda labels: labels.get(key) in values


def _label_equals(key: str, value: str, *, negate: bool) -> Predicate:
    if negate:
        return lambda labels: labels.get(key) != value
    return lambda labels: labels.get(key) == value


def _label_exists(key: str, *, negate: bool) -> Predicate:
    if negate:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def parse_label_selector(selector: str | None) -> Predicate:
    """`a=b,c!=d,e in (f,g),h notin (i),j,!k` -> predicate over a labels dict."""
    if not selector or not selector.strip():
        return lambda labels: True
    checks: list[Predicate] = []
    for requirement in _split_requirements(selector):
        if m := _SET.match(requirement):
            key, op = m["key"], m["op"]
            values = {v.strip() for v in m["values"].split(",") if v.strip()}
            checks.append(_label_in(key, values, negate=op == "notin"))
        elif m := _EQ.match(requirement):
            key, op, value = m["key"], m["op"], m["value"]
            checks.append(_label_equals(key, value, negate=op == "!="))
        elif m := _EXISTS.match(requirement):
            checks.append(_label_exists(m["key"], negate=bool(m["neg"])))
        else:
            raise bad_request(
                f"unable to parse requirement: found '{requirement.strip()}', "
                f"expected: in, notin, =, ==, !=, gt, lt"
            )
    return lambda labels: all(check(labels or {}) for check in checks)


# Field labels the API server accepts per kind (besides metadata.name/namespace).
FIELD_LABELS: dict[str, set[str]] = {
    "Pod": {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "Event": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "Node": {"spec.unschedulable"},
    "ReplicaSet": {"status.replicas"},
    "StatefulSet": {"status.successful"},
}


def _field_value(obj: dict, field: str) -> str:
    node: object = obj
    if field == "source":
        return ((obj.get("source") or {}).get("component")) or ""
    for part in field.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _field_equals(field: str, value: str, *, negate: bool) -> Predicate:
    if negate:
        return lambda obj: _field_value(obj, field) != value
    return lambda obj: _field_value(obj, field) == value


def parse_field_selector(selector: str | None, kind: str, *, crd: bool = False) -> Predicate:
    """`metadata.name=x,status.phase!=Running` -> predicate over an object."""
    if not selector or not selector.strip():
        return lambda obj: True
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_LABELS.get(kind, set())
    checks: list[Predicate] = []
    for requirement in _split_requirements(selector):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", requirement)
        if not m:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{requirement}'")
        field, op, value = m.groups()
        if field not in allowed:
            if crd:
                raise bad_request(f"field label not supported: {field}")
            raise bad_request(f'field label "{field}" not supported for {kind}')
        checks.append(_field_equals(field, value, negate=op == "!="))
    return lambda obj: all(check(obj) for check in checks)

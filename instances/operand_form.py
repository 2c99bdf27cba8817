"""The form view of any owned API, built from its openAPIV3Schema and the CSV's specDescriptors.

As the OpenShift console's form view does: a field per schema property of `spec`, labelled
and explained by its specDescriptor (then the schema's `description`), its widget chosen by
the descriptor's x-descriptors, then by the schema's type:

==========================  ===============================================================
x-descriptor                widget
==========================  ===============================================================
podCount                    number, 0 or more
resourceRequirements        limits / requests of cpu and memory
booleanSwitch, checkbox     checkbox
select:<value>              a choice among the values
number / text / password    number / text / password input (a password is never echoed)
nodeSelector, selector      key = value rows (a selector edits its `matchLabels`)
affinity, nodeAffinity,     YAML of that object
podAffinity, podAntiAff.
hidden                      not shown (kept as the YAML has it)
advanced                    in the collapsed “Advanced” section
==========================  ===============================================================

Without a descriptor: enum → choice, string / integer / number / boolean → their input,
an object with properties → a group of its fields, a map of strings → key = value rows, a
list of scalars → one item a line, anything else (lists of objects, free-form objects) →
YAML of that field. When the CSV gives descriptors, fields it does not describe and that are
not required go to the “Advanced” section.

The YAML beside the form is the whole object. A submit merges the two: every field whose
value differs from what the YAML said when the page was drawn (`_base`) is written into the
YAML's object, so edits made on either side survive, with or without JavaScript.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from . import memcached, schema

Obj = dict[str, Any]
UI = "urn:alm:descriptor:com.tectonic.ui:"
SELECT = f"{UI}select:"
SELECTOR = f"{UI}selector:"
AFFINITIES = ("affinity", "nodeAffinity", "podAffinity", "podAntiAffinity")
MAX_DEPTH = 3  # spec.a.b.c: deeper objects are edited as YAML
PREFIX = "f:"


@dataclass
class Field:
    path: str  # in the object: "spec.replicas"
    label: str
    widget: str = "text"
    help: str = ""
    required: bool = False
    advanced: bool = False
    choices: list[str] = field(default_factory=list)
    enum: list[Any] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    item_type: str = "string"  # of a `lines` list
    children: list[Field] = field(default_factory=list)
    value: Any = None
    errors: list[str] = field(default_factory=list)
    disabled: bool = False

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.path}"

    @property
    def html_id(self) -> str:
        return "id_" + re.sub(r"[^A-Za-z0-9_-]", "_", self.path)

    @property
    def main(self) -> list[Field]:
        return [c for c in self.children if not c.advanced]

    @property
    def extra(self) -> list[Field]:
        return [c for c in self.children if c.advanced]

    def leaves(self) -> list[Field]:
        if self.widget == "group":
            return [leaf for child in self.children for leaf in child.leaves()]
        return [self]

    def as_dict(self) -> Obj:
        """The REST API's description of the field (its schema endpoint)."""
        data: Obj = {
            "path": self.path,
            "label": self.label,
            "widget": self.widget,
            "help": self.help,
            "required": self.required,
            "advanced": self.advanced,
        }
        if self.choices:
            data["choices"] = self.choices
        if self.minimum is not None:
            data["minimum"] = self.minimum
        if self.maximum is not None:
            data["maximum"] = self.maximum
        if self.children:
            data["fields"] = [c.as_dict() for c in self.children]
        return data


def humanize(key: str) -> str:
    """`nodeSelector` → "Node selector" (the console's startCase, sentence-cased)."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key.replace("_", " ")).split()
    if not words:
        return key
    text = " ".join([words[0], *[w if w.isupper() else w.lower() for w in words[1:]]])
    return text[0].upper() + text[1:]


def _first_paragraph(text: str) -> str:
    return (text or "").strip().split("\n\n")[0].strip()


def _widget(xs: list[str], node: Obj | None, depth: int) -> str:
    """The widget of a field: its x-descriptors first, then its schema."""
    names = {x.removeprefix(UI) for x in xs if x.startswith(UI)}
    if "resourceRequirements" in names:
        return "resources"
    if "podCount" in names:
        return "integer"
    if names & {"booleanSwitch", "checkbox"}:
        return "checkbox"
    if any(x.startswith(SELECT) for x in xs):
        return "select"
    if "password" in names:
        return "password"
    if "nodeSelector" in names or any(x.startswith(SELECTOR) for x in xs):
        return "keyvalue"
    if names & set(AFFINITIES):
        return "yaml"
    if "number" in names:
        return "number"
    if "text" in names:
        return "text"
    node = node or {}
    kind = node.get("type")
    if node.get("enum"):
        return "select"
    if node.get("x-kubernetes-int-or-string"):
        return "text"
    if kind in ("string", "integer", "number"):
        return {"string": "text", "integer": "integer", "number": "number"}[kind]
    if kind == "boolean":
        return "checkbox"
    if kind == "object" and node.get("properties") and depth < MAX_DEPTH:
        return "group"
    additional = node.get("additionalProperties")
    if kind == "object" and isinstance(additional, dict) and additional.get("type") == "string":
        return "keyvalue"
    items: Obj = node["items"] if isinstance(node.get("items"), dict) else {}
    if kind == "array" and items.get("type") in ("string", "integer", "number"):
        return "lines"
    return "yaml"


def _field(
    *,
    key: str,
    path: str,
    node: Obj | None,
    descriptors: dict[str, Obj],
    required: bool,
    depth: int,
    has_descriptors: bool,
) -> Field | None:
    relative = path.removeprefix("spec.")
    descriptor = descriptors.get(relative) or {}
    xs = list(descriptor.get("x_descriptors") or [])
    if f"{UI}hidden" in xs:
        return None
    node = node or {}
    widget = _widget(xs, node, depth)
    selector = widget == "keyvalue" and any(x.startswith(SELECTOR) for x in xs)
    if selector and ("matchLabels" in (node.get("properties") or {}) or not node):
        path = f"{path}.matchLabels"
    result = Field(
        path=path,
        label=descriptor.get("display_name") or humanize(key),
        widget=widget,
        help=_first_paragraph(descriptor.get("description") or node.get("description") or ""),
        required=required,
        advanced=f"{UI}advanced" in xs,
    )
    if widget == "select":
        offered = [x.removeprefix(SELECT) for x in xs if x.startswith(SELECT)]
        result.enum = list(node.get("enum") or [])
        result.choices = offered or [_display("text", v) for v in result.enum]
    if widget in ("integer", "number"):
        if isinstance(node.get("minimum"), int | float):
            result.minimum = node["minimum"]
        if isinstance(node.get("maximum"), int | float):
            result.maximum = node["maximum"]
        if f"{UI}podCount" in xs and (result.minimum is None or result.minimum < 0):
            result.minimum = 0
    if widget == "lines":
        result.item_type = ((node.get("items") or {}).get("type")) or "string"
    if widget == "group":
        result.children = _children(
            node,
            path=path,
            descriptors=descriptors,
            depth=depth + 1,
            has_descriptors=has_descriptors,
        )
        if not result.children:
            return None
    described = bool(descriptor) or any(
        p == relative or p.startswith(f"{relative}.") for p in descriptors
    )
    if has_descriptors and not described and not required:
        result.advanced = True
    return result


def _children(
    node: Obj, *, path: str, descriptors: dict[str, Obj], depth: int, has_descriptors: bool
) -> list[Field]:
    required = set(node.get("required") or [])
    fields = []
    for key, child in (node.get("properties") or {}).items():
        if not isinstance(child, dict):
            continue
        made = _field(
            key=key,
            path=f"{path}.{key}",
            node=child,
            descriptors=descriptors,
            required=key in required,
            depth=depth,
            has_descriptors=has_descriptors,
        )
        if made is not None:
            fields.append(made)
    order = list(descriptors)

    def rank(f: Field) -> tuple[int, int]:
        relative = f.path.removeprefix("spec.")
        for index, described in enumerate(order):
            if (
                described == relative
                or described.startswith(f"{relative}.")
                or relative.startswith(f"{described}.")
            ):
                return (0, index)
        return (1 if f.required else 2, 0)

    return sorted(fields, key=rank)


def build_fields(version: Obj, *, example: Obj | None = None) -> list[Field]:
    """The form of one served version: the name, then `spec`'s fields."""
    descriptors = {
        d.get("path") or "": d
        for d in version.get("spec_descriptors") or []
        if d.get("path") and "[" not in d["path"]
    }
    fields = [Field(path="metadata.name", label=_("Name"), required=True)]
    version_schema = version.get("schema") or {}
    spec_node = schema.subschema(version_schema, "spec")
    if spec_node:
        fields += _children(
            spec_node,
            path="spec",
            descriptors=descriptors,
            depth=1,
            has_descriptors=bool(descriptors),
        )
        return fields
    # No schema (the CRDs are not known): the descriptors alone, typed by the example.
    spec = (example or {}).get("spec") if isinstance((example or {}).get("spec"), dict) else {}
    for path in descriptors:
        found, value = _get(spec, path)
        node: Obj = {}
        if found and value is not None:
            node = {"type": schema._type_name(value)}
            if node["type"] == "object" and all(isinstance(v, str) for v in value.values()):
                node["additionalProperties"] = {"type": "string"}
        made = _field(
            key=path.rpartition(".")[2],
            path=f"spec.{path}",
            node=node,
            descriptors=descriptors,
            required=False,
            depth=MAX_DEPTH,
            has_descriptors=True,
        )
        if made is not None:
            fields.append(made)
    return fields


# --- values in and out ------------------------------------------------------------------------


def _get(obj: Any, path: str) -> tuple[bool, Any]:
    node = obj
    for key in [p for p in path.split(".") if p]:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _set(obj: Obj, path: str, value: Any) -> None:
    keys = [p for p in path.split(".") if p]
    node = obj
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = value


def _remove(obj: Obj, path: str) -> None:
    keys = [p for p in path.split(".") if p]
    trail = []
    node: Any = obj
    for key in keys[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return
        trail.append((node, key))
        node = node[key]
    if isinstance(node, dict):
        node.pop(keys[-1], None)
    for parent, key in reversed(trail[1:]):  # never drop `spec` itself
        if parent[key] == {}:
            parent.pop(key)


def _display(widget: str, value: Any) -> Any:
    if widget == "password":
        return ""  # never echoed
    if widget == "checkbox":
        return bool(value)
    if widget == "keyvalue":
        rows = (
            [(str(k), "" if v is None else str(v)) for k, v in (value or {}).items()]
            if isinstance(value, dict)
            else []
        )
        return [*rows, ("", "")]
    if widget == "resources":
        value = value if isinstance(value, dict) else {}
        return {
            f"{part}_{res}": str(
                ((value.get(part) or {}) if isinstance(value.get(part), dict) else {}).get(res)
                or ""
            )
            for part in ("requests", "limits")
            for res in ("cpu", "memory")
        }
    if widget == "yaml":
        return memcached.to_yaml(value).strip() if value not in (None, {}, []) else ""
    if widget == "lines":
        return "\n".join(str(v) for v in value) if isinstance(value, list) else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fill(fields: list[Field], obj: Obj) -> None:
    """Each field shows the object's value at its path."""
    for f in fields:
        if f.widget == "group":
            fill(f.children, obj)
            continue
        _found, value = _get(obj, f.path)
        f.value = _display(f.widget, value)


def secret_paths(fields: list[Field]) -> list[str]:
    return [leaf.path for f in fields for leaf in f.leaves() if leaf.widget == "password"]


def without_secrets(obj: Obj, fields: list[Field]) -> Obj:
    """The object as the YAML view shows it: passwords left out (they are not echoed)."""
    result = json.loads(json.dumps(obj))
    for path in secret_paths(fields):
        _remove(result, path)
    return result


def _read(f: Field, data: Any) -> tuple[Any, str]:
    """(the field's value from the POST, or None when empty; a problem or "")."""
    getlist = (
        data.getlist if hasattr(data, "getlist") else lambda k: [data.get(k)] if k in data else []
    )
    raw = data.get(f.name)
    text = "" if raw is None else str(raw)
    if f.widget == "checkbox":
        return (f.name in data and text not in ("", "false", "off", "0")), ""
    if f.widget in ("text", "select", "password"):
        if f.widget != "password":
            text = text.strip()
        return (text or None), ""
    if f.widget in ("integer", "number"):
        text = text.strip()
        if not text:
            return None, ""
        try:
            number = float(text) if f.widget == "number" else int(text)
        except ValueError:
            return text, (
                _("Enter a whole number.") if f.widget == "integer" else _("Enter a number.")
            )
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        return number, ""
    if f.widget == "keyvalue":
        keys, values = getlist(f"{f.name}-key"), getlist(f"{f.name}-value")
        rows = [
            (str(k).strip(), str(v).strip())
            for k, v in zip(keys, values + [""] * len(keys), strict=False)
        ]
        rows = [(k, v) for k, v in rows if k or v]
        seen: set[str] = set()
        for key, value in rows:
            if not key:
                return None, _("The value “%(value)s” has no key.") % {"value": value}
            if key in seen:
                return None, _("The key “%(key)s” appears twice.") % {"key": key}
            seen.add(key)
        return (dict(rows) or None), ""
    if f.widget == "resources":
        result: Obj = {}
        for part in ("requests", "limits"):
            for res in ("cpu", "memory"):
                value = str(data.get(f"{f.name}.{part}.{res}") or "").strip()
                if value:
                    result.setdefault(part, {})[res] = value
        return (result or None), ""
    if f.widget == "lines":
        items: list[Any] = [line.strip() for line in text.splitlines() if line.strip()]
        if f.item_type in ("integer", "number"):
            try:
                items = [int(i) if f.item_type == "integer" else float(i) for i in items]
            except ValueError:
                return None, _("One number a line.")
        return (items or None), ""
    if f.widget == "yaml":
        if not text.strip():
            return None, ""
        value, problems = memcached.parse_affinity_yaml(text)
        return (None, problems[0]) if problems else (value, "")
    return None, ""


def _sent(f: Field, data: Any) -> bool:
    if f.widget == "checkbox":
        return f"{f.name}._shown" in data
    if f.widget == "keyvalue":
        return f"{f.name}-key" in data
    if f.widget == "resources":
        return any(
            f"{f.name}.{p}.{r}" in data for p in ("requests", "limits") for r in ("cpu", "memory")
        )
    return f.name in data


def merge(fields: list[Field], obj: Obj, data: Any, *, base: Obj) -> dict[str, list[str]]:
    """Writes into `obj` every field whose value differs from `base` (the object the form
    was drawn from); returns the fields' own problems (a word in a number input) by path."""
    problems: dict[str, list[str]] = {}
    for f in [leaf for top in fields for leaf in top.leaves()]:
        if f.disabled:
            continue
        if not _sent(f, data):
            continue  # not on the page that was submitted (e.g. a YAML-only client)
        value, problem = _read(f, data)
        if problem:
            problems.setdefault(f.path, []).append(problem)
            continue
        found, old = _get(base, f.path)
        if f.widget == "password":
            if value is not None:
                _set(obj, f.path, value)
            continue
        if f.widget == "checkbox" and value is False and not found:
            value = None
        if f.widget == "text" and isinstance(old, int | float) and not isinstance(old, bool):
            old = str(old)  # an int-or-string shown as text
        if f.widget == "select" and old is not None:
            old = _display("text", old)
            value = value if value is None else _display("text", value)
        if not found or old in ({}, [], ""):
            old = None  # an empty map, list or text reads back as an empty field
        if value == old:
            continue
        if value is None:
            _remove(obj, f.path)
        else:
            _set(obj, f.path, _typed(f, value))
    return problems


def _typed(f: Field, value: Any) -> Any:
    """A select of a schema enum of numbers or booleans gives back its type."""
    if f.widget == "select" and isinstance(value, str):
        return next((v for v in f.enum if _display("text", v) == value), value)
    if f.widget == "text" and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return value  # int-or-string stays a string; the schema decides
    return value


def find(fields: list[Field], path: str) -> Field | None:
    """The field that shows an error of `path` (the closest enclosing field)."""
    best: Field | None = None
    for f in [leaf for top in fields for leaf in top.leaves()]:
        inside = path.startswith((f"{f.path}.", f"{f.path}["))
        if (path == f.path or inside) and (best is None or len(f.path) > len(best.path)):
            best = f
    return best


# --- where a form starts ----------------------------------------------------------------------


def example_of(csv_info: Obj | None, kind_api: Obj, version: Obj) -> Obj | None:
    """The CSV's alm-example of that kind and version (another version's only without a
    schema, re-labelled with the chosen apiVersion)."""
    examples = [e for e in memcached.alm_examples(csv_info) if e.get("kind") == kind_api["kind"]]
    exact = next((e for e in examples if e.get("apiVersion") == version["api_version"]), None)
    if exact is not None:
        return exact
    if examples and not version.get("schema"):
        return {**examples[0], "apiVersion": version["api_version"]}
    return None


def start_object(csv_info: Obj | None, kind_api: Obj, version: Obj, *, namespace: str) -> Obj:
    """The create form's first object: the cleaned example, else the schema's required
    fields and defaults; pruned of what that version's schema does not know."""
    example = example_of(csv_info, kind_api, version)
    if example is not None:
        obj = schema.clean_example(example, namespace=namespace)
        obj["apiVersion"] = version["api_version"]
        if not isinstance(obj.get("spec"), dict) and "spec" in obj:
            obj["spec"] = {}
    else:
        spec = schema.skeleton(schema.subschema(version.get("schema"), "spec"))
        obj = {
            "apiVersion": version["api_version"],
            "kind": kind_api["kind"],
            "metadata": {"name": f"{kind_api['kind'].lower()}-sample", "namespace": namespace},
            "spec": spec if isinstance(spec, dict) else {},
        }
    metadata = obj.setdefault("metadata", {})
    metadata.setdefault("name", f"{kind_api['kind'].lower()}-sample")
    spec_schema = schema.subschema(version.get("schema"), "spec")
    if spec_schema and isinstance(obj.get("spec"), dict):
        obj["spec"], _errors, _pruned = schema.validate(obj["spec"], spec_schema, path="spec")
    return obj

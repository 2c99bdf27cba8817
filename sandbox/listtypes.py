"""Which lists server-side apply merges by key (`x-kubernetes-list-type: map|set`).

structured-merge-diff treats a list as atomic unless the schema says otherwise: the
built-in kinds' OpenAPI carries `x-kubernetes-list-type: map` + `x-kubernetes-list-map-keys`
(the Go types' `+listType=map` / `+listMapKey`, e.g. Service ports by port+protocol,
containers and env by name), CRDs say so in their structural schema. A key field with a
schema default (a port's protocol: TCP) may be left out of an applied item.
"""

from __future__ import annotations

from collections.abc import Callable

from .resources import ResourceType

Path = tuple[str, ...]
# ("map", key fields, key defaults) | ("set", (), {}) for a list at a path pattern ("*" = item)
ListType = tuple[str, tuple[str, ...], dict]
ListTypes = Callable[[Path], ListType | None]

_TCP = {"protocol": "TCP"}


def _pod_spec(prefix: Path) -> dict[Path, ListType]:
    """k8s.io/api/core/v1 PodSpec's associative lists (types.go listType markers)."""
    out: dict[Path, ListType] = {
        (*prefix, "volumes"): ("map", ("name",), {}),
        (*prefix, "imagePullSecrets"): ("map", ("name",), {}),
        (*prefix, "hostAliases"): ("map", ("ip",), {}),
        (*prefix, "schedulingGates"): ("map", ("name",), {}),
        (*prefix, "resourceClaims"): ("map", ("name",), {}),
        (*prefix, "topologySpreadConstraints"): (
            "map",
            ("topologyKey", "whenUnsatisfiable"),
            {},
        ),
    }
    for containers in ("containers", "initContainers", "ephemeralContainers"):
        base = (*prefix, containers)
        out[base] = ("map", ("name",), {})
        out[(*base, "*", "ports")] = ("map", ("containerPort", "protocol"), _TCP)
        out[(*base, "*", "env")] = ("map", ("name",), {})
        out[(*base, "*", "volumeMounts")] = ("map", ("mountPath",), {})
        out[(*base, "*", "volumeDevices")] = ("map", ("devicePath",), {})
    return out


_META: dict[Path, ListType] = {
    ("metadata", "ownerReferences"): ("map", ("uid",), {}),
    ("metadata", "finalizers"): ("set", (), {}),
}
_CONDITIONS: dict[Path, ListType] = {("status", "conditions"): ("map", ("type",), {})}

_BUILTIN: dict[tuple[str, str], dict[Path, ListType]] = {
    ("", "Pod"): _pod_spec(("spec",)),
    ("", "Service"): {("spec", "ports"): ("map", ("port", "protocol"), _TCP)},
    ("", "ServiceAccount"): {("secrets",): ("map", ("name",), {})},
    ("", "Node"): {("status", "addresses"): ("map", ("type",), {})},
    ("apps", "Deployment"): _pod_spec(("spec", "template", "spec")),
    ("apps", "ReplicaSet"): _pod_spec(("spec", "template", "spec")),
    ("apps", "StatefulSet"): _pod_spec(("spec", "template", "spec")),
}


def _schema_lists(schema: dict | None) -> dict[Path, ListType]:
    """Walk a structural schema for `x-kubernetes-list-type: map|set`."""
    found: dict[Path, ListType] = {}

    def walk(node, path: Path) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "array":
            kind = node.get("x-kubernetes-list-type")
            items = node.get("items") or {}
            if kind == "map":
                keys = tuple(node.get("x-kubernetes-list-map-keys") or ())
                props = (items.get("properties") or {}) if isinstance(items, dict) else {}
                defaults = {
                    k: props[k]["default"]
                    for k in keys
                    if isinstance(props.get(k), dict) and "default" in props[k]
                }
                if keys:
                    found[path] = ("map", keys, defaults)
            elif kind == "set":
                found[path] = ("set", (), {})
            walk(items, (*path, "*"))
            return
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, (*path, name))

    walk(schema, ())
    return found


def list_types(rt: ResourceType) -> ListTypes:
    """The associative lists of one served type (metadata and status conditions included)."""
    table: dict[Path, ListType] = dict(_META)
    if rt.crd:
        table.update(_schema_lists(rt.schema))
    else:
        table.update(_CONDITIONS)
        table.update(_BUILTIN.get((rt.group, rt.kind), {}))
    return table.get

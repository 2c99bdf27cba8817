"""Field ownership (`metadata.managedFields`) and server-side apply.

A simplified structured-merge-diff: a field set is the set of leaf paths of an
object, where a leaf is a scalar, an atomic list or an empty map. Lists the schema
marks `x-kubernetes-list-type: map` (see listtypes.py) are walked item by item, an item
being the path element `k:{"name":"a"}` (`v:"x"` for sets), so two managers may own
different containers, ports or env vars, and an apply merges its items into the live
list by key. That is enough for the things clients rely on: per-manager entries in the
real `FieldsV1` format, conflicts when another manager owns a field with a different
value, `force` moving ownership, and removal of fields (and list items) a manager stopped
applying.
"""

from __future__ import annotations

import copy
import json

from .errors import ApiError
from .listtypes import ListTypes

Path = tuple[str, ...]


class ItemKey(str):
    """A list item as a path element: `k:{"port":80,"protocol":"TCP"}` or `v:"value"`."""


def _pattern(path: Path) -> Path:
    return tuple("*" if isinstance(p, ItemKey) else p for p in path)


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def item_key(item, list_type) -> ItemKey | None:
    """The path element of one item of an associative list (None: a key field is missing)."""
    kind, keys, defaults = list_type
    if kind == "set":
        return ItemKey("v:" + _compact(item))
    if not isinstance(item, dict):
        return None
    values = {}
    for key in keys:
        if key in item:
            values[key] = item[key]
        elif key in defaults:
            values[key] = defaults[key]
        else:
            return None
    return ItemKey("k:" + _compact(values))


def _is_key_field(item, field: str) -> bool:
    if not isinstance(item, ItemKey) or not item.startswith("k:"):
        return False
    return field in json.loads(item[2:])


class MissingKey(Exception):
    """An applied associative-list item without one of its key fields (and no default)."""

    def __init__(self, path: Path, index: int, item, list_type):
        _kind, keys, defaults = list_type
        field = next(
            (k for k in keys if not (isinstance(item, dict) and k in item) and k not in defaults),
            keys[0] if keys else "",
        )
        super().__init__(
            f"{format_path(path)}: element {index}: associative list with keys has an element "
            f'that omits key field "{field}" (and doesn\'t have default value)'
        )


# Top-level fields that are maps (not structs): their FieldsV1 nodes carry `.` in Update entries.
_MAP_FIELDS = {"data", "binaryData", "stringData"}

# Never part of a field set (structured-merge-diff resets these).
_IGNORED_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
}


def _strip(obj: dict, *, subresource: str | None, has_status: bool) -> dict:
    """The part of an object a field set describes for this endpoint."""
    if subresource == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if has_status:
        out.pop("status", None)
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in _IGNORED_META}
    if meta:
        out["metadata"] = meta
    else:
        out.pop("metadata", None)
    return out


def leaf_paths(
    obj, prefix: Path = (), lists: ListTypes | None = None, *, strict: bool = False
) -> set[Path]:
    """Leaves of `obj`; associative lists item by item (strict: a keyless item is an error,
    else such a list counts as atomic)."""
    if isinstance(obj, dict) and obj:
        paths: set[Path] = set()
        for key, value in obj.items():
            paths |= leaf_paths(value, (*prefix, key), lists, strict=strict)
        return paths
    list_type = lists(_pattern(prefix)) if lists and isinstance(obj, list) and obj else None
    if list_type is not None:
        items: set[Path] = set()
        for index, item in enumerate(obj):
            key = item_key(item, list_type)
            if key is None:
                if strict:
                    raise MissingKey(prefix, index, item, list_type)
                return {prefix}
            below = (
                leaf_paths(item, (*prefix, key), lists, strict=strict) if key[0] == "k" else set()
            )
            items |= below or {(*prefix, key)}
        return items
    return {prefix} if prefix else set()


def _find_item(items: list, key: ItemKey, lists: ListTypes | None, at: Path):
    list_type = lists(_pattern(at)) if lists else None
    if list_type is None:
        return None
    for index, item in enumerate(items):
        if item_key(item, list_type) == key:
            return index
    return None


def get_path(obj, path: Path, lists: ListTypes | None = None):
    """(found, value) for a path of map keys and list item keys."""
    node = obj
    for depth, key in enumerate(path):
        if isinstance(key, ItemKey):
            if not isinstance(node, list):
                return False, None
            index = _find_item(node, key, lists, path[:depth])
            if index is None:
                return False, None
            node = node[index]
            continue
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def delete_path(obj: dict, path: Path, lists: ListTypes | None = None, keep=frozenset()) -> None:
    """Remove a leaf (or a list item) and any maps it leaves empty, except paths in `keep`."""
    parents: list[tuple[object, object]] = []
    node: object = obj
    for depth, key in enumerate(path[:-1]):
        if isinstance(key, ItemKey):
            if not isinstance(node, list):
                return
            index = _find_item(node, key, lists, path[:depth])
            if index is None:
                return
            parents.append((node, index))
            node = node[index]
            continue
        if not isinstance(node, dict) or key not in node:
            return
        parents.append((node, key))
        node = node[key]
    last = path[-1]
    if isinstance(last, ItemKey):
        if isinstance(node, list):
            index = _find_item(node, last, lists, path[:-1])
            if index is not None:
                del node[index]
    elif isinstance(node, dict):
        node.pop(last, None)
    for depth in range(len(parents) - 1, -1, -1):
        parent, slot = parents[depth]
        if path[: depth + 1] in keep:
            break
        if isinstance(parent, dict) and parent[slot] == {}:
            del parent[slot]
        else:
            break


def _overlaps(a: Path, b: Path) -> bool:
    short = min(len(a), len(b))
    return a[:short] == b[:short]


def format_path(path: Path) -> str:
    """structured-merge-diff's path string: `.spec.ports[port=80,protocol="TCP"].name`."""
    out = []
    for key in path:
        if isinstance(key, ItemKey) and key.startswith("k:"):
            fields = json.loads(key[2:])
            out.append("[" + ",".join(f"{k}={_compact(v)}" for k, v in fields.items()) + "]")
        elif isinstance(key, ItemKey):
            out.append(f"[={key[2:]}]")
        else:
            out.append(f".{key}")
    return "".join(out)


def to_fields_v1(paths: set[Path], *, dots: bool) -> dict:
    root: dict = {}
    for path in sorted(paths):
        node = root
        for depth, key in enumerate(path):
            # Plain str keys: an ItemKey (a str subclass) costs pickle a class lookup per key,
            # and every controller read clones the object with its managedFields.
            node = node.setdefault(str(key) if isinstance(key, ItemKey) else f"f:{key}", {})
            inner = depth < len(path) - 1
            if isinstance(key, ItemKey) and inner:
                node.setdefault(".", {})  # the item itself is a member of the set
            elif dots and inner and (depth >= 1 or key in _MAP_FIELDS):
                node.setdefault(".", {})
    return root


def from_fields_v1(fields: dict, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    children = {k: v for k, v in (fields or {}).items() if k.startswith(("f:", "k:", "v:"))}
    if not children:
        return {prefix} if prefix else set()
    for key, value in children.items():
        part = key[2:] if key.startswith("f:") else ItemKey(key)
        paths |= from_fields_v1(value, (*prefix, part))
    return paths


def deep_merge(base, overlay, lists: ListTypes | None = None, path: Path = ()):
    """Apply semantics: maps merge recursively, associative lists merge item by key,
    other lists and scalars replace; null deletes."""
    if isinstance(overlay, list) and isinstance(base, list) and lists:
        list_type = lists(_pattern(path))
        if list_type is not None:
            out_list = copy.deepcopy(base)
            keys = [item_key(item, list_type) for item in out_list]
            for item in overlay:
                key = item_key(item, list_type)
                if key is not None and key in keys:
                    index = keys.index(key)
                    out_list[index] = deep_merge(out_list[index], item, lists, (*path, key))
                else:
                    out_list.append(copy.deepcopy(item))
                    keys.append(key)
            return out_list
    if not isinstance(overlay, dict) or not isinstance(base, dict):
        return copy.deepcopy(overlay)
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = deep_merge(out.get(key), value, lists, (*path, key))
    return out


class Entry:
    def __init__(self, raw: dict):
        self.manager = raw.get("manager", "")
        self.operation = raw.get("operation", "Update")
        self.api_version = raw.get("apiVersion", "")
        self.time = raw.get("time", "")
        self.subresource = raw.get("subresource")
        self.paths = from_fields_v1(raw.get("fieldsV1") or {})

    @property
    def identity(self):
        return (self.manager, self.operation, self.subresource)

    def render(self) -> dict:
        raw = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.paths, dots=self.operation == "Update"),
        }
        if self.subresource:
            raw["subresource"] = self.subresource
        return raw


def _entries(obj: dict) -> list[Entry]:
    return [Entry(raw) for raw in (obj.get("metadata") or {}).get("managedFields") or []]


def _store(obj: dict, entries: list[Entry]) -> None:
    kept = [e.render() for e in entries if e.paths]
    obj.setdefault("metadata", {})["managedFields"] = kept
    if not kept:
        del obj["metadata"]["managedFields"]


def _find(entries: list[Entry], identity, *, api_version: str, now: str) -> Entry:
    for entry in entries:
        if entry.identity == identity:
            return entry
    manager, operation, subresource = identity
    entry = Entry({"manager": manager, "operation": operation, "apiVersion": api_version})
    entry.subresource = subresource
    entry.time = now
    entries.append(entry)
    return entry


def record_update(
    old: dict | None,
    new: dict,
    *,
    manager: str,
    api_version: str,
    now: str,
    has_status: bool,
    subresource: str | None = None,
    lists: ListTypes | None = None,
) -> None:
    """Give `manager` (operation Update) the fields a non-apply write changed."""
    entries = _entries(old) if old else []
    before = _strip(old or {}, subresource=subresource, has_status=has_status)
    after = _strip(new, subresource=subresource, has_status=has_status)
    new_paths = leaf_paths(after, (), lists)
    changed = {p for p in new_paths if get_path(before, p, lists) != get_path(after, p, lists)}
    full_after = _strip(new, subresource=None, has_status=False)
    for entry in entries:
        entry.paths = {
            p
            for p in entry.paths
            if get_path(full_after, p, lists)[0] and not any(_overlaps(p, c) for c in changed)
        }
    if changed:
        mine = _find(entries, (manager, "Update", subresource), api_version=api_version, now=now)
        mine.paths |= changed
        mine.time = now
        mine.api_version = api_version
    _store(new, entries)


def apply(
    live: dict | None,
    config: dict,
    *,
    manager: str,
    force: bool,
    api_version: str,
    now: str,
    has_status: bool,
    subresource: str | None = None,
    lists: ListTypes | None = None,
    subject: str = "",
) -> dict:
    """Server-side apply `config` onto `live`; returns the merged object with managedFields."""
    live = copy.deepcopy(live) if live else {}
    entries = _entries(live)
    applied_cfg = _strip(config, subresource=subresource, has_status=has_status)
    try:
        applied = leaf_paths(applied_cfg, (), lists, strict=True)
    except MissingKey as exc:  # structuredmerge.go: a plain error, so 500 on the wire
        raise ApiError(
            500,
            "InternalError",
            f"Internal error occurred: failed to create typed patch object ({subject}): {exc}",
        ) from None
    merged = deep_merge(live, applied_cfg, lists)

    conflicts: dict[str, list[str]] = {}
    forced: list[tuple[Entry, Path]] = []
    for entry in entries:
        if entry.manager == manager:
            continue
        for owned in entry.paths:
            if not any(_overlaps(owned, p) for p in applied):
                continue
            before, after = get_path(live, owned, lists), get_path(merged, owned, lists)
            if before == after:
                continue
            if isinstance(before[1], dict) and isinstance(after[1], dict):
                continue  # an owned (empty) map gained keys: those are new fields, not a change
            label = entry.manager
            if entry.operation == "Update":
                label += f'" using {entry.api_version}'
            else:
                label += '"'
            conflicts.setdefault(label, []).append(format_path(owned))
            forced.append((entry, owned))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for entry, owned in forced:
        entry.paths.discard(owned)

    mine = _find(entries, (manager, "Apply", subresource), api_version=api_version, now=now)
    previous = set(mine.paths)
    mine.paths = applied
    mine.time = now
    mine.api_version = api_version
    others = [e for e in entries if e is not mine]
    owned_by_others = [p for e in others for p in e.paths]
    # Every prefix of a path still applied or owned stays (an applied `data: {}` keeps `data`).
    keep = {p[:n] for p in (*applied, *owned_by_others) for n in range(1, len(p) + 1)}
    for gone in sorted(previous - applied, key=len, reverse=True):
        if gone in keep:
            continue  # a leaf became a map the applier (or another manager) still fills
        if any(_overlaps(gone, p) for p in owned_by_others):
            continue
        target = gone
        # A list item none of whose fields is applied or owned any more goes as a whole;
        # the key fields of an item that stays, stay.
        for depth in range(len(gone) - 1, -1, -1):
            if isinstance(gone[depth], ItemKey):
                if gone[: depth + 1] not in keep:
                    target = gone[: depth + 1]
                break
        if target is gone and len(gone) >= 2 and _is_key_field(gone[-2], gone[-1]):
            continue
        delete_path(merged, target, lists, keep)
    _store(merged, entries)
    return merged


def _conflict_error(conflicts: dict[str, list[str]]) -> ApiError:
    total = sum(len(v) for v in conflicts.values())
    causes = []
    for label, fields in conflicts.items():
        for f in fields:
            causes.append(
                {"reason": "FieldManagerConflict", "message": f'conflict with "{label}', "field": f}
            )
    if total == 1:
        label, fields = next(iter(conflicts.items()))
        message = f'Apply failed with 1 conflict: conflict with "{label}: {fields[0]}'
    else:
        parts = []
        for label, fields in conflicts.items():
            noun = "conflict" if len(fields) == 1 else "conflicts"
            lines = "\n".join(f"- {f}" for f in fields)
            parts.append(f'{noun} with "{label}:\n{lines}')
        message = f"Apply failed with {total} conflicts: " + "\n".join(parts)
    return ApiError(409, "Conflict", message, {"causes": causes})

"""Field ownership (`metadata.managedFields`) and server-side apply.

A simplified structured-merge-diff: a field set is the set of leaf paths of an
object, where a leaf is a scalar, a list (lists are atomic, as they are for CRDs
without list-type markers) or an empty map. That is enough for the things
clients rely on: per-manager entries in the real `FieldsV1` format, conflicts
when another manager owns a field with a different value, `force` moving
ownership, and removal of fields a manager stopped applying.
"""

from __future__ import annotations

import copy

from .errors import ApiError

Path = tuple[str, ...]

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


def leaf_paths(obj, prefix: Path = ()) -> set[Path]:
    if isinstance(obj, dict) and obj:
        paths: set[Path] = set()
        for key, value in obj.items():
            paths |= leaf_paths(value, (*prefix, key))
        return paths
    return {prefix} if prefix else set()


def get_path(obj, path: Path):
    """(found, value) for a path of map keys."""
    node = obj
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def delete_path(obj: dict, path: Path) -> None:
    """Remove a leaf and any maps it leaves empty."""
    parents = []
    node = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        parents.append((node, key))
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, key in reversed(parents):
        if parent[key] == {}:
            del parent[key]
        else:
            break


def _overlaps(a: Path, b: Path) -> bool:
    short = min(len(a), len(b))
    return a[:short] == b[:short]


def format_path(path: Path) -> str:
    return "".join(f".{key}" for key in path)


def to_fields_v1(paths: set[Path], *, dots: bool) -> dict:
    root: dict = {}
    for path in sorted(paths):
        node = root
        for depth, key in enumerate(path):
            node = node.setdefault(f"f:{key}", {})
            if dots and depth < len(path) - 1 and (depth >= 1 or key in _MAP_FIELDS):
                node.setdefault(".", {})
    return root


def from_fields_v1(fields: dict, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    children = {k: v for k, v in (fields or {}).items() if k.startswith("f:")}
    if not children:
        return {prefix} if prefix else set()
    for key, value in children.items():
        paths |= from_fields_v1(value, (*prefix, key[2:]))
    return paths


def deep_merge(base, overlay):
    """Apply semantics for maps: merge recursively; lists and scalars replace; null deletes."""
    if not isinstance(overlay, dict) or not isinstance(base, dict):
        return copy.deepcopy(overlay)
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = deep_merge(out.get(key), value)
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
) -> None:
    """Give `manager` (operation Update) the fields a non-apply write changed."""
    entries = _entries(old) if old else []
    before = _strip(old or {}, subresource=subresource, has_status=has_status)
    after = _strip(new, subresource=subresource, has_status=has_status)
    new_paths = leaf_paths(after)
    changed = {p for p in new_paths if get_path(before, p) != get_path(after, p)}
    full_after = _strip(new, subresource=None, has_status=False)
    for entry in entries:
        entry.paths = {
            p
            for p in entry.paths
            if get_path(full_after, p)[0] and not any(_overlaps(p, c) for c in changed)
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
) -> dict:
    """Server-side apply `config` onto `live`; returns the merged object with managedFields."""
    live = copy.deepcopy(live) if live else {}
    entries = _entries(live)
    applied_cfg = _strip(config, subresource=subresource, has_status=has_status)
    applied = leaf_paths(applied_cfg)
    merged = deep_merge(live, applied_cfg)

    conflicts: dict[str, list[str]] = {}
    forced: list[tuple[Entry, Path]] = []
    for entry in entries:
        if entry.manager == manager:
            continue
        for owned in entry.paths:
            if not any(_overlaps(owned, p) for p in applied):
                continue
            if get_path(live, owned) == get_path(merged, owned):
                continue
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
    for gone in previous - applied:
        if any(_overlaps(gone, p) for p in applied):
            continue
        if any(_overlaps(gone, p) for e in others for p in e.paths):
            continue
        delete_path(merged, gone)
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

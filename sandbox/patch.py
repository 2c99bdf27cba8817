"""Patch formats: JSON merge patch (RFC 7386) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy

from .errors import ApiError, bad_request


def merge_patch(target, patch):
    """RFC 7386: maps merge recursively, `null` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Keys lists of objects are merged on by strategic merge patch (patchMergeKey in the API types).
_MERGE_KEYS = ("name", "containerPort", "port", "mountPath", "uid", "type", "ip", "devicePath")


def _merge_key(items: list) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _MERGE_KEYS:
        if all(key in i for i in items):
            return key
    return None


def strategic_merge(target, patch):
    """Strategic merge patch, simplified: like RFC 7386, but lists of objects merge by their
    merge key (containers by name, ports by port...), honouring `$patch: delete|replace`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(current, list):
            result[key] = _merge_list(current, value)
        else:
            result[key] = strategic_merge(current, value)
    return result


def _merge_list(current: list, patch: list) -> list:
    key = _merge_key([i for i in patch if not (isinstance(i, dict) and "$patch" in i)] or patch)
    if key is None or _merge_key(current) not in (key, None):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(current)
    for item in patch:
        index = next((n for n, c in enumerate(merged) if c.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                merged.pop(index)
        elif index is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[index] = strategic_merge(merged[index], item)
    return merged


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise bad_request(
            f"the server rejected our request due to an error in our request: "
            f'json patch path "{pointer}" must start with "/"'
        )
    return [_unescape(p) for p in pointer[1:].split("/")]


def _parent(doc, tokens: list[str]):
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise KeyError(token)
    return node


def _get(doc, tokens):
    node = doc
    for token in tokens:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _add(doc, tokens, value):
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            index = int(last)
            if index > len(parent):
                raise IndexError(last)
            parent.insert(index, value)
    else:
        parent[last] = value
    return doc


def _remove(doc, tokens):
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        return parent.pop(int(last))
    return parent.pop(last)


def json_patch(doc, operations) -> dict:
    """Apply RFC 6902 operations; a failing `test` or a bad path is a 422 like the server."""
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in operations:
        kind = op.get("op")
        try:
            tokens = _split(op.get("path", ""))
            if kind == "add":
                doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                _remove(doc, tokens)
            elif kind == "replace":
                _get(doc, tokens)  # must exist
                if tokens:
                    _remove(doc, tokens)
                    doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
                else:
                    doc = copy.deepcopy(op.get("value"))
            elif kind in ("move", "copy"):
                source = _split(op.get("from", ""))
                value = copy.deepcopy(_get(doc, source))
                if kind == "move":
                    _remove(doc, source)
                doc = _add(doc, tokens, value)
            elif kind == "test":
                if _get(doc, tokens) != op.get("value"):
                    raise ApiError(
                        422,
                        "Invalid",
                        f"the server rejected our request due to an error in our request: "
                        f"testing value {op.get('path')} failed: test failed",
                    )
            else:
                raise bad_request(f"Unexpected kind: {kind}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: "
                f"{kind} operation does not apply: doc is missing path: "
                f'"{op.get("path")}": missing value ({exc})',
            ) from None
    return doc

"""Semantic versions and the version ranges OLM reads from `olm.skipRange`.

Ranges follow github.com/blang/semver/v4 `ParseRange`, which OLM and opm use
(operator-registry alpha/model/model.go validates `skipRange` with it; OLM's
resolver evaluates it in pkg/controller/registry/resolver/cache/predicates.go):
comparators `>=1.0.0`, `<2.0.0`, `>1`, `<=1.2`, `=1.2.3`, `!=1.2.3`, a bare
version (equal), whitespace for AND, `||` for OR, and wildcards `1.2.x` / `1.x`.
Pre-release versions compare below their release (1.2.0-alpha < 1.2.0).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*|x|X|\*))?(?:\.(0|[1-9]\d*|x|X|\*))?"
    r"(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$"
)
_STRICT = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

VersionKey = tuple


def version_key(version: str | None) -> VersionKey:
    """Semver ordering: 1.2.0-alpha < 1.2.0 < 1.10.0 (a leading `v` is allowed)."""
    m = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?", version or "")
    if not m:
        return (0, 0, 0, 0, ())
    major, minor, patch, pre = int(m[1]), int(m[2] or 0), int(m[3] or 0), m[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


def is_semver(version: str) -> bool:
    """True for a strict semver 2.0 string (what `olm.package` versions must be)."""
    return bool(_STRICT.match(version or ""))


class RangeError(ValueError):
    pass


Predicate = Callable[[VersionKey], bool]


def _comparator(token: str) -> list[Predicate]:
    m = re.match(r"^(>=|<=|!=|==|=|>|<)?\s*(.+)$", token)
    if not m:
        raise RangeError(f"Could not parse Range {token!r}")
    op, ver = m[1] or "", m[2]
    vm = _VERSION.match(ver)
    if not vm:
        raise RangeError(f"Could not parse version {ver!r} in {token!r}")
    major = int(vm[1])
    minor_s, patch_s = vm[2], vm[3]
    wild_minor = minor_s is None or minor_s in "xX*"
    wild_patch = wild_minor or patch_s is None or patch_s in "xX*"
    minor = 0 if wild_minor else int(minor_s)
    patch = 0 if wild_patch else int(patch_s)
    if wild_patch:
        # blang/semver expandWildcardVersion: 1.2.x -> [>=1.2.0 <1.3.0], 1.x -> [>=1.0.0 <2.0.0]
        low = (major, minor, 0)
        high = (major + 1, 0, 0) if wild_minor else (major, minor + 1, 0)
        lo_key = version_key(".".join(map(str, low)))
        hi_key = version_key(".".join(map(str, high)))
        if op in ("", "=", "=="):
            return [lambda v: v >= lo_key, lambda v: v < hi_key]
        if op == ">=":
            return [lambda v: v >= lo_key]
        if op == ">":
            return [lambda v: v >= hi_key]
        if op == "<":
            return [lambda v: v < lo_key]
        if op == "<=":
            return [lambda v: v < hi_key]
        return [lambda v: v < lo_key or v >= hi_key]  # !=
    key = version_key(f"{major}.{minor}.{patch}" + (f"-{vm[4]}" if vm[4] else ""))
    ops: dict[str, Predicate] = {
        "": lambda v: v == key,
        "=": lambda v: v == key,
        "==": lambda v: v == key,
        "!=": lambda v: v != key,
        ">": lambda v: v > key,
        ">=": lambda v: v >= key,
        "<": lambda v: v < key,
        "<=": lambda v: v <= key,
    }
    return [ops[op]]


class Range:
    """A parsed semver range; `Range(">=1.0.0 <1.2.0").contains("1.1.5")`."""

    def __init__(self, text: str):
        self.text = text
        if not (text or "").strip():
            raise RangeError("empty range")
        self._any: list[list[Predicate]] = []
        for alternative in text.split("||"):
            # ">= 1.0.0" is allowed by blang: join an operator with the version after it.
            tokens = re.sub(r"(>=|<=|!=|==|=|>|<)\s+", r"\1", alternative.strip()).split()
            if not tokens:
                raise RangeError(f"Could not parse Range {text!r}")
            preds: list[Predicate] = []
            for token in tokens:
                preds.extend(_comparator(token))
            self._any.append(preds)

    def contains(self, version: str | None) -> bool:
        if not version:
            return False
        key = version_key(version)
        return any(all(p(key) for p in preds) for preds in self._any)

    def __repr__(self) -> str:
        return f"Range({self.text!r})"


def parse_range(text: str) -> Range:
    return Range(text)


def kube_version_key(version: str) -> tuple:
    """Kubernetes' version priority (apimachinery CompareKubeAwareVersionStrings), as a sort key.

    GA before beta before alpha, higher numbers first: v2, v1, v1beta2, v1beta1, v1alpha1,
    then anything else alphabetically. Sort ascending with this key to get that order.
    """
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if not m:
        return (3, 0, 0, version)
    major = int(m[1])
    stage = {None: 0, "beta": 1, "alpha": 2}[m[2]]
    return (stage, -major, -int(m[3] or 0), "")

"""Which namespaces a controller pass must reconcile: the sandbox's informer work queues.

Real controllers do not re-read the cluster on every change: informers feed work queues
keyed by namespace/name and only the keys whose watched inputs changed are reconciled
(OLM's catalog operator: `nsResolveQueue`, a queue of namespaces, fed by Subscription,
OperatorGroup, CSV and InstallPlan events, and by a catalog in the global namespace
turning ready for every namespace subscribed to it, `syncSourceState`; the owners of a
changed child are requeued, `requeueOwners`); a periodic resync re-lists everything, rarely.

The sandbox's controllers are level-triggered functions of the store, so reconciling a
namespace none of whose inputs changed changes nothing. A pass therefore reconciles the
namespaces written since the controller's previous pass plus the namespaces that read
them; anything it cannot place (a cluster-scoped object other than a Namespace: CRDs,
Nodes, cluster RBAC; a lost change log) makes the pass a full one, as a resync is.
The key is the namespace: OLM resolves a namespace as one unit, and in the sandbox a
namespace is one installation's worth of objects.
"""

from __future__ import annotations

from collections.abc import Iterable

from .store import NAMESPACE_KEY, Store

EVENT_KEY = ("", "events")  # no controller reads Events: writing one dirties nothing
OLM_GROUP = "operators.coreos.com"
GLOBAL_NAMESPACE = "olm"  # OLM's global catalog namespace (olm.GLOBAL_NAMESPACE)


class Scope:
    """What one controller pass reconciles: everything (`full`) or these namespaces."""

    __slots__ = ("full", "namespaces")

    def __init__(self, full: bool = False, namespaces: Iterable[str] = ()) -> None:
        self.full = full
        self.namespaces = frozenset(namespaces)

    def __contains__(self, namespace: object) -> bool:
        return self.full or namespace in self.namespaces

    def __bool__(self) -> bool:
        return self.full or bool(self.namespaces)

    def __repr__(self) -> str:
        return "Scope(full)" if self.full else f"Scope({sorted(self.namespaces)})"


FULL = Scope(full=True)


def _targets(obj: dict, *, group: bool) -> list[str] | None:
    """The namespaces an OperatorGroup (or a CSV annotated by one) targets: [""] for all
    namespaces, None when not known yet."""
    if group:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        if status.get("namespaces") is not None:
            return list(status["namespaces"])
        return list(spec["targetNamespaces"]) if spec.get("targetNamespaces") else None
    annotations = obj["metadata"].get("annotations") or {}
    if "olm.targetNamespaces" not in annotations:
        return None
    return annotations["olm.targetNamespaces"].split(",")


def dirty_scope(store: Store, changes: set[tuple[tuple[str, str], str, str]] | None) -> Scope:
    """The namespaces to reconcile after `changes` (Store.changes_since), dependents
    included: the namespaces that read what changed."""
    if changes is None:
        return FULL
    changed: set[str] = set()
    namespaces_changed = False
    for key, namespace, name in changes:
        if key == EVENT_KEY:
            continue
        if namespace:
            changed.add(namespace)
        elif key == NAMESPACE_KEY:
            changed.add(name)
            namespaces_changed = True
        else:
            return FULL
    if not changed:
        return Scope()
    dependents: set[str] = set()
    with store.lock:
        types = store.types()
        og_rt = types.by_kind(f"{OLM_GROUP}/v1", "OperatorGroup")
        csv_rt = types.by_kind(f"{OLM_GROUP}/v1alpha1", "ClusterServiceVersion")
        sub_rt = types.by_kind(f"{OLM_GROUP}/v1alpha1", "Subscription")
        # An operator in X targeting T: T's reconcile reads X's CSV (copies, the memcached
        # operator's watched namespaces); X's reads T (its copies there, the namespace list).
        linked: list[tuple[str, list[str]]] = []
        # A CSV or OperatorGroup gone takes its links with it: who read it is not known.
        for rt in (og_rt, csv_rt):
            if rt is not None and any(
                key == rt.key and store.view(rt, namespace, name) is None
                for key, namespace, name in changes
            ):
                return FULL
        for og in store.scan(og_rt) if og_rt is not None else ():
            home = og["metadata"]["namespace"]
            spec = og.get("spec") or {}
            if spec.get("selector") and not spec.get("targetNamespaces"):
                if namespaces_changed:  # its status lists the namespaces matching its selector
                    dependents.add(home)
                continue
            targets = _targets(og, group=True)
            if targets == [""]:
                # AllNamespaces: its status reads nothing elsewhere (its operators' CSVs link
                # below), but what changes in its namespace may concern every namespace.
                if home in changed:
                    return FULL
            elif targets is not None:
                linked.append((home, targets))
        if csv_rt is not None:
            linked += [
                (csv["metadata"]["namespace"], t)
                for csv in store.scan(csv_rt)
                if (t := _targets(csv, group=False)) is not None
            ]
        for home, targets in linked:
            if targets == [home]:
                continue
            if targets == [""]:
                if home in changed:
                    return FULL  # an AllNamespaces operator changed: every namespace reads it
                if namespaces_changed or changed - {home}:
                    dependents.add(home)
                continue
            if home in changed:
                dependents.update(t for t in targets if t)
            if changed.intersection(targets):
                dependents.add(home)
        # A Subscription reads its catalog's namespace and the global catalog namespace.
        if sub_rt is not None:
            everyone = GLOBAL_NAMESPACE in changed
            for sub in store.scan(sub_rt):
                source_ns = (sub.get("spec") or {}).get("sourceNamespace")
                if everyone or source_ns in changed:
                    dependents.add(sub["metadata"]["namespace"])
    return Scope(namespaces=changed | dependents)

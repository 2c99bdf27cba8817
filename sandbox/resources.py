"""The kinds the sandbox serves, and the discovery documents that describe them.

Built-in kinds are listed here; custom resources are derived from the
CustomResourceDefinition objects in the store, so a CRD created at run time is
served (and discoverable) as soon as it is established, like a real API server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (one group/version/plural)."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    # Built-ins such as ConfigMap have no metadata.generation; CRs and workloads do.
    generation: bool = False
    # The registry answers DELETE with the object rather than a Status (pods, CRs...).
    return_deleted: bool = False
    crd: bool = False
    schema: dict | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: objects are shared by every served version of a group/plural."""
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, *, namespace: str | None = None, name: str | None = None) -> str:
        base = self.prefix
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


def _core(kind, plural, namespaced=True, **kw) -> ResourceType:
    return ResourceType("", "v1", kind, plural, kind.lower(), namespaced, **kw)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core(
        "Namespace",
        "namespaces",
        namespaced=False,
        short_names=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=("status", "finalize"),
        return_deleted=True,
    ),
    _core(
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        subresources=("status", "log"),
        return_deleted=True,
    ),
    _core(
        "Service",
        "services",
        short_names=("svc",),
        categories=("all",),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
        subresources=("status",),
        return_deleted=True,
    ),
    _core("ConfigMap", "configmaps", short_names=("cm",)),
    _core("Secret", "secrets"),
    _core("Event", "events", short_names=("ev",)),
    _core("ServiceAccount", "serviceaccounts", short_names=("sa",)),
    _core(
        "Node",
        "nodes",
        namespaced=False,
        short_names=("no",),
        subresources=("status",),
        return_deleted=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        True,
        short_names=("deploy",),
        categories=("all",),
        subresources=("status", "scale"),
        generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        True,
        short_names=("rs",),
        categories=("all",),
        subresources=("status", "scale"),
        generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        True,
        short_names=("sts",),
        categories=("all",),
        subresources=("status", "scale"),
        generation=True,
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "customresourcedefinition",
        False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=("status",),
        generation=True,
        return_deleted=True,
    ),
    # Served by OLM's package-server (an aggregated API), read-only.
    ResourceType(
        "packages.operators.coreos.com",
        "v1",
        "PackageManifest",
        "packagemanifests",
        "packagemanifest",
        True,
        categories=("olm", "packages"),
        verbs=READ_VERBS,
        subresources=("icon",),
    ),
)

# Group order in /apis, as a real server sorts by priority before CRD groups.
_GROUP_ORDER = ("apps", "apiextensions.k8s.io", "packages.operators.coreos.com")


def crd_types(crd: dict) -> list[ResourceType]:
    """The resource types one established CustomResourceDefinition serves."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    types = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = tuple(sorted((version.get("subresources") or {}).keys()))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        types.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subresources,
                generation=True,
                return_deleted=True,
                crd=True,
                schema=schema,
            )
        )
    return types


def crd_is_established(crd: dict) -> bool:
    for cond in (crd.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Established":
            return cond.get("status") == "True"
    return False


class TypeIndex:
    """Lookup of served types by path segments or by apiVersion/kind."""

    def __init__(self, types: list[ResourceType]):
        self.types = types
        self._by_path = {(t.group, t.version, t.plural): t for t in types}
        self._by_kind = {(t.api_version, t.kind): t for t in types}
        self._by_group_kind: dict[tuple[str, str], ResourceType] = {}
        for t in types:
            self._by_group_kind.setdefault((t.group, t.kind), t)

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        found = self._by_kind.get((api_version, kind))
        if found is None:
            group = api_version.rpartition("/")[0]
            found = self._by_group_kind.get((group, kind))
        return found

    def group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for t in self.types:
            versions = groups.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        return groups

    # -- discovery documents ------------------------------------------------------------

    def api_group_list(self) -> dict:
        groups = [g for g in self.group_versions() if g]
        groups.sort(key=lambda g: (_GROUP_ORDER.index(g) if g in _GROUP_ORDER else 99, g))
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self.api_group(g) for g in groups],
        }

    def api_group(self, group: str) -> dict:
        versions = [
            {"groupVersion": f"{group}/{v}", "version": v} for v in self.group_versions()[group]
        ]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": dict(versions[0]),
        }

    def resource_list(self, group: str, version: str) -> dict | None:
        selected = [t for t in self.types if t.group == group and t.version == version]
        if not selected:
            return None
        resources = []
        for t in selected:
            entry = {
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": list(t.verbs),
            }
            if t.short_names:
                entry["shortNames"] = list(t.short_names)
            if t.categories:
                entry["categories"] = list(t.categories)
            resources.append(entry)
            for sub in t.subresources:
                resources.append(_subresource_entry(t, sub))
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }


def _subresource_entry(t: ResourceType, sub: str) -> dict:
    kind, group, version, verbs = t.kind, None, None, ["get", "patch", "update"]
    if sub == "log":
        verbs = ["get"]
    elif sub == "finalize":
        verbs = ["update"]
    elif sub == "icon":
        verbs = ["get"]
    elif sub == "scale":
        kind, group, version = "Scale", "autoscaling", "v1"
    entry = {
        "name": f"{t.plural}/{sub}",
        "singularName": "",
        "namespaced": t.namespaced,
        "kind": kind,
        "verbs": verbs,
    }
    if group:
        entry["group"] = group
        entry["version"] = version
    return entry

"""The kinds the sandbox serves, and the discovery documents that describe them.

Built-in kinds are listed here; custom resources are derived from the
CustomResourceDefinition objects in the store, so a CRD created at run time is
served (and discoverable) as soon as it is established, like a real API server.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .semver import kube_version_key

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
    _core("Endpoints", "endpoints", short_names=("ep",)),  # kube-controller-manager: kcm.py
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
    # Job, Ingress, NetworkPolicy, PodDisruptionBudget, HorizontalPodAutoscaler: kcm.py
    ResourceType(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        True,
        categories=("all",),
        subresources=("status",),
        generation=True,
    ),
    ResourceType(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        "ingress",
        True,
        short_names=("ing",),
        subresources=("status",),
        generation=True,
    ),
    ResourceType(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        True,
        short_names=("netpol",),
        generation=True,
    ),
    ResourceType(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        True,
        short_names=("pdb",),
        subresources=("status",),
        generation=True,
    ),
    ResourceType(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        True,
        short_names=("hpa",),
        categories=("all",),
        subresources=("status",),
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
_GROUP_ORDER = (
    "apps",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "policy",
    "apiextensions.k8s.io",
    "packages.operators.coreos.com",
)


class ServedSchema(dict):
    """A version's openAPIV3Schema plus how the API server applies it.

    `preserve_unknown_fields` is the CRD's `spec.preserveUnknownFields` (true for
    CRDs created through apiextensions.k8s.io/v1beta1 without setting it false):
    the API server then neither prunes nor drops nulls, it only validates and
    defaults (apiextensions-apiserver pkg/apiserver/customresource_handler.go,
    `unstructuredSchemaCoercer.apply`).
    """

    preserve_unknown_fields: bool = False

    def __init__(self, schema: dict, *, preserve_unknown_fields: bool = False):
        super().__init__(schema)
        self.preserve_unknown_fields = preserve_unknown_fields


V1BETA1 = "apiextensions.k8s.io/v1beta1"


def crd_as_served(crd: dict) -> dict:
    """A CRD manifest as the API server stores and serves it: apiextensions.k8s.io/v1.

    An `apiextensions.k8s.io/v1beta1` manifest is defaulted and converted the way
    k8s.io/apiextensions-apiserver does it:
    pkg/apis/apiextensions/v1beta1/defaults.go `SetDefaults_CustomResourceDefinitionSpec`
    (scope Namespaced, singular/listKind from kind, `versions` made from the
    deprecated `version` as served+storage, conversion None, preserveUnknownFields
    true), then pkg/apis/apiextensions/v1/conversion.go
    `Convert_apiextensions_CustomResourceDefinitionSpec_To_v1_CustomResourceDefinitionSpec`:
    top-level `validation`, `subresources` and `additionalPrinterColumns` are copied
    into every version (`validation` becomes `schema`, a column's `JSONPath` becomes
    `jsonPath`), `spec.version` is dropped, and a conversion webhook's
    `webhookClientConfig`/`conversionReviewVersions` move under `conversion.webhook`.
    A v1 manifest is returned unchanged (a copy).
    """
    out = copy.deepcopy(crd)
    if crd.get("apiVersion") != V1BETA1 and not _looks_v1beta1(crd.get("spec") or {}):
        return out
    out["apiVersion"] = "apiextensions.k8s.io/v1"
    spec = out.setdefault("spec", {})
    names = spec.setdefault("names", {})
    # v1beta1 defaults
    spec.setdefault("scope", "Namespaced")
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    legacy_version = spec.pop("version", None)
    versions = spec.get("versions") or []
    if not versions and legacy_version:
        versions = [{"name": legacy_version, "served": True, "storage": True}]
    spec["versions"] = versions
    conversion = spec.get("conversion") or {"strategy": "None"}
    if conversion.get("strategy") == "Webhook":
        webhook = {}
        if "webhookClientConfig" in conversion:
            webhook["clientConfig"] = conversion.pop("webhookClientConfig")
        review = conversion.pop("conversionReviewVersions", None) or ["v1beta1"]
        webhook["conversionReviewVersions"] = review
        conversion["webhook"] = webhook
    spec["conversion"] = conversion
    if spec.get("preserveUnknownFields") is None:
        spec["preserveUnknownFields"] = True
    # conversion to v1: per-version copies of the top-level fields
    validation = spec.pop("validation", None)
    subresources = spec.pop("subresources", None)
    columns = spec.pop("additionalPrinterColumns", None)
    selectable = spec.pop("selectableFields", None)
    for version in versions:
        version.setdefault("served", False)
        version.setdefault("storage", False)
        if validation is not None:
            version["schema"] = copy.deepcopy(validation)
        if subresources is not None:
            version["subresources"] = copy.deepcopy(subresources)
        if columns is not None:
            version["additionalPrinterColumns"] = copy.deepcopy(columns)
        if selectable is not None:
            version["selectableFields"] = copy.deepcopy(selectable)
        for column in version.get("additionalPrinterColumns") or []:
            if "JSONPath" in column:
                column["jsonPath"] = column.pop("JSONPath")
    return out


def _looks_v1beta1(spec: dict) -> bool:
    return any(k in spec for k in ("version", "validation")) or (
        "subresources" in spec or "additionalPrinterColumns" in spec
    )


def crd_types(crd: dict) -> list[ResourceType]:
    """The resource types one established CustomResourceDefinition serves (served versions only)."""
    crd = crd_as_served(crd) if _looks_v1beta1(crd.get("spec") or {}) else crd
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    preserve = bool(spec.get("preserveUnknownFields"))
    types = []
    versions = sorted(spec.get("versions") or [], key=lambda v: kube_version_key(v["name"]))
    for version in versions:
        if not version.get("served", True):
            continue
        subresources = tuple(sorted((version.get("subresources") or {}).keys()))
        raw_schema = (version.get("schema") or {}).get("openAPIV3Schema")
        schema = (
            ServedSchema(raw_schema, preserve_unknown_fields=preserve)
            if raw_schema is not None
            else None
        )
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
        """Group -> served versions, highest priority first (v2, v1, v1beta1, v1alpha1...),
        as the CRD discovery controller sorts them; the first is the preferred version
        (apiextensions-apiserver pkg/apiserver/customresource_discovery_controller.go)."""
        groups: dict[str, list[str]] = {}
        for t in self.types:
            versions = groups.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        for versions in groups.values():
            versions.sort(key=kube_version_key)
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

"""Simulated Operator Lifecycle Manager: catalog, package server, resolver and installer.

Field names, phases, condition types, reasons and messages are OLM's (checked against
operator-lifecycle-manager v0.43+; each behaviour cites the OLM file and function it
follows), so code written against the sandbox reads a real cluster the same way:
CatalogSource -> READY, Subscription -> InstallPlan -> ClusterServiceVersion
Pending -> InstallReady -> Installing -> Succeeded, upgrades replacing the old CSV.
"""

from __future__ import annotations

import base64
import copy
import json

from . import events
from .catalog import Catalog
from .controllers import DEPLOYMENT, NAMESPACE, POD, SERVICE, SERVICE_ACCOUNT, owner_ref
from .errors import ApiError
from .label_selectors import parse_field_selector, parse_label_selector
from .store import Store, now, random_suffix
from .workqueue import FULL, Scope

GROUP = "operators.coreos.com"
V1A1 = f"{GROUP}/v1alpha1"
V1 = f"{GROUP}/v1"
GLOBAL_NAMESPACE = "olm"
OLM = "operator-lifecycle-manager"
CATALOG_OPERATOR = "catalog-operator"

_PRESERVE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _column(name: str, json_path: str, description: str = "", type_: str = "string") -> dict:
    column = {"name": name, "type": type_, "jsonPath": json_path}
    if description:
        column["description"] = description
    return column


# The kubebuilder printcolumns of operator-framework/api crds/operators.coreos.com_*.yaml
# (`kubectl get csv` prints DISPLAY VERSION REPLACES PHASE; OperatorGroup has none: NAME AGE).
_PRINTER_COLUMNS = {
    "CatalogSource": [
        _column("Display", ".spec.displayName", "The pretty name of the catalog"),
        _column("Type", ".spec.sourceType", "The type of the catalog"),
        _column("Publisher", ".spec.publisher", "The publisher of the catalog"),
        _column("Age", ".metadata.creationTimestamp", type_="date"),
    ],
    "Subscription": [
        _column("Package", ".spec.name", "The package subscribed to"),
        _column("Source", ".spec.source", "The catalog source for the specified package"),
        _column("Channel", ".spec.channel", "The channel of updates to subscribe to"),
    ],
    "InstallPlan": [
        _column(
            "CSV",
            ".spec.clusterServiceVersionNames[0]",
            "The first CSV in the list of clusterServiceVersionNames",
        ),
        _column("Approval", ".spec.approval", "The approval mode"),
        _column("Approved", ".spec.approved", type_="boolean"),
    ],
    "ClusterServiceVersion": [
        _column("Display", ".spec.displayName", "The name of the CSV"),
        _column("Version", ".spec.version", "The version of the CSV"),
        _column("Replaces", ".spec.replaces", "The name of a CSV that this one replaces"),
        _column("Phase", ".status.phase"),
    ],
}


def _olm_crd(
    kind, plural, singular, versions, short_names, schema_spec, *, required=(), scope="Namespaced"
):
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {**_PRESERVE, **schema_spec},
            "status": _PRESERVE,
        },
    }
    if required:
        schema["required"] = list(required)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"operators.coreos.com/olm": "true"},
            "annotations": {"controller-gen.kubebuilder.io/version": "v0.14.0"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": list(short_names),
                "categories": ["olm"],
            },
            "scope": scope,
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": i == 0,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": schema},
                    **(
                        {"additionalPrinterColumns": _PRINTER_COLUMNS[kind]}
                        if kind in _PRINTER_COLUMNS
                        else {}
                    ),
                }
                for i, v in enumerate(versions)
            ],
        },
    }


def olm_crds() -> list[dict]:
    """The CRDs an OLM install adds (schemas trimmed to what clients trip over)."""
    return [
        _olm_crd(
            "CatalogSource",
            "catalogsources",
            "catalogsource",
            ["v1alpha1"],
            ["catsrc"],
            {
                "required": ["sourceType"],
                "properties": {
                    "sourceType": {"type": "string"},
                    "image": {"type": "string"},
                    "displayName": {"type": "string"},
                    "publisher": {"type": "string"},
                    "address": {"type": "string"},
                },
            },
            required=["metadata", "spec"],
        ),
        _olm_crd(
            "Subscription",
            "subscriptions",
            "subscription",
            ["v1alpha1"],
            ["sub", "subs"],
            {
                "required": ["name", "source", "sourceNamespace"],
                "properties": {
                    "channel": {"type": "string"},
                    "name": {"type": "string"},
                    "source": {"type": "string"},
                    "sourceNamespace": {"type": "string"},
                    "startingCSV": {"type": "string"},
                    "installPlanApproval": {"type": "string", "enum": ["Automatic", "Manual"]},
                },
            },
            required=["metadata", "spec"],
        ),
        _olm_crd(
            "InstallPlan",
            "installplans",
            "installplan",
            ["v1alpha1"],
            ["ip"],
            {
                "required": ["approval", "approved", "clusterServiceVersionNames"],
                "properties": {
                    "approval": {"type": "string", "enum": ["Automatic", "Manual"]},
                    "approved": {"type": "boolean"},
                    "clusterServiceVersionNames": {"type": "array", "items": {"type": "string"}},
                    "generation": {"type": "integer"},
                },
            },
            required=["metadata", "spec"],
        ),
        _olm_crd(
            "ClusterServiceVersion",
            "clusterserviceversions",
            "clusterserviceversion",
            ["v1alpha1"],
            ["csv", "csvs"],
            {
                "required": ["displayName", "install"],
                "properties": {"displayName": {"type": "string"}, "version": {"type": "string"}},
            },
            required=["metadata", "spec"],
        ),
        _olm_crd(
            "OperatorGroup",
            "operatorgroups",
            "operatorgroup",
            ["v1", "v1alpha2"],
            ["og"],
            {
                "properties": {
                    "targetNamespaces": {"type": "array", "items": {"type": "string"}},
                    "selector": _PRESERVE,
                    "upgradeStrategy": {
                        **_PRESERVE,
                        "default": {"name": "Default"},
                    },
                },
            },
        ),
    ]


def seed_operator_groups() -> list[dict]:
    """OLM's own install: `olm-operators` in olm, `global-operators` (all namespaces)."""
    return [
        {
            "apiVersion": V1,
            "kind": "OperatorGroup",
            "metadata": {"name": "olm-operators", "namespace": "olm"},
            "spec": {"targetNamespaces": ["olm"]},
        },
        {
            "apiVersion": V1,
            "kind": "OperatorGroup",
            "metadata": {"name": "global-operators", "namespace": "operators"},
            "spec": {},
        },
    ]


# How long the simulated bundle unpack Job takes, and when a Job that cannot pull its
# bundle image hits its deadline (OLM: --bundle-unpack-timeout, 10m by default), in ticks.
UNPACK_TICKS = 2
UNPACK_DEADLINE_TICKS = 6
# catalog/operator.go syncResolvingNamespace (OLM v0.43+, operator-lifecycle-manager#3832).
UNPACK_GUIDANCE = (
    "Auto-retry in ~5 min after job cleanup (TTL). "
    "Common causes: Missing ICSP (ppc64le/s390x/arm64), auth failure, invalid image. "
    "Manual retry: in the CatalogSource namespace, run "
    "`kubectl get jobs -l operatorframework.io/bundle-unpack-ref` and delete the specific "
    "failing job."
)
PULL_HINT = (
    "Bundle image pull failed. "
    "Common causes: Missing ICSP (ppc64le/s390x/arm64), auth failure, invalid image. "
    "Job will retry until timeout (~10 min), then auto-cleanup and retry in ~5 min. "
    "Manual retry: in the CatalogSource namespace, run "
    "`kubectl get jobs -l operatorframework.io/bundle-unpack-ref` and delete the specific "
    "failing job."
)
COPIED_LABEL = "olm.copiedFrom"
# operator-framework/api clusterserviceversion.go uncopiableReasons
_UNCOPIABLE = {
    "Copied",
    "InvalidInstallModes",
    "NoTargetNamespaces",
    "UnsupportedOperatorGroup",
    "NoOperatorGroup",
    "TooManyOperatorGroups",
    "InterOperatorGroupOwnerConflict",
    "CannotModifyStaticOperatorGroupProvidedAPIs",
}


class _ResolutionError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def _get_condition(status: dict, type_: str) -> dict | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def _put_condition(status: dict, cond: dict) -> None:
    """SubscriptionStatus.SetCondition: replace the condition of that type, else append."""
    conditions = status.setdefault("conditions", [])
    for i, old in enumerate(conditions):
        if old.get("type") == cond["type"]:
            conditions[i] = cond
            return
    conditions.append(cond)


def _remove_conditions(status: dict, *types: str) -> None:
    if status.get("conditions"):
        status["conditions"] = [c for c in status["conditions"] if c.get("type") not in types]


def _conditions_equal(a: dict, b: dict) -> bool:
    """SubscriptionCondition.Equals: type, status, reason and message only."""
    return all(a.get(k, "") == b.get(k, "") for k in ("type", "status", "reason", "message"))


def _comparable(conditions: list[dict]) -> list[dict]:
    """Conditions as OLM's status hash sees them (lastTransitionTime is `hash:"ignore"`)."""
    return sorted(
        ({k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conditions),
        key=lambda c: json.dumps(c, sort_keys=True),
    )


def _extract_message(ip_status: dict) -> str:
    """catalog/subscription/state.go extractMessage."""
    for cond in ip_status.get("conditions") or []:
        if (
            cond.get("type") == "Installed"
            and cond.get("status") != "Unknown"
            and cond.get("message")
        ):
            return cond["message"]
    parts = []
    for lookup in ip_status.get("bundleLookups") or []:
        for cond in lookup.get("conditions") or []:
            if cond.get("type") == "BundleLookupPending" and cond.get("message"):
                parts.append(cond["message"] + ".")
    return " ".join(parts)


def _aggregate(messages: list[str]) -> str:
    """k8s.io/apimachinery utilerrors.NewAggregate(...).Error()."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def _channel_names(pkg) -> list[str]:
    """The resolver's channel order for a Subscription without spec.channel: the default
    channel first, then by name (resolver.go getSubscriptionVariables)."""
    names = sorted(pkg.channels)
    default = getattr(pkg, "default_channel", None)
    return ([default] if default in names else []) + [n for n in names if n != default]


def _chain(pkg, channel: str) -> list[str]:
    """A channel's installable entries newest first (resolver.go sortChannel)."""
    ch = pkg.channel(channel) if hasattr(pkg, "channel") else None
    if ch is not None and hasattr(ch, "chain"):
        return list(ch.chain())
    return list(reversed(pkg.channels.get(channel) or []))


def _is_copied(csv: dict) -> bool:
    """operator-framework/api clusterserviceversion.go IsCopied."""
    labels = (csv.get("metadata") or {}).get("labels") or {}
    return COPIED_LABEL in labels or (csv.get("status") or {}).get("reason") == "Copied"


def _supports(install_modes: list[dict], operator_ns: str, namespaces: list[str]) -> str | None:
    """operator-framework/api clusterserviceversion.go InstallModeSet.Supports: None, or
    the error OLM writes as the CSV's UnsupportedOperatorGroup message."""
    supported = {m.get("type") for m in install_modes or [] if m.get("supported")}
    if not namespaces:
        return "operatorgroup has invalid selected namespaces, cannot configure to watch zero namespaces"
    if len(namespaces) == 1:
        target = namespaces[0]
        if target == operator_ns:
            if "OwnNamespace" not in supported:
                return "OwnNamespace InstallModeType not supported, cannot configure to watch own namespace"
        elif target == "":
            if "AllNamespaces" not in supported:
                return "AllNamespaces InstallModeType not supported, cannot configure to watch all namespaces"
        elif "SingleNamespace" not in supported:
            return "SingleNamespace InstallModeType not supported, cannot configure to watch one namespace"
        return None
    if "MultiNamespace" not in supported:
        return (
            "MultiNamespace InstallModeType not supported, cannot configure to watch "
            f"{len(namespaces)} namespaces"
        )
    for target in namespaces:
        if target == operator_ns and "OwnNamespace" not in supported:
            return "OwnNamespace InstallModeType not supported, cannot configure to watch own namespace"
        if target == "":
            return "operatorgroup has invalid selected namespaces, NamespaceAll found when |selected namespaces| > 1"
    return None


def catalog_state(catsrc: dict | None) -> str:
    return (((catsrc or {}).get("status") or {}).get("connectionState") or {}).get(
        "lastObservedState", ""
    )


def _ref(obj: dict) -> dict:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "namespace": obj["metadata"].get("namespace", ""),
        "resourceVersion": obj["metadata"].get("resourceVersion", ""),
        "uid": obj["metadata"]["uid"],
    }


class OLMControllers:
    """olm-operator and catalog-operator loops, one step per object per tick."""

    # OLM's resolver fails a namespace's resolution when any catalog in scope (the
    # namespace's and the global ones) cannot be listed (resolver/cache/cache.go
    # NamespacedOperatorCache.Error). A long-lived sandbox whose tests leave a broken
    # catalog in `olm` can switch this off to resolve from the readable catalogs only.
    unreadable_catalogs_block_resolution = True

    def __init__(self, store: Store, catalog: Catalog):
        self.store = store
        self.catalog = catalog
        self._tick_no = 0
        # (catalog namespace, bundle image) -> tick its unpack Job started
        self._unpacks: dict[tuple[str, str], int] = {}
        # A bundle is still unpacking: the next passes must run even if nothing else changed
        # (unpacking takes UNPACK_TICKS passes).
        self.busy = False
        # Catalog health within one pass of the subscription syncer (None outside one).
        self._health_this_pass: dict[tuple[str, str, str], bool] | None = None
        # What this pass reconciles (workqueue.py), and the namespaces the next pass must
        # see again though nothing of theirs changes (a bundle still unpacking).
        self._scope: Scope = FULL
        self.requeue: set[str] = set()
        self._resolving: str | None = None
        self.resolutions = 0  # namespaces resolved (syncResolvingNamespace runs), for tests
        self._crds: dict[str, tuple[int, dict | None]] = {}  # name -> (catalog revision, CRD)

    def t(self, kind: str, api_version: str = V1A1):
        return self.store.type_for(api_version, kind)

    def tick(self, scope: Scope = FULL) -> None:
        if self.t("Subscription") is None:
            return  # OLM's CRDs were deleted: OLM is "not installed"
        self._scope = scope
        self.catalog_sources()
        self.operator_groups()
        self.subscriptions()
        self.install_plans()
        self.csvs()

    def event(self, obj, reason, message, component=OLM, type_="Normal"):
        events.record(
            self.store, obj, reason=reason, message=message, component=component, type_=type_
        )

    def _list(self, kind, namespace=None, api_version=V1A1):
        rt = self.t(kind, api_version)
        return self.store.list(rt, namespace)[0] if rt else []

    def _queued(self, kind, api_version=V1A1):
        """Copies of the `kind` objects in this pass's namespaces (all on a full pass)."""
        rt = self.t(kind, api_version)
        if rt is None:
            return []
        scope = self._scope
        if scope.full:
            return self.store.list(rt)[0]
        return [
            self.store._present(rt, obj)
            for obj in sorted(
                self.store.scan(rt),
                key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]),
            )
            if obj["metadata"]["namespace"] in scope
        ]

    def _save_status(self, kind, obj, api_version=V1A1):
        return self.store.save(
            self.t(kind, api_version), obj, manager=CATALOG_OPERATOR, status=True
        )

    # -- CatalogSource ---------------------------------------------------------------------

    def catalog_sources(self) -> None:
        for cs in self._queued("CatalogSource"):
            if cs["metadata"].get("deletionTimestamp"):
                continue
            ns, name = cs["metadata"]["namespace"], cs["metadata"]["name"]
            spec = cs.get("spec") or {}
            status = copy.deepcopy(cs.get("status") or {})
            state = catalog_state(cs)
            image = spec.get("image")
            pod = self._registry_pod(cs)
            if spec.get("sourceType") not in ("grpc", "internal", "configmap"):
                status.update(
                    {
                        "message": f"unknown sourcetype: {spec.get('sourceType')}",
                        "reason": "SpecInvalidError",
                    }
                )
            elif spec.get("sourceType") != "grpc" or not (image or spec.get("address")):
                status.update(
                    {
                        "message": "couldn't find a catalog to serve: only grpc CatalogSources "
                        "with spec.image are simulated by the sandbox",
                        "reason": "SpecInvalidError",
                    }
                )
            elif not state or (pod is not None and _pod_image(pod) != image) or pod is None:
                pod = self._ensure_registry(cs, pod)
                status.pop("message", None)
                status.pop("reason", None)
                status["connectionState"] = {
                    "address": f"{name}.{ns}.svc:50051",
                    "lastConnect": now(),
                    "lastObservedState": "CONNECTING",
                }
                status["registryService"] = {
                    "createdAt": now(),
                    "port": "50051",
                    "protocol": "grpc",
                    "serviceName": name,
                    "serviceNamespace": ns,
                }
                self.event(
                    cs,
                    "Connecting",
                    f"connecting to registry at {name}.{ns}.svc:50051",
                    CATALOG_OPERATOR,
                )
            elif state in ("CONNECTING", "TRANSIENT_FAILURE"):
                ready = self.catalog.knows(image)
                new_state = "READY" if ready else "TRANSIENT_FAILURE"
                if new_state != state:
                    status["connectionState"] = {
                        **status.get("connectionState", {}),
                        "lastConnect": now(),
                        "lastObservedState": new_state,
                    }
                    if ready:
                        status["latestImageRegistryPoll"] = now()
                        self.event(cs, "Ready", f"registry {image} is serving", CATALOG_OPERATOR)
                    else:
                        status["message"] = (
                            f'couldn\'t connect to registry: image "{image}" could not be pulled: '
                            f"{_short_pull_error(image)}"
                        )
                        status["reason"] = "RegistryServerError"
                        self.event(
                            cs,
                            "RegistryServerError",
                            status["message"],
                            CATALOG_OPERATOR,
                            "Warning",
                        )
            if status != (cs.get("status") or {}):
                cs["status"] = status
                self._save_status("CatalogSource", cs)

    def _registry_pod(self, cs: dict) -> dict | None:
        pods, _ = self.store.list(
            POD,
            cs["metadata"]["namespace"],
            label_selector=f"olm.catalogSource={cs['metadata']['name']}",
        )
        return pods[0] if pods else None

    def _ensure_registry(self, cs: dict, old_pod: dict | None) -> dict:
        ns, name = cs["metadata"]["namespace"], cs["metadata"]["name"]
        if old_pod is not None:
            self.store.remove(POD, old_pod)
        labels = {"olm.catalogSource": name, "olm.managed": "true"}
        if self.store.peek(SERVICE, ns, name) is None:
            self.store.create(
                SERVICE,
                ns,
                {
                    "metadata": {
                        "name": name,
                        "labels": labels,
                        "ownerReferences": [owner_ref(cs, controller=False)],
                    },
                    "spec": {
                        "ports": [
                            {"name": "grpc", "port": 50051, "protocol": "TCP", "targetPort": 50051}
                        ],
                        "selector": {"olm.catalogSource": name},
                    },
                },
                manager=CATALOG_OPERATOR,
            )
        return self.store.create(
            POD,
            ns,
            {
                "metadata": {
                    "generateName": f"{name}-",
                    "labels": labels,
                    "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"},
                    "ownerReferences": [owner_ref(cs, controller=False)],
                },
                "spec": {
                    "containers": [
                        {
                            "name": "registry-server",
                            "image": cs["spec"]["image"],
                            "ports": [{"name": "grpc", "containerPort": 50051, "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "10m", "memory": "50Mi"}},
                        }
                    ],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "serviceAccountName": name,
                },
            },
            manager=CATALOG_OPERATOR,
        )

    # -- OperatorGroup ---------------------------------------------------------------------

    def operator_groups(self) -> None:
        for og in self._queued("OperatorGroup", api_version=V1):
            spec = og.get("spec") or {}
            if spec.get("targetNamespaces"):
                namespaces = sorted(set(spec["targetNamespaces"]))
            elif spec.get("selector"):
                selector = spec["selector"]
                expr = ",".join(f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items())
                names, _ = self.store.list(NAMESPACE, label_selector=expr or None)
                namespaces = sorted(n["metadata"]["name"] for n in names)
            else:
                namespaces = [""]
            status = og.get("status") or {}
            if status.get("namespaces") != namespaces:
                og["status"] = {**status, "namespaces": namespaces, "lastUpdated": now()}
                self.store.save(self.t("OperatorGroup", V1), og, manager=OLM, status=True)

    # -- Subscription ----------------------------------------------------------------------
    #
    # Two controllers write a Subscription's status, as in OLM:
    #  * the subscription syncer (catalog/subscription/syncer.go, reconciler.go, state.go),
    #    per Subscription: catalogHealth + CatalogSourcesUnhealthy, the deprecation
    #    conditions and InstallPlanPending / InstallPlanFailed / InstallPlanMissing;
    #  * the namespace resolver (catalog/operator.go syncResolvingNamespace), per namespace:
    #    installedCSV/state, ResolutionFailed, BundleUnpacking / BundleUnpackFailed, and one
    #    InstallPlan per resolution covering every new CSV of the namespace.

    def subscriptions(self) -> None:
        self._tick_no += 1
        self.busy = False
        # A catalog's health is the same for every Subscription that sees it within one pass
        # (OLM reads it from its informer cache); without this a pass costs
        # subscriptions x catalogs x pod lists.
        self._health_this_pass = {}
        try:
            self._sync_subscriptions()
        finally:
            self._health_this_pass = None

    def _sync_subscriptions(self) -> None:
        by_namespace: dict[str, list[dict]] = {}
        for sub in self._queued("Subscription"):
            if sub["metadata"].get("deletionTimestamp"):
                continue
            by_namespace.setdefault(sub["metadata"]["namespace"], []).append(sub)
        for ns in sorted(by_namespace):
            for sub in by_namespace[ns]:
                try:
                    self._sync_subscription(sub)
                except ApiError:
                    continue
            self._resolving = ns
            try:
                self._sync_resolving_namespace(ns)
            except ApiError:
                continue
            finally:
                self._resolving = None

    def _write_sub(self, sub: dict, status: dict) -> dict:
        """UpdateStatus when anything but lastUpdated changed; returns the stored object."""
        old = sub.get("status") or {}
        if {k: v for k, v in status.items() if k != "lastUpdated"} == {
            k: v for k, v in old.items() if k != "lastUpdated"
        }:
            return sub
        status["lastUpdated"] = now()
        sub["status"] = status
        return self.store.save(self.t("Subscription"), sub, manager=CATALOG_OPERATOR, status=True)

    def _sync_subscription(self, sub: dict) -> None:
        status = copy.deepcopy(sub.get("status") or {})
        self._update_health(sub, status)
        self._update_deprecations(sub, status)
        self._check_install_plan(sub, status)
        self._write_sub(sub, status)

    # catalog health ---------------------------------------------------------------------------

    def _scoped_sources(self, ns: str) -> list[dict]:
        """CatalogSources in `ns` and in the global catalog namespace, sorted by ns+name
        (catalog/subscription/reconciler.go catalogHealth)."""
        sources = self._views("CatalogSource", ns)
        if ns != GLOBAL_NAMESPACE:
            sources += self._views("CatalogSource", GLOBAL_NAMESPACE)
        return sorted(sources, key=lambda c: c["metadata"]["namespace"] + c["metadata"]["name"])

    def _views(self, kind, namespace, api_version=V1A1) -> list[dict]:
        """The stored objects with apiVersion/kind, shallow: READ-ONLY (no deep copy)."""
        rt = self.t(kind, api_version)
        if rt is None:
            return []
        return [
            {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
            for obj in sorted(self.store.scan(rt, namespace), key=lambda o: o["metadata"]["name"])
        ]

    def _registry_healthy(self, cs: dict) -> bool:
        """reconciler.go healthy + registry/reconciler/grpc.go CheckRegistryServer: not
        SpecInvalidError, and the registry Service and a live pod of spec.image exist (OLM
        has no gRPC health check: a pod stuck pulling its image still counts as healthy)."""
        if (cs.get("status") or {}).get("reason") == "SpecInvalidError":
            return False
        if (cs.get("spec") or {}).get("sourceType") != "grpc" or not cs["spec"].get("image"):
            return False
        pod = self._registry_pod(cs)
        service = self.store.view(SERVICE, cs["metadata"]["namespace"], cs["metadata"]["name"])
        return (
            pod is not None
            and service is not None
            and _pod_image(pod) == cs["spec"]["image"]
            and ((pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"))
        )

    def _registry_healthy_this_pass(self, cs: dict) -> bool:
        meta = cs["metadata"]
        key = (meta["namespace"], meta["name"], str(meta.get("resourceVersion", "")))
        cache = self._health_this_pass
        if cache is None:
            return self._registry_healthy(cs)
        if key not in cache:
            cache[key] = self._registry_healthy(cs)
        return cache[key]

    def _update_health(self, sub: dict, status: dict) -> None:
        """catalog/subscription/state.go catalogHealthState.UpdateHealth, quirks included: the
        message names the targeted catalog only; another unhealthy catalog keeps the old
        message; the reason says CatalogSourcesAdded/Deleted/Updated when the list changed."""
        spec = sub.get("spec") or {}
        stamp = now()
        health: list[dict] = [
            {
                "catalogSourceRef": _ref(cs),
                "healthy": self._registry_healthy_this_pass(cs),
                "lastUpdated": stamp,
            }
            for cs in self._scoped_sources(sub["metadata"]["namespace"])
        ]
        old_health = status.get("catalogHealth") or []
        old_cond = _get_condition(status, "CatalogSourcesUnhealthy")
        cond = dict(old_cond or {"type": "CatalogSourcesUnhealthy", "status": "Unknown"})
        cond.pop("lastTransitionTime", None)
        healthy = all(h["healthy"] for h in health)
        missing_targeted = True
        for h in health:
            ref = h["catalogSourceRef"]
            if (ref["namespace"], ref["name"]) == (spec.get("sourceNamespace"), spec.get("source")):
                missing_targeted = False
                if not h["healthy"]:
                    cond["message"] = (
                        f"targeted catalogsource {ref['namespace']}/{ref['name']} unhealthy"
                    )
        if missing_targeted:
            cond["message"] = (
                f"targeted catalogsource {spec.get('sourceNamespace')}/{spec.get('source')} missing"
            )
        if missing_targeted or not healthy:
            cond.update(status="True", reason="UnhealthyCatalogSourceFound")
        else:
            cond.update(
                status="False",
                reason="AllCatalogSourcesHealthy",
                message="all available catalogsources are healthy",
            )
        new_uids = {h["catalogSourceRef"]["uid"]: h for h in health}
        update = True
        if len(new_uids) > len(old_health):
            cond["reason"] = "CatalogSourcesAdded"
        elif len(new_uids) < len(old_health):
            cond["reason"] = "CatalogSourcesDeleted"
        elif not new_uids:
            cond["reason"] = "NoCatalogSourcesFound"
            cond["message"] = "dependency resolution requires at least one catalogsource"
            # OLM rewrites this (new lastTransitionTime) on every sync; the sandbox, which
            # syncs every tick, only when it changes.
            update = False
        else:
            for old in old_health:
                new = new_uids.get((old.get("catalogSourceRef") or {}).get("uid"))
                if new is None or new["healthy"] != old.get("healthy"):
                    cond["reason"] = "CatalogSourcesUpdated"
                    break
            update = False
        if not update and old_cond is not None and _conditions_equal(cond, old_cond):
            return
        cond["lastTransitionTime"] = stamp
        _put_condition(status, cond)
        status["catalogHealth"] = health

    # deprecations ----------------------------------------------------------------------------

    def _update_deprecations(self, sub: dict, status: dict) -> None:
        """catalog/subscription/reconciler.go updateDeprecatedStatus: PackageDeprecated,
        ChannelDeprecated, BundleDeprecated for the installed CSV's catalog entry (status True,
        a message, no reason), and the `Deprecated` roll-up joining their messages with "; "."""
        spec = sub.get("spec") or {}
        installed = status.get("installedCSV")
        cs = self.store.view(  # read-only
            self.t("CatalogSource"), spec.get("sourceNamespace", ""), spec.get("source", "")
        )
        if not installed or cs is None or catalog_state(cs) != "READY":
            return
        pkg = self.catalog.package(cs["spec"].get("image", ""), spec.get("name", ""))
        if pkg is None:
            return
        channels = [spec["channel"]] if spec.get("channel") else _channel_names(pkg)
        channel = next((c for c in channels if installed in (pkg.channels.get(c) or [])), None)
        if channel is None:
            return  # no catalog entry matches the installed CSV
        ch = pkg.channel(channel) if hasattr(pkg, "channel") else None
        bundle = pkg.bundle(installed) if hasattr(pkg, "bundle") else None
        found = {
            "PackageDeprecated": getattr(pkg, "deprecation", None),
            "ChannelDeprecated": getattr(ch, "deprecation", None),
            "BundleDeprecated": getattr(bundle, "deprecation", None),
        }
        changed = False
        rollup = []
        stamp = now()
        for type_, message in found.items():
            old = _get_condition(status, type_)
            if message:
                if type_ == "ChannelDeprecated" and not spec.get("channel"):
                    # No channel in the spec: no channel deprecation.
                    if old is not None:
                        _remove_conditions(status, type_)
                        changed = changed or old.get("status") == "True"
                    continue
                rollup.append(message)
                if (old or {}).get("message") != message:
                    _put_condition(
                        status,
                        {
                            "type": type_,
                            "status": "True",
                            "message": message,
                            "lastTransitionTime": stamp,
                        },
                    )
                    changed = True
            elif old is not None and old.get("status") == "True":
                _remove_conditions(status, type_)
                changed = True
        if not changed:
            return
        if rollup:
            _put_condition(
                status,
                {
                    "type": "Deprecated",
                    "status": "True",
                    "message": "; ".join(rollup),
                    "lastTransitionTime": stamp,
                },
            )
        else:
            _remove_conditions(status, "Deprecated")

    # InstallPlan conditions ---------------------------------------------------------------

    def _check_install_plan(self, sub: dict, status: dict) -> None:
        """catalog/subscription/state.go InstallPlanNotFound / CheckInstallPlanStatus."""
        ref = status.get("installPlanRef")
        if not ref:
            return
        plan = self.store.peek(
            self.t("InstallPlan"),
            ref.get("namespace") or sub["metadata"]["namespace"],
            ref.get("name", ""),
        )
        stamp = now()
        old_conditions = copy.deepcopy(status.get("conditions") or [])
        if plan is None:
            _remove_conditions(status, "InstallPlanPending", "InstallPlanFailed")
            if status.get("state") == "UpgradePending":
                # Resolve again: forget the plan and what it was installing.
                for key in ("installPlanRef", "installplan", "currentCSV"):
                    status.pop(key, None)
                status.pop("state", None)
            else:
                cond: dict = dict(
                    _get_condition(status, "InstallPlanMissing") or {"type": "InstallPlanMissing"}
                )
                cond.update(
                    status="True", reason="ReferencedInstallPlanNotFound", lastTransitionTime=stamp
                )
                _put_condition(status, cond)
        else:
            _remove_conditions(
                status, "InstallPlanMissing", "InstallPlanPending", "InstallPlanFailed"
            )
            ip_status = plan.get("status") or {}
            phase = ip_status.get("phase", "")
            cond = {"lastTransitionTime": stamp}
            if phase in ("", "Planning", "Installing", "RequiresApproval"):
                cond.update(
                    type="InstallPlanPending",
                    status="True",
                    reason=phase or "InstallPlanNotYetReconciled",
                )
            elif phase == "Failed":
                installed: dict = next(
                    (c for c in ip_status.get("conditions") or [] if c.get("type") == "Installed"),
                    {},
                )
                cond.update(
                    type="InstallPlanFailed",
                    status="True",
                    reason=installed.get("reason")
                    if installed.get("status") == "False" and installed.get("reason")
                    else "InstallPlanFailed",
                )
            if "type" in cond:
                message = _extract_message(ip_status)
                if message:
                    cond["message"] = message
                _put_condition(status, cond)
        if _comparable(status.get("conditions") or []) == _comparable(old_conditions):
            status["conditions"] = old_conditions  # the status hash ignores lastTransitionTime
        if not status.get("conditions"):
            status.pop("conditions", None)

    # namespace resolution ---------------------------------------------------------------------

    def _sync_resolving_namespace(self, ns: str) -> None:
        """catalog/operator.go syncResolvingNamespace."""
        self.resolutions += 1
        csv_rt = self.t("ClusterServiceVersion")
        subs = [
            s for s in self._list("Subscription", ns) if not s["metadata"].get("deletionTimestamp")
        ]
        if not subs:
            return
        # ensureSubscriptionCSVState: installedCSV follows currentCSV as soon as that CSV
        # exists (long before it succeeds); state AtLatestKnown, else UpgradePending.
        updated = False
        for i, sub in enumerate(subs):
            status = copy.deepcopy(sub.get("status") or {})
            current = status.get("currentCSV")
            if not current:
                continue
            exists = self.store.peek(csv_rt, ns, current) is not None
            state = "AtLatestKnown" if exists else "UpgradePending"
            if status.get("state") == state:
                continue
            status["state"] = state
            if exists:
                status["installedCSV"] = current
            subs[i] = self._write_sub(sub, status)
            updated = True
        if updated:
            return  # "subscriptions were updated, wait for a new resolution"
        # nothingToUpdate: every Subscription already has a plan it is waiting on.
        if all(
            (s.get("status") or {}).get("installPlanRef")
            and (s.get("status") or {}).get("state") == "UpgradePending"
            for s in subs
        ):
            return
        statuses = {s["metadata"]["name"]: copy.deepcopy(s.get("status") or {}) for s in subs}
        try:
            lookups, updated_names = self._resolve_steps(ns, subs, statuses)
        except _ResolutionError as exc:
            fresh = self._set_subs_cond(
                subs,
                statuses,
                {
                    "type": "ResolutionFailed",
                    "status": "True",
                    "reason": exc.reason,
                    "message": exc.message,
                },
            )
            if fresh:
                namespace = self.store.peek(NAMESPACE, None, ns)
                if namespace is not None:
                    self.event(
                        namespace, "ResolutionFailed", exc.message, CATALOG_OPERATOR, "Warning"
                    )
            self._write_subs(subs, statuses)
            return
        if lookups:
            outcome, message = self._unpack_bundles(lookups)
            if outcome == "failed":
                fresh = self._set_subs_cond(
                    subs,
                    statuses,
                    {
                        "type": "BundleUnpackFailed",
                        "status": "True",
                        "reason": "BundleUnpackFailed",
                        "message": message,
                    },
                )
                for status in statuses.values():
                    _remove_conditions(status, "BundleUnpacking")
                if fresh:
                    for sub in subs:
                        self.event(sub, "BundleUnpackFailed", message, CATALOG_OPERATOR, "Warning")
                self._write_subs(subs, statuses)
                return
            if outcome == "pending":
                cond = {
                    "type": "BundleUnpacking",
                    "status": "True",
                    "reason": "UnpackingInProgress",
                }
                if message:
                    cond["message"] = message
                self._set_subs_cond(subs, statuses, cond)
                self._write_subs(subs, statuses)
                return
        if updated_names:
            generation = max(
                [int(st.get("installPlanGeneration") or 0) for st in statuses.values()]
                + [
                    int((ip.get("spec") or {}).get("generation") or 0)
                    for ip in self._list("InstallPlan", ns)
                ]
            )
            # "any subscription in the namespace with manual approval will force generated
            # installplans to be manual"
            approval = (
                "Manual"
                if any((s.get("spec") or {}).get("installPlanApproval") == "Manual" for s in subs)
                else "Automatic"
            )
            ip = self._ensure_install_plan(ns, generation + 1, subs, approval, lookups)
            for name, csv_name in updated_names:
                st = statuses[name]
                st["currentCSV"] = csv_name
                st["installPlanRef"] = _ref(ip)
                st["installplan"] = {
                    "apiVersion": V1A1,
                    "kind": "InstallPlan",
                    "name": ip["metadata"]["name"],
                    "uuid": ip["metadata"]["uid"],
                }
                st["state"] = "UpgradePending"
                st["installPlanGeneration"] = generation + 1
        for status in statuses.values():
            _remove_conditions(status, "BundleUnpacking", "BundleUnpackFailed", "ResolutionFailed")
        self._write_subs(subs, statuses)

    def _write_subs(self, subs: list[dict], statuses: dict[str, dict]) -> None:
        for sub in subs:
            status = statuses[sub["metadata"]["name"]]
            if not status.get("conditions"):
                status.pop("conditions", None)
            latest = self.store.peek(
                self.t("Subscription"), sub["metadata"]["namespace"], sub["metadata"]["name"]
            )
            if latest is not None:
                self._write_sub(latest, status)

    @staticmethod
    def _set_subs_cond(subs: list[dict], statuses: dict[str, dict], cond: dict) -> bool:
        """catalog/operator.go setSubsCond: set where different. These conditions carry no
        lastTransitionTime (OLM never sets one here). True if any Subscription changed."""
        changed = False
        for sub in subs:
            status = statuses[sub["metadata"]["name"]]
            old = _get_condition(status, cond["type"])
            if old is not None and _conditions_equal(old, cond):
                continue
            _put_condition(status, dict(cond))
            changed = True
        return changed

    def _source_error(self, cs: dict) -> str | None:
        """Why the resolver cannot read a catalog (registry/resolver/source_registry.go)."""
        state = catalog_state(cs)
        if state == "READY":
            return None
        ns, name = cs["metadata"]["namespace"], cs["metadata"]["name"]
        if not state:
            return f"no registry client established for catalogsource {ns}/{name}"
        return (
            "failed to list bundles: rpc error: code = Unavailable desc = connection error: "
            f'desc = "transport: Error while dialing: dial tcp {name}.{ns}.svc:50051: '
            'connect: connection refused"'
        )

    def _resolve_steps(
        self, ns: str, subs: list[dict], statuses: dict[str, dict]
    ) -> tuple[list[dict], list[tuple[str, str]]]:
        """registry/resolver/step_resolver.go ResolveSteps + resolver.go Resolve: the bundle
        lookups to unpack and the Subscriptions whose currentCSV changes."""
        groups = self._list("OperatorGroup", ns, api_version=V1)
        if len(groups) != 1:
            raise _ResolutionError(
                "ErrorPreventedResolution",
                f"expected 1 OperatorGroup in the namespace, found {len(groups)}",
            )
        namespaces = [ns]
        excluded = (groups[0]["metadata"].get("annotations") or {}).get(
            "olm.operatorframework.io/exclude-global-namespace-resolution"
        ) == "true"
        if not excluded and ns != GLOBAL_NAMESPACE:
            namespaces.append(GLOBAL_NAMESPACE)
        sources = {
            (cs["metadata"]["namespace"], cs["metadata"]["name"]): cs
            for n in namespaces
            for cs in self._list("CatalogSource", n)
        }
        # Subscription variables first; an unreadable catalog (cache.Error) wins over them.
        csv_rt = self.t("ClusterServiceVersion")
        invalid: list[str] = []
        ops: list[dict] = []
        for sub in sorted(subs, key=lambda s: s["metadata"]["name"]):
            name = sub["metadata"]["name"]
            status = statuses[name]
            installed = status.get("installedCSV")
            current = self.store.peek(csv_rt, ns, installed) if installed else None
            if current is not None and _is_copied(current):
                current = None
            choice = self._choose(sub, current, sources, invalid)
            if choice is None:
                continue
            csv_name, pkg, channel, cs = choice
            current_csv = status.get("currentCSV")
            if current_csv == csv_name and self.store.peek(csv_rt, ns, csv_name) is not None:
                continue  # up to date
            ops.append(
                {
                    "sub": name,
                    "name": csv_name,
                    "package": pkg,
                    "channel": channel,
                    "catalog": cs,
                    "replaces": current["metadata"]["name"] if current is not None else "",
                }
            )
        errors = []
        for key in sorted(sources) if self.unreadable_catalogs_block_resolution else ():
            problem = self._source_error(sources[key])
            if problem:
                errors.append(f"error using catalogsource {key[0]}/{key[1]}: {problem}")
        if errors:
            raise _ResolutionError("ErrorPreventedResolution", _aggregate(errors))
        if invalid:
            raise _ResolutionError(
                "ConstraintsNotSatisfiable", f"constraints not satisfiable: {invalid[0]}"
            )
        lookups: list[dict] = []
        updated: list[tuple[str, str]] = []
        for op in ops:
            if not any(lk["name"] == op["name"] for lk in lookups):
                lookups.append(op)
            if statuses[op["sub"]].get("currentCSV") != op["name"]:
                updated.append((op["sub"], op["name"]))
        return lookups, updated

    def _choose(self, sub, current, sources, invalid):
        """resolver.go getSubscriptionVariables: the CSV the solver picks for `sub`, None when
        it keeps what is installed (or is invalid; the reason is appended to `invalid`)."""
        name = sub["metadata"]["name"]
        spec = sub.get("spec") or {}
        source, source_ns = spec.get("source", ""), spec.get("sourceNamespace", "")
        package, channel = spec.get("name", ""), spec.get("channel", "")
        cs = sources.get((source_ns, source))
        pkgs = (
            self.catalog.packages(cs["spec"].get("image", ""))
            if cs and catalog_state(cs) == "READY"
            else []
        )
        pkg = next((p for p in pkgs if p.name == package), None)
        message = None
        if not pkgs:
            message = (
                f"no operators found from catalog {source} in namespace {source_ns} "
                f"referenced by subscription {name}"
            )
        elif pkg is None:
            message = f"no operators found in package {package} in the catalog referenced by subscription {name}"
        elif channel and channel not in pkg.channels:
            message = (
                f"no operators found in channel {channel} of package {package} in the catalog "
                f"referenced by subscription {name}"
            )
        if message is None:
            channels = [channel] if channel else _channel_names(pkg)
            candidates: list[tuple[str, str]] = []
            for ch in channels:
                chain = _chain(pkg, ch)
                if current is not None:
                    version = str((current.get("spec") or {}).get("version", ""))
                    nexts = (
                        pkg.next_versions(ch, current["metadata"]["name"], from_version=version)
                        if hasattr(pkg, "next_versions")
                        else []
                    )
                    candidates += [(n, ch) for n in chain if n in nexts]
                elif spec.get("startingCSV"):
                    candidates += [
                        (n, ch) for n in pkg.channels.get(ch, []) if n == spec["startingCSV"]
                    ]
                else:
                    candidates += [(n, ch) for n in chain]
            if current is None and spec.get("startingCSV") and not candidates:
                message = (
                    f"no operators found with name {spec['startingCSV']} in channel {channel} of "
                    f"package {package} in the catalog referenced by subscription {name}"
                )
            elif candidates:
                return candidates[0][0], pkg, candidates[0][1], cs
            else:
                return None  # the installed CSV stays: nothing newer has an edge from it
        invalid.append(f"{message}, subscription {name} exists")
        return None

    def _unpack_bundles(self, lookups: list[dict]) -> tuple[str, str]:
        """bundle/bundle_unpacker.go as the resolver sees it: each bundle's unpack Job runs
        in the catalog's namespace for UNPACK_TICKS ticks; a Job whose bundle image cannot
        be pulled hits its activeDeadlineSeconds after UNPACK_DEADLINE_TICKS ticks.
        Returns ("done" | "pending" | "failed", the condition message OLM v0.43+ writes)."""
        outcome, message = "done", ""
        for lk in lookups:
            bundle = lk["package"].bundle(lk["name"]) if hasattr(lk["package"], "bundle") else None
            image = getattr(bundle, "image", "") or ""
            key = (
                lk["catalog"]["metadata"]["namespace"],
                image or f"{lk['package'].name}/{lk['name']}",
            )
            started = self._unpacks.setdefault(key, self._tick_no)
            elapsed = self._tick_no - started
            unpullable = bool(getattr(bundle, "unpullable", False)) or "unpullable" in image
            if unpullable and elapsed >= UNPACK_DEADLINE_TICKS:
                # catalog/operator.go syncResolvingNamespace (v0.43+, #3832)
                return "failed", (
                    "Bundle unpacking failed - DeadlineExceeded: Job was active longer than "
                    f"specified deadline. {UNPACK_GUIDANCE}"
                )
            if unpullable:
                outcome = "pending"
                self._still_unpacking()
                if elapsed >= 1:  # the unpack pod is in ImagePullBackOff
                    message = PULL_HINT
            elif elapsed < UNPACK_TICKS:
                outcome = "pending"
                self._still_unpacking()
        return outcome, message

    def _still_unpacking(self) -> None:
        """Unpacking takes passes, not writes: the namespace is resolved again next pass."""
        self.busy = True
        if self._resolving is not None:
            self.requeue.add(self._resolving)

    def _ensure_install_plan(self, ns, generation, subs, approval, lookups) -> dict:
        """catalog/operator.go ensureInstallPlan / createInstallPlan."""
        for ip in self._list("InstallPlan", ns):
            if (ip.get("spec") or {}).get("generation") == generation:
                return ip
        steps: list[dict] = []
        names: list[str] = []
        labels: dict[str, str] = {}
        catalogs: list[str] = []
        bundle_lookups = []
        for lk in lookups:
            pkg, target, cs = lk["package"], lk["name"], lk["catalog"]
            source, source_ns = cs["metadata"]["name"], cs["metadata"]["namespace"]
            csv = pkg.csv(target)
            if lk["replaces"]:
                csv["spec"]["replaces"] = lk["replaces"]  # resolver/steps.go NewStepsFromBundle
            label = "operators.coreos.com/" + f"{pkg.name}.{ns}"[:63]
            csv["metadata"].setdefault("labels", {})[label] = ""
            steps.append(self._step(target, csv, source, source_ns))
            # One step per CRD manifest of the bundle (resolver/steps.go
            # NewStepsFromBundle): a CRD owned in several versions is still listed once.
            crd_names: list[str] = []
            for owned in (csv["spec"].get("customresourcedefinitions") or {}).get("owned") or []:
                if owned["name"] not in crd_names:
                    crd_names.append(owned["name"])
            for crd_name in crd_names:
                crd = self.catalog.crd(crd_name)
                if crd:
                    steps.append(self._step(target, crd, source, source_ns))
            for perm in (csv["spec"].get("install") or {}).get("spec", {}).get("permissions") or []:
                sa = {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": perm["serviceAccountName"], "namespace": ns},
                }
                steps.append(self._step(target, sa, source, source_ns))
            names.append(target)
            labels[label] = ""
            if source not in catalogs:
                catalogs.append(source)
            bundle = pkg.bundle(target) if hasattr(pkg, "bundle") else None
            bundle_lookups.append(
                {
                    "identifier": target,
                    "path": getattr(bundle, "image", "") or cs["spec"].get("image", ""),
                    "replaces": lk["replaces"],
                    "catalogSourceRef": {"name": source, "namespace": source_ns},
                }
            )
        body: dict = {
            "apiVersion": V1A1,
            "kind": "InstallPlan",
            "metadata": {
                "name": f"install-{random_suffix()}",
                "namespace": ns,
                "generateName": "install-",
                "labels": labels,
                "ownerReferences": [
                    {**owner_ref(s, controller=False), "blockOwnerDeletion": False} for s in subs
                ],
            },
            "spec": {
                "approval": approval,
                "approved": approval == "Automatic",
                "clusterServiceVersionNames": names,
                "generation": generation,
            },
            "status": {
                "phase": "RequiresApproval" if approval == "Manual" else "Installing",
                "catalogSources": catalogs,
                "bundleLookups": bundle_lookups,
                "plan": steps,
            },
        }
        return self.store.save(self.t("InstallPlan"), body, manager=CATALOG_OPERATOR, status=True)

    @staticmethod
    def _step(target, manifest, source, source_ns) -> dict:
        api_version = manifest["apiVersion"]
        group, _, version = api_version.rpartition("/")
        return {
            "resolving": target,
            "resource": {
                "group": group,
                "version": version,
                "kind": manifest["kind"],
                "name": manifest["metadata"]["name"],
                "sourceName": source,
                "sourceNamespace": source_ns,
                "manifest": json.dumps(manifest),
            },
            "status": "Unknown",
        }

    # -- InstallPlan -----------------------------------------------------------------------

    def install_plans(self) -> None:
        for ip in self._queued("InstallPlan"):
            status = copy.deepcopy(ip.get("status") or {})
            phase = status.get("phase", "")
            # catalog/operator.go transitionInstallPlanState
            if phase == "RequiresApproval" and ip["spec"].get("approved"):
                status["phase"] = "Installing"
                status.pop("message", None)
                self.event(ip, "Approved", "install plan approved", CATALOG_OPERATOR)
            elif phase == "Installing":
                status.setdefault("startTime", now())
                status = self._execute(ip, status)
            if status != (ip.get("status") or {}):
                ip["status"] = status
                self._save_status("InstallPlan", ip)

    def _execute(self, ip: dict, status: dict) -> dict:
        ns = ip["metadata"]["namespace"]
        stamp = now()
        try:
            for step in status.get("plan") or []:
                res = step["resource"]
                manifest = json.loads(res["manifest"])
                if res["kind"] == "ClusterServiceVersion":
                    rt = self.t("ClusterServiceVersion")
                    if self.store.peek(rt, ns, res["name"]) is None:
                        manifest["metadata"]["namespace"] = ns
                        manifest["metadata"].pop("resourceVersion", None)
                        self.store.create(rt, ns, manifest, manager=CATALOG_OPERATOR)
                        step["status"] = "Created"
                    else:
                        step["status"] = "Present"
                elif res["kind"] == "ServiceAccount":
                    if self.store.peek(SERVICE_ACCOUNT, ns, res["name"]) is None:
                        self.store.create(SERVICE_ACCOUNT, ns, manifest, manager=CATALOG_OPERATOR)
                        step["status"] = "Created"
                    else:
                        step["status"] = "Present"
                else:
                    # CRDs are established by the CSV once it succeeds (see ClusterServiceVersion).
                    step["status"] = "Created"
        except ApiError as exc:
            status["phase"] = "Failed"
            status["message"] = exc.message
            status["conditions"] = [
                {
                    "type": "Installed",
                    "status": "False",
                    "reason": "InstallComponentFailed",
                    "message": exc.message,
                    "lastTransitionTime": stamp,
                    "lastUpdateTime": stamp,
                }
            ]
            self.event(ip, "InstallComponentFailed", exc.message, CATALOG_OPERATOR, "Warning")
            return status
        status["phase"] = "Complete"
        status["conditions"] = [
            {
                "type": "Installed",
                "status": "True",
                "lastTransitionTime": stamp,
                "lastUpdateTime": stamp,
            }
        ]
        self.event(ip, "Installed", "install plan completed", CATALOG_OPERATOR)
        return status

    # -- ClusterServiceVersion ---------------------------------------------------------------

    def csvs(self) -> None:
        rt = self.t("ClusterServiceVersion")
        all_csvs = self._queued("ClusterServiceVersion")
        own = [c for c in all_csvs if not _is_copied(c)]
        for csv in all_csvs:
            if csv["metadata"].get("deletionTimestamp"):
                continue
            try:
                if _is_copied(csv):
                    self._remove_dangling_copy(csv)
                    continue
                self._csv(rt, csv, own)
                self._copy_csv(csv)
            except ApiError:
                continue

    def _copy_csv(self, csv: dict) -> None:
        """olm/operatorgroup.go ensureCSVsInNamespaces + csvCopyPrototype: a CSV whose
        OperatorGroup targets other namespaces (AllNamespaces: every namespace) is copied
        into each, labelled olm.copiedFrom=<its namespace>, status reason Copied."""
        ns, name = csv["metadata"]["namespace"], csv["metadata"]["name"]
        latest = self.store.peek(self.t("ClusterServiceVersion"), ns, name)
        if latest is None or latest["metadata"].get("deletionTimestamp"):
            return
        status = latest.get("status") or {}
        if not status.get("phase") or status.get("reason") in _UNCOPIABLE:
            return  # IsUncopiable
        annotations = latest["metadata"].get("annotations") or {}
        if "olm.targetNamespaces" not in annotations:
            return
        targets = annotations["olm.targetNamespaces"].split(",")
        if targets == [ns]:
            return  # "skipping copy for OwnNamespace operatorgroup"
        everywhere = targets == [""]
        rt = self.t("ClusterServiceVersion")
        for namespace in self.store.list(NAMESPACE)[0]:
            target = namespace["metadata"]["name"]
            if target == ns or namespace["metadata"].get("deletionTimestamp"):
                continue
            if not everywhere and target not in targets:
                continue
            prototype = {
                "apiVersion": latest["apiVersion"],
                "kind": latest["kind"],
                "metadata": {
                    "name": name,
                    "namespace": target,
                    "annotations": {
                        k: v
                        for k, v in annotations.items()
                        if k
                        not in (
                            "olm.targetNamespaces",
                            "kubectl.kubernetes.io/last-applied-configuration",
                        )
                    },
                    "labels": {
                        **{
                            k: v
                            for k, v in (latest["metadata"].get("labels") or {}).items()
                            if not k.startswith("operators.coreos.com/")
                        },
                        COPIED_LABEL: ns,
                    },
                },
                "spec": copy.deepcopy(latest["spec"]),
            }
            copied_status = {
                **copy.deepcopy(status),
                "reason": "Copied",
                "message": f"The operator is running in {ns} but is managing this namespace",
            }
            existing = self.store.peek(rt, target, name)
            if existing is None:
                created = self.store.create(rt, target, prototype, manager=OLM)
                created["status"] = copied_status
                self.store.save(rt, created, manager=OLM, status=True)
                continue
            if not _is_copied(existing):
                continue  # the namespace installs its own CSV of that name
            if (
                existing.get("spec") != prototype["spec"]
                or existing["metadata"].get("labels") != prototype["metadata"]["labels"]
                or existing["metadata"].get("annotations") != prototype["metadata"]["annotations"]
            ):
                existing["spec"] = prototype["spec"]
                existing["metadata"]["labels"] = prototype["metadata"]["labels"]
                existing["metadata"]["annotations"] = prototype["metadata"]["annotations"]
                existing = self.store.save(rt, existing, manager=OLM)
            if existing.get("status") != copied_status:
                existing["status"] = copied_status
                self.store.save(rt, existing, manager=OLM, status=True)

    def _remove_dangling_copy(self, csv: dict) -> None:
        """olm/operator.go removeDanglingChildCSVs: a copy goes when its parent does, or
        when the parent no longer targets the copy's namespace."""
        rt = self.t("ClusterServiceVersion")
        ns, name = csv["metadata"]["namespace"], csv["metadata"]["name"]
        parent_ns = (csv["metadata"].get("annotations") or {}).get("olm.operatorNamespace")
        parent = self.store.peek(rt, parent_ns, name) if parent_ns else None
        targets = ((parent or {}).get("metadata", {}).get("annotations") or {}).get(
            "olm.targetNamespaces"
        )
        dangling = (
            parent is None
            or parent["metadata"].get("deletionTimestamp")
            or parent_ns == ns
            or (targets is not None and targets != "" and ns not in targets.split(","))
        )
        if dangling:
            self.store.delete(rt, ns, name)

    def _transition(self, csv, phase, reason, message, *, warn=False) -> dict:
        stamp = now()
        status = copy.deepcopy(csv.get("status") or {})
        if (status.get("phase"), status.get("reason"), status.get("message")) == (
            phase,
            reason,
            message,
        ):
            return csv
        status.update(
            {
                "phase": phase,
                "reason": reason,
                "message": message,
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp
                if status.get("phase") != phase
                else status.get("lastTransitionTime", stamp),
            }
        )
        history = status.setdefault("conditions", [])
        history.append(
            {
                "phase": phase,
                "reason": reason,
                "message": message,
                "lastTransitionTime": stamp,
                "lastUpdateTime": stamp,
            }
        )
        del history[:-20]
        csv["status"] = status
        saved = self.store.save(self.t("ClusterServiceVersion"), csv, manager=OLM, status=True)
        self.event(saved, reason, message, OLM, "Warning" if warn else "Normal")
        return saved

    def _operator_group_problem(self, csv) -> tuple[str, str] | None:
        ns = csv["metadata"]["namespace"]
        groups = self._list("OperatorGroup", ns, api_version=V1)
        if not groups:
            return "NoOperatorGroup", "csv in namespace with no operatorgroups"
        if len(groups) > 1:
            return (
                "TooManyOperatorGroups",
                "csv created in namespace with multiple operatorgroups, can't pick one automatically",
            )
        og = groups[0]
        targets = (og.get("status") or {}).get("namespaces")
        if targets is None:
            return "", ""  # not reconciled yet: wait a tick
        # olm/operator.go operatorGroupForCSV: annotate first, then (transitionCSVState)
        # check the install modes against the annotated targets.
        annotations = csv["metadata"].setdefault("annotations", {})
        wanted = {
            "olm.operatorGroup": og["metadata"]["name"],
            "olm.operatorNamespace": ns,
            "olm.targetNamespaces": ",".join(targets),
        }
        if any(annotations.get(k) != v for k, v in wanted.items()):
            annotations.update(wanted)
            saved = self.store.save(self.t("ClusterServiceVersion"), csv, manager=OLM)
            csv["metadata"] = saved["metadata"]
        problem = _supports(csv["spec"].get("installModes") or [], ns, list(targets))
        if problem:
            return "UnsupportedOperatorGroup", problem
        return None

    def _csv(self, rt, csv, all_csvs) -> None:
        phase = (csv.get("status") or {}).get("phase", "")
        if phase in ("Replacing", "Deleting"):
            self._replacement(csv, all_csvs)
            return
        if not phase:
            self._transition(csv, "Pending", "RequirementsUnknown", "requirements not yet checked")
            return
        problem = self._operator_group_problem(csv)
        if problem == ("", ""):
            return
        if problem:
            reason, message = problem
            self._transition(csv, "Failed", reason, message, warn=True)
            return
        if phase == "Failed":
            self._transition(csv, "Pending", "RequirementsUnknown", "requirements not yet checked")
        elif phase == "Pending":
            csv.setdefault("status", {})["requirementStatus"] = self._requirements(csv)
            self._transition(
                csv,
                "InstallReady",
                "AllRequirementsMet",
                "all requirements found, attempting install",
            )
        elif phase == "InstallReady":
            self._install_deployments(csv)
            self._transition(
                csv,
                "Installing",
                "InstallSucceeded",
                "waiting for install components to report healthy",
            )
        elif phase == "Installing":
            waiting = self._unready_deployment(csv)
            if waiting:
                self._transition(csv, "Installing", "InstallWaiting", waiting)
            else:
                self._establish_crds(csv)
                self._transition(
                    csv,
                    "Succeeded",
                    "InstallSucceeded",
                    "install strategy completed with no errors",
                )
        elif phase == "Succeeded":
            missing = self._missing_deployment(csv)
            if missing:
                self._transition(
                    csv,
                    "Failed",
                    "ComponentUnhealthy",
                    f'installing: waiting for deployment {missing} to become ready: deployment "{missing}" not found',
                    warn=True,
                )
                return
            self._establish_crds(csv)
            self._replacement(csv, all_csvs)

    def _requirements(self, csv) -> list[dict]:
        reqs = []
        for perm in (csv["spec"].get("install") or {}).get("spec", {}).get("permissions") or []:
            sa = self.store.peek(
                SERVICE_ACCOUNT, csv["metadata"]["namespace"], perm["serviceAccountName"]
            )
            reqs.append(
                {
                    "group": "",
                    "kind": "ServiceAccount",
                    "name": perm["serviceAccountName"],
                    "version": "v1",
                    "status": "Present" if sa else "NotPresent",
                    "message": "Service account present"
                    if sa
                    else "Service account does not exist",
                    **({"uuid": sa["metadata"]["uid"]} if sa else {}),
                }
            )
        reqs.append(
            {
                "group": GROUP,
                "kind": "ClusterServiceVersion",
                "name": csv["metadata"]["name"],
                "version": "v1alpha1",
                "status": "Present",
                "message": f"CSV minKubeVersion ({csv['spec'].get('minKubeVersion', '1.16.0')}) "
                "less than server version (v1.29.4)",
            }
        )
        return reqs

    def _deployment_specs(self, csv) -> list[dict]:
        return (csv["spec"].get("install") or {}).get("spec", {}).get("deployments") or []

    def _install_deployments(self, csv) -> None:
        ns, name = csv["metadata"]["namespace"], csv["metadata"]["name"]
        annotations = csv["metadata"].get("annotations") or {}
        for dep_spec in self._deployment_specs(csv):
            spec = copy.deepcopy(dep_spec["spec"])
            template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
            template_meta.setdefault("annotations", {}).update(
                {
                    k: annotations[k]
                    for k in ("olm.operatorGroup", "olm.operatorNamespace", "olm.targetNamespaces")
                    if k in annotations
                }
            )
            body = {
                "metadata": {
                    "name": dep_spec["name"],
                    "namespace": ns,
                    "labels": {
                        "olm.managed": "true",
                        "olm.owner": name,
                        "olm.owner.kind": "ClusterServiceVersion",
                        "olm.owner.namespace": ns,
                        **{
                            k: v
                            for k, v in (csv["metadata"].get("labels") or {}).items()
                            if k.startswith("operators.coreos.com/")
                        },
                    },
                    "ownerReferences": [
                        {**owner_ref(csv, controller=False), "blockOwnerDeletion": False}
                    ],
                },
                "spec": spec,
            }
            existing = self.store.peek(DEPLOYMENT, ns, dep_spec["name"])
            if existing:
                existing["metadata"]["labels"] = body["metadata"]["labels"]
                existing["metadata"]["ownerReferences"] = body["metadata"]["ownerReferences"]
                existing["spec"] = {**existing["spec"], **spec}
                self.store.save(DEPLOYMENT, existing, manager=OLM)
            else:
                self.store.create(DEPLOYMENT, ns, body, manager=OLM)

    def _missing_deployment(self, csv) -> str | None:
        ns = csv["metadata"]["namespace"]
        for dep_spec in self._deployment_specs(csv):
            if self.store.peek(DEPLOYMENT, ns, dep_spec["name"]) is None:
                return dep_spec["name"]
        return None

    def _unready_deployment(self, csv) -> str | None:
        ns = csv["metadata"]["namespace"]
        for dep_spec in self._deployment_specs(csv):
            dep = self.store.peek(DEPLOYMENT, ns, dep_spec["name"])
            want = (dep_spec.get("spec") or {}).get("replicas", 1)
            have = ((dep or {}).get("status") or {}).get("availableReplicas", 0)
            if dep is None or have < want:
                return (
                    f"installing: waiting for deployment {dep_spec['name']} to become ready: "
                    f'deployment "{dep_spec["name"]}" not available: Deployment does not have '
                    f"minimum availability."
                )
        return None

    def _establish_crds(self, csv) -> None:
        """Create (or update) the CRDs this CSV owns, served from then on."""
        crd_rt = self.store.type_for("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        assert crd_rt is not None  # a built-in type, always served
        for owned in (csv["spec"].get("customresourcedefinitions") or {}).get("owned") or []:
            manifest = self._served_crd(owned["name"])  # read-only
            if manifest is None:
                continue
            stored = self.store.view(crd_rt, None, owned["name"])  # read-only
            if stored is None:
                self.store.create(crd_rt, None, manifest, manager=CATALOG_OPERATOR)
            elif stored["spec"] != {**stored["spec"], **manifest["spec"]}:
                existing = self.store.peek(crd_rt, None, owned["name"])
                assert existing is not None  # viewed under the same lock
                existing["spec"] = {**existing["spec"], **manifest["spec"]}
                self.store.save(crd_rt, existing, manager=CATALOG_OPERATOR)

    def _served_crd(self, name: str) -> dict | None:
        """Catalog.crd(name), converted once per catalog revision (every Succeeded CSV asks
        on every pass) — READ-ONLY."""
        cached = self._crds.get(name)
        if cached is None or cached[0] != self.catalog.revision:
            cached = self._crds[name] = (self.catalog.revision, self.catalog.crd(name))
        return cached[1]

    def _replacement(self, csv, all_csvs) -> None:
        ns, name = csv["metadata"]["namespace"], csv["metadata"]["name"]
        newer = next(
            (
                c
                for c in all_csvs
                if c["metadata"]["namespace"] == ns
                and (c.get("spec") or {}).get("replaces") == name
            ),
            None,
        )
        if newer is None:
            return
        phase = (csv.get("status") or {}).get("phase")
        newer_phase = (newer.get("status") or {}).get("phase")
        if phase == "Succeeded":
            self._transition(
                csv,
                "Replacing",
                "BeingReplaced",
                # olm/operator.go checkReplacementsAndUpdateStatus
                f"being replaced by csv: {newer['metadata']['name']}",
            )
        elif phase == "Replacing" and newer_phase == "Succeeded":
            self._transition(
                csv,
                "Deleting",
                "Replaced",
                "has been replaced by a newer ClusterServiceVersion that has successfully installed.",
            )
        elif phase == "Deleting":
            self.store.delete(self.t("ClusterServiceVersion"), ns, name)

    # -- package server ------------------------------------------------------------------------

    def package_manifests(
        self,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict]:
        """PackageManifests visible from `namespace`: its catalogs' plus the global ones."""
        labels_match = parse_label_selector(label_selector)
        fields_match = parse_field_selector(field_selector, "PackageManifest")
        with self.store.lock:
            if namespace:
                sources = self._list("CatalogSource", namespace)
                if namespace != GLOBAL_NAMESPACE:
                    sources += self._list("CatalogSource", GLOBAL_NAMESPACE)
            else:
                sources = self._list("CatalogSource")
        manifests = []
        for cs in sources:
            if catalog_state(cs) != "READY":
                continue
            for pkg in self.catalog.packages(cs["spec"].get("image", "")):
                manifest = self._manifest(cs, pkg, namespace)
                if labels_match(manifest["metadata"]["labels"]) and fields_match(manifest):
                    manifests.append(manifest)
        return manifests

    def _manifest(self, cs: dict, pkg, namespace: str | None) -> dict:
        return package_manifest(cs, pkg, namespace)

    def package_icon(self, manifest: dict) -> tuple[bytes, str]:
        default = manifest["status"]["defaultChannel"]
        for channel in manifest["status"]["channels"]:
            if channel["name"] == default:
                for icon in channel["currentCSVDesc"].get("icon") or []:
                    return base64.b64decode(icon["base64data"]), icon.get("mediatype", "image/png")
        return b"", "image/png"


def package_manifest(cs: dict, pkg, namespace: str | None) -> dict:
    """The PackageManifest the package-server serves for one package of a catalog."""
    cs_name, cs_ns = cs["metadata"]["name"], cs["metadata"]["namespace"]
    cs_spec = cs.get("spec") or {}
    channels = []
    for channel, entries in pkg.channels.items():
        head = pkg.csv(entries[-1])
        item: dict = {
            "name": channel,
            "currentCSV": entries[-1],
            "currentCSVDesc": _csv_description(head),
            "entries": [
                {
                    "name": e,
                    "version": (pkg.csv(e) or {}).get("spec", {}).get("version", ""),
                    # olm.deprecations of the bundle (packagemanifest_types.go ChannelEntry)
                    **_deprecation(getattr(pkg, "bundle_deprecation", lambda _n: None)(e)),
                }
                for e in reversed(entries)
            ],
            **_deprecation(getattr(pkg, "channel_deprecation", lambda _n: None)(channel)),
        }
        channels.append(item)
    provider = (pkg.csv(pkg.head(pkg.default_channel)) or {}).get("spec", {}).get("provider") or {}
    return {
        "apiVersion": "packages.operators.coreos.com/v1",
        "kind": "PackageManifest",
        "metadata": {
            "name": pkg.name,
            # Set to the requested namespace, as the package-server does for global catalogs.
            "namespace": namespace or cs_ns,
            "creationTimestamp": cs["metadata"]["creationTimestamp"],
            "labels": {
                "catalog": cs_name,
                "catalog-namespace": cs_ns,
                "provider": provider.get("name", ""),
                "provider-url": provider.get("url", ""),
                "operatorframework.io/arch.amd64": "supported",
                "operatorframework.io/os.linux": "supported",
            },
        },
        "spec": {},
        "status": {
            "catalogSource": cs_name,
            "catalogSourceDisplayName": cs_spec.get("displayName", ""),
            "catalogSourceNamespace": cs_ns,
            "catalogSourcePublisher": cs_spec.get("publisher", ""),
            "packageName": pkg.name,
            "provider": provider,
            "defaultChannel": pkg.default_channel,
            "channels": channels,
            **_deprecation(getattr(pkg, "deprecation", None)),
        },
    }


def _deprecation(message: str | None) -> dict:
    """`{"deprecation": {"message": …}}` where the catalog deprecates it, else nothing
    (packageserver omits the field: packagemanifest_types.go `Deprecation *Deprecation`)."""
    return {"deprecation": {"message": message}} if message else {}


def _csv_description(csv: dict) -> dict:
    spec = csv.get("spec") or {}
    return {
        "displayName": spec.get("displayName", ""),
        "description": spec.get("description", ""),
        "version": spec.get("version", ""),
        "provider": spec.get("provider") or {},
        "icon": spec.get("icon") or [],
        "installModes": spec.get("installModes") or [],
        "customresourcedefinitions": spec.get("customresourcedefinitions") or {},
        "apiservicedefinitions": spec.get("apiservicedefinitions") or {},
        "annotations": (csv.get("metadata") or {}).get("annotations") or {},
        "keywords": spec.get("keywords") or [],
        "links": spec.get("links") or [],
        "maintainers": spec.get("maintainers") or [],
        "maturity": spec.get("maturity", ""),
        "minKubeVersion": spec.get("minKubeVersion", ""),
        "relatedImages": [i["image"] for i in spec.get("relatedImages") or []],
    }


def _pod_image(pod: dict) -> str:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return containers[0].get("image", "")


def _short_pull_error(image: str | None) -> str:
    return f'rpc error: code = NotFound desc = failed to resolve reference "{image}": not found'

"""Simulated Operator Lifecycle Manager: catalog, package server, resolver and installer.

Field names, phases, condition types, reasons and messages are OLM's (v0.2x),
so code written against the sandbox reads a real cluster the same way:
CatalogSource -> READY, Subscription -> InstallPlan -> ClusterServiceVersion
Pending -> InstallReady -> Installing -> Succeeded, upgrades replacing the old CSV.
"""

from __future__ import annotations

import base64
import copy
import json

from . import events
from .catalog import Catalog, version_key
from .controllers import DEPLOYMENT, NAMESPACE, POD, SERVICE, SERVICE_ACCOUNT, owner_ref
from .errors import ApiError
from .label_selectors import parse_field_selector, parse_label_selector
from .store import Store, now, random_suffix

GROUP = "operators.coreos.com"
V1A1 = f"{GROUP}/v1alpha1"
V1 = f"{GROUP}/v1"
GLOBAL_NAMESPACE = "olm"
OLM = "operator-lifecycle-manager"
CATALOG_OPERATOR = "catalog-operator"

_PRESERVE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


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


def _set_condition(conditions: list[dict], type_: str, status: str, reason: str, message: str):
    stamp = now()
    for cond in conditions:
        if cond["type"] == type_:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = stamp
            cond.update({"status": status, "reason": reason, "message": message})
            return
    conditions.append(
        {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": stamp,
        }
    )


def _drop_condition(conditions: list[dict], type_: str) -> list[dict]:
    return [c for c in conditions if c["type"] != type_]


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


def _install_mode(targets: list[str], namespace: str) -> tuple[str, str]:
    if not targets or targets == [""]:
        return "AllNamespaces", "all namespaces"
    if targets == [namespace]:
        return "OwnNamespace", "own namespace"
    if len(targets) == 1:
        return "SingleNamespace", "one namespace"
    return "MultiNamespace", "multiple namespaces"


class OLMControllers:
    """olm-operator and catalog-operator loops, one step per object per tick."""

    def __init__(self, store: Store, catalog: Catalog):
        self.store = store
        self.catalog = catalog

    def t(self, kind: str, api_version: str = V1A1):
        return self.store.type_for(api_version, kind)

    def tick(self) -> None:
        if self.t("Subscription") is None:
            return  # OLM's CRDs were deleted: OLM is "not installed"
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

    def _save_status(self, kind, obj, api_version=V1A1):
        return self.store.save(
            self.t(kind, api_version), obj, manager=CATALOG_OPERATOR, status=True
        )

    # -- CatalogSource ---------------------------------------------------------------------

    def catalog_sources(self) -> None:
        for cs in self._list("CatalogSource"):
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
        for og in self._list("OperatorGroup", api_version=V1):
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

    def subscriptions(self) -> None:
        for sub in self._list("Subscription"):
            if sub["metadata"].get("deletionTimestamp"):
                continue
            try:
                self._subscription(sub)
            except ApiError:
                continue

    def _catalog_health(self, sub: dict) -> list[dict]:
        ns = sub["metadata"]["namespace"]
        sources = self._list("CatalogSource", ns)
        if ns != GLOBAL_NAMESPACE:
            sources += self._list("CatalogSource", GLOBAL_NAMESPACE)
        old = {
            (h["catalogSourceRef"]["namespace"], h["catalogSourceRef"]["name"]): h
            for h in (sub.get("status") or {}).get("catalogHealth") or []
        }
        health = []
        for cs in sources:
            healthy = catalog_state(cs) == "READY"
            key = (cs["metadata"]["namespace"], cs["metadata"]["name"])
            previous = old.get(key) or {}
            ref = _ref(cs)
            unchanged = (
                previous.get("healthy") == healthy
                and previous.get("catalogSourceRef", {}).get("uid") == ref["uid"]
            )
            health.append(
                {
                    "catalogSourceRef": ref,
                    "healthy": healthy,
                    "lastUpdated": previous["lastUpdated"] if unchanged else now(),
                }
            )
        return health

    def _subscription(self, sub: dict) -> None:
        name = sub["metadata"]["name"]
        spec = sub.get("spec") or {}
        old_status = sub.get("status") or {}
        status = copy.deepcopy(old_status)
        conditions = status.setdefault("conditions", [])
        source, source_ns = spec.get("source", ""), spec.get("sourceNamespace", "")
        catsrc = self.store.peek(self.t("CatalogSource"), source_ns, source)
        status["catalogHealth"] = self._catalog_health(sub)
        state = catalog_state(catsrc)
        if catsrc is None or state != "READY":
            why = "missing" if catsrc is None else "unhealthy"
            _set_condition(
                conditions,
                "CatalogSourcesUnhealthy",
                "True",
                "UnhealthyCatalogSourceFound",
                f"targeted catalogsource {source_ns}/{source} {why}",
            )
        else:
            _set_condition(
                conditions,
                "CatalogSourcesUnhealthy",
                "False",
                "AllCatalogSourcesHealthy",
                "all available catalogsources are healthy",
            )
        failure = None
        pkg = None
        if catsrc is None:
            failure = (
                f"no operators found from catalog {source} in namespace {source_ns} "
                f"referenced by subscription {name}"
            )
        elif state == "READY":
            pkg = self.catalog.package(catsrc["spec"].get("image", ""), spec.get("name", ""))
            channel = spec.get("channel") or (pkg.default_channel if pkg else "")
            if pkg is None:
                failure = (
                    f"no operators found in package {spec.get('name')} in the catalog "
                    f"referenced by subscription {name}"
                )
            elif channel not in pkg.channels:
                failure = (
                    f"no operators found in channel {channel} of package {pkg.name} in the "
                    f"catalog referenced by subscription {name}"
                )
            elif (
                spec.get("startingCSV")
                and not status.get("installedCSV")
                and spec["startingCSV"] not in pkg.channels[channel]
            ):
                failure = (
                    f"no operators found with name {spec['startingCSV']} in channel {channel} "
                    f"of package {pkg.name} in the catalog referenced by subscription {name}"
                )
        if failure:
            message = f"constraints not satisfiable: {failure}, subscription {name} exists"
            already = any(
                c["type"] == "ResolutionFailed" and c.get("message") == message for c in conditions
            )
            _set_condition(
                conditions, "ResolutionFailed", "True", "ConstraintsNotSatisfiable", message
            )
            if not already:
                self.event(sub, "ResolutionFailed", message, CATALOG_OPERATOR, "Warning")
            self._write_sub(sub, status, old_status)
            return
        if state != "READY":
            self._write_sub(sub, status, old_status)
            return
        status["conditions"] = conditions = _drop_condition(conditions, "ResolutionFailed")
        self._resolve(sub, status, pkg, channel, catsrc)
        self._write_sub(sub, status, old_status)

    def _resolve(self, sub, status, pkg, channel, catsrc) -> None:
        ns = sub["metadata"]["namespace"]
        spec = sub["spec"]
        csv_rt = self.t("ClusterServiceVersion")
        installed = status.get("installedCSV")
        ip_ref = status.get("installPlanRef") or {}
        ip = (
            self.store.peek(self.t("InstallPlan"), ns, ip_ref["name"])
            if ip_ref.get("name")
            else None
        )
        if installed and self.store.peek(csv_rt, ns, installed) is None:
            pending = ip and ip["status"].get("phase") not in ("Complete", "Failed")
            if not pending:
                # The CSV was deleted (uninstall in progress, or by hand): resolve afresh.
                status.pop("installedCSV", None)
                installed = None
        head = pkg.head(channel)
        if installed:
            head_version = (pkg.csv(head) or {}).get("spec", {}).get("version", "")
            installed_csv = self.store.peek(csv_rt, ns, installed) or {}
            installed_version = (installed_csv.get("spec") or {}).get("version", "")
            newer = version_key(head_version) > version_key(installed_version)
            target = head if newer else installed
        else:
            target = spec.get("startingCSV") or head
        status["installPlanGeneration"] = status.get("installPlanGeneration", 0)
        if target == installed:
            status["currentCSV"] = installed
            status["state"] = "AtLatestKnown"
            status["conditions"] = _drop_condition(status["conditions"], "InstallPlanPending")
            return
        ip_targets = ((ip or {}).get("spec") or {}).get("clusterServiceVersionNames") or []
        if ip is None or status.get("currentCSV") != target or target not in ip_targets:
            ip = self._create_install_plan(sub, status, pkg, target, installed, catsrc)
            status["currentCSV"] = target
            status["installPlanGeneration"] += 1
            status["installPlanRef"] = _ref(ip)
            status["installplan"] = {
                "apiVersion": V1A1,
                "kind": "InstallPlan",
                "name": ip["metadata"]["name"],
                "uuid": ip["metadata"]["uid"],
            }
            status["state"] = "UpgradePending"
        phase = (ip.get("status") or {}).get("phase", "")
        if phase == "Complete":
            if self.store.peek(csv_rt, ns, target) is not None:
                status["installedCSV"] = target
                status["state"] = "AtLatestKnown"
                status["conditions"] = _drop_condition(status["conditions"], "InstallPlanPending")
                status["conditions"] = _drop_condition(status["conditions"], "InstallPlanFailed")
        elif phase == "Failed":
            status["state"] = "UpgradePending"
            _set_condition(
                status["conditions"],
                "InstallPlanFailed",
                "True",
                "InstallComponentFailed",
                (ip.get("status") or {}).get("message", "install plan failed"),
            )
        else:
            status["state"] = "UpgradePending"
            reason = "RequiresApproval" if phase == "RequiresApproval" else "Installing"
            _set_condition(status["conditions"], "InstallPlanPending", "True", reason, "")

    def _write_sub(self, sub, status, old_status) -> None:
        if status != old_status:
            status["lastUpdated"] = now()
            sub["status"] = status
            self.store.save(self.t("Subscription"), sub, manager=CATALOG_OPERATOR, status=True)

    def _create_install_plan(self, sub, status, pkg, target, installed, catsrc) -> dict:
        ns = sub["metadata"]["namespace"]
        spec = sub["spec"]
        approval = spec.get("installPlanApproval") or "Automatic"
        csv = pkg.csv(target)
        if installed:
            csv["spec"]["replaces"] = installed
        source, source_ns = catsrc["metadata"]["name"], catsrc["metadata"]["namespace"]
        steps = [self._step(target, csv, source, source_ns)]
        for owned in (csv["spec"].get("customresourcedefinitions") or {}).get("owned") or []:
            crd = self.catalog.crd(owned["name"])
            if crd:
                steps.append(self._step(target, crd, source, source_ns))
        for perm in (csv["spec"].get("install") or {}).get("spec", {}).get("permissions") or []:
            sa = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": perm["serviceAccountName"], "namespace": ns},
            }
            steps.append(self._step(target, sa, source, source_ns))
        label = "operators.coreos.com/" + f"{pkg.name}.{ns}"[:63]
        body: dict = {
            "apiVersion": V1A1,
            "kind": "InstallPlan",
            "metadata": {
                "name": f"install-{random_suffix()}",
                "namespace": ns,
                "generateName": "install-",
                "labels": {label: ""},
                "ownerReferences": [
                    {**owner_ref(sub, controller=False), "blockOwnerDeletion": False}
                ],
            },
            "spec": {
                "approval": approval,
                "approved": approval == "Automatic",
                "clusterServiceVersionNames": [target],
                "generation": status.get("installPlanGeneration", 0) + 1,
            },
            "status": {
                "phase": "RequiresApproval" if approval == "Manual" else "Installing",
                "catalogSources": [],
                "bundleLookups": [
                    {
                        "identifier": target,
                        "path": catsrc["spec"].get("image", ""),
                        "replaces": installed or "",
                        "catalogSourceRef": {"name": source, "namespace": source_ns},
                    }
                ],
                "plan": steps,
                "startTime": now(),
            },
        }
        if approval == "Manual":
            body["status"]["conditions"] = [
                {
                    "type": "Installed",
                    "status": "False",
                    "reason": "RequiresApproval",
                    "message": "",
                    "lastTransitionTime": now(),
                    "lastUpdateTime": now(),
                }
            ]
        ip = self.store.save(self.t("InstallPlan"), body, manager=CATALOG_OPERATOR, status=True)
        self.event(
            sub,
            "InstallPlanCreated" if not installed else "UpgradeAvailable",
            f"created InstallPlan {ip['metadata']['name']} for {target} ({approval} approval)",
            CATALOG_OPERATOR,
        )
        return ip

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
        for ip in self._list("InstallPlan"):
            status = copy.deepcopy(ip.get("status") or {})
            phase = status.get("phase", "")
            if phase == "RequiresApproval" and ip["spec"].get("approved"):
                status["phase"] = "Installing"
                status["conditions"] = [
                    c
                    for c in status.get("conditions") or []
                    if c.get("reason") != "RequiresApproval"
                ]
                self.event(ip, "Approved", "install plan approved", CATALOG_OPERATOR)
            elif phase == "Installing":
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
                        pkg_label = ip["metadata"].get("labels") or {}
                        manifest["metadata"].setdefault("labels", {}).update(pkg_label)
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
        all_csvs = self._list("ClusterServiceVersion")
        for csv in all_csvs:
            if csv["metadata"].get("deletionTimestamp"):
                continue
            try:
                self._csv(rt, csv, all_csvs)
            except ApiError:
                continue

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
        mode, description = _install_mode(targets, ns)
        supported = {
            m.get("type"): m.get("supported") for m in csv["spec"].get("installModes") or []
        }
        if not supported.get(mode):
            return (
                "UnsupportedOperatorGroup",
                f"{mode} InstallModeType not supported, cannot configure to watch {description}",
            )
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
            manifest = self.catalog.crd(owned["name"])
            if manifest is None:
                continue
            existing = self.store.peek(crd_rt, None, owned["name"])
            if existing is None:
                self.store.create(crd_rt, None, manifest, manager=CATALOG_OPERATOR)
            elif existing["spec"] != {**existing["spec"], **manifest["spec"]}:
                existing["spec"] = {**existing["spec"], **manifest["spec"]}
                self.store.save(crd_rt, existing, manager=CATALOG_OPERATOR)

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
                f"being replaced by csv: /apis/{V1A1}/namespaces/{ns}/clusterserviceversions/"
                f"{newer['metadata']['name']}",
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
        channels.append(
            {
                "name": channel,
                "currentCSV": entries[-1],
                "currentCSVDesc": _csv_description(head),
                "entries": [
                    {
                        "name": e,
                        "version": (pkg.csv(e) or {}).get("spec", {}).get("version", ""),
                    }
                    for e in reversed(entries)
                ],
            }
        )
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
        },
    }


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

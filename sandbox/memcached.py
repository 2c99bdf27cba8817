"""The simulated Memcached cluster operator (daas.tenxcloud.com/v1 MemcachedCluster).

It reconciles only where a Succeeded CSV owning the CRD watches the namespace,
as the real operator would once installed by OLM, and owns its children
through ownerReferences so deleting the MemcachedCluster garbage-collects them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re

from . import events
from .controllers import CONFIGMAP, DEPLOYMENT, POD, SERVICE, STATEFULSET, owner_ref, pod_ready
from .managed import deep_merge
from .resources import ResourceType
from .store import Store, now
from .workqueue import FULL, Scope

API_VERSION = "daas.tenxcloud.com/v1"
KIND = "MemcachedCluster"
CRD_NAME = "memcachedclusters.daas.tenxcloud.com"
MANAGER = "memcached-cluster-operator"
REGISTRY = "dev-registry.tenxcloud.com/system_containers"
MEMCACHED_IMAGE = REGISTRY + "/memcached:{version}"
MCROUTER_IMAGE = REGISTRY + "/mcrouter:v0.41.0"
MCROUTER_REPLICAS = 2
PORT = 11211
POOL = "A"


def mcrouter_config(*, name: str, namespace: str, replicas: int, setup: str) -> dict:
    """mcrouter routes: sharded = one pool, keys hashed over it; replset = write to all."""
    servers = [
        f"{name}-memcached-{i}.{name}-memcached.{namespace}.svc.cluster.local:{PORT}"
        for i in range(replicas)
    ]
    pools = {POOL: {"servers": servers}}
    route: str | dict
    if setup == "replset":
        route = {
            "type": "OperationSelectorRoute",
            "operation_policies": {
                "add": f"AllSyncRoute|Pool|{POOL}",
                "delete": f"AllSyncRoute|Pool|{POOL}",
                "set": f"AllSyncRoute|Pool|{POOL}",
            },
            "default_policy": f"MissFailoverRoute|Pool|{POOL}",
        }
    else:
        route = f"PoolRoute|{POOL}"
    return {"pools": pools, "route": route}


def _memory_mb(resources: dict) -> int:
    value = str(((resources or {}).get("limits") or {}).get("memory", "64Mi"))
    m = re.match(r"^(\d+)(Mi|Gi|M|G)?$", value)
    if not m:
        return 64
    number, unit = int(m[1]), m[2] or ""
    return number * 1024 if unit in ("Gi", "G") else number if unit else max(1, number // 2**20)


def _without_none(value):
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _subset(want, have) -> bool:
    """Does the live object already say what we want? (Server defaults may add more.)"""
    if want is None:
        return have is None
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(want) == len(have)
            and all(_subset(a, b) for a, b in zip(want, have, strict=True))
        )
    return want == have


class MemcachedOperator:
    """Reconcile MemcachedClusters into StatefulSet, Deployment, Services, ConfigMap."""

    def __init__(self, store: Store):
        self.store = store

    def tick(self, scope: Scope = FULL) -> None:
        """Reconcile the MemcachedClusters of `scope`'s namespaces (workqueue.py)."""
        rt = self.store.type_for(API_VERSION, KIND)
        if rt is None or not scope:
            return
        watched = self._watched_namespaces()
        if not watched:
            return
        queued = sorted(
            (
                mc
                for mc in self.store.scan(rt)
                if mc["metadata"]["namespace"] in scope
                and ("" in watched or mc["metadata"]["namespace"] in watched)
                and not mc["metadata"].get("deletionTimestamp")
            ),
            key=lambda mc: (mc["metadata"]["namespace"], mc["metadata"]["name"]),
        )
        for stored in queued:
            mc = self.store.peek(rt, stored["metadata"]["namespace"], stored["metadata"]["name"])
            if mc is not None:
                self.reconcile(rt, mc)

    def _watched_namespaces(self) -> set[str]:
        csv_rt = self.store.type_for("operators.coreos.com/v1alpha1", "ClusterServiceVersion")
        if csv_rt is None:
            return set()
        watched: set[str] = set()
        for csv in self.store.scan(csv_rt):  # read-only
            if (csv.get("status") or {}).get("phase") not in ("Succeeded", "Replacing"):
                continue
            owned = (csv["spec"].get("customresourcedefinitions") or {}).get("owned") or []
            if not any(o.get("name") == CRD_NAME for o in owned):
                continue
            targets = (csv["metadata"].get("annotations") or {}).get("olm.targetNamespaces", "")
            watched.update(targets.split(",") if targets else [""])
        return watched

    def event(self, mc, reason, message, type_="Normal"):
        events.record(
            self.store, mc, reason=reason, message=message, component=MANAGER, type_=type_
        )

    def reconcile(self, rt, mc: dict) -> None:
        ns, name = mc["metadata"]["namespace"], mc["metadata"]["name"]
        spec = mc.get("spec") or {}
        replicas = spec.get("replicas", 1)
        version = spec.get("version", "v1.5")
        setup = spec.get("setup", "sharded")
        owner = [owner_ref(mc)]
        memcached_labels = {"app": "memcached", "memcached_cr": name}
        mcrouter_labels = {"app": "mcrouter", "memcached_cr": name}
        common = {
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/managed-by": MANAGER,
            "app.kubernetes.io/part-of": "memcached-cluster",
        }
        config = mcrouter_config(name=name, namespace=ns, replicas=replicas, setup=setup)
        config_json = json.dumps(config, indent=2, sort_keys=True)
        config_hash = hashlib.sha256(config_json.encode()).hexdigest()[:16]
        mem_mb = _memory_mb(spec.get("resources") or {})
        pod_spec: dict = {
            "containers": [
                {
                    "name": "memcached",
                    "image": MEMCACHED_IMAGE.format(version=version),
                    "command": ["memcached"],
                    "args": ["-m", str(mem_mb), "-c", "1024", "-p", str(PORT), "-v"],
                    "ports": [{"name": "memcached", "containerPort": PORT, "protocol": "TCP"}],
                    "resources": copy.deepcopy(spec.get("resources") or {}),
                    "livenessProbe": {"tcpSocket": {"port": PORT}, "initialDelaySeconds": 10},
                    "readinessProbe": {"tcpSocket": {"port": PORT}, "initialDelaySeconds": 2},
                }
            ]
        }
        # None means "must be absent": removing them from the MemcachedCluster removes them here.
        pod_spec["nodeSelector"] = copy.deepcopy(spec.get("nodeSelector")) or None
        pod_spec["affinity"] = copy.deepcopy(spec.get("affinity")) or None
        children: list[tuple[ResourceType, dict]] = [
            (
                CONFIGMAP,
                {
                    "metadata": {
                        "name": f"{name}-mcrouter",
                        "labels": {**common, **mcrouter_labels},
                    },
                    "data": {"config.json": config_json},
                },
            ),
            (
                SERVICE,
                {
                    "metadata": {
                        "name": f"{name}-memcached",
                        "labels": {**common, **memcached_labels},
                    },
                    "spec": {
                        "clusterIP": "None",
                        "publishNotReadyAddresses": True,
                        "ports": [
                            {
                                "name": "memcached",
                                "port": PORT,
                                "protocol": "TCP",
                                "targetPort": PORT,
                            }
                        ],
                        "selector": memcached_labels,
                    },
                },
            ),
            (
                SERVICE,
                {
                    "metadata": {
                        "name": f"{name}-mcrouter-service",
                        "labels": {**common, **mcrouter_labels},
                    },
                    "spec": {
                        "type": "ClusterIP",
                        "ports": [
                            {
                                "name": "mcrouter",
                                "port": PORT,
                                "protocol": "TCP",
                                "targetPort": PORT,
                            }
                        ],
                        "selector": mcrouter_labels,
                    },
                },
            ),
            (
                STATEFULSET,
                {
                    "metadata": {
                        "name": f"{name}-memcached",
                        "labels": {**common, **memcached_labels},
                    },
                    "spec": {
                        "replicas": replicas,
                        "serviceName": f"{name}-memcached",
                        "selector": {"matchLabels": memcached_labels},
                        "template": {"metadata": {"labels": memcached_labels}, "spec": pod_spec},
                    },
                },
            ),
            (
                DEPLOYMENT,
                {
                    "metadata": {
                        "name": f"{name}-mcrouter",
                        "labels": {**common, **mcrouter_labels},
                    },
                    "spec": {
                        "replicas": MCROUTER_REPLICAS,
                        "selector": {"matchLabels": mcrouter_labels},
                        "template": {
                            "metadata": {
                                "labels": mcrouter_labels,
                                "annotations": {
                                    "daas.tenxcloud.com/mcrouter-config-hash": config_hash
                                },
                            },
                            "spec": {
                                "containers": [
                                    {
                                        "name": "mcrouter",
                                        "image": MCROUTER_IMAGE,
                                        "command": ["mcrouter"],
                                        "args": [
                                            "-p",
                                            str(PORT),
                                            "--config-file=/etc/mcrouter/config.json",
                                        ],
                                        "ports": [
                                            {
                                                "name": "mcrouter",
                                                "containerPort": PORT,
                                                "protocol": "TCP",
                                            }
                                        ],
                                        "volumeMounts": [
                                            {"name": "config", "mountPath": "/etc/mcrouter"}
                                        ],
                                    }
                                ],
                                "volumes": [
                                    {"name": "config", "configMap": {"name": f"{name}-mcrouter"}}
                                ],
                            },
                        },
                    },
                },
            ),
        ]
        for child_rt, desired in children:
            desired["metadata"]["namespace"] = ns
            desired["metadata"]["ownerReferences"] = owner
            self._ensure(mc, child_rt, desired)
        self._status(rt, mc, replicas, version, setup)

    def _ensure(self, mc, rt, desired) -> None:
        ns, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
        current = self.store.view(rt, ns, name)  # read-only: changes go to a copy
        if current is None:
            self.store.create(rt, ns, _without_none(desired), manager=MANAGER)
            self.event(mc, "Created", f"Created {rt.kind} {ns}/{name}")
            return
        field = "data" if rt.kind == "ConfigMap" else "spec"
        if _subset(desired[field], current.get(field)) and _subset(
            desired["metadata"]["labels"], current["metadata"].get("labels")
        ):
            return
        updated = copy.deepcopy(current)
        updated[field] = _without_none(deep_merge(current.get(field) or {}, desired[field]))
        updated["metadata"]["labels"] = {
            **(current["metadata"].get("labels") or {}),
            **desired["metadata"]["labels"],
        }
        before = (current.get("spec") or {}).get("replicas")
        self.store.save(rt, updated, manager=MANAGER)
        after = (updated.get("spec") or {}).get("replicas")
        if rt.kind == "StatefulSet" and before != after:
            self.event(
                mc, "Scaled", f"Scaled StatefulSet {ns}/{name} from {before} to {after} replicas"
            )
        else:
            self.event(mc, "Updated", f"Updated {rt.kind} {ns}/{name}")

    def _status(self, rt, mc, replicas, version, setup) -> None:
        ns, name = mc["metadata"]["namespace"], mc["metadata"]["name"]
        old = mc.get("status") or {}
        sts = self.store.view(STATEFULSET, ns, f"{name}-memcached") or {}  # read-only
        dep = self.store.view(DEPLOYMENT, ns, f"{name}-mcrouter") or {}
        sts_status, dep_status = sts.get("status") or {}, dep.get("status") or {}
        ready = sts_status.get("readyReplicas", 0)
        mcrouter_ready = dep_status.get("readyReplicas", 0)
        settled = (
            ready == replicas
            and sts_status.get("replicas", 0) == replicas
            and sts_status.get("updatedReplicas", 0) == replicas
            and mcrouter_ready == MCROUTER_REPLICAS
            and dep_status.get("updatedReplicas", 0) == MCROUTER_REPLICAS
            and dep_status.get("replicas", 0) == MCROUTER_REPLICAS
        )
        previous = old.get("phase", "")
        if settled:
            phase = "Running"
        elif previous in ("", "Creating"):
            phase = "Creating"
        elif previous == "Scaling" or old.get("replicas") != replicas:
            phase = "Scaling"
        elif previous == "Updating" or (old.get("version"), old.get("setup")) != (version, setup):
            phase = "Updating"
        else:
            phase = "Degraded"
        reason, message = (
            "AllReplicasReady",
            f"{ready}/{replicas} memcached and {mcrouter_ready}/{MCROUTER_REPLICAS} mcrouter pods ready",
        )
        if not settled:
            reason = "ReplicasNotReady"
            unschedulable = self._unschedulable(ns, name)
            if unschedulable:
                reason, message = "PodsUnschedulable", unschedulable
        stamp = now()
        old_ready: dict = next(
            (c for c in old.get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        ready_status = "True" if settled else "False"
        condition = {
            "type": "Ready",
            "status": ready_status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": old_ready.get("lastTransitionTime", stamp)
            if old_ready.get("status") == ready_status
            else stamp,
        }
        status = {
            "phase": phase,
            "replicas": replicas,
            "readyReplicas": ready,
            "version": version,
            "setup": setup,
            "observedGeneration": mc["metadata"].get("generation", 1),
            "mcrouter": {"replicas": MCROUTER_REPLICAS, "readyReplicas": mcrouter_ready},
            "serviceName": f"{name}-mcrouter-service",
            "conditions": [condition],
        }
        if status == old:
            return
        mc["status"] = status
        saved = self.store.save(rt, mc, manager=MANAGER, status=True)
        if phase != previous:
            type_ = "Warning" if phase == "Degraded" else "Normal"
            self.event(saved, phase, f"MemcachedCluster {ns}/{name} is {phase}: {message}", type_)

    def _unschedulable(self, ns, name) -> str:
        pods, _ = self.store.list(POD, ns, label_selector=f"memcached_cr={name}")
        for pod in pods:
            if pod_ready(pod):
                continue
            for cond in (pod.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
                    return (
                        f"pod {pod['metadata']['name']} is unschedulable: {cond.get('message', '')}"
                    )
        return ""

"""Simulated Kubernetes control plane: scheduler, kubelet, workload controllers, GC.

A pod is "pulled" and "started" by writing the status a kubelet would write, one step
per tick, so clients see the same progression (Pending -> Running, readyReplicas
climbing) as on a real cluster. Containers the sandbox runs for real (memcached, the
mcrouter routers; see network.py) become ready when their process listens.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time

from . import events
from .addresses import AddressPlan
from .errors import ApiError
from .resources import BUILTIN_TYPES, ResourceType
from .store import Store, now, random_suffix
from .workqueue import FULL, Scope

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def builtin(kind: str) -> ResourceType:
    return next(t for t in BUILTIN_TYPES if t.kind == kind)


NAMESPACE = builtin("Namespace")
POD = builtin("Pod")
SERVICE = builtin("Service")
CONFIGMAP = builtin("ConfigMap")
SERVICE_ACCOUNT = builtin("ServiceAccount")
NODE = builtin("Node")
EVENT = builtin("Event")
DEPLOYMENT = builtin("Deployment")
REPLICASET = builtin("ReplicaSet")
STATEFULSET = builtin("StatefulSet")

ROOT_CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhzYW5kYm94LWNs\n"
    "dXN0ZXItY2EtZmFrZTAeFw0yNDAxMDEwMDAwMDBaFw0zNDAxMDEwMDAwMDBaMCMxITAf\n"
    "-----END CERTIFICATE-----\n"
)


def owner_ref(obj: dict, *, controller: bool = True) -> dict:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controlled_by(obj: dict, owner: dict) -> bool:
    uid = owner["metadata"]["uid"]
    return any(
        r.get("uid") == uid and r.get("controller")
        for r in obj["metadata"].get("ownerReferences") or []
    )


def template_hash(template: dict) -> str:
    digest = int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest(), 16)
    chars = []
    for _ in range(10):
        digest, index = divmod(digest, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)


def pod_ready(pod: dict) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _parse_time(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def seed_objects(plan: AddressPlan) -> list[tuple[ResourceType, dict]]:
    """What a fresh cluster with OLM installed has: namespaces, nodes, system deployments."""
    objs: list[tuple[ResourceType, dict]] = []
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "olm", "operators"):
        objs.append((NAMESPACE, {"metadata": {"name": ns}}))
    for i in range(1, 4):
        name = f"sandbox-node-{i}"
        objs.append(
            (
                NODE,
                {
                    "metadata": {
                        "name": name,
                        "labels": {
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "beta.kubernetes.io/os": "linux",
                            "beta.kubernetes.io/arch": "amd64",
                            "topology.kubernetes.io/zone": f"zone-{'abc'[i - 1]}",
                            **({"node-role.kubernetes.io/control-plane": ""} if i == 1 else {}),
                        },
                        "annotations": {"sandbox.tenxcloud.com/simulated": "true"},
                    },
                    "spec": {"podCIDR": plan.pod_cidr(i), "podCIDRs": [plan.pod_cidr(i)]},
                    "status": _node_status(i, name, plan),
                },
            )
        )
    system = [
        ("kube-system", "coredns", "k8s-app", "registry.k8s.io/coredns/coredns:v1.11.1", 2),
        ("olm", "olm-operator", "app", "quay.io/operator-framework/olm:v0.28.0", 1),
        ("olm", "catalog-operator", "app", "quay.io/operator-framework/olm:v0.28.0", 1),
        ("olm", "packageserver", "app", "quay.io/operator-framework/olm:v0.28.0", 2),
    ]
    for ns, name, label, image, replicas in system:
        objs.append(
            (
                DEPLOYMENT,
                {
                    "metadata": {"name": name, "namespace": ns, "labels": {label: name}},
                    "spec": {
                        "replicas": replicas,
                        "selector": {"matchLabels": {label: name}},
                        "template": {
                            "metadata": {"labels": {label: name}},
                            "spec": {"containers": [{"name": name, "image": image}]},
                        },
                    },
                },
            )
        )
    return objs


def _node_status(i: int, name: str, plan: AddressPlan) -> dict:
    stamp = now()
    return {
        "addresses": [
            {"type": "InternalIP", "address": plan.node_ip(i)},
            {"type": "Hostname", "address": name},
        ],
        "capacity": {
            "cpu": "8",
            "memory": "32863800Ki",
            "pods": "110",
            "ephemeral-storage": "102626232Ki",
        },
        "allocatable": {
            "cpu": "8",
            "memory": "32761400Ki",
            "pods": "110",
            "ephemeral-storage": "94580335255",
        },
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
            },
            *[
                {
                    "type": cond,
                    "status": "False",
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
                for cond, reason, message in (
                    (
                        "MemoryPressure",
                        "KubeletHasSufficientMemory",
                        "kubelet has sufficient memory available",
                    ),
                    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    (
                        "PIDPressure",
                        "KubeletHasSufficientPID",
                        "kubelet has sufficient PID available",
                    ),
                )
            ],
        ],
        "nodeInfo": {
            "architecture": "amd64",
            "operatingSystem": "linux",
            "osImage": "Ubuntu 22.04.4 LTS",
            "kernelVersion": "5.15.0-105-generic",
            "containerRuntimeVersion": "containerd://1.7.13",
            "kubeletVersion": "v1.29.4",
            "kubeProxyVersion": "v1.29.4",
            "machineID": hashlib.md5(name.encode()).hexdigest(),
            "systemUUID": hashlib.md5(name.encode()).hexdigest(),
            "bootID": hashlib.md5(name.encode() + b"boot").hexdigest(),
        },
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
    }


class KubeControllers:
    """Scheduler, kubelet and the kube-controller-manager loops the sandbox needs."""

    def __init__(self, store: Store, *, image_pullable, runtime=None):
        self.store = store
        self.image_pullable = image_pullable
        self.runtime = runtime  # network.Network: what runs for real (None: nothing does)
        self._last_event_sweep = time.monotonic()
        self._scope: Scope = FULL  # what this pass reconciles (workqueue.py)

    def tick(self, scope: Scope = FULL) -> None:
        self._scope = scope
        self.namespaces()
        self.garbage_collect()
        self.deployments()
        self.replicasets()
        self.statefulsets()
        self.pods()
        self.services()
        self.expire_events()

    # -- helpers -------------------------------------------------------------------------

    def event(self, obj, reason, message, component, type_="Normal", host=None):
        events.record(
            self.store,
            obj,
            reason=reason,
            message=message,
            component=component,
            type_=type_,
            host=host,
        )

    def _list(self, rt, namespace=None):
        return self.store.list(rt, namespace)[0]

    def _queued(self, rt):
        """Copies of the `rt` objects in this pass's namespaces (all on a full pass; for a
        Namespace, its own name counts)."""
        scope = self._scope
        if scope.full:
            return self.store.list(rt)[0]
        meta_key = "namespace" if rt.namespaced else "name"
        return [
            self.store._present(rt, obj)
            for obj in sorted(
                self.store.scan(rt),
                key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]),
            )
            if obj["metadata"].get(meta_key) in scope
        ]

    def _owned_pods(self, owner):
        """Pods controlled by `owner` (stored objects: read-only)."""
        pods = self.store.scan(POD, owner["metadata"]["namespace"])
        return [p for p in pods if controlled_by(p, owner)]

    # -- namespaces ----------------------------------------------------------------------

    def namespaces(self) -> None:
        for ns in self._queued(NAMESPACE):
            name = ns["metadata"]["name"]
            if ns["metadata"].get("deletionTimestamp"):
                for rt, obj in self.store.all_objects():
                    if rt.namespaced and obj["metadata"].get("namespace") == name:
                        self.store.remove(rt, obj)
                self.store.remove(NAMESPACE, ns)
                continue
            if self.store.peek(SERVICE_ACCOUNT, name, "default") is None:
                self.store.create(
                    SERVICE_ACCOUNT,
                    name,
                    {"metadata": {"name": "default"}},
                    manager="kube-controller-manager",
                )
            if self.store.peek(CONFIGMAP, name, "kube-root-ca.crt") is None:
                self.store.create(
                    CONFIGMAP,
                    name,
                    {
                        "metadata": {
                            "name": "kube-root-ca.crt",
                            "annotations": {
                                "kubernetes.io/description": "Contains a CA bundle that can be "
                                "used to verify the kube-apiserver when using internal endpoints "
                                "such as the internal service IP or kubernetes.default.svc. No "
                                "other usage is guaranteed across distributions of Kubernetes "
                                "clusters."
                            },
                        },
                        "data": {"ca.crt": ROOT_CA},
                    },
                    manager="kube-controller-manager",
                )

    # -- garbage collector -----------------------------------------------------------------

    def garbage_collect(self) -> None:
        """Delete dependents whose owners are all gone; finish foreground deletions."""
        scope = self._scope
        for _ in range(10):
            # Dependents live in their owner's namespace (or are cluster-scoped): a pass
            # looks at its namespaces' objects and the cluster-scoped ones, and finds
            # owners by uid.
            objs = (
                self.store.all_objects()
                if scope.full
                else self.store.in_namespaces(["", *scope.namespaces])
            )

            def alive(uid) -> bool:
                owner = self.store.by_uid(uid) if uid else None
                return owner is not None and "foregroundDeletion" not in (
                    owner["metadata"].get("finalizers") or []
                )

            doomed = [
                (rt, obj)
                for rt, obj in objs
                if (refs := obj["metadata"].get("ownerReferences") or [])
                and not any(alive(r.get("uid")) for r in refs)
            ]
            removed = bool(doomed)
            for rt, obj in doomed:
                self.store.remove(rt, obj)
            for rt, obj in objs:
                finalizers = obj["metadata"].get("finalizers") or []
                if obj["metadata"].get("deletionTimestamp") and "foregroundDeletion" in finalizers:
                    uid = obj["metadata"]["uid"]
                    has_children = any(
                        r.get("uid") == uid
                        for _, o in self.store.all_objects()
                        for r in o["metadata"].get("ownerReferences") or []
                    )
                    if not has_children:
                        current = self.store.peek(
                            rt, obj["metadata"].get("namespace"), obj["metadata"]["name"]
                        )
                        if current:
                            current["metadata"]["finalizers"] = [
                                f for f in finalizers if f != "foregroundDeletion"
                            ]
                            self.store.save(rt, current, manager="kube-controller-manager")
                            removed = True
            if not removed:
                return

    # -- deployments / replicasets ----------------------------------------------------------

    def deployments(self) -> None:
        for dep in self._queued(DEPLOYMENT):
            if dep["metadata"].get("deletionTimestamp"):
                continue
            ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
            spec = dep["spec"]
            desired = spec.get("replicas", 1)
            template = spec["template"]
            tmpl_hash = template_hash(template)
            rs_name = f"{name}-{tmpl_hash}"
            owned = [
                self.store.get(REPLICASET, ns, rs["metadata"]["name"])
                for rs in self.store.scan(REPLICASET, ns)
                if controlled_by(rs, dep)
            ]
            current = next((rs for rs in owned if rs["metadata"]["name"] == rs_name), None)
            revision = str(len(owned) + (0 if current else 1))
            if current is None:
                labels = {
                    **(template.get("metadata") or {}).get("labels", {}),
                    "pod-template-hash": tmpl_hash,
                }
                rs_template = json.loads(json.dumps(template))
                rs_template.setdefault("metadata", {})["labels"] = labels
                selector = json.loads(json.dumps(spec["selector"]))
                selector.setdefault("matchLabels", {})["pod-template-hash"] = tmpl_hash
                self.store.create(
                    REPLICASET,
                    ns,
                    {
                        "metadata": {
                            "name": rs_name,
                            "labels": labels,
                            "annotations": {
                                "deployment.kubernetes.io/desired-replicas": str(desired),
                                "deployment.kubernetes.io/max-replicas": str(desired + 1),
                                "deployment.kubernetes.io/revision": revision,
                            },
                            "ownerReferences": [owner_ref(dep)],
                        },
                        "spec": {
                            "replicas": desired,
                            "selector": selector,
                            "template": rs_template,
                        },
                    },
                    manager="kube-controller-manager",
                )
                self.event(
                    dep,
                    "ScalingReplicaSet",
                    f"Scaled up replica set {rs_name} to {desired}",
                    "deployment-controller",
                )
                if (
                    dep["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
                    != revision
                ):
                    dep["metadata"].setdefault("annotations", {})[
                        "deployment.kubernetes.io/revision"
                    ] = revision
                    dep = self.store.save(DEPLOYMENT, dep, manager="kube-controller-manager")
            elif current["spec"].get("replicas") != desired:
                before = current["spec"].get("replicas")
                current["spec"]["replicas"] = desired
                current["metadata"].setdefault("annotations", {})[
                    "deployment.kubernetes.io/desired-replicas"
                ] = str(desired)
                self.store.save(REPLICASET, current, manager="kube-controller-manager")
                verb = "up" if desired > before else "down"
                self.event(
                    dep,
                    "ScalingReplicaSet",
                    f"Scaled {verb} replica set {rs_name} to {desired} from {before}",
                    "deployment-controller",
                )
            for rs in owned:
                if rs["metadata"]["name"] != rs_name and rs["spec"].get("replicas", 0) > 0:
                    before = rs["spec"]["replicas"]
                    rs["spec"]["replicas"] = 0
                    self.store.save(REPLICASET, rs, manager="kube-controller-manager")
                    self.event(
                        dep,
                        "ScalingReplicaSet",
                        f"Scaled down replica set {rs['metadata']['name']} to 0 from {before}",
                        "deployment-controller",
                    )
            old_sets = sorted(
                (rs for rs in owned if rs["metadata"]["name"] != rs_name),
                key=lambda rs: rs["metadata"]["creationTimestamp"],
            )
            for rs in old_sets[: max(0, len(old_sets) - spec.get("revisionHistoryLimit", 10))]:
                if not self._owned_pods(rs):
                    self.store.remove(REPLICASET, rs)  # beyond revisionHistoryLimit
            self._deployment_status(dep, rs_name, desired)

    def _deployment_status(self, dep, rs_name, desired) -> None:
        pods = self._owned_pods_of_deployment(dep)
        updated = [p for p in pods if p["metadata"]["name"].startswith(rs_name + "-")]
        ready = [p for p in pods if pod_ready(p)]
        stamp = now()
        old = dep.get("status") or {}
        old_conditions = {c["type"]: c for c in old.get("conditions") or []}

        def condition(type_, status, reason, message):
            previous = old_conditions.get(type_) or {}
            same = previous.get("status") == status
            return {
                "type": type_,
                "status": status,
                "reason": reason,
                "message": message,
                "lastUpdateTime": previous.get("lastUpdateTime", stamp)
                if same and previous.get("reason") == reason
                else stamp,
                "lastTransitionTime": previous.get("lastTransitionTime", stamp) if same else stamp,
            }

        available = len(ready) >= desired
        complete = available and len(updated) == desired and len(pods) == desired
        status = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": len(pods),
            "updatedReplicas": len(updated),
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
            "conditions": [
                condition(
                    "Available",
                    "True" if available else "False",
                    "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                    "Deployment has minimum availability."
                    if available
                    else "Deployment does not have minimum availability.",
                ),
                condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                    f'ReplicaSet "{rs_name}" has successfully progressed.'
                    if complete
                    else f'ReplicaSet "{rs_name}" is progressing.',
                ),
            ],
        }
        if desired - len(ready) > 0:
            status["unavailableReplicas"] = desired - len(ready)
        for key in ("readyReplicas", "availableReplicas", "updatedReplicas", "replicas"):
            if status[key] == 0:
                del status[key]
        if status != old:
            dep["status"] = status
            self.store.save(DEPLOYMENT, dep, manager="kube-controller-manager", status=True)

    def _owned_pods_of_deployment(self, dep):
        ns = dep["metadata"]["namespace"]
        rs_uids = {
            rs["metadata"]["uid"]
            for rs in self.store.scan(REPLICASET, ns)
            if controlled_by(rs, dep)
        }
        return [
            p
            for p in self.store.scan(POD, ns)
            if any(r.get("uid") in rs_uids for r in p["metadata"].get("ownerReferences") or [])
        ]

    def replicasets(self) -> None:
        for rs in self._queued(REPLICASET):
            if rs["metadata"].get("deletionTimestamp"):
                continue
            ns, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
            pods = self._owned_pods(rs)
            desired = rs["spec"].get("replicas", 1)
            template = rs["spec"]["template"]
            for _ in range(desired - len(pods)):
                pod_name = f"{name}-{random_suffix()}"
                pod = {
                    "metadata": {
                        "name": pod_name,
                        "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                        "annotations": dict(
                            (template.get("metadata") or {}).get("annotations") or {}
                        ),
                        "ownerReferences": [owner_ref(rs)],
                    },
                    "spec": json.loads(json.dumps(template.get("spec") or {})),
                }
                if not pod["metadata"]["annotations"]:
                    del pod["metadata"]["annotations"]
                self.store.create(POD, ns, pod, manager="kube-controller-manager")
                self.event(
                    rs, "SuccessfulCreate", f"Created pod: {pod_name}", "replicaset-controller"
                )
            if len(pods) > desired:
                doomed = sorted(
                    pods,
                    key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]),
                )[: len(pods) - desired]
                for pod in doomed:
                    self.store.remove(POD, pod)
                    self.event(
                        rs,
                        "SuccessfulDelete",
                        f"Deleted pod: {pod['metadata']['name']}",
                        "replicaset-controller",
                    )
            pods = self._owned_pods(rs)
            ready = sum(1 for p in pods if pod_ready(p))
            status = {
                "replicas": len(pods),
                "observedGeneration": rs["metadata"].get("generation", 1),
            }
            if pods:
                status["fullyLabeledReplicas"] = len(pods)
            if ready:
                status["readyReplicas"] = ready
                status["availableReplicas"] = ready
            if status != rs.get("status"):
                rs["status"] = status
                self.store.save(REPLICASET, rs, manager="kube-controller-manager", status=True)

    # -- statefulsets -------------------------------------------------------------------

    def statefulsets(self) -> None:
        for sts in self._queued(STATEFULSET):
            if sts["metadata"].get("deletionTimestamp"):
                continue
            name = sts["metadata"]["name"]
            spec = sts["spec"]
            desired = spec.get("replicas", 1)
            parallel = spec.get("podManagementPolicy") == "Parallel"
            revision = f"{name}-{template_hash(spec['template'])}"
            pods = {}
            for pod in self._owned_pods(sts):
                ordinal = pod["metadata"]["name"].rsplit("-", 1)[-1]
                if ordinal.isdigit():
                    pods[int(ordinal)] = pod
            all_ready = all(pod_ready(p) for p in pods.values())
            acted = False
            for ordinal in range(desired):
                if ordinal in pods:
                    continue
                if not parallel and (
                    acted or not all(pod_ready(pods[i]) for i in pods if i < ordinal)
                ):
                    break
                self._create_sts_pod(sts, ordinal, revision)
                acted = True
            extra = sorted((i for i in pods if i >= desired), reverse=True)
            for ordinal in extra if parallel else extra[:1]:
                if not parallel and (acted or not all_ready):
                    break
                self.store.remove(POD, pods[ordinal])
                self.event(
                    sts,
                    "SuccessfulDelete",
                    f"delete Pod {pods.pop(ordinal)['metadata']['name']} in StatefulSet {name} successful",
                    "statefulset-controller",
                )
                acted = True
            if not acted and all_ready and len(pods) == desired:
                outdated = [
                    i
                    for i, p in pods.items()
                    if p["metadata"].get("labels", {}).get("controller-revision-hash") != revision
                ]
                if outdated:
                    ordinal = max(outdated)
                    self.store.remove(POD, pods.pop(ordinal))
                    self.event(
                        sts,
                        "SuccessfulDelete",
                        f"delete Pod {name}-{ordinal} in StatefulSet {name} successful",
                        "statefulset-controller",
                    )
            self._statefulset_status(sts, revision)

    def _create_sts_pod(self, sts, ordinal, revision) -> None:
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        template = sts["spec"]["template"]
        pod_name = f"{name}-{ordinal}"
        labels = {
            **((template.get("metadata") or {}).get("labels") or {}),
            "controller-revision-hash": revision,
            "statefulset.kubernetes.io/pod-name": pod_name,
            "apps.kubernetes.io/pod-index": str(ordinal),
        }
        spec = json.loads(json.dumps(template.get("spec") or {}))
        spec["hostname"] = pod_name
        if sts["spec"].get("serviceName"):
            spec["subdomain"] = sts["spec"]["serviceName"]
        pod = {
            "metadata": {
                "name": pod_name,
                "labels": labels,
                "ownerReferences": [owner_ref(sts)],
            },
            "spec": spec,
        }
        annotations = (template.get("metadata") or {}).get("annotations")
        if annotations:
            pod["metadata"]["annotations"] = dict(annotations)
        try:
            self.store.create(POD, ns, pod, manager="kube-controller-manager")
        except ApiError:
            return
        self.event(
            sts,
            "SuccessfulCreate",
            f"create Pod {pod_name} in StatefulSet {name} successful",
            "statefulset-controller",
        )

    def _statefulset_status(self, sts, revision) -> None:
        pods = self._owned_pods(sts)
        ready = sum(1 for p in pods if pod_ready(p))
        updated = sum(
            1
            for p in pods
            if p["metadata"].get("labels", {}).get("controller-revision-hash") == revision
        )
        old = sts.get("status") or {}
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "currentReplicas": updated,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": revision
            if updated == len(pods)
            else old.get("currentRevision", revision),
            "updateRevision": revision,
            "collisionCount": 0,
        }
        for key in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if status[key] == 0:
                del status[key]
        if status != old:
            sts["status"] = status
            self.store.save(STATEFULSET, sts, manager="kube-controller-manager", status=True)

    # -- scheduler + kubelet -------------------------------------------------------------------

    def pods(self) -> None:
        nodes = [n for n in self._list(NODE) if not (n.get("spec") or {}).get("unschedulable")]
        all_pods = self.store.scan(POD)
        load = {n["metadata"]["name"]: 0 for n in nodes}
        for pod in all_pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node in load:
                load[node] += 1
        scope = self._scope
        for raw in list(all_pods):
            if raw["metadata"]["namespace"] not in scope:
                continue
            status = raw.get("status") or {}
            phase = status.get("phase")
            if raw["metadata"].get("deletionTimestamp") or phase in ("Succeeded", "Failed"):
                continue
            pulling = any(
                ((s.get("state") or {}).get("waiting") or {}).get("reason") == "ErrImagePull"
                for s in status.get("containerStatuses") or []
            )
            if raw["spec"].get("nodeName") and status.get("containerStatuses") and not pulling:
                continue
            pod = self.store.get(POD, raw["metadata"]["namespace"], raw["metadata"]["name"])
            if not pod["spec"].get("nodeName"):
                self._schedule(pod, nodes, load)
            elif not status.get("containerStatuses"):
                self._start(pod, nodes)
            else:
                self._retry_pull(pod)

    def _schedule(self, pod, nodes, load) -> None:
        fitting = [n for n in nodes if _node_fits(pod, n)]
        stamp = now()
        if not fitting:
            message = (
                f"0/{len(nodes)} nodes are available: {len(nodes)} node(s) didn't match Pod's "
                f"node affinity/selector. preemption: 0/{len(nodes)} nodes are available: "
                f"{len(nodes)} Preemption is not helpful for scheduling."
            )
            conditions = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": stamp,
                }
            ]
            status = pod.setdefault("status", {})
            if [
                {k: v for k, v in c.items() if k != "lastTransitionTime"}
                for c in status.get("conditions") or []
            ] != [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conditions]:
                status["conditions"] = conditions
                self.store.save(POD, pod, manager="kube-scheduler", status=True)
                self.event(pod, "FailedScheduling", message, "default-scheduler", "Warning")
            return
        node = min(fitting, key=lambda n: (load[n["metadata"]["name"]], n["metadata"]["name"]))
        node_name = node["metadata"]["name"]
        load[node_name] += 1
        pod["spec"]["nodeName"] = node_name
        pod = self.store.save(POD, pod, manager="kube-scheduler")
        pod["status"]["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": stamp,
            }
        ]
        self.store.save(POD, pod, manager="kube-scheduler", status=True)
        self.event(
            pod,
            "Scheduled",
            f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} "
            f"to {node_name}",
            "default-scheduler",
        )

    def _start(self, pod, nodes) -> None:
        node = next((n for n in nodes if n["metadata"]["name"] == pod["spec"]["nodeName"]), None)
        node_index = int(node["metadata"]["name"].rsplit("-", 1)[-1]) if node else 1
        plan = self.store.addresses
        host_ip = next(
            (
                a["address"]
                for a in (node or {}).get("status", {}).get("addresses", [])
                if a["type"] == "InternalIP"
            ),
            plan.node_ip(node_index),
        )
        pod_ip = self._allocate_pod_ip(plan, node_index, pod["metadata"]["uid"])
        stamp = now()
        containers = pod["spec"].get("containers") or []
        pullable = all(self.image_pullable(pod, c.get("image", "")) for c in containers)
        # Containers that run for real start now and turn ready when they listen.
        backed: dict[str, str | None] = {}
        refused: dict[str, str] = {}
        if pullable and self.runtime is not None:
            for c in containers:
                backed[c["name"]] = self.runtime.backed(pod, c)
                if backed[c["name"]]:
                    error = self.runtime.run(pod, c, pod_ip)
                    if error:
                        refused[c["name"]] = error
        statuses = []
        for c in containers:
            image = c.get("image", "")
            if c["name"] in refused:
                state = {
                    "waiting": {"reason": "CreateContainerError", "message": refused[c["name"]]}
                }
            elif pullable:
                state = {"running": {"startedAt": stamp}}
            else:
                state = {"waiting": {"reason": "ErrImagePull", "message": _pull_error(image)}}
            container_ready = pullable and not backed.get(c["name"])
            started = pullable and c["name"] not in refused
            statuses.append(
                {
                    "name": c["name"],
                    "image": image,
                    "imageID": ""
                    if not pullable
                    else f"{image.rsplit(':', 1)[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                    "containerID": f"containerd://{hashlib.sha256((pod['metadata']['uid'] + c['name']).encode()).hexdigest()}"
                    if pullable
                    else None,
                    "ready": container_ready,
                    "started": started,
                    "restartCount": 0,
                    "state": state,
                    "lastState": {},
                }
            )
            if statuses[-1]["containerID"] is None:
                del statuses[-1]["containerID"]
        unready = [s["name"] for s in statuses if not s["ready"]]
        ready = "False" if unready else "True"
        conditions: list[dict] = [
            {
                "type": "PodReadyToStartContainers",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": stamp,
            },
            {
                "type": "Initialized",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": stamp,
            },
            {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": stamp},
            {
                "type": "ContainersReady",
                "status": ready,
                "lastProbeTime": None,
                "lastTransitionTime": stamp,
            },
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": stamp,
            },
        ]
        if unready:
            names = " ".join(unready)
            for cond in conditions[2:4]:
                cond["reason"] = "ContainersNotReady"
                cond["message"] = f"containers with unready status: [{names}]"
        pod["status"].update(
            {
                "phase": "Running" if pullable and not refused else "Pending",
                "hostIP": host_ip,
                "hostIPs": [{"ip": host_ip}],
                "podIP": pod_ip,
                "podIPs": [{"ip": pod_ip}],
                "startTime": stamp,
                "conditions": conditions,
                "containerStatuses": statuses,
            }
        )
        self.store.save(POD, pod, manager="kubelet", status=True)
        node_name = pod["spec"]["nodeName"]
        for c in containers:
            image = c.get("image", "")
            if c["name"] in refused:
                self.event(
                    pod,
                    "Failed",
                    f"Error: {refused[c['name']]}",
                    "kubelet",
                    "Warning",
                    host=node_name,
                )
            elif pullable:
                self.event(
                    pod,
                    "Pulled",
                    f'Container image "{image}" already present on machine',
                    "kubelet",
                    host=node_name,
                )
                self.event(
                    pod, "Created", f"Created container {c['name']}", "kubelet", host=node_name
                )
                self.event(
                    pod, "Started", f"Started container {c['name']}", "kubelet", host=node_name
                )
            else:
                self.event(pod, "Pulling", f'Pulling image "{image}"', "kubelet", host=node_name)
                self.event(
                    pod,
                    "Failed",
                    f'Failed to pull image "{image}": {_pull_error(image)}',
                    "kubelet",
                    "Warning",
                    host=node_name,
                )
                self.event(
                    pod, "Failed", "Error: ErrImagePull", "kubelet", "Warning", host=node_name
                )

    def _allocate_pod_ip(self, plan, node_index: int, uid: str) -> str:
        """A free address of the node's pod range (127.N.<node>.2-254), stable per uid hash."""
        used = {(p.get("status") or {}).get("podIP") for p in self.store.scan(POD)}
        first = int(hashlib.md5(uid.encode()).hexdigest(), 16) % 253
        for k in range(253):
            candidate = plan.pod_ip(node_index, 2 + (first + k) % 253)
            if candidate not in used:
                return candidate
        return plan.pod_ip(node_index, 2 + first)  # 253 pods on one node: share (never here)

    def _retry_pull(self, pod) -> None:
        changed = False
        for status in pod["status"].get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") == "ErrImagePull":
                status["state"] = {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{status["image"]}"',
                    }
                }
                changed = True
                self.event(
                    pod,
                    "BackOff",
                    f'Back-off pulling image "{status["image"]}"',
                    "kubelet",
                    "Normal",
                    host=pod["spec"].get("nodeName"),
                )
        if changed:
            self.store.save(POD, pod, manager="kubelet", status=True)

    # -- services --------------------------------------------------------------------------

    def services(self) -> None:
        for raw in list(self.store.scan(SERVICE)):
            if raw["metadata"]["namespace"] not in self._scope:
                continue
            if raw["spec"].get("type") != "LoadBalancer":
                continue
            if ((raw.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
                continue
            svc = self.store.get(SERVICE, raw["metadata"]["namespace"], raw["metadata"]["name"])
            self.event(svc, "EnsuringLoadBalancer", "Ensuring load balancer", "service-controller")
            svc.setdefault("status", {})["loadBalancer"] = {
                "ingress": [{"ip": self._allocate_load_balancer_ip(svc), "ipMode": "VIP"}]
            }
            self.store.save(SERVICE, svc, manager="service-controller", status=True)
            self.event(svc, "EnsuredLoadBalancer", "Ensured load balancer", "service-controller")

    def _allocate_load_balancer_ip(self, svc) -> str:
        """A free address of the LoadBalancer pool 127.N.255.10-254 (MetalLB-like)."""
        plan = self.store.addresses
        used = {
            i.get("ip")
            for s in self.store.scan(SERVICE)
            for i in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        }
        first = int(hashlib.md5(svc["metadata"]["uid"].encode()).hexdigest(), 16) % 245
        for k in range(245):
            candidate = plan.load_balancer_ip(10 + (first + k) % 245)
            if candidate not in used:
                return candidate
        return plan.load_balancer_ip(10 + first)

    # -- event TTL -------------------------------------------------------------------------

    def expire_events(self, ttl_seconds: int = 3600) -> None:
        """Drop Events older than an hour (the API server's default event TTL), once a minute."""
        if time.monotonic() - self._last_event_sweep < 60:
            return
        self._last_event_sweep = time.monotonic()
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=ttl_seconds)
        for event in list(self.store.scan(EVENT)):
            stamp = event.get("lastTimestamp") or event["metadata"]["creationTimestamp"]
            try:
                if _parse_time(stamp) < cutoff:
                    self.store.remove(EVENT, event)
            except ValueError:
                continue


def _pull_error(image: str) -> str:
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )


def _node_fits(pod: dict, node: dict) -> bool:
    labels = node["metadata"].get("labels") or {}
    spec = pod.get("spec") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(_term_matches(t, labels) for t in terms)


def _term_matches(term: dict, labels: dict) -> bool:
    for expr in term.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        value = labels.get(key)
        if op == "In" and value not in values:
            return False
        if op == "NotIn" and value in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op in ("Gt", "Lt"):
            if value is None:
                return False  # a missing label is neither greater nor less than anything
            try:
                number, bound = int(value), int(values[0])
            except (TypeError, ValueError, IndexError):
                return False
            if (op == "Gt" and not number > bound) or (op == "Lt" and not number < bound):
                return False
    return True

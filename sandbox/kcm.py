"""More kube-controller-manager loops: job, endpoints, disruption and horizontal-pod-autoscaler,
plus the kubelet's part of a Job (its containers run to completion).

What the marketplace's own manifests (deploy/) need from a cluster. The statuses are those
a 1.29 cluster writes (pkg/controller/job, endpoint, disruption, podautoscaler):

* Job: pods `<job>-xxxxx` with the `batch.kubernetes.io/job-tracking` finalizer; a pod's
  containers exit 0 one pass after they started (the sandbox runs no image), the pod turns
  `Succeeded`, the controller counts it, drops the finalizer and, at `completions`,
  writes `Complete` with `completionTime` (a 1.29 Complete condition has no reason).
  `backoffLimit` and `activeDeadlineSeconds` end a Job `Failed`.
* Endpoints: one per Service with a selector, the ready pods in `addresses`, the others in
  `notReadyAddresses`, named target ports resolved per pod.
* PodDisruptionBudget: expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed and
  the `DisruptionAllowed` condition.
* HorizontalPodAutoscaler: replicas outside [minReplicas, maxReplicas] are rescaled through
  the target; within, the sandbox has no metrics API (no metrics-server), so `ScalingActive`
  is False `FailedGetResourceMetric`, as on a cluster without one.

Level-triggered like controllers.py: a pass over an unchanged store writes nothing (Events
only on a change, so an idle sandbox stays idle).
"""

from __future__ import annotations

import datetime
import json
import math

from . import events
from .controllers import (
    DEPLOYMENT,
    POD,
    REPLICASET,
    SERVICE,
    STATEFULSET,
    controlled_by,
    owner_ref,
    pod_ready,
)
from .resources import BUILTIN_TYPES, ResourceType
from .store import Store, now


def _builtin(group: str, kind: str) -> ResourceType:
    return next(t for t in BUILTIN_TYPES if t.group == group and t.kind == kind)


JOB = _builtin("batch", "Job")
ENDPOINTS = _builtin("", "Endpoints")
PDB = _builtin("policy", "PodDisruptionBudget")
HPA = _builtin("autoscaling", "HorizontalPodAutoscaler")

JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
NO_METRICS_API = (
    "unable to get metrics for resource {name}: unable to fetch metrics from resource metrics "
    "API: the server could not find the requested resource (get pods.metrics.k8s.io)"
)


def _parse(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def _selector_matches(selector: dict | None, labels: dict) -> bool:
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def _terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _condition(old: list[dict], type_: str, status: str, stamp: str, **fields) -> dict:
    """A condition that keeps its lastTransitionTime while its status stays."""
    previous = next((c for c in old if c.get("type") == type_), None)
    same = previous is not None and previous.get("status") == status
    return {
        "type": type_,
        "status": status,
        "lastTransitionTime": previous["lastTransitionTime"] if same and previous else stamp,
        **fields,
    }


class KcmControllers:
    """Job (with the kubelet's run-to-completion), endpoints, disruption, HPA."""

    def __init__(self, store: Store):
        self.store = store

    def tick(self) -> None:
        self.job_pods()
        self.jobs()
        self.endpoints()
        self.disruption_budgets()
        self.autoscalers()

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

    # -- kubelet: a Job's containers run to completion -----------------------------------

    def job_pods(self) -> None:
        """Containers of a Job's pod exit 0 one pass after they started running."""
        for raw in self.store.scan(POD):
            status = raw.get("status") or {}
            if status.get("phase") != "Running" or raw["metadata"].get("deletionTimestamp"):
                continue
            refs = raw["metadata"].get("ownerReferences") or []
            if not any(r.get("kind") == "Job" and r.get("controller") for r in refs):
                continue
            statuses = status.get("containerStatuses") or []
            if not statuses or not all("running" in (s.get("state") or {}) for s in statuses):
                continue
            pod = self.store.get(POD, raw["metadata"]["namespace"], raw["metadata"]["name"])
            stamp = now()
            for s in pod["status"]["containerStatuses"]:
                terminated = {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": s["state"]["running"].get("startedAt", stamp),
                    "finishedAt": stamp,
                }
                if s.get("containerID"):
                    terminated["containerID"] = s["containerID"]
                s.update(state={"terminated": terminated}, ready=False, started=False)
            old = pod["status"].get("conditions") or []
            pod["status"]["phase"] = "Succeeded"
            pod["status"]["conditions"] = [
                _condition(old, "PodReadyToStartContainers", "False", stamp, lastProbeTime=None),
                _condition(
                    old, "Initialized", "True", stamp, lastProbeTime=None, reason="PodCompleted"
                ),
                _condition(old, "Ready", "False", stamp, lastProbeTime=None, reason="PodCompleted"),
                _condition(
                    old,
                    "ContainersReady",
                    "False",
                    stamp,
                    lastProbeTime=None,
                    reason="PodCompleted",
                ),
                _condition(old, "PodScheduled", "True", stamp, lastProbeTime=None),
            ]
            self.store.save(POD, pod, manager="kubelet", status=True)

    # -- job controller ---------------------------------------------------------------

    def jobs(self) -> None:
        for raw in self.store.scan(JOB):
            if raw["metadata"].get("deletionTimestamp"):
                continue
            finished = any(
                c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                for c in (raw.get("status") or {}).get("conditions") or []
            )
            if finished and not any(
                JOB_TRACKING_FINALIZER in (p["metadata"].get("finalizers") or [])
                and controlled_by(p, raw)
                for p in self.store.scan(POD, raw["metadata"]["namespace"])
            ):
                continue  # done and every pod counted: nothing to do
            # A copy with apiVersion/kind (owner references, Events).
            self._sync_job(
                self.store.get(JOB, raw["metadata"]["namespace"], raw["metadata"]["name"])
            )

    def _sync_job(self, raw: dict) -> None:
        ns = raw["metadata"]["namespace"]
        spec = raw.get("spec") or {}
        old = raw.get("status") or {}
        pods = [p for p in self.store.scan(POD, ns) if controlled_by(p, raw)]
        # Terminal pods still carrying the finalizer are not counted yet.
        uncounted = [
            p
            for p in pods
            if _terminal(p) and JOB_TRACKING_FINALIZER in (p["metadata"].get("finalizers") or [])
        ]
        succeeded = old.get("succeeded", 0) + sum(
            1 for p in uncounted if p["status"]["phase"] == "Succeeded"
        )
        failed = old.get("failed", 0) + sum(
            1 for p in uncounted if p["status"]["phase"] == "Failed"
        )
        for pod in uncounted:
            current = self.store.get(POD, ns, pod["metadata"]["name"])
            current["metadata"]["finalizers"] = [
                f
                for f in current["metadata"].get("finalizers") or []
                if f != JOB_TRACKING_FINALIZER
            ]
            if not current["metadata"]["finalizers"]:
                del current["metadata"]["finalizers"]
            self.store.save(POD, current, manager="kube-controller-manager")
        conditions = old.get("conditions") or []
        finished = any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in conditions
        )
        if finished:
            if uncounted:
                self._job_status(raw, {**old, "succeeded": succeeded, "failed": failed})
            return
        if spec.get("suspend"):
            return
        active = [
            p for p in pods if not _terminal(p) and not p["metadata"].get("deletionTimestamp")
        ]
        completions = spec.get("completions")
        parallelism = spec.get("parallelism", 1)
        stamp = now()
        status: dict = {"startTime": old.get("startTime", stamp)}
        failure = None
        if failed > spec.get("backoffLimit", 6):
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None and failure is None:
            started = _parse(status["startTime"])
            if datetime.datetime.now(datetime.UTC) - started >= datetime.timedelta(
                seconds=deadline
            ):
                failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        complete = completions is not None and succeeded >= completions
        if failure is not None:
            for pod in active:
                self.store.remove(POD, pod)
                self.event(
                    raw,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    "job-controller",
                )
            active = []
            status["conditions"] = [
                *conditions,
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": failure[0],
                    "message": failure[1],
                    "lastProbeTime": stamp,
                    "lastTransitionTime": stamp,
                },
            ]
            self.event(raw, failure[0], failure[1], "job-controller", "Warning")
        elif complete:
            status["conditions"] = [
                *conditions,
                {
                    "type": "Complete",
                    "status": "True",
                    "lastProbeTime": stamp,
                    "lastTransitionTime": stamp,
                },
            ]
            status["completionTime"] = stamp
            self.event(raw, "Completed", "Job completed", "job-controller")
        else:
            remaining = (completions - succeeded) if completions is not None else parallelism
            for _ in range(max(0, min(parallelism, remaining) - len(active))):
                created = self._create_job_pod(raw)
                if created is not None:
                    active.append(created)
            if conditions:
                status["conditions"] = conditions
        if active:
            status["active"] = len(active)
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        status["ready"] = sum(1 for p in active if pod_ready(p))
        status["terminating"] = 0
        status["uncountedTerminatedPods"] = {}
        self._job_status(raw, status)

    def _create_job_pod(self, job: dict) -> dict | None:
        ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
        template = job["spec"]["template"]
        meta = template.get("metadata") or {}
        pod = {
            "metadata": {
                "generateName": f"{name}-",
                "labels": dict(meta.get("labels") or {}),
                "finalizers": [JOB_TRACKING_FINALIZER],
                "ownerReferences": [owner_ref(job)],
            },
            "spec": _clone(template.get("spec") or {}),
        }
        if meta.get("annotations"):
            pod["metadata"]["annotations"] = dict(meta["annotations"])
        created = self.store.create(POD, ns, pod, manager="kube-controller-manager")
        self.event(
            job, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", "job-controller"
        )
        return created

    def _job_status(self, raw: dict, status: dict) -> None:
        if status == (raw.get("status") or {}):
            return
        job = self.store.get(JOB, raw["metadata"]["namespace"], raw["metadata"]["name"])
        job["status"] = status
        self.store.save(JOB, job, manager="kube-controller-manager", status=True)

    # -- endpoints controller -------------------------------------------------------------

    def endpoints(self) -> None:
        services = {}
        for svc in self.store.scan(SERVICE):
            services[(svc["metadata"]["namespace"], svc["metadata"]["name"])] = svc
        pods_by_ns: dict[str, list[dict]] = {}
        for (ns, _name), svc in services.items():
            selector = (svc.get("spec") or {}).get("selector")
            if not selector or svc["metadata"].get("deletionTimestamp"):
                continue
            if ns not in pods_by_ns:
                pods_by_ns[ns] = self.store.scan(POD, ns)
            self._sync_endpoints(svc, pods_by_ns[ns])
        for ep in self.store.scan(ENDPOINTS):
            if (ep["metadata"]["namespace"], ep["metadata"]["name"]) not in services:
                self.store.remove(ENDPOINTS, ep)  # its Service is gone

    def _sync_endpoints(self, svc: dict, pods: list[dict]) -> None:
        spec = svc["spec"]
        selector = spec["selector"]
        publish_not_ready = spec.get("publishNotReadyAddresses", False)
        groups: dict[tuple, dict] = {}
        for pod in pods:
            labels = pod["metadata"].get("labels") or {}
            status = pod.get("status") or {}
            if any(labels.get(k) != v for k, v in selector.items()):
                continue
            if (
                _terminal(pod)
                or not status.get("podIP")
                or pod["metadata"].get("deletionTimestamp")
            ):
                continue
            ports = []
            for port in spec.get("ports") or []:
                number = _target_port(pod, port)
                if number is None:
                    continue
                entry = {"port": number, "protocol": port.get("protocol", "TCP")}
                if port.get("name"):
                    entry["name"] = port["name"]
                if port.get("appProtocol"):
                    entry["appProtocol"] = port["appProtocol"]
                ports.append(entry)
            if not ports and spec.get("ports"):
                continue
            address = {
                "ip": status["podIP"],
                "nodeName": pod["spec"].get("nodeName"),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": pod["metadata"]["namespace"],
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            }
            hostname = pod["spec"].get("hostname")
            if hostname and pod["spec"].get("subdomain") == svc["metadata"]["name"]:
                address["hostname"] = hostname
            if not address["nodeName"]:
                del address["nodeName"]
            key = tuple(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))
            group = groups.setdefault(
                key, {"ports": ports, "addresses": [], "notReadyAddresses": []}
            )
            ready = pod_ready(pod) or publish_not_ready
            group["addresses" if ready else "notReadyAddresses"].append(address)
        subsets = []
        for key in sorted(groups):
            group = groups[key]
            subset: dict = {}
            for field in ("addresses", "notReadyAddresses"):
                if group[field]:
                    subset[field] = sorted(group[field], key=lambda a: _ip_key(a["ip"]))
            subset["ports"] = sorted(group["ports"], key=lambda p: (p.get("name", ""), p["port"]))
            subsets.append(subset)
        labels = dict(svc["metadata"].get("labels") or {})
        if spec.get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        current = self.store.peek(ENDPOINTS, ns, name)
        if (
            current is not None
            and current.get("subsets", []) == subsets
            and (current["metadata"].get("labels") or {}) == labels
        ):
            return
        body = (
            self.store.get(ENDPOINTS, ns, name)
            if current is not None
            else {"metadata": {"name": name, "namespace": ns}}
        )
        body["metadata"]["labels"] = labels
        if not labels:
            del body["metadata"]["labels"]
        body["metadata"].setdefault("annotations", {})[TRIGGER_TIME] = now()
        if subsets:
            body["subsets"] = subsets
        else:
            body.pop("subsets", None)
        self.store.save(ENDPOINTS, body, manager="kube-controller-manager")

    # -- disruption controller ------------------------------------------------------------

    def disruption_budgets(self) -> None:
        for raw in self.store.scan(PDB):
            if raw["metadata"].get("deletionTimestamp"):
                continue
            ns = raw["metadata"]["namespace"]
            spec = raw.get("spec") or {}
            pods = [
                p
                for p in self.store.scan(POD, ns)
                if _selector_matches(spec.get("selector"), p["metadata"].get("labels") or {})
                and not p["metadata"].get("deletionTimestamp")
            ]
            healthy = sum(1 for p in pods if pod_ready(p))
            min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
            if isinstance(min_available, int):
                expected, desired = len(pods), min_available
            elif min_available is not None:
                expected = self._scale_of(ns, pods)
                desired = math.ceil(_percent(min_available) * expected / 100)
            elif max_unavailable is not None:
                expected = self._scale_of(ns, pods)
                unavailable = (
                    max_unavailable
                    if isinstance(max_unavailable, int)
                    else math.ceil(_percent(max_unavailable) * expected / 100)
                )
                desired = max(0, expected - unavailable)
            else:
                expected, desired = len(pods), len(pods)
            allowed = max(0, healthy - desired)
            old = raw.get("status") or {}
            generation = raw["metadata"].get("generation", 1)
            status = {
                "observedGeneration": generation,
                "disruptionsAllowed": allowed,
                "currentHealthy": healthy,
                "desiredHealthy": desired,
                "expectedPods": expected,
                "conditions": [
                    _condition(
                        old.get("conditions") or [],
                        "DisruptionAllowed",
                        "True" if allowed > 0 else "False",
                        now(),
                        reason="SufficientPods" if allowed > 0 else "InsufficientPods",
                        message="",
                        observedGeneration=generation,
                    )
                ],
            }
            if status != old:
                pdb = self.store.get(PDB, ns, raw["metadata"]["name"])
                pdb["status"] = status
                self.store.save(PDB, pdb, manager="kube-controller-manager", status=True)

    def _scale_of(self, ns: str, pods: list[dict]) -> int:
        """The sum of `spec.replicas` of the pods' controllers (Deployment through its
        ReplicaSet, StatefulSet, bare ReplicaSet), as the disruption controller reads it."""
        seen: dict[str, int] = {}
        for pod in pods:
            ref = next(
                (r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")),
                None,
            )
            if ref is None or ref["uid"] in seen:
                continue
            if ref["kind"] == "StatefulSet":
                owner = self.store.peek(STATEFULSET, ns, ref["name"])
            elif ref["kind"] == "ReplicaSet":
                owner = self.store.peek(REPLICASET, ns, ref["name"])
                parent = next(
                    (
                        r
                        for r in (owner or {}).get("metadata", {}).get("ownerReferences") or []
                        if r.get("kind") == "Deployment"
                    ),
                    None,
                )
                if parent is not None:
                    owner = self.store.peek(DEPLOYMENT, ns, parent["name"])
                    ref = parent
            else:
                owner = None
            if owner is not None and ref["uid"] not in seen:
                seen[ref["uid"]] = (owner.get("spec") or {}).get("replicas", 1)
        return sum(seen.values())

    # -- horizontal pod autoscaler ----------------------------------------------------------

    def autoscalers(self) -> None:
        for raw in self.store.scan(HPA):
            if not raw["metadata"].get("deletionTimestamp"):
                self._sync_hpa(raw)

    def _sync_hpa(self, raw: dict) -> None:
        ns = raw["metadata"]["namespace"]
        spec = raw.get("spec") or {}
        old = raw.get("status") or {}
        old_conditions = old.get("conditions") or []
        stamp = now()
        ref = spec.get("scaleTargetRef") or {}
        rt = self.store.type_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        target = (
            self.store.peek(rt, ns, ref.get("name", ""))
            if rt is not None and "scale" in rt.subresources
            else None
        )
        status: dict = {"desiredReplicas": old.get("desiredReplicas", 0)}
        if old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        fired: list[tuple[str, str, str]] = []
        if target is None:
            plural = rt.plural if rt else (ref.get("kind", "").lower() + "s")
            group = rt.group if rt else ref.get("apiVersion", "").rpartition("/")[0]
            message = (
                "the HPA controller was unable to get the target's current scale: "
                f'{plural}/scale{"." + group if group else ""} "{ref.get("name", "")}" not found'
            )
            conditions = [
                _condition(
                    old_conditions,
                    "AbleToScale",
                    "False",
                    stamp,
                    reason="FailedGetScale",
                    message=message,
                )
            ]
            fired.append(("Warning", "FailedGetScale", message.split(": ", 1)[1]))
        else:
            current = (target.get("spec") or {}).get("replicas", 1)
            status["currentReplicas"] = current
            low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 1)
            able = _condition(
                old_conditions,
                "AbleToScale",
                "True",
                stamp,
                reason="SucceededGetScale",
                message="the HPA controller was able to get the target's current scale",
            )
            conditions = [able]
            desired, reason = None, ""
            if current == 0 and low != 0:
                status["desiredReplicas"] = 0
                conditions.append(
                    _condition(
                        old_conditions,
                        "ScalingActive",
                        "False",
                        stamp,
                        reason="ScalingDisabled",
                        message="scaling is disabled since the replica count of the target is zero",
                    )
                )
            elif current > high:
                desired, reason = high, "Current number of replicas above Spec.MaxReplicas"
            elif current < low:
                desired, reason = low, "Current number of replicas below Spec.MinReplicas"
            else:
                metric: dict = next(iter(spec.get("metrics") or []), {})
                name = (metric.get("resource") or metric.get("containerResource") or {}).get(
                    "name", "cpu"
                )
                cause = f"failed to get {name} utilization: " + NO_METRICS_API.format(name=name)
                message = f"the HPA was unable to compute the replica count: {cause}"
                previous: dict = next(
                    (c for c in old_conditions if c.get("type") == "ScalingActive"), {}
                )
                conditions.append(
                    _condition(
                        old_conditions,
                        "ScalingActive",
                        "False",
                        stamp,
                        reason="FailedGetResourceMetric",
                        message=message,
                    )
                )
                if previous.get("reason") != "FailedGetResourceMetric":
                    fired.append(("Warning", "FailedGetResourceMetric", cause))
                    fired.append(
                        (
                            "Warning",
                            "FailedComputeMetricsReplicas",
                            f"invalid metrics (1 invalid out of 1), first error is: {cause}",
                        )
                    )
            if desired is not None and rt is not None:
                scaled = self.store.get(rt, ns, target["metadata"]["name"])
                scaled["spec"]["replicas"] = desired
                self.store.save(rt, scaled, manager="kube-controller-manager")
                status["desiredReplicas"] = desired
                status["lastScaleTime"] = stamp
                conditions[0] = {
                    **able,
                    "reason": "SucceededRescale",
                    "message": f"the HPA controller was able to update the target scale to {desired}",
                }
                fired.append(
                    ("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
                )
            # Conditions the controller does not set this time keep their last value.
            kept = [c for c in old_conditions if c["type"] not in {x["type"] for x in conditions}]
            conditions += kept
        order = ("AbleToScale", "ScalingActive", "ScalingLimited")
        status["conditions"] = sorted(
            conditions, key=lambda c: order.index(c["type"]) if c["type"] in order else 9
        )
        status["observedGeneration"] = raw["metadata"].get("generation", 1)
        if status != old:
            hpa = self.store.get(HPA, ns, raw["metadata"]["name"])
            hpa["status"] = status
            self.store.save(HPA, hpa, manager="kube-controller-manager", status=True)
            for type_, reason, message in fired:
                self.event(hpa, reason, message, "horizontal-pod-autoscaler", type_)


def _clone(value):
    return json.loads(json.dumps(value))


def _percent(value) -> int:
    return int(str(value).rstrip("%") or 0)


def _ip_key(ip: str) -> tuple:
    return tuple(int(part) for part in ip.split(".")) if ip.count(".") == 3 else (ip,)


def _target_port(pod: dict, port: dict) -> int | None:
    """A Service port's targetPort on this pod: a number, or a named container port."""
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target and cport.get("protocol", "TCP") == port.get(
                "protocol", "TCP"
            ):
                return cport.get("containerPort")
    return None

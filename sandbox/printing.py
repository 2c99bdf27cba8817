"""Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.

kubectl asks every get/list/watch for a `meta.k8s.io/v1` Table and prints the server's
columns. Columns and cells follow Kubernetes' own printers
(kubernetes/pkg/printers/internalversion/printers.go) for the built-in kinds, the
apiextensions table convertor (additionalPrinterColumns, default NAME + AGE) for custom
resources, and the registry's default (NAME + CREATED AT) for the rest. Row objects follow
`includeObject` (None, Metadata = PartialObjectMetadata, Object) as
k8s.io/apiserver/pkg/endpoints/handlers/response.go `asTable` does.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Callable

from . import errors
from .resources import ResourceType, crd_as_served

META_GROUP = "meta.k8s.io"
_NOT_ACCEPTABLE = (
    "only the following media types are accepted: application/json, application/yaml, "
    "application/vnd.kubernetes.protobuf"
)

_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_CREATED_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def _col(
    name: str, type_: str = "string", description: str = "", *, priority: int = 0, fmt: str = ""
):
    return {
        "name": name,
        "type": type_,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


def _name_col():
    return _col("Name", "string", _NAME_DOC, fmt="name")


def _age_col():
    return _col("Age", "string", _CREATED_DOC)


_CONTAINERS = "Names of each container in the template."
_IMAGES = "Images referenced by each container in the template."


# -- formatting helpers (apimachinery util/duration, printers.go) ----------------------------


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def since(value) -> str:
    """printers.go translateTimestampSince: `<unknown>` for a zero time."""
    moment = _parse_time(value)
    if moment is None:
        return "<unknown>"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return human_duration((datetime.datetime.now(datetime.UTC) - moment).total_seconds())


def _age(obj: dict) -> str:
    return since((obj.get("metadata") or {}).get("creationTimestamp"))


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _status(obj: dict) -> dict:
    return obj.get("status") or {}


def format_labels(labels: dict | None) -> str:
    """labels.FormatLabels: sorted k=v pairs, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def format_label_selector(selector: dict | None) -> str:
    """metav1.FormatLabelSelector."""
    if selector is None:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    text = ",".join(parts)
    return text or "<none>"


def _containers(template_spec: dict) -> tuple[str, str]:
    """printers.go layoutContainerCells."""
    containers = template_spec.get("containers") or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _template_spec(obj: dict) -> dict:
    return (_spec(obj).get("template") or {}).get("spec") or {}


# -- built-in printers ------------------------------------------------------------------------

Printer = Callable[[dict], tuple[list, list | None]]


def _restartable_init(container: dict | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"  # type: ignore[union-attr]


def _pod(pod: dict) -> tuple[list, list | None]:
    spec, status = _spec(pod), _status(pod)
    meta = pod.get("metadata") or {}
    restarts = 0
    restartable_restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart: str = ""
    last_restartable: str = ""
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    conditions = None
    if phase == "Succeeded":
        conditions = [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    elif phase == "Failed":
        conditions = [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Failed",
                "message": "The pod failed.",
            }
        ]
    inits = {c.get("name"): c for c in spec.get("initContainers") or []}
    total += sum(1 for c in inits.values() if _restartable_init(c))

    def finished(cs: dict) -> str:
        return ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += int(cs.get("restartCount") or 0)
        last_restart = max(last_restart, finished(cs))
        restartable = _restartable_init(inits.get(cs.get("name")))
        if restartable:
            restartable_restarts += int(cs.get("restartCount") or 0)
            last_restartable = max(last_restartable, finished(cs))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if restartable and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if not terminated.get("reason"):
                if terminated.get("signal"):
                    reason = f"Init:Signal:{terminated['signal']}"
                else:
                    reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
            else:
                reason = "Init:" + terminated["reason"]
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    if not initializing or initialized:
        restarts = restartable_restarts
        last_restart = last_restartable
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = max(last_restart, finished(cs))
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or []
            )
            reason = "Running" if pod_ready else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({since(last_restart)} ago)"
    ips = status.get("podIPs") or []
    pod_ip = (ips[0].get("ip") if ips else "") or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        by_type = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true = sum(1 for g in gates if by_type.get(g.get("conditionType")) == "True")
        gates_text = f"{true}/{len(gates)}"
    cells = [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod),
        pod_ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]
    return cells, conditions


def _lb_ingress(status: dict) -> str:
    seen: list[str] = []
    for ing in ((status.get("loadBalancer") or {}).get("ingress")) or []:
        value = ing.get("ip") or ing.get("hostname")
        if value and value not in seen:
            seen.append(value)
    return ",".join(seen)


def _service(svc: dict) -> tuple[list, list | None]:
    spec = _spec(svc)
    kind = spec.get("type") or "ClusterIP"
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    external = spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        ext = ",".join(external) if external else "<none>"
    elif kind == "LoadBalancer":
        lb = _lb_ingress(_status(svc))
        if external:
            ext = ",".join([*(lb.split(",") if lb else []), *external])
        else:
            ext = lb or "<pending>"
    elif kind == "ExternalName":
        ext = spec.get("externalName", "")
    else:
        ext = "<unknown>"
    ports = []
    for p in spec.get("ports") or []:
        protocol = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            ports.append(f"{p.get('port')}:{p['nodePort']}/{protocol}")
        else:
            ports.append(f"{p.get('port')}/{protocol}")
    cells = [
        _name(svc),
        kind,
        ips[0] if ips else "<none>",
        ext,
        ",".join(ports) or "<none>",
        _age(svc),
        format_labels(spec.get("selector")),
    ]
    return cells, None


def _deployment(obj: dict) -> tuple[list, list | None]:
    spec, status = _spec(obj), _status(obj)
    names, images = _containers(_template_spec(obj))
    cells = [
        _name(obj),
        f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1) or 0)}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        _age(obj),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]
    return cells, None


def _replicaset(obj: dict) -> tuple[list, list | None]:
    spec, status = _spec(obj), _status(obj)
    names, images = _containers(_template_spec(obj))
    cells = [
        _name(obj),
        int(spec.get("replicas", 1) or 0),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        _age(obj),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]
    return cells, None


def _statefulset(obj: dict) -> tuple[list, list | None]:
    spec, status = _spec(obj), _status(obj)
    names, images = _containers(_template_spec(obj))
    cells = [
        _name(obj),
        f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1) or 0)}",
        _age(obj),
        names,
        images,
    ]
    return cells, None


def _node(node: dict) -> tuple[list, list | None]:
    status = _status(node)
    states = []
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            states.append("Ready" if cond.get("status") == "True" else "NotReady")
            break
    if not states:
        states.append("Unknown")
    if _spec(node).get("unschedulable"):
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/") :]:
            roles.add(key[len("node-role.kubernetes.io/") :])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        for a in status.get("addresses") or []:
            if a.get("type") == kind:
                return a.get("address", "")
        return "<none>"

    cells = [
        _name(node),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _age(node),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]
    return cells, None


def _event(ev: dict) -> tuple[list, list | None]:
    first = (
        since(ev.get("firstTimestamp")) if ev.get("firstTimestamp") else since(ev.get("eventTime"))
    )
    last = since(ev.get("lastTimestamp")) if ev.get("lastTimestamp") else first
    count = int(ev.get("count") or 0)
    series = ev.get("series")
    if series:
        last = since(series.get("lastObservedTime"))
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1
    involved = ev.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    cells = [
        last,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        (ev.get("message") or "").strip(),
        first,
        count,
        _name(ev),
    ]
    return cells, None


def _namespace(obj: dict) -> tuple[list, list | None]:
    return [_name(obj), _status(obj).get("phase", ""), _age(obj)], None


def _secret(obj: dict) -> tuple[list, list | None]:
    return [_name(obj), obj.get("type", ""), len(obj.get("data") or {}), _age(obj)], None


def _configmap(obj: dict) -> tuple[list, list | None]:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [_name(obj), count, _age(obj)], None


def _serviceaccount(obj: dict) -> tuple[list, list | None]:
    return [_name(obj), len(obj.get("secrets") or []), _age(obj)], None


def _created_at(obj: dict) -> str:
    moment = _parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if moment is None:
        return "0001-01-01T00:00:00Z"
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _role(obj: dict) -> tuple[list, list | None]:
    return [_name(obj), _created_at(obj)], None


def _binding(obj: dict) -> tuple[list, list | None]:
    ref = obj.get("roleRef") or {}
    users, groups, sas = [], [], []
    for subject in obj.get("subjects") or []:
        kind = subject.get("kind")
        if kind == "User":
            users.append(subject.get("name", ""))
        elif kind == "Group":
            groups.append(subject.get("name", ""))
        elif kind == "ServiceAccount":
            sas.append(f"{subject.get('namespace', '')}:{subject.get('name', '')}")
    cells = [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(obj),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]
    return cells, None


def _default(obj: dict) -> tuple[list, list | None]:
    return [_name(obj), _created_at(obj)], None


def _package_manifest(obj: dict) -> tuple[list, list | None]:
    return [_name(obj), _status(obj).get("catalogSourceDisplayName", ""), _age(obj)], None


_DEFAULT_COLUMNS = [_name_col(), _col("Created At", "date", _CREATED_DOC)]

BUILTIN: dict[tuple[str, str], tuple[list[dict], Printer]] = {
    ("", "Pod"): (
        [
            _name_col(),
            _col(
                "Ready",
                description="The aggregate readiness state of this pod for accepting traffic.",
            ),
            _col("Status", description="The aggregate status of the containers in this pod."),
            _col(
                "Restarts",
                description="The number of times the containers in this pod have been restarted "
                "and when the last container in this pod has restarted.",
            ),
            _age_col(),
            _col("IP", description="podIP address allocated to the pod.", priority=1),
            _col("Node", description="The node the pod is bound to.", priority=1),
            _col("Nominated Node", description="nominatedNodeName of the pod.", priority=1),
            _col("Readiness Gates", description="readinessGates of the pod.", priority=1),
        ],
        _pod,
    ),
    ("", "Service"): (
        [
            _name_col(),
            _col("Type", description="type determines how the Service is exposed."),
            _col("Cluster-IP", description="clusterIP is the IP address of the service."),
            _col("External-IP", description="externalIPs of the service."),
            _col("Port(s)", description="The list of ports that are exposed by this service."),
            _age_col(),
            _col(
                "Selector",
                description="Route service traffic to pods with these labels.",
                priority=1,
            ),
        ],
        _service,
    ),
    ("apps", "Deployment"): (
        [
            _name_col(),
            _col("Ready", description="Number of the pod with ready state"),
            _col(
                "Up-to-date",
                description="Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
            ),
            _col(
                "Available",
                description="Total number of available non-terminating pods targeted by this deployment.",
            ),
            _age_col(),
            _col("Containers", description=_CONTAINERS, priority=1),
            _col("Images", description=_IMAGES, priority=1),
            _col("Selector", description="Label selector for pods.", priority=1),
        ],
        _deployment,
    ),
    ("apps", "ReplicaSet"): (
        [
            _name_col(),
            _col("Desired", "integer", "Replicas is the number of desired pods."),
            _col(
                "Current",
                "integer",
                "Replicas is the most recently observed number of non-terminating pods.",
            ),
            _col(
                "Ready",
                "integer",
                "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
            ),
            _age_col(),
            _col("Containers", description=_CONTAINERS, priority=1),
            _col("Images", description=_IMAGES, priority=1),
            _col("Selector", description="Selector is a label query over pods.", priority=1),
        ],
        _replicaset,
    ),
    ("apps", "StatefulSet"): (
        [
            _name_col(),
            _col("Ready", description="Number of the pod with ready state"),
            _age_col(),
            _col("Containers", description=_CONTAINERS, priority=1),
            _col("Images", description=_IMAGES, priority=1),
        ],
        _statefulset,
    ),
    ("", "Node"): (
        [
            _name_col(),
            _col("Status", description="The status of the node"),
            _col("Roles", description="The roles of the node"),
            _age_col(),
            _col("Version", description="Kubelet Version reported by the node."),
            _col("Internal-IP", description="List of addresses reachable to the node.", priority=1),
            _col("External-IP", description="List of addresses reachable to the node.", priority=1),
            _col("OS-Image", description="OS Image reported by the node.", priority=1),
            _col("Kernel-Version", description="Kernel Version reported by the node.", priority=1),
            _col(
                "Container-Runtime",
                description="ContainerRuntime Version reported by the node.",
                priority=1,
            ),
        ],
        _node,
    ),
    ("", "Event"): (
        [
            _col(
                "Last Seen",
                description="The time at which the most recent occurrence of this event was recorded.",
            ),
            _col(
                "Type",
                description="Type of this event (Normal, Warning), new types could be added in the future",
            ),
            _col(
                "Reason",
                description="This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            _col("Object", description="The object that this event is about."),
            _col("Subobject", description="fieldPath of the involved object.", priority=1),
            _col("Source", description="The component reporting this event.", priority=1),
            _col(
                "Message",
                description="A human-readable description of the status of this operation.",
            ),
            _col(
                "First Seen",
                description="The time at which the event was first recorded.",
                priority=1,
            ),
            _col("Count", description="The number of times this event has occurred.", priority=1),
            _col("Name", "string", _NAME_DOC, priority=1, fmt="name"),
        ],
        _event,
    ),
    ("", "Namespace"): (
        [_name_col(), _col("Status", description="The status of the namespace"), _age_col()],
        _namespace,
    ),
    ("", "Secret"): (
        [
            _name_col(),
            _col("Type", description="Used to facilitate programmatic handling of secret data."),
            _col("Data", description="Data contains the secret data."),
            _age_col(),
        ],
        _secret,
    ),
    ("", "ConfigMap"): (
        [
            _name_col(),
            _col("Data", description="Data contains the configuration data."),
            _age_col(),
        ],
        _configmap,
    ),
    ("", "ServiceAccount"): (
        [
            _name_col(),
            _col(
                "Secrets",
                description="Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            _age_col(),
        ],
        _serviceaccount,
    ),
    ("rbac.authorization.k8s.io", "Role"): (
        [_name_col(), _col("Created At", description=_CREATED_DOC)],
        _role,
    ),
    ("rbac.authorization.k8s.io", "ClusterRole"): (
        [_name_col(), _col("Created At", description=_CREATED_DOC)],
        _role,
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): (
        [
            _name_col(),
            _col(
                "Role",
                description="RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
            ),
            _age_col(),
            _col("Users", description="Users in the roleBinding", priority=1),
            _col("Groups", description="Groups in the roleBinding", priority=1),
            _col("ServiceAccounts", description="ServiceAccounts in the roleBinding", priority=1),
        ],
        _binding,
    ),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (
        [
            _name_col(),
            _col(
                "Role",
                description="RoleRef can only reference a ClusterRole in the global namespace.",
            ),
            _age_col(),
            _col("Users", description="Users in the clusterRoleBinding", priority=1),
            _col("Groups", description="Groups in the clusterRoleBinding", priority=1),
            _col(
                "ServiceAccounts",
                description="ServiceAccounts in the clusterRoleBinding",
                priority=1,
            ),
        ],
        _binding,
    ),
    ("packages.operators.coreos.com", "PackageManifest"): (
        [
            _name_col(),
            _col("Catalog", description="The catalog this package belongs to"),
            _age_col(),
        ],
        _package_manifest,
    ),
}


# -- custom resources (apiextensions-apiserver tableconvertor) --------------------------------


def printer_columns(crd: dict | None, version: str) -> list[dict]:
    """The CRD version's additionalPrinterColumns, or apiextensions' default (Age)."""
    if crd is not None:
        spec = crd_as_served(crd).get("spec") or {}
        for v in spec.get("versions") or []:
            if v.get("name") == version and v.get("additionalPrinterColumns"):
                return list(v["additionalPrinterColumns"])
    return [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": _CREATED_DOC,
        }
    ]


def _json_path(obj, path: str) -> tuple[bool, object]:
    """A CRD column's simple JSONPath (`.a.b`, `.a[0].b`, `.a['x.y']`, `.a[?(@.k=="v")].b`)."""
    expr = path.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    node = obj
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == ".":
            j = i + 1
            while j < len(expr) and expr[j] not in ".[":
                j += 1
            key = expr[i + 1 : j]
            i = j
            if not key:
                continue
            if not isinstance(node, dict) or key not in node:
                return False, None
            node = node[key]
        elif ch == "[":
            j = expr.index("]", i)
            inner = expr[i + 1 : j].strip()
            i = j + 1
            if inner.startswith("?(") and inner.endswith(")"):
                cond = inner[2:-1]
                left, _, right = cond.partition("==")
                field = left.strip().removeprefix("@.")
                want = right.strip().strip("'\"")
                if not isinstance(node, list):
                    return False, None
                found = [x for x in node if isinstance(x, dict) and str(x.get(field)) == want]
                if not found:
                    return False, None
                node = found[0]
            elif inner.startswith(("'", '"')):
                key = inner.strip("'\"")
                if not isinstance(node, dict) or key not in node:
                    return False, None
                node = node[key]
            else:
                try:
                    index = int(inner)
                except ValueError:
                    return False, None
                if not isinstance(node, list) or not -len(node) <= index < len(node):
                    return False, None
                node = node[index]
        else:
            return False, None
    return True, node


def _go_text(value) -> str:
    """How kubectl's JSONPath printer renders a non-string value in a string column."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _cell(column_type: str, value):
    """tableconvertor.go cellForJSONValue (string columns print any value)."""
    if value is None:
        return None
    if column_type == "string":
        return value if isinstance(value, str) else _go_text(value)
    if column_type == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value):
            return int(value)
        return None
    if column_type == "number":
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value)
        return None
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        if isinstance(value, str):
            return since(value) if _parse_time(value) else "<invalid>"
        return None
    return None


def _custom(columns: list[dict]) -> tuple[list[dict], Printer]:
    definitions = [_name_col()] + [
        _col(
            c.get("name", ""),
            c.get("type", "string"),
            c.get("description", ""),
            priority=int(c.get("priority") or 0),
            fmt=c.get("format", ""),
        )
        for c in columns
    ]

    def printer(obj: dict) -> tuple[list, list | None]:
        cells: list = [_name(obj)]
        for c in columns:
            found, value = _json_path(obj, c.get("jsonPath") or c.get("JSONPath") or "")
            cells.append(_cell(c.get("type", "string"), value) if found else None)
        return cells, None

    return definitions, printer


# -- negotiation and the Table body -----------------------------------------------------------


class Conversion:
    """What the client asked the server to turn a response into (Table / metadata only)."""

    def __init__(self, kind: str, version: str):
        self.kind, self.version = kind, version

    @property
    def api_version(self) -> str:
        return f"{META_GROUP}/{self.version}"


def negotiate(accept: str | None) -> Conversion | None:
    """The first `as=Table|PartialObjectMetadata[List];g=meta.k8s.io;v=v1|v1beta1` accepted.

    A plain JSON alternative later in the header means "else the object"; a conversion
    request with no alternative that the server cannot honour is 406, as on a real server.
    """
    if not accept:
        return None
    plain = False
    wanted = False
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        params = {}
        for f in fields[1:]:
            key, _, value = f.partition("=")
            params[key.strip().lower()] = value.strip()
        if media not in ("application/json", "*/*", "application/*", "application/yaml"):
            continue
        if "as" not in params:
            plain = True
            break
        wanted = True
        if params.get("g") != META_GROUP or params.get("v") not in ("v1", "v1beta1"):
            continue
        if params["as"] in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return Conversion(params["as"], params["v"])
    if wanted and not plain:
        raise errors.ApiError(
            406,
            "NotAcceptable",
            _NOT_ACCEPTABLE,
        )
    return None


class TablePrinter:
    """Builds Tables for one resource type (columns decided once per request)."""

    def __init__(self, rt: ResourceType, store):
        self.rt = rt
        if rt.crd:
            crd = store.peek(
                store.types().by_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
                None,
                f"{rt.plural}.{rt.group}",
            )
            self.columns, self.printer = _custom(printer_columns(crd, rt.version))
        elif (rt.group, rt.kind) in BUILTIN:
            self.columns, self.printer = BUILTIN[(rt.group, rt.kind)]
        else:
            self.columns, self.printer = _DEFAULT_COLUMNS, _default

    def row(self, obj: dict, include_object: str, conversion: Conversion) -> dict:
        cells, conditions = self.printer(obj)
        row: dict = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial(obj, conversion.version)
        return row

    def table(
        self,
        items: list[dict],
        *,
        conversion: Conversion,
        include_object: str,
        list_meta: dict | None = None,
        headers: bool = True,
    ) -> dict:
        return {
            "kind": "Table",
            "apiVersion": conversion.api_version,
            "metadata": list_meta or {},
            "columnDefinitions": self.columns if headers else None,
            "rows": [self.row(obj, include_object, conversion) for obj in items],
        }


def partial(obj: dict, version: str = "v1") -> dict:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"{META_GROUP}/{version}",
        "metadata": obj.get("metadata") or {},
    }


def include_object(query: dict) -> str:
    value = query.get("includeObject") or "Metadata"
    if value not in ("None", "Metadata", "Object"):
        raise errors.bad_request(f'invalid value for includeObject: "{value}"')
    return value


def convert_list(rt: ResourceType, store, body: dict, conversion: Conversion, query: dict) -> dict:
    """A list response (`{kind: XList, metadata, items}`) as the client asked for it."""
    items = [dict(i, apiVersion=rt.api_version, kind=rt.kind) for i in body.get("items") or []]
    if conversion.kind == "Table":
        return TablePrinter(rt, store).table(
            items,
            conversion=conversion,
            include_object=include_object(query),
            list_meta=body.get("metadata"),
        )
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": conversion.api_version,
        "metadata": body.get("metadata") or {},
        "items": [partial(i, conversion.version) for i in items],
    }


def convert_object(rt: ResourceType, store, obj: dict, conversion: Conversion, query: dict) -> dict:
    """A single object (GET by name) as the client asked for it."""
    if conversion.kind == "Table":
        meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
        return TablePrinter(rt, store).table(
            [obj], conversion=conversion, include_object=include_object(query), list_meta=meta
        )
    if conversion.kind == "PartialObjectMetadataList":
        raise errors.ApiError(
            406,
            "NotAcceptable",
            _NOT_ACCEPTABLE,
        )
    return partial(obj, conversion.version)

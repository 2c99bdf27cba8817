"""Per-kind defaulting and validation, as the real registry strategies do it.

Only what clients notice is modelled: defaults that show up in the objects
(service cluster IPs and node ports, namespace phase, pod phase...), and the
validation errors a buggy client would hit first.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import random

from . import kcm_admission
from .errors import ApiError, FieldError

NODE_PORT_RANGE = (30000, 32767)


def mutate(store, rt, obj: dict, old: dict | None) -> None:
    handler = _MUTATORS.get((rt.group, rt.kind))
    if handler:
        handler(store, rt, obj, old)


def validate(store, rt, obj: dict, old: dict | None) -> list[FieldError]:
    handler = _VALIDATORS.get((rt.group, rt.kind))
    return handler(store, rt, obj, old) if handler else []


# -- Namespace ----------------------------------------------------------------------------


def _namespace(store, rt, obj, old):
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    status = obj.setdefault("status", {})
    if not obj["metadata"].get("deletionTimestamp"):
        status["phase"] = "Active"


# -- Service ------------------------------------------------------------------------------


def _used_service_values(store, obj):
    ips, ports = set(), set()
    me = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
    for _rt, svc in store.all_objects():
        if _rt.key != ("", "services"):
            continue
        if (svc["metadata"].get("namespace"), svc["metadata"]["name"]) == me:
            continue
        spec = svc.get("spec") or {}
        ips.add(spec.get("clusterIP"))
        ports.update(p.get("nodePort") for p in spec.get("ports") or [])
    return ips, ports


def _service(store, rt, obj, old):
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    used_ips, used_ports = _used_service_values(store, obj)
    if spec["type"] == "ExternalName":
        spec.pop("clusterIP", None)
    elif old_spec.get("clusterIP") and not spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
    elif not spec.get("clusterIP"):
        # ClusterIPs come from the sandbox's 127.N.128.0/17, so they are real addresses here.
        network = store.addresses.service_network
        first = int(network.network_address) + 10
        size = network.num_addresses - 11
        while True:
            candidate = str(ipaddress.IPv4Address(first + random.randrange(size)))
            if candidate not in used_ips:
                break
        spec["clusterIP"] = candidate
    if spec.get("clusterIP"):
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []}
    wants_node_port = spec["type"] in ("NodePort", "LoadBalancer")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
        if not wants_node_port:
            port.pop("nodePort", None)
            continue
        if not port.get("nodePort"):
            previous = old_ports.get((port.get("port"), port["protocol"]), {}).get("nodePort")
            if previous:
                port["nodePort"] = previous
            else:
                free = [
                    p
                    for p in range(NODE_PORT_RANGE[0], NODE_PORT_RANGE[1] + 1)
                    if p not in used_ports
                ]
                port["nodePort"] = random.choice(free)
            used_ports.add(port["nodePort"])
    if wants_node_port:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def _validate_service(store, rt, obj, old):
    errs = []
    spec = obj.get("spec") or {}
    old_spec = (old or {}).get("spec") or {}
    types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    if spec.get("type") not in types:
        errs.append(FieldError("spec.type", "NotSupported", spec.get("type"), supported=types))
    ports = spec.get("ports") or []
    if not ports and spec.get("clusterIP") != "None" and spec.get("type") != "ExternalName":
        errs.append(FieldError("spec.ports", "Required"))
    if (
        old_spec.get("clusterIP")
        and spec.get("clusterIP") != old_spec["clusterIP"]
        and spec.get("type") != "ExternalName"
    ):
        errs.append(
            FieldError(
                "spec.clusterIPs[0]",
                "Invalid",
                spec.get("clusterIP"),
                "may not change once set",
            )
        )
    _, used_ports = _used_service_values(store, obj)
    seen = set()
    for i, port in enumerate(ports):
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            errs.append(
                FieldError(
                    f"spec.ports[{i}].port",
                    "Invalid",
                    number,
                    "must be between 1 and 65535, inclusive",
                )
            )
        if len(ports) > 1 and not port.get("name"):
            errs.append(FieldError(f"spec.ports[{i}].name", "Required"))
        node_port = port.get("nodePort")
        if node_port:
            if not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
                errs.append(
                    FieldError(
                        f"spec.ports[{i}].nodePort",
                        "Invalid",
                        node_port,
                        "provided port is not in the valid range. The range of valid ports is "
                        "30000-32767",
                    )
                )
            elif node_port in used_ports or node_port in seen:
                errs.append(
                    FieldError(
                        f"spec.ports[{i}].nodePort",
                        "Invalid",
                        node_port,
                        "provided port is already allocated",
                    )
                )
            seen.add(node_port)
    return errs


# -- Pod ----------------------------------------------------------------------------------


def _pod(store, rt, obj, old):
    spec = obj.setdefault("spec", {})
    if old is None:
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("securityContext", {})
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        for container in spec.get("containers") or []:
            image = container.get("image", "")
            latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", _qos(spec))


def _qos(spec):
    requests = limits = False
    guaranteed = True
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        requests = requests or bool(res.get("requests"))
        limits = limits or bool(res.get("limits"))
        lim = res.get("limits") or {}
        req = res.get("requests") or lim
        if not ("cpu" in lim and "memory" in lim and req == lim):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _validate_containers(containers, path):
    errs = []
    if not containers:
        errs.append(FieldError(path, "Required"))
    names = set()
    for i, c in enumerate(containers or []):
        if not c.get("name"):
            errs.append(FieldError(f"{path}[{i}].name", "Required"))
        elif c["name"] in names:
            errs.append(FieldError(f"{path}[{i}].name", "Duplicate", c["name"]))
        names.add(c.get("name"))
        if not c.get("image"):
            errs.append(FieldError(f"{path}[{i}].image", "Required"))
    return errs


_POD_MUTABLE_MSG = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _validate_pod(store, rt, obj, old):
    spec = obj.get("spec") or {}
    errs = _validate_containers(spec.get("containers"), "spec.containers")
    if old is not None:

        def comparable(s):
            s = {
                k: v
                for k, v in (s or {}).items()
                if k not in ("activeDeadlineSeconds", "tolerations", "nodeName")
            }
            s["containers"] = [
                {k: v for k, v in c.items() if k != "image"} for c in s.get("containers") or []
            ]
            return s

        if comparable(spec) != comparable(old.get("spec")):
            errs.append(FieldError("spec", "Forbidden", detail=_POD_MUTABLE_MSG))
    return errs


# -- workloads ----------------------------------------------------------------------------


def _selector_matches(selector: dict, labels: dict) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _workload(store, rt, obj, old):
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    if rt.kind == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        )
    elif rt.kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault(
            "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        )
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
        )
    template_spec = spec.setdefault("template", {}).setdefault("spec", {})
    template_spec.setdefault("restartPolicy", "Always")
    template_spec.setdefault("dnsPolicy", "ClusterFirst")
    template_spec.setdefault("schedulerName", "default-scheduler")
    template_spec.setdefault("terminationGracePeriodSeconds", 30)
    template_spec.setdefault("securityContext", {})
    for c in template_spec.get("containers") or []:
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("imagePullPolicy", "IfNotPresent")
        c.setdefault("resources", {})


def _validate_workload(store, rt, obj, old):
    errs = []
    spec = obj.get("spec") or {}
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        errs.append(
            FieldError("spec.replicas", "Invalid", replicas, "must be greater than or equal to 0")
        )
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector:
        errs.append(FieldError("spec.selector", "Required"))
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errs.append(
            FieldError(
                "spec.selector", "Invalid", selector, "empty selector is invalid for deployment"
            )
        )
    elif not _selector_matches(selector, labels):
        errs.append(
            FieldError(
                "spec.template.metadata.labels",
                "Invalid",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        errs.append(FieldError("spec.selector", "Invalid", selector, "field is immutable"))
    errs += _validate_containers(
        ((spec.get("template") or {}).get("spec") or {}).get("containers"),
        "spec.template.spec.containers",
    )
    return errs


# -- ConfigMap / Secret ---------------------------------------------------------------------


def _secret(store, rt, obj, old):
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) if (string_data or "data" in obj) else None
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value or "", validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                400,
                "BadRequest",
                f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data '
                f"at input byte 0 (key {key!r})",
            ) from None
    obj.setdefault("type", "Opaque")


def _validate_data_keys(store, rt, obj, old):
    errs = []
    for key in list((obj.get("data") or {}).keys()) + list((obj.get("binaryData") or {}).keys()):
        if not key or not all(ch.isalnum() or ch in "-._" for ch in key):
            errs.append(
                FieldError(
                    f"data[{key}]",
                    "Invalid",
                    key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                    "validation is '[-._a-zA-Z0-9]+')",
                )
            )
    if (
        old is not None
        and old.get("immutable")
        and (old.get("data") != obj.get("data") or old.get("binaryData") != obj.get("binaryData"))
    ):
        errs.append(
            FieldError("data", "Forbidden", detail="field is immutable when `immutable` is set")
        )
    return errs


# -- CustomResourceDefinition ---------------------------------------------------------------


def _crd(store, rt, obj, old):
    spec = obj.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("listKind", names["kind"] + "List")
        names.setdefault("singular", names["kind"].lower())
    spec.setdefault("scope", "Namespaced")
    spec.setdefault("conversion", {"strategy": "None"})
    ts = obj["metadata"].get("creationTimestamp", "")
    status = obj.setdefault("status", {})
    status["acceptedNames"] = dict(names)
    status["storedVersions"] = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    if obj["metadata"].get("deletionTimestamp"):
        return
    status["conditions"] = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "reason": "NoConflicts",
            "message": "no conflicts found",
            "lastTransitionTime": ts,
        },
        {
            "type": "Established",
            "status": "True",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
            "lastTransitionTime": ts,
        },
    ]


def _validate_crd(store, rt, obj, old):
    errs = []
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group")
    name = obj["metadata"]["name"]
    if not group:
        errs.append(FieldError("spec.group", "Required"))
    for field in ("plural", "kind"):
        if not names.get(field):
            errs.append(FieldError(f"spec.names.{field}", "Required"))
    if group and names.get("plural") and name != f"{names['plural']}.{group}":
        errs.append(
            FieldError("metadata.name", "Invalid", name, 'must be spec.names.plural+"."+spec.group')
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(
            FieldError(
                "spec.scope", "NotSupported", spec.get("scope"), supported=["Cluster", "Namespaced"]
            )
        )
    versions = spec.get("versions") or []
    if not versions or sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(
            FieldError(
                "spec.versions",
                "Invalid",
                versions,
                "must have exactly one version marked as storage version",
            )
        )
    for i, version in enumerate(versions):
        if not (version.get("schema") or {}).get("openAPIV3Schema"):
            errs.append(
                FieldError(
                    f"spec.versions[{i}].schema.openAPIV3Schema",
                    "Required",
                    detail="schemas are required",
                )
            )
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("group") != group:
            errs.append(FieldError("spec.group", "Invalid", group, "field is immutable"))
        if old_spec.get("scope") != spec.get("scope"):
            errs.append(
                FieldError("spec.scope", "Invalid", spec.get("scope"), "field is immutable")
            )
    return errs


_MUTATORS = {
    ("", "Namespace"): _namespace,
    ("", "Service"): _service,
    ("", "Pod"): _pod,
    ("", "Secret"): _secret,
    ("apps", "Deployment"): _workload,
    ("apps", "StatefulSet"): _workload,
    ("apps", "ReplicaSet"): _workload,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}

_VALIDATORS = {
    ("", "Service"): _validate_service,
    ("", "Pod"): _validate_pod,
    ("", "ConfigMap"): _validate_data_keys,
    ("", "Secret"): _validate_data_keys,
    ("apps", "Deployment"): _validate_workload,
    ("apps", "StatefulSet"): _validate_workload,
    ("apps", "ReplicaSet"): _validate_workload,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _validate_crd,
}

# Job, PodDisruptionBudget, HorizontalPodAutoscaler, Ingress, NetworkPolicy (kcm.py).
_MUTATORS.update(kcm_admission.MUTATORS)
_VALIDATORS.update(kcm_admission.VALIDATORS)

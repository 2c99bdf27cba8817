"""`kubectl get` columns of the kinds of kcm.py, as the 1.29 API server's table convertor
prints them (pkg/printers/internalversion/printers.go)."""

from __future__ import annotations

import datetime

from .printing import (
    _CONTAINERS,
    _IMAGES,
    Printer,
    _age,
    _age_col,
    _col,
    _containers,
    _name,
    _name_col,
    _parse_time,
    _spec,
    _status,
    _template_spec,
    format_label_selector,
    human_duration,
)

MORE = 3  # printers.go lists three items, then "+ N more..."


def _job(obj: dict) -> tuple[list, list | None]:
    spec, status = _spec(obj), _status(obj)
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif int(spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start, end = _parse_time(status.get("startTime")), _parse_time(status.get("completionTime"))
    duration = ""
    if start is not None:
        finish = end or datetime.datetime.now(datetime.UTC)
        duration = human_duration((finish - start).total_seconds())
    names, images = _containers(_template_spec(obj))
    cells = [
        _name(obj),
        completions,
        duration,
        _age(obj),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]
    return cells, None


def _more(items: list[str], count: int) -> str:
    text = ",".join(items[:MORE])
    if count > MORE:
        return f"{text} + {count - MORE} more..."
    return text


def _endpoints(obj: dict) -> tuple[list, list | None]:
    items: list[str] = []
    for subset in obj.get("subsets") or []:
        addresses = [a["ip"] for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            items += addresses
        for port in ports:
            items += [
                f"[{ip}]:{port['port']}" if ":" in ip else f"{ip}:{port['port']}"
                for ip in addresses
            ]
    return [_name(obj), _more(items, len(items)) or "<none>", _age(obj)], None


def _pdb(obj: dict) -> tuple[list, list | None]:
    spec, status = _spec(obj), _status(obj)
    low = spec.get("minAvailable")
    high = spec.get("maxUnavailable")
    cells = [
        _name(obj),
        "N/A" if low is None else str(low),
        "N/A" if high is None else str(high),
        int(status.get("disruptionsAllowed") or 0),
        _age(obj),
    ]
    return cells, None


def _hpa_targets(spec: dict, status: dict) -> str:
    metrics = spec.get("metrics") or []
    current = status.get("currentMetrics") or []
    items = []
    for i, metric in enumerate(metrics):
        kind = metric.get("type")
        source = metric.get("resource") or metric.get("containerResource")
        if kind in ("Resource", "ContainerResource") and source:
            target = source.get("target") or {}
            now = current[i] if i < len(current) else {}
            now_source = (now.get("resource") or now.get("containerResource") or {}).get(
                "current"
            ) or {}
            if target.get("averageUtilization") is not None:
                value = now_source.get("averageUtilization")
                shown = "<unknown>" if value is None else f"{value}%"
                items.append(f"{shown}/{target['averageUtilization']}%")
            else:
                value = now_source.get("averageValue")
                shown = "<unknown>" if value is None else str(value)
                items.append(f"{shown}/{target.get('averageValue', '')}")
        else:
            items.append("<unknown>/<unknown>")
    return _more(items, len(items)) if items else "<none>"


def _hpa(obj: dict) -> tuple[list, list | None]:
    spec, status = _spec(obj), _status(obj)
    ref = spec.get("scaleTargetRef") or {}
    low = spec.get("minReplicas")
    cells = [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _hpa_targets(spec, status),
        "<unset>" if low is None else str(low),
        int(spec.get("maxReplicas") or 0),
        int(status.get("currentReplicas") or 0),
        _age(obj),
    ]
    return cells, None


def _ingress(obj: dict) -> tuple[list, list | None]:
    spec, status = _spec(obj), _status(obj)
    hosts = [rule.get("host") or "*" for rule in spec.get("rules") or []]
    addresses = []
    for ing in (status.get("loadBalancer") or {}).get("ingress") or []:
        value = ing.get("ip") or ing.get("hostname")
        if value and value not in addresses:
            addresses.append(value)
    cells = [
        _name(obj),
        spec.get("ingressClassName") or "<none>",
        _more(hosts, len(hosts)) or "*",
        ",".join(addresses),
        "80, 443" if spec.get("tls") else "80",
        _age(obj),
    ]
    return cells, None


def _network_policy(obj: dict) -> tuple[list, list | None]:
    return [_name(obj), format_label_selector(_spec(obj).get("podSelector")), _age(obj)], None


PRINTERS: dict[tuple[str, str], tuple[list[dict], Printer]] = {
    ("batch", "Job"): (
        [
            _name_col(),
            _col(
                "Completions",
                description="The desired number of successfully finished pods the job should be run with.",
            ),
            _col("Duration", description="Time required to complete the job."),
            _age_col(),
            _col("Containers", description=_CONTAINERS, priority=1),
            _col("Images", description=_IMAGES, priority=1),
            _col(
                "Selector",
                description="A label query over pods that should match the pod count.",
                priority=1,
            ),
        ],
        _job,
    ),
    ("", "Endpoints"): (
        [
            _name_col(),
            _col("Endpoints", description="Endpoints is the list of endpoints in the object."),
            _age_col(),
        ],
        _endpoints,
    ),
    ("policy", "PodDisruptionBudget"): (
        [
            _name_col(),
            _col(
                "Min Available",
                description='The minimum number of pods that must be available simultaneously.  This can be either an integer or a string specifying a percentage, e.g. "28%".',
            ),
            _col(
                "Max Unavailable",
                description='The maximum number of pods that may be unavailable simultaneously.  This can be either an integer or a string specifying a percentage, e.g. "28%".',
            ),
            _col(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            _age_col(),
        ],
        _pdb,
    ),
    ("autoscaling", "HorizontalPodAutoscaler"): (
        [
            _name_col(),
            _col(
                "Reference",
                description="reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.",
            ),
            _col(
                "Targets",
                description="metrics contains the specifications for which to use to calculate the desired replica count",
            ),
            _col(
                "MinPods",
                description="minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
            ),
            _col(
                "MaxPods",
                "integer",
                "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
            ),
            _col(
                "Replicas",
                "integer",
                "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
            ),
            _age_col(),
        ],
        _hpa,
    ),
    ("networking.k8s.io", "Ingress"): (
        [
            _name_col(),
            _col("Class", description="The name of the IngressClass resource that should be used."),
            _col(
                "Hosts",
                description="Hosts that incoming requests are matched against before the ingress rule",
            ),
            _col(
                "Address",
                description="Address is a list containing ingress points for the load-balancer",
            ),
            _col("Ports", description="Ports of TLS configurations that open"),
            _age_col(),
        ],
        _ingress,
    ),
    ("networking.k8s.io", "NetworkPolicy"): (
        [
            _name_col(),
            _col(
                "Pod-Selector",
                description="Selects the pods to which this NetworkPolicy object applies.",
            ),
            _age_col(),
        ],
        _network_policy,
    ),
}

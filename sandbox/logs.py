"""Container logs for `pods/log`: the real output of containers the sandbox runs
(network.py), plausible lines derived from the pod for the simulated ones."""

from __future__ import annotations

import datetime
import json
import random

from .errors import bad_request

_MAX_LINES = 2000


def _start(pod: dict) -> datetime.datetime:
    stamp = (pod.get("status") or {}).get("startTime") or pod["metadata"]["creationTimestamp"]
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def _klog(ts: datetime.datetime, source: str, message: str) -> str:
    return f"I{ts:%m%d %H:%M:%S.%f}       1 {source}] {message}"


def _memcached(pod, container, rng, start, elapsed):
    args = container.get("args") or []
    memory = args[args.index("-m") + 1] if "-m" in args else "64"
    lines = [
        (0, f"slab class   1: chunk size        96 perslab   10922 (memory limit {memory} MB)"),
        (0, "slab class   2: chunk size       120 perslab    8738"),
        (0, "slab class   3: chunk size       152 perslab    6898"),
        (0, "<26 server listening (auto-negotiate)"),
        (0, "<27 server listening (udp)"),
    ]
    conn = 28
    for second in range(5, elapsed + 1, 37):
        lines.append((second, f"<{conn} new auto-negotiating client connection"))
        if rng.random() < 0.4:
            lines.append((second, f"<{conn} connection closed."))
        conn += 1
    return lines


def _mcrouter(pod, container, rng, start, elapsed):
    ns = pod["metadata"]["namespace"]
    lines = [
        (
            0,
            _klog(
                start, "main.cpp:431", "mcrouter --config file:/etc/mcrouter/config.json -p 11211"
            ),
        ),
        (0, _klog(start, "main.cpp:551", "Starting mcrouter 0.41.0 (standalone)")),
        (
            1,
            _klog(
                start + datetime.timedelta(seconds=1),
                "ConfigApi.cpp:342",
                "Loaded config from /etc/mcrouter/config.json",
            ),
        ),
        (
            1,
            _klog(
                start + datetime.timedelta(seconds=1),
                "CarbonRouterInstance-inl.h:211",
                "Configured pools: A",
            ),
        ),
        (
            1,
            _klog(
                start + datetime.timedelta(seconds=1),
                "Server-inl.h:321",
                "Started standalone mcrouter on port 11211",
            ),
        ),
    ]
    for second in range(60, elapsed + 1, 60):
        ts = start + datetime.timedelta(seconds=second)
        lines.append(
            (
                second,
                _klog(
                    ts,
                    "ProxyDestination.cpp:118",
                    f"stats: requests={rng.randint(100, 5000)} "
                    f"hit_ratio={rng.uniform(0.7, 0.99):.2f} namespace={ns}",
                ),
            )
        )
    return lines


def _operator(pod, container, rng, start, elapsed):
    def entry(second, level, logger, msg, **extra):
        ts = (start + datetime.timedelta(seconds=second)).timestamp()
        return (
            second,
            json.dumps({"level": level, "ts": round(ts, 3), "logger": logger, "msg": msg, **extra}),
        )

    watch = (pod["metadata"].get("annotations") or {}).get("olm.targetNamespaces", "")
    lines = [
        entry(
            0,
            "info",
            "setup",
            "starting manager",
            version=container.get("image", "").rsplit(":", 1)[-1],
        ),
        entry(0, "info", "setup", "watching namespaces", namespaces=watch or "<all>"),
        entry(
            1, "info", "controller-runtime.metrics", "Starting metrics server", bindAddress=":8080"
        ),
        entry(
            1,
            "info",
            "controller.memcachedcluster",
            "Starting EventSource",
            source="kind source: *v1.MemcachedCluster",
        ),
        entry(2, "info", "controller.memcachedcluster", "Starting Controller"),
        entry(2, "info", "controller.memcachedcluster", "Starting workers", **{"worker count": 1}),
    ]
    for second in range(30, elapsed + 1, 30):
        lines.append(
            entry(second, "info", "controller.memcachedcluster", "Reconciling MemcachedCluster")
        )
    return lines


def _registry(pod, container, rng, start, elapsed):
    def entry(second, msg, **fields):
        ts = start + datetime.timedelta(seconds=second)
        extra = "".join(f" {k}={v}" for k, v in fields.items())
        return (second, f'time="{ts:%Y-%m-%dT%H:%M:%SZ}" level=info msg="{msg}"{extra}')

    return [
        entry(0, "starting pprof endpoint", address="localhost:6060"),
        entry(1, "serving registry", configs=" /configs", port=50051),
    ]


def _generic(pod, container, rng, start, elapsed):
    return [(0, f"{container['name']}: started"), (1, f"{container['name']}: ready")]


def _kind(image: str):
    if "mcrouter" in image:
        return _mcrouter
    if "-operator" in image or "/olm" in image:
        return _operator
    if "registry" in image.rsplit("/", 1)[-1]:
        return _registry
    if "memcached" in image:
        return _memcached
    return _generic


def pod_log(
    pod: dict,
    *,
    container: str | None = None,
    tail_lines: int | None = None,
    timestamps: bool = False,
    since_seconds: int | None = None,
    limit_bytes: int | None = None,
    source=None,
) -> str:
    """The log text `kubectl logs` would show, with the API server's errors for bad requests.

    `source(pod, container_name)` gives the real output [(datetime, line)] of a container
    that runs for real, or None (then the lines are simulated)."""
    name = pod["metadata"]["name"]
    containers = (pod.get("spec") or {}).get("containers") or []
    names = [c["name"] for c in containers]
    if container is None:
        if len(containers) != 1:
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(names)}]"
            )
        chosen = containers[0]
    else:
        chosen = next((c for c in containers if c["name"] == container), None)
        if chosen is None:
            raise bad_request(f"container {container} is not valid for pod {name}")
    state = next(
        (
            s.get("state") or {}
            for s in (pod.get("status") or {}).get("containerStatuses") or []
            if s.get("name") == chosen["name"]
        ),
        None,
    )
    if not state or "waiting" in state:
        reason = ((state or {}).get("waiting") or {}).get("reason", "ContainerCreating")
        raise bad_request(
            f'container "{chosen["name"]}" in pod "{name}" is waiting to start: {reason}'
        )
    start = _start(pod)
    now = datetime.datetime.now(datetime.UTC)
    real = source(pod, chosen["name"]) if source is not None else None
    if real is not None:
        lines = [(ts, text) for ts, text in real[-_MAX_LINES:]]
    else:
        elapsed = max(0, int((now - start).total_seconds()))
        rng = random.Random(pod["metadata"].get("uid", name) + chosen["name"])
        simulated = _kind(chosen.get("image", ""))(pod, chosen, rng, start, elapsed)
        lines = [(start + datetime.timedelta(seconds=s), t) for s, t in simulated[-_MAX_LINES:]]
    if since_seconds is not None:
        cutoff = now - datetime.timedelta(seconds=since_seconds)
        lines = [(ts, text) for ts, text in lines if ts >= cutoff]
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines > 0 else []
    rendered = []
    for ts, text in lines:
        if timestamps:
            text = f"{ts:%Y-%m-%dT%H:%M:%S.%f}000Z {text}"
        rendered.append(text + "\n")
    body = "".join(rendered)
    if limit_bytes is not None:
        body = body.encode()[:limit_bytes].decode(errors="ignore")
    return body

"""Sandbox pass benchmark: what one controller pass costs at N installed operators.

    .venv/bin/python -m bench.sandbox_pass [--sizes 30,200]

In this process, no HTTP, nothing run for real: a sandbox whose ticker is idle, N namespaces
each with an OperatorGroup and a Subscription (what an installation makes), stepped by hand
until every CSV has Succeeded. Then it times, median of 5: a full pass (every object, what
every busy pass was before passes became incremental), and the pass after a change in one
namespace (a label on one Subscription). Before incremental passes both were full ones.
"""

import argparse
import inspect
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.resources import ResourceType
from sandbox.server import SandboxCluster

V1A1, V1 = "operators.coreos.com/v1alpha1", "operators.coreos.com/v1"
IMAGE = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"


def _t(sb: SandboxCluster, api_version: str, kind: str) -> ResourceType:
    rt = sb.store.type_for(api_version, kind)
    assert rt is not None  # OLM's CRDs are installed at start
    return rt


def _install(sb: SandboxCluster, n: int) -> tuple[float, int]:
    store = sb.store
    store.create(
        _t(sb, V1A1, "CatalogSource"),
        "olm",
        {"metadata": {"name": "tenxcloud"}, "spec": {"sourceType": "grpc", "image": IMAGE}},
        manager="bench",
    )
    for i in range(n):
        ns = f"bench-{i}"
        store.create(_t(sb, "v1", "Namespace"), None, {"metadata": {"name": ns}}, manager="bench")
        store.create(
            _t(sb, V1, "OperatorGroup"),
            ns,
            {"metadata": {"name": "og"}, "spec": {"targetNamespaces": [ns]}},
            manager="bench",
        )
        store.create(
            _t(sb, V1A1, "Subscription"),
            ns,
            {
                "metadata": {"name": "memcached"},
                "spec": {
                    "channel": "stable",
                    "name": "memcached-cluster-operator",
                    "source": "tenxcloud",
                    "sourceNamespace": "olm",
                    "installPlanApproval": "Automatic",
                },
            },
            manager="bench",
        )
    start, passes = time.perf_counter(), 0
    csv_rt = _t(sb, V1A1, "ClusterServiceVersion")
    while passes < 2000:
        sb.tick()
        passes += 1
        succeeded = sum(
            1 for c in store.scan(csv_rt) if (c.get("status") or {}).get("phase") == "Succeeded"
        )
        if succeeded >= n:
            break
    return time.perf_counter() - start, passes


def _timed(fn, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _measure(n: int) -> str:
    sb = SandboxCluster(port=0, token="bench", tick_interval=3600, run_processes=False).start()
    try:
        settle, passes = _install(sb, n)
        store = sb.store
        incremental = "full" in inspect.signature(sb.tick).parameters
        full = _timed(lambda: sb.tick(full=True) if incremental else sb.tick())
        rt = _t(sb, V1A1, "Subscription")
        counter = iter(range(10**6))

        def one_change():
            sub = store.peek(rt, "bench-0", "memcached")
            sub["metadata"].setdefault("labels", {})["touched"] = str(next(counter))
            store.save(rt, sub, manager="bench")
            sb.tick()

        one = _timed(one_change)
        quiet = _timed(sb.tick)
        return (
            f"{n} installs: {len(store.all_objects())} objects; settled in {passes} passes, "
            f"{settle:.1f} s; full pass {full * 1000:.0f} ms; pass after one change "
            f"{one * 1000:.1f} ms; pass over a settled store {quiet * 1000:.1f} ms; "
            f"load {os.getloadavg()[0]:.2f}"
        )
    finally:
        sb.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="30,200")
    args = parser.parse_args()
    print("load average", os.getloadavg(), flush=True)
    for n in [int(s) for s in args.sizes.split(",")]:
        print(_measure(n), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

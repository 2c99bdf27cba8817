"""Sync tick benchmark: one beat sync of a cluster with 10 / 100 / 1,000 installations.

    .venv/bin/python bench/sync_tick.py [--sizes 10,100,1000] [--redis-db 7]

Uses PostgreSQL (database `bench_sync_tick`, or $BENCH_DATABASE, on 127.0.0.1:5432, created
and dropped here)
when it answers, else a SQLite file; the sandbox cluster served in this process (its
controllers ticked from here between syncs while the operators install). For each size, the installations are created (rows
straight in the database, then the real `install_operator` job run inline against the
sandbox), followed until every one is installed, and then one more tick is timed with
nothing changed on the cluster: its wall time, the Kubernetes API calls it made, its SQL
statements and how many of them wrote — a settled tick (Events read only for the
installations changed lately), and the periodic sweep tick that reads everyone's Events. The sandbox's controllers do not run during the
timed tick, so the figure is the product's (a real API server runs elsewhere).

Reference, in the same run: the bare reads a tick cannot do without — one paged,
cluster-wide list of the Subscriptions, fetched with urllib and parsed with json — and
the product / reference ratio.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

DB_NAME = os.environ.get("BENCH_DATABASE", "bench_sync_tick")


def _setup(sandbox):
    _admin, provider, cluster, version = common.operator_on_sale(sandbox.url, step=sandbox.tick)
    return provider, cluster, version


def _add_installations(*, owner, cluster, version, start: int, stop: int) -> list[int]:
    """Rows as a paid order's job creates them, then the real install job, inline."""
    from accounts import services as accounts
    from provisioning.models import Installation
    from provisioning.tasks import install_operator

    ids = []
    for i in range(start, stop):
        tenant = accounts.create_tenant(name=f"tick-{i}", owner=owner)
        project = accounts.create_project(
            actor=owner, tenant=tenant, name="p", namespace=f"tick-{i}"
        )
        installation = Installation.objects.create(
            tenant=tenant,
            project=project,
            cluster=cluster,
            asset=version.asset,
            version=version,
            namespace=project.namespace,
            package=version.package_name,
            channel="stable",
            catalog_source=version.catalog_source.name,
            catalog_namespace=version.catalog_source.namespace,
            starting_csv=version.starting_csv("stable"),
        )
        install_operator.apply(args=[installation.pk], throw=True)
        ids.append(installation.pk)
    return ids


def _reference_seconds(sandbox_url: str, page: int) -> float:
    """One paged, cluster-wide list of Subscriptions, bare: urllib + json."""
    import urllib.request  # not at the top: bench/http.py must be off sys.path first (common)

    started = time.perf_counter()
    token = ""
    while True:
        url = f"{sandbox_url}/apis/operators.coreos.com/v1alpha1/subscriptions?limit={page}"
        if token:
            url += f"&continue={token}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {common.TOKEN}"})
        with urllib.request.urlopen(request) as response:
            body = json.loads(response.read())
        token = (body.get("metadata") or {}).get("continue") or ""
        if not token:
            return time.perf_counter() - started


def _timed_tick(sandbox, cluster_id: int, profile: bool = False):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from provisioning.tasks import sync_cluster

    sandbox.clear_request_log()
    connection.queries_log.clear()  # DEBUG keeps at most 9,000: a full log counts nothing
    with CaptureQueriesContext(connection) as queries:
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        sync_cluster(cluster_id, True)
        seconds = time.perf_counter() - started
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    if profile:
        import collections

        for r in sandbox.request_log:
            print(r.method, r.path, r.query)
        events, _rv = sandbox.store.list(sandbox.store.type_for("v1", "Event"), None)
        print(
            collections.Counter(
                (
                    e["involvedObject"].get("apiVersion"),
                    e["involvedObject"].get("kind"),
                    e.get("reason"),
                )
                for e in events
            ).most_common(30)
        )
    calls = [r for r in sandbox.request_log if r.path.startswith(("/api", "/apis"))]
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    return seconds, len(calls), len(queries.captured_queries), len(writes)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--redis-db", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the timed ticks")
    parser.add_argument("--timeout", type=float, default=900, help="per size, to converge")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    data_dir = Path(tempfile.mkdtemp(prefix="bench-sync-tick-"))
    _env, use_postgres = common.environment(
        data_dir,
        redis_db=args.redis_db,
        db_name=DB_NAME,
        CELERY_BROKER_URL="memory://",  # jobs the tick enqueues go nowhere
        # Events are read for installations changed in the last 5 s (120 by default),
        # so the settled tick is measured without waiting two minutes.
        INSTALL_EVENTS_AFTER_CHANGE="5",
    )
    if use_postgres:
        common.recreate_database(DB_NAME)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from provisioning.models import ClusterSync, Installation
    from provisioning.tasks import sync_cluster
    from sandbox.server import SandboxCluster

    sandbox = SandboxCluster(
        # Its controllers are driven from here (a tick between two syncs while installing,
        # none during the timed tick): the timed figure is the product's alone.
        port=common.free_port(),
        token=common.TOKEN,
        tick_interval=3600,
        run_processes=False,
    ).start()
    owner, cluster, version = _setup(sandbox)
    print(f"database: {'PostgreSQL' if use_postgres else 'SQLite'}")
    print(
        "size, tick | tick (s) | API calls | SQL statements | SQL writes | "
        "reference: bare list (s) | ratio"
    )
    rows = []
    have = 0
    for size in sizes:
        _add_installations(owner=owner, cluster=cluster, version=version, start=have, stop=size)
        have = size
        deadline = time.monotonic() + args.timeout
        while Installation.objects.filter(cluster=cluster).exclude(status="installed").exists():
            if time.monotonic() > deadline:
                left = Installation.objects.exclude(status="installed").count()
                print(f"{size}: {left} never installed within {args.timeout:.0f} s")
                return 1
            for _ in range(3):
                sandbox.tick()
            sync_cluster(cluster.pk, True)
        sync_cluster(cluster.pk, True)  # the last news (events) written: now nothing changes
        time.sleep(settings.INSTALL_EVENTS_AFTER_CHANGE + 1)  # settled: Events no longer followed
        reference = _reference_seconds(sandbox.url, int(settings.KUBE_LIST_PAGE_SIZE))
        for label in ("settled", "sweep"):
            if label == "sweep":  # the periodic tick that reads every installation's Events
                ClusterSync.objects.update(events_swept_at=None)
            seconds, calls, statements, writes = _timed_tick(sandbox, cluster.pk, args.profile)
            rows.append((size, label, seconds, calls, statements, writes, reference))
            print(
                f"{size} {label} | {seconds:.3f} | {calls} | {statements} | {writes} | "
                f"{reference:.3f} | {seconds / reference:.1f}x",
                flush=True,
            )
    sandbox.stop()
    from django.db import connections

    connections.close_all()
    if use_postgres:
        common.drop_database(DB_NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())

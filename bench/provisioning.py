"""Provisioning benchmark: from a payment's commit to a Subscription, and to installed.

    .venv/bin/python bench/provisioning.py [--purchases 200] [--concurrency 2] [--redis-db 12]

Uses PostgreSQL (database `bench_provisioning`, or $BENCH_DATABASE, on 127.0.0.1:5432,
created and dropped here) when it answers, else a SQLite file; Redis on 127.0.0.1:6379
(db 12 unless --redis-db); a real Celery worker (one, `--concurrency` processes, on every
queue) and beat started here; the sandbox cluster (tick 0.1 s) in a process of its own,
as a real API server is, asked over a pipe what it holds and how many calls it served.
Each purchase is a real `place_order(pay_now=True)` in its own transaction; the
`order_paid` signal enqueues the install. Each purchase is timed from its own commit,
while the others are still being placed: a watcher thread notes when each Subscription
appears and each installation is installed. Meanwhile a no-op task (`marketplace.ping`)
is sent every 0.2 s and timed until its result is back.

Prints p50/p95 of commit → Subscription exists and commit → installed, the no-op's wait
during the burst, and the reference measured in the same run before the burst: the same
number of no-op tasks sent at once to the idle worker (p95 of their send → result), with
the ratios; install jobs run (each run marks its installation) against installations,
installs per second, Kubernetes API calls per installation, and checks that nothing was
created twice.
"""

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

DB_NAME = os.environ.get("BENCH_DATABASE", "bench_provisioning")


def _setup_catalog_and_version(sandbox_url, purchases):
    from accounts import services as accounts
    from accounts.models import User
    from orders import services as orders

    admin, _provider, cluster, version = common.operator_on_sale(sandbox_url)
    buyer = User.objects.create_user("bench-buyer", password="x")
    # One entitlement per asset per tenant: every purchase is a different buyer tenant.
    projects = []
    for i in range(purchases):
        buying = accounts.create_tenant(name=f"bench-buyer-{i}", owner=buyer)
        projects.append(
            accounts.create_project(actor=buyer, tenant=buying, name="p", namespace=f"bench-{i}")
        )
    for project in projects:
        orders.top_up_wallet(actor=admin, tenant=project.tenant, amount=Decimal(5), reason="bench")
    return buyer, projects, version.asset.plans.first(), cluster


SANDBOX_PROCESS = """
import json, sys
from sandbox.server import SandboxCluster

sandbox = SandboxCluster(port=int(sys.argv[1]), token=sys.argv[2], tick_interval=0.1).start()
V1A1, V1 = "operators.coreos.com/v1alpha1", "operators.coreos.com/v1"
print(json.dumps({"url": sandbox.url}), flush=True)


def per_namespace(api_version, kind):
    counts = {}
    for obj in sandbox.store.scan(sandbox.store.type_for(api_version, kind)):
        ns = obj["metadata"].get("namespace", "")
        counts[ns] = counts.get(ns, 0) + 1
    return counts


for line in sys.stdin:
    command = line.strip()
    if command == "subscriptions":
        answer = per_namespace(V1A1, "Subscription")
    elif command == "groups":
        answer = per_namespace(V1, "OperatorGroup")
    elif command == "calls":
        answer = sum(1 for r in sandbox.request_log if r.path.startswith(("/api", "/apis")))
    elif command == "clear":
        sandbox.clear_request_log()
        answer = 0
    else:
        break
    print(json.dumps(answer), flush=True)
sandbox.stop()
"""


class _Sandbox:
    """The sandbox cluster in its own process; `ask` one of the commands above."""

    def __init__(self, env):
        import json

        self._json = json
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SANDBOX_PROCESS, str(common.free_port()), common.TOKEN],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.url = json.loads(self.process.stdout.readline())["url"]

    def ask(self, command):
        with self._lock:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            return self._json.loads(self.process.stdout.readline())

    def stop(self):
        with contextlib.suppress(BrokenPipeError, OSError):
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _wait_for_worker(client, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.send_task("marketplace.ping").get(timeout=5)
            return
        except Exception:  # not up yet
            time.sleep(0.5)
    raise SystemExit("the worker did not answer a ping")


def _noop_latencies(client, count, timeout=120):
    """`count` no-op tasks sent at once; each one's send → result seen, in seconds."""
    pending = {}
    for _ in range(count):
        pending[client.send_task("marketplace.ping")] = time.monotonic()
    latencies = []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for result, at in list(pending.items()):
            if result.ready():
                latencies.append(time.monotonic() - at)
                del pending[result]
        time.sleep(0.01)
    return latencies + [timeout] * len(pending)


class _Pinger(threading.Thread):
    """Sends a no-op task every 0.2 s and times each until its result is back."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client, self.latencies = client, []
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            at = time.monotonic()
            try:
                self.client.send_task("marketplace.ping").get(timeout=120)
            except Exception:  # counted as a very long wait
                self.latencies.append(120.0)
            else:
                self.latencies.append(time.monotonic() - at)
            self._stop_event.wait(max(0.0, 0.2 - (time.monotonic() - at)))

    def stop(self):
        self._stop_event.set()
        self.join(timeout=130)


class _Watcher(threading.Thread):
    """Notes, every 50 ms, when each namespace's Subscription appears (asked of the
    sandbox's process) and when its installation is installed (the database)."""

    def __init__(self, sandbox, namespaces):
        super().__init__(daemon=True)
        self.sandbox, self.namespaces = sandbox, namespaces
        self.subscribed, self.installed = {}, {}
        self.done = threading.Event()
        self._stop_event = threading.Event()

    def run(self):
        from django.db import connection

        from provisioning.models import Installation

        try:
            while not self._stop_event.is_set():
                now = time.monotonic()
                for namespace in self.sandbox.ask("subscriptions"):
                    self.subscribed.setdefault(namespace, now)
                for namespace in Installation.objects.filter(status="installed").values_list(
                    "namespace", flat=True
                ):
                    self.installed.setdefault(namespace, now)
                if self.namespaces <= set(self.installed):
                    self.done.set()
                    return
                time.sleep(0.05)
        finally:
            connection.close()

    def stop(self):
        self._stop_event.set()
        self.join(timeout=10)


def _stop(*processes):
    """TERM, a grace period, then KILL whatever of the process groups is left."""
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--purchases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench-provisioning-"))
    env, use_postgres = common.environment(
        data_dir,
        redis_db=args.redis_db,
        db_name=DB_NAME,
        INSTALL_SYNC_INTERVAL="1",
        # Catalogs are followed at the product's default pace (10 s): the catalog is READY
        # before the burst, set up inline.
    )
    if use_postgres:
        common.recreate_database(DB_NAME)
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    venv_bin = Path(sys.executable).parent
    child_env = {**os.environ, **env, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}
    sandbox = _Sandbox(child_env)
    buyer, projects, plan, cluster = _setup_catalog_and_version(sandbox.url, args.purchases)

    log = open(data_dir / "worker.log", "w")  # noqa: SIM115 - closed at the end
    worker = subprocess.Popen(
        [
            str(venv_bin / "celery"),
            "-A",
            "marketplace",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={args.concurrency}",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    beat = subprocess.Popen(
        [
            str(venv_bin / "celery"),
            "-A",
            "marketplace",
            "beat",
            "--loglevel=WARNING",
            "--schedule",
            str(data_dir / "beat-schedule"),
        ],
        cwd=ROOT,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    from celery import Celery

    client = Celery(broker=env["REDIS_URL"], backend=env["REDIS_URL"], set_as_current=False)
    _wait_for_worker(client)
    time.sleep(2)  # beat's first rounds

    # Reference, same run, idle worker: as many no-op tasks as purchases, sent at once.
    reference = _noop_latencies(client, len(projects))

    from orders import services as orders
    from provisioning.models import Installation

    sandbox.ask("clear")
    committed = {}
    watcher = _Watcher(sandbox, {p.namespace for p in projects})
    pinger = _Pinger(client)
    watcher.start()
    pinger.start()
    started = time.monotonic()
    for project in projects:
        orders.place_order(
            actor=buyer,
            plan=plan,
            project=project,
            cluster=cluster,
            channel="stable",
            pay_now=True,
            idempotency_key=f"bench-{project.namespace}",
        )
        committed[project.namespace] = time.monotonic()
    placing = time.monotonic() - started
    watcher.done.wait(args.timeout)
    finished = time.monotonic()
    pinger.stop()
    watcher.stop()
    subscribed, installed = watcher.subscribed, watcher.installed

    api_calls = sandbox.ask("calls")
    per_namespace = sandbox.ask("subscriptions")
    groups_per_ns = {ns: n for ns, n in sandbox.ask("groups").items() if ns.startswith("bench-")}

    job_runs = sum(Installation.objects.values_list("job_runs", flat=True))
    logged_runs = sum(
        1
        for line in (data_dir / "worker.log").read_text().splitlines()
        if "Task provisioning.tasks.install_operator[" in line and " succeeded in " in line
    )
    to_subscription = [subscribed[ns] - committed[ns] for ns in subscribed if ns in committed]
    to_installed = [installed[ns] - committed[ns] for ns in installed if ns in committed]
    duplicates = {ns: n for ns, n in per_namespace.items() if n != 1}
    duplicate_groups = {ns: n for ns, n in groups_per_ns.items() if n != 1}
    installations = Installation.objects.count()

    print(
        f"database: {'PostgreSQL' if use_postgres else 'SQLite'}; worker processes: {args.concurrency}"
    )
    print(f"purchases: {len(projects)} placed and paid in {placing:.2f} s")
    if to_subscription:
        print(
            "commit → Subscription exists: "
            f"p50 {statistics.median(to_subscription):.2f} s, p95 {common.percentile(to_subscription, 0.95):.2f} s"
        )
    if to_installed:
        print(
            "commit → installed (CSV Succeeded): "
            f"p50 {statistics.median(to_installed):.2f} s, p95 {common.percentile(to_installed, 0.95):.2f} s"
        )
    ref_p95 = common.percentile(reference, 0.95)
    print(
        f"reference, same run: {len(reference)} no-op tasks at once to the idle worker: "
        f"p50 {statistics.median(reference):.3f} s, p95 {ref_p95:.3f} s"
    )
    if pinger.latencies:
        noop_p95 = common.percentile(pinger.latencies, 0.95)
        print(
            f"no-op task during the burst ({len(pinger.latencies)} sent, one every 0.2 s): "
            f"p50 {statistics.median(pinger.latencies):.3f} s, p95 {noop_p95:.3f} s, "
            f"max {max(pinger.latencies):.3f} s (target <= 1 s); "
            f"{noop_p95 / ref_p95:.1f}x the reference p95"
        )
    if to_subscription:
        print(
            f"commit → Subscription p95 / reference p95: "
            f"{common.percentile(to_subscription, 0.95) / ref_p95:.1f}x (target p95 <= 2 s)"
        )
    if to_installed:
        print(
            f"commit → installed p95 / reference p95: "
            f"{common.percentile(to_installed, 0.95) / ref_p95:.1f}x (target p95 <= 10 s)"
        )
    print(
        f"install jobs run: {job_runs} for {installations} installations "
        f"({job_runs - installations} duplicates; worker log: {logged_runs} succeeded)"
    )
    span = (max(installed.values()) - started) if installed else float("nan")
    print(
        f"installed: {len(installed)}/{len(projects)}; installs per second: {len(installed) / span:.2f}"
    )
    print(
        f"Kubernetes API calls: {api_calls} in all, {api_calls / max(1, len(projects)):.1f} per installation"
    )
    print(
        "duplicates: "
        f"{len(duplicates)} namespaces with ≠1 Subscription, "
        f"{len(duplicate_groups)} with ≠1 OperatorGroup, "
        f"{installations} Installation rows for {len(projects)} orders"
    )
    ok = (
        len(installed) == len(projects)
        and job_runs == installations
        and not duplicates
        and not duplicate_groups
        and installations == len(projects)
    )
    print("check:", "OK" if ok else "FAILED")

    _stop(worker, beat)
    log.close()
    sandbox.stop()
    from django.db import connections

    connections.close_all()
    if use_postgres:
        common.drop_database(DB_NAME)
    print(f"(elapsed {finished - started:.1f} s; logs in {data_dir})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

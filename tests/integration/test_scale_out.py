"""Two web and two worker replicas on one PostgreSQL and one Redis: every job runs once.

The README's API flow (purchase → payment → installation → MemcachedCluster, verified) is
driven through a round-robin front that alternates every connection between two gunicorn
web processes; two Celery workers consume the same queues and one beat (its schedule in
the database) ticks every second. Nothing is shared through a local disk or memory: the
test passes only if the replicas coordinate through the database and Redis.
"""

import contextlib
import itertools
import re
import socket
import socketserver
import subprocess
import threading
import uuid
from collections import Counter

import pytest
import requests

from tests.conftest import free_port, wait_until
from tests.integration.conftest import (
    VENV_BIN,
    WorkerProcess,
    clean_env,
    database_url_of_test_db,
)
from tests.integration.test_readme_api_flow import (  # noqa: F401
    Processes,
    demo_people,
    processes,
    readme_flow,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TASK_DONE = re.compile(r"Task ([\w.]+)\[([0-9a-f-]{36})\] (succeeded|raised|retry)")


class RoundRobin(socketserver.ThreadingTCPServer):
    """A TCP front, as a load balancer: each connection goes to the next web replica."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, backends):
        self.backends, self.served = backends, Counter()
        self._next = itertools.cycle(range(len(backends)))
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Pipe)

    def pick(self):
        with self._lock:
            index = next(self._next)
            self.served[index] += 1
            return self.backends[index]


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self):
        upstream = socket.create_connection(self.server.pick(), timeout=60)

        def copy(source, target):
            try:
                while chunk := source.recv(65536):
                    target.sendall(chunk)
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=copy, args=(upstream, self.request), daemon=True)
        back.start()
        copy(self.request, upstream)
        back.join(timeout=60)
        upstream.close()


def finished_tasks(log_text):
    return [(name, task_id, outcome) for name, task_id, outcome in TASK_DONE.findall(log_text)]


def test_two_webs_and_two_workers_run_the_purchase_to_instance_flow_with_every_job_once(
    demo_people,  # noqa: F811
    sandbox,
    redis_url,
    processes,  # noqa: F811
    tmp_path,
):
    from django_celery_beat.models import PeriodicTask

    from instances.models import OperandInstance
    from orders.models import Order
    from provisioning.models import Installation

    queue = f"scale-{uuid.uuid4().hex[:8]}"
    base = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEST_DATABASE_URL": database_url_of_test_db(),
        "TEST_CELERY_BROKER_URL": redis_url,
        "TEST_CELERY_RESULT_BACKEND": redis_url,
        "TEST_CELERY_EAGER": "0",
        "TEST_CELERY_DEFAULT_QUEUE": queue,
    }
    ticks = {"CATALOG_SYNC_INTERVAL": "1", "INSTALL_SYNC_INTERVAL": "1"}
    ticks["INSTANCE_SYNC_INTERVAL"] = "1"
    workers = [
        WorkerProcess(
            broker=redis_url, queue=queue, log_path=tmp_path / f"worker-{n}.log", extra_env=ticks
        )
        for n in (1, 2)
    ]
    try:
        for worker in workers:
            worker.start()
        # Beat with no schedule file anywhere: the database scheduler is the default.
        processes.start(
            "beat",
            [str(VENV_BIN / "celery"), "-A", "marketplace", "beat", "--loglevel=INFO"],
            clean_env(**base, **ticks),
        )
        ports = [free_port(), free_port()]
        webs = [
            processes.start(
                f"web-{n}",
                [
                    str(VENV_BIN / "gunicorn"),
                    "marketplace.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                ],  # fmt: skip
                clean_env(**base),
            )
            for n, port in enumerate(ports, start=1)
        ]

        def webs_answer():
            for n, (web, port) in enumerate(zip(webs, ports, strict=True), start=1):
                assert web.poll() is None, processes.log(f"web-{n}")
                try:
                    if not requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                        return False
                except requests.RequestException:  # not listening yet, or still loading
                    return False
            return True

        wait_until(webs_answer, timeout=60, interval=0.2, message="both web processes")
        front = RoundRobin([("127.0.0.1", port) for port in ports])
        threading.Thread(target=front.serve_forever, daemon=True).start()
        try:
            run = subprocess.run(
                ["bash", "-c", readme_flow()],
                cwd=tmp_path,
                env=clean_env(API=f"http://127.0.0.1:{front.server_address[1]}/api/v1"),
                capture_output=True,
                text=True,
                timeout=240,
            )
        finally:
            front.shutdown()
            front.server_close()
        logs = "".join(
            f"\n--- {name}\n{processes.log(name)}" for name in ("web-1", "web-2", "beat")
        )
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}{logs}"
    finally:
        for worker in workers:
            worker.stop()
    # Both web replicas served the flow, alternately.
    assert front.served[0] >= 10 and front.served[1] >= 10, front.served
    assert abs(front.served[0] - front.served[1]) <= 1, front.served

    order = Order.objects.get(project__namespace="api-flow")
    assert order.status == Order.Status.PAID
    installation = order.installations.get()
    assert Installation.objects.filter(namespace="api-flow").count() == 1
    assert installation.status == "installed" and installation.job_runs == 1
    instance = OperandInstance.objects.get(installation=installation)
    assert instance.name == "cache" and instance.status == "running" and instance.verify_ok

    # The cluster saw one Subscription and one MemcachedCluster: no replica did it twice.
    store = sandbox.store
    subscriptions, _rv = store.list(
        store.type_for("operators.coreos.com/v1alpha1", "Subscription"), "api-flow"
    )
    assert len(subscriptions) == 1, subscriptions
    crs, _rv = store.list(store.type_for(instance.api_version_full, instance.kind), "api-flow")
    assert [cr["metadata"]["name"] for cr in crs] == ["cache"]

    # Every job one worker finished, exactly once, and none failed; both workers worked.
    done = [finished_tasks(worker.log.read_text()) for worker in workers]
    runs = Counter(task_id for tasks in done for _name, task_id, _outcome in tasks)
    assert runs and max(runs.values()) == 1, [t for t, n in runs.items() if n > 1]
    assert all(outcome == "succeeded" for tasks in done for *_, outcome in tasks), done
    assert all(len(tasks) >= 3 for tasks in done), [len(tasks) for tasks in done]
    names = Counter(name for tasks in done for name, _id, _outcome in tasks)
    print(f"webs served {dict(front.served)}; jobs per worker {[len(t) for t in done]}; {names}")
    assert names["provisioning.tasks.install_operator"] == 1, names
    assert names["provisioning.tasks.sync_installations"] >= 3, names
    # Beat's schedule is rows (written when it started), not a celerybeat-schedule file.
    assert "django_celery_beat.schedulers.DatabaseScheduler" in (tmp_path / "beat.log").read_text()
    synced = PeriodicTask.objects.get(name="sync-installations")
    assert synced.interval.every == 1 and synced.expire_seconds == 15

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.provisioning.conftest import (  # noqa: F401
    buyer,
    installed_on_two_clusters,
    list_operator,
    on_sale_version,
)

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _redis_answers(url):
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """The real Redis: the one on 6379 (CI starts it), else a private redis-server.

    Without either, the test fails rather than skips.
    """
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    if _redis_answers(url):
        yield url
        return
    if "TEST_REDIS_URL" in os.environ or not shutil.which("redis-server"):
        pytest.fail(
            f"Redis is required at {url} for integration tests (apt-get install redis-server)"
        )
    from tests.conftest import free_port

    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        cwd=tmp_path_factory.mktemp("redis"),
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while not _redis_answers(url):
        if time.monotonic() > deadline:
            server.kill()
            pytest.fail("a private redis-server did not start")
        time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


def clean_env(**extra):
    """The environment a separately started process of ours gets: no test leftovers."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "TEST_", "PYTEST"))
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def database_url_of_test_db():
    """The URL of the database the current test run uses, for a worker process to share."""
    from django.db import connection

    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else "")
    return f"postgres://{auth}@{cfg['HOST'] or '127.0.0.1'}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


class WorkerProcess:
    """A real `celery worker` process (solo pool) on Redis, started and killed by tests."""

    def __init__(self, *, broker, queue, log_path, extra_env=None):
        self.broker, self.queue, self.log = broker, queue, log_path
        self.extra_env = extra_env or {}
        self.process = None

    def start(self, timeout=60):
        env = clean_env(
            **{
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "TEST_DATABASE_URL": database_url_of_test_db(),
                "TEST_CELERY_BROKER_URL": self.broker,
                "TEST_CELERY_RESULT_BACKEND": self.broker,
                "TEST_CELERY_EAGER": "0",
                # Follow-up jobs go to this worker's own queues (tests/settings.py names them).
                "TEST_CELERY_DEFAULT_QUEUE": self.queue,
                **self.extra_env,
            }
        )
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "marketplace",
                    "worker",
                    "--loglevel=INFO",
                    "--pool=solo",
                    "-Q",
                    ",".join(self.queues),
                    "--without-gossip",
                    "--without-mingle",
                    "--hostname",
                    f"{self.queue}-{uuid.uuid4().hex[:4]}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while "ready." not in self.log.read_text()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker did not start:\n{self.log.read_text()}")
            time.sleep(0.2)
        return self

    @property
    def queues(self):
        """The default queue and the install and sync queues named after it."""
        return [self.queue, f"{self.queue}.installs", f"{self.queue}.sync"]

    @property
    def pid(self):
        return self.process.pid

    def kill(self):
        """SIGKILL, as an OOM killer or a lost node would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def worker_factory(redis_url, tmp_path):
    workers = []

    def start(queue=None, **extra_env):
        worker = WorkerProcess(
            broker=redis_url,
            queue=queue or f"itest-{uuid.uuid4().hex[:8]}",
            log_path=tmp_path / "worker.log",
            extra_env=extra_env,
        )
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()
    leftovers = {queue for worker in workers for queue in worker.queues}
    if leftovers:
        redis.Redis.from_url(redis_url).delete(*leftovers)


@pytest.fixture
def celery_worker_process(worker_factory):
    worker = worker_factory()
    return {
        "queue": worker.queue,
        "process": worker.process,
        "log": worker.log,
        "broker": worker.broker,
    }


@pytest.fixture(autouse=True)
def joining_results_is_allowed():
    """This process is not a worker: it may wait for a task's result.

    Celery keeps "waiting would block" in one process-wide flag that eager tasks set and
    restore around themselves. Eager tasks run at the same time by two threads of an
    earlier test (the threaded live server of the browser tests) can restore it in the
    wrong order and leave it set; `AsyncResult.get()` would then refuse to wait.
    """
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)

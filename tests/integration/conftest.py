import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

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


@pytest.fixture
def celery_worker_process(redis_url, tmp_path):
    """A real `celery worker` process on Redis, consuming a queue of its own."""
    queue = f"itest-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    env = clean_env(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DATABASE_URL=database_url_of_test_db(),
        TEST_CELERY_BROKER_URL=redis_url,
        TEST_CELERY_RESULT_BACKEND=redis_url,
        TEST_CELERY_EAGER="0",
    )
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "marketplace",
                "worker",
                "--loglevel=INFO",
                "--pool=solo",
                "-Q",
                queue,
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{queue}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield {"queue": queue, "process": process, "log": log_path, "broker": redis_url}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()

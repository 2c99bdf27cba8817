"""The ordering of deploy/: web, worker and beat start only after the migration Job.

Runs the rendered manifests' own commands on this machine against a fresh PostgreSQL
database: the init container `wait-for-migrations` keeps waiting on an unmigrated database,
and finishes once the Job's command has migrated it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest
from django.conf import settings

from .manifests import ROOT, by_kind, render

pytestmark = pytest.mark.skipif(
    not getattr(settings, "USING_POSTGRES", False), reason="needs PostgreSQL"
)


def _admin_conninfo(database: str) -> str:
    db = settings.DATABASES["default"]
    parts = [
        f"dbname={database}",
        f"host={db['HOST'] or '127.0.0.1'}",
        f"port={db['PORT'] or 5432}",
    ]
    if db.get("USER"):
        parts.append(f"user={db['USER']}")
    if db.get("PASSWORD"):
        parts.append(f"password={db['PASSWORD']}")
    return " ".join(parts)


@pytest.fixture
def empty_database():
    name = f"mp_initwait_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = settings.DATABASES["default"]
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    yield f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    with psycopg.connect(_admin_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(objects: list[dict], database_url: str, data_dir) -> dict[str, str]:
    """The pods' environment (envFrom the ConfigMap and the Secret), on this machine."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "TEST_"))
    }
    (config,) = by_kind(objects, "ConfigMap").values()
    env.update(config["data"])
    env.update(by_kind(objects, "Secret")["marketplace-secrets"]["stringData"])
    env.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DATABASE_URL=database_url,
        DATA_DIR=str(data_dir),
        PATH=f"{os.path.dirname(sys.executable)}:{env.get('PATH', '')}",
    )
    return env


def test_wait_for_migrations_holds_until_the_migration_job_ran(empty_database, tmp_path):
    objects = render("demo")
    env = _env(objects, empty_database, tmp_path)
    web = by_kind(objects, "Deployment")["marketplace-web"]["spec"]["template"]["spec"]
    (init,) = web["initContainers"]
    job = by_kind(objects, "Job")["marketplace-migrate"]["spec"]["template"]["spec"]
    (migrate,) = job["containers"]

    waiting = subprocess.Popen(
        init["command"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(waiting.stdout.readline, "")),
        daemon=True,
    )
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("waiting for the marketplace-migrate Job" in line for line in lines):
            assert waiting.poll() is None, f"the init container ended on an empty database: {lines}"
            assert time.monotonic() < deadline, f"no waiting line: {lines}"
            time.sleep(0.1)
        assert waiting.poll() is None  # still holding the web back

        done = subprocess.run(
            migrate["command"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr

        assert waiting.wait(timeout=60) == 0  # the web may start now
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()

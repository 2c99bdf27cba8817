"""The README's "The whole flow over the API" is run as written, so it cannot drift.

Every fenced block tagged `bash api-flow` in README.md is joined, in order, into one bash
script and run against real processes: a web process (`manage.py runserver`), a Celery
worker and Celery beat on Redis, the sandbox cluster, with the demo's people (logins
`provider`, `admin`, `buyer`, password `demo`). A path, field or status the README names
that the API no longer has makes a command fail, and this test with it.
"""

import re
import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import free_port, wait_until
from tests.integration.conftest import ROOT, VENV_BIN, clean_env, database_url_of_test_db

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BLOCK = re.compile(r"^```bash api-flow\n(.*?)^```", re.DOTALL | re.MULTILINE)
SECTION = "### The whole flow over the API"


def readme_flow() -> str:
    """The script the README shows: its `bash api-flow` blocks, in order."""
    readme = (ROOT / "README.md").read_text()
    assert SECTION in readme, "the README lost its API flow section"
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = BLOCK.findall(section)
    assert len(blocks) >= 4, "the API flow section has lost its runnable blocks"
    assert not BLOCK.findall(readme.replace(section, "")), "api-flow blocks outside the section"
    return "\n".join(blocks)


def test_the_readme_flow_is_one_script_of_curl_calls_against_documented_paths(client, db):
    """Cheap, without processes: every `$API/…` path in the script is in the schema."""
    script = readme_flow()
    paths = client.get("/api/schema/?format=json").json()["paths"]
    templates = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$") for p in paths]
    used = re.findall(r'"\$API(/[^"?]*)', script)
    assert len(used) >= 15, used
    for path in used:
        concrete = "/api/v1" + re.sub(r"\$[A-Z_]+", "1", path)
        assert any(t.match(concrete) for t in templates), f"{path} is not in the API schema"


class Processes:
    """The web process and beat this test starts (the worker comes from worker_factory)."""

    def __init__(self, log_dir):
        self.log_dir, self.running = log_dir, []

    def start(self, name, argv, env):
        log = (self.log_dir / f"{name}.log").open("w")
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running.append(process)
        return process

    def log(self, name):
        path = self.log_dir / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def stop(self):
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def processes(tmp_path):
    started = Processes(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def demo_people(sandbox_cluster):
    """The demo's logins and tenants (marketplace.demo), the sandbox the default cluster."""
    from assets.models import Category
    from marketplace.demo import seed_people

    seed_people()
    Category.objects.create(slug="database", name_en="Database", name_zh="数据库", position=1)


def test_the_readme_api_flow_runs_against_real_processes(
    demo_people, sandbox, worker_factory, redis_url, processes, tmp_path
):
    from instances.models import OperandInstance
    from orders.models import Order

    queue = f"flow-{uuid.uuid4().hex[:8]}"
    base = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEST_DATABASE_URL": database_url_of_test_db(),
        "TEST_CELERY_BROKER_URL": redis_url,
        "TEST_CELERY_RESULT_BACKEND": redis_url,
        "TEST_CELERY_EAGER": "0",
        "TEST_CELERY_DEFAULT_QUEUE": queue,
    }
    # Beat as `make run` has it, only with one-second rounds: the README waits on them.
    ticks = {"CATALOG_SYNC_INTERVAL": "1", "INSTALL_SYNC_INTERVAL": "1"}
    ticks["INSTANCE_SYNC_INTERVAL"] = "1"
    worker_factory(queue=queue, **ticks)
    processes.start(
        "beat",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "marketplace",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],  # fmt: skip
        clean_env(**base, **ticks),
    )
    port = free_port()
    web = processes.start(
        "web",
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        clean_env(**base),
    )

    def web_answers():
        assert web.poll() is None, processes.log("web")
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
        except requests.ConnectionError:
            return False

    wait_until(web_answers, timeout=60, interval=0.2, message="the web process")

    run = subprocess.run(
        ["bash", "-c", readme_flow()],
        cwd=tmp_path,
        env=clean_env(API=f"http://127.0.0.1:{port}/api/v1"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, (
        f"the README's API flow failed:\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}\n"
        f"--- web\n{processes.log('web')}\n--- beat\n{processes.log('beat')}"
    )
    lines = run.stdout.splitlines()
    assert lines[0] == "approved" and lines[1] == "100.00", run.stdout
    order = Order.objects.get(project__namespace="api-flow")
    assert order.status == Order.Status.PAID
    installation = order.installations.get()
    assert installation.status == "installed"
    instance = OperandInstance.objects.get(installation=installation, name="cache")
    assert instance.status == "running" and instance.verify_ok is True
    assert lines[-1] == instance.verify_message

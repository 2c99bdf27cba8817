import os
import socket

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the test thread; Django's ORM guard
# would otherwise refuse every query made from a browser test.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip on SQLite, saying why; on CI settings already refused SQLite."""
    if not settings.configured:  # e.g. `pytest tests/sandbox -p no:django`
        return
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locks / constraints); running on SQLite")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in 中文 leaves its language active in the thread (LocaleMiddleware never
    deactivates it): the next test's service calls would speak 中文. Each test starts anew."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads of a test go to its own folder, never into the work tree."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_user(db):
    from accounts.models import User

    def make(username="alice", password="pw-Secret-123", **extra):
        user = User.objects.create_user(username=username, password=password, **extra)
        user.raw_password = password
        return user

    return make


@pytest.fixture
def tenant_with_owner(make_user):
    from accounts.services import create_tenant

    def make(name="acme", username=None, is_provider=False):
        owner = make_user(username or f"{name}-owner")
        return create_tenant(name=name, owner=owner, is_provider=is_provider), owner

    return make


SANDBOX_TOKEN = "sandbox-test-token"


@pytest.fixture(scope="session")
def sandbox():
    """One simulated cluster per test session, served over HTTP on a free port."""
    from sandbox.server import SandboxCluster

    cluster = SandboxCluster(host="127.0.0.1", port=0, token=SANDBOX_TOKEN, tick_interval=0.05)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(autouse=True)
def _sandbox_namespaces_dropped(request):
    """The session's sandbox outlives every test, but a test's database does not: what a test
    left in its namespaces belongs to nobody afterwards. Deleting the namespaces it created
    (as `kubectl delete ns` would) keeps the controllers' passes as cheap for the last test
    as for the first; left in place, each pass re-reads every earlier test's clusters."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    sandbox = request.getfixturevalue("sandbox")
    namespace_type = sandbox.store.type_for("v1", "Namespace")
    before = {ns["metadata"]["name"] for ns in sandbox.store.scan(namespace_type)}
    yield
    with sandbox.store.lock:
        created = [
            ns["metadata"]["name"]
            for ns in sandbox.store.scan(namespace_type)
            if ns["metadata"]["name"] not in before
        ]
        for name in created:
            sandbox.store.delete(namespace_type, None, name)
    # Gone before the next test starts: one that reuses a name (`love-story`) must not meet
    # it still terminating, as it would not on a real cluster either.
    wait_until(
        lambda: not any(sandbox.store.peek(namespace_type, None, name) for name in created),
        timeout=30,
        interval=0.02,
        message=f"the test's namespaces {created} to be deleted",
    )


@pytest.fixture
def sandbox_faults(sandbox):
    """Faults injected by a test never leak into the next one."""
    sandbox.faults.reset()
    yield sandbox.faults
    sandbox.faults.reset()


@pytest.fixture
def platform_admin(make_user):
    from accounts.services import grant_platform_admin

    admin = make_user("platform-admin")
    grant_platform_admin(user=admin)
    return type(admin).objects.get(pk=admin.pk)


@pytest.fixture
def sandbox_cluster(db, sandbox, platform_admin, django_capture_on_commit_callbacks):
    """The sandbox registered as the default cluster, its connection already tested."""
    from clusters import services

    with django_capture_on_commit_callbacks(execute=True):
        cluster = services.register_cluster(
            actor=platform_admin,
            name="sandbox",
            auth_method="token",
            api_url=sandbox.url,
            token=SANDBOX_TOKEN,
            is_default=True,
            is_sandbox=True,
        )
    cluster.refresh_from_db()
    return cluster


def wait_until(predicate, *, timeout=10.0, interval=0.05, message="condition"):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def sandbox_object(sandbox, api_version, kind, namespace, name):
    """Reads the sandbox's store directly, the way `kubectl get` would show it."""
    return sandbox.store.peek(sandbox.store.type_for(api_version, kind), namespace, name)

import os
import socket

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the test thread; Django's ORM guard
# would otherwise refuse every query made from a browser test.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip on SQLite, saying why; on CI settings already refused SQLite."""
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locks / constraints); running on SQLite")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


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

"""Test settings: the real settings, plus what tests must pin down.

On CI (CI=true) the database is PostgreSQL and nothing falls back: if it is not
there the run fails. Locally PostgreSQL is used when it answers on 127.0.0.1:5432,
SQLite otherwise (PostgreSQL-only tests then skip and say why).
"""

import os
import socket

import dj_database_url

os.environ.setdefault(
    "SECRET_KEY", "tests-only-secret-key-that-is-long-enough-for-django-checks-0123456789"
)

from marketplace.settings import *  # noqa: F403
from marketplace.settings import DATA_DIR, env_bool

ON_CI = env_bool("CI", False)
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/marketplace"


def _postgres_answers():
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


_db_url = os.environ.get("TEST_DATABASE_URL") or (
    POSTGRES_URL if ON_CI or _postgres_answers() else f"sqlite:///{DATA_DIR / 'test.sqlite3'}"
)
DATABASES = {"default": dj_database_url.parse(_db_url)}
USING_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if not USING_POSTGRES:
    # A file, not memory, so a worker process started by a test sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
if ON_CI and not USING_POSTGRES:
    raise RuntimeError("CI must run the tests on PostgreSQL; set TEST_DATABASE_URL to postgres://…")

DEBUG = False
ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
LANGUAGE_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Unit tests never reach a real broker by accident; integration tests start their own.
CELERY_BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("TEST_CELERY_VISIBILITY_TIMEOUT", "600"))
}
INSTALL_RESUBMIT_AFTER = int(os.environ.get("TEST_INSTALL_RESUBMIT_AFTER", "60"))
CELERY_RESULT_BACKEND = os.environ.get("TEST_CELERY_RESULT_BACKEND") or None
# Integration tests give each worker (and each process that enqueues for it) a private
# queue, so follow-up jobs a job enqueues reach that worker and no other test's.
# The install and sync queues are named after it (`<queue>.installs`, `<queue>.sync`).
if os.environ.get("TEST_CELERY_DEFAULT_QUEUE"):
    CELERY_TASK_DEFAULT_QUEUE = os.environ["TEST_CELERY_DEFAULT_QUEUE"]
    INSTALL_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.installs"
    SYNC_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.sync"
    CELERY_TASK_QUEUES, CELERY_TASK_ROUTES = celery_queues(  # noqa: F405
        CELERY_TASK_DEFAULT_QUEUE, INSTALL_QUEUE, SYNC_QUEUE
    )
# In-process tests run enqueued work inline when the transaction commits; tests of the
# real worker start one (tests/integration) and turn this off through the environment.
CELERY_TASK_ALWAYS_EAGER = env_bool("TEST_CELERY_EAGER", True)
LANGUAGE_CODE = "en"
# Two keys, as after a rotation: the first encrypts, both decrypt.
FIELD_ENCRYPTION_KEYS = [
    "oWQdFIlN0c2vE2ZxQj1V6lm7vO7yH7tWbVQ0rj0cM8Y=",
    "Zq4XcYb3D2l1XK1vQ8m9yWc6Qf0bH5nJk7tT2rS4uA0=",
]
MEDIA_ROOT = DATA_DIR / "test-media"
# The suite signs in and calls the API far more often than a person: no lockout and no
# throttle here. tests/accounts/test_brute_force.py switches both on and drives them.
AXES_ENABLED = False
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "sign_in": None},
}

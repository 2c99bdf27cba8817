import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_answers_without_touching_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_and_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": {"ok": True}, "broker": {"ok": True}}


def test_readyz_is_503_naming_the_broker_when_it_is_down(client, db, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(celery_app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is False
    assert "Error" in body["checks"]["broker"]["error"]


def _production_env(**extra):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DJANGO_DEBUG="0",
        SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-0f9a8b7c6d5e",
        ALLOWED_HOSTS="market.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        REDIS_URL="redis://127.0.0.1:6379/0",
        FIELD_ENCRYPTION_KEYS="oWQdFIlN0c2vE2ZxQj1V6lm7vO7yH7tWbVQ0rj0cM8Y=",
        **extra,
    )
    return env


def test_production_settings_pass_check_deploy():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


COOKIE_PROBE = """
import django, json
django.setup()
from django.test import Client
client = Client(HTTP_HOST="market.example.com", enforce_csrf_checks=False)
response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"}, secure=True)
morsel = response.cookies["django_language"]
print(json.dumps({"status": response.status_code, "secure": bool(morsel["secure"]),
                  "samesite": morsel["samesite"], "httponly": bool(morsel["httponly"])}))
"""


def test_production_language_cookie_is_secure_samesite_and_httponly():
    """django_language is set over HTTPS like the session cookie: Secure, SameSite=Lax,
    HttpOnly (no script reads it)."""
    result = subprocess.run(
        [sys.executable, "-c", COOKIE_PROBE],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    cookie = json.loads(result.stdout.strip().splitlines()[-1])
    assert cookie == {"status": 302, "secure": True, "samesite": "Lax", "httponly": True}


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    env.pop("SECRET_KEY")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("language", ["zh_Hans"])
def test_every_message_is_translated_and_compiled(language, tmp_path):
    po = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(tmp_path / "fresh.mo"), str(po)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert (tmp_path / "fresh.mo").read_bytes() == mo.read_bytes(), "run compilemessages"


def _msgids(po_text):
    """The msgids of a .po text, without the header entry."""
    found = []
    for block in po_text.split("\n\n"):
        lines = block.splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("msgid ")), None)
        if start is None:
            continue
        text = json.loads(lines[start][len("msgid ") :])
        for line in lines[start + 1 :]:
            if not line.startswith('"'):
                break
            text += json.loads(line)
        if text:
            found.append(text)
    return found


def test_no_message_in_the_code_is_missing_from_the_catalogue(tmp_path):
    """makemessages over a copy of the source: every msgid the code and templates use must
    already be translated in the committed catalogue (no English left in 中文)."""
    skip = shutil.ignore_patterns(
        ".venv", ".git", "var", "staticfiles", "test-artifacts", "__pycache__", "node_modules"
    )
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=skip, symlinks=True)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-wrap",
            *(f"--ignore={d}" for d in ("tests", "static", "sandbox", "var", "bench")),
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    po = copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    untranslated = subprocess.run(
        ["msgattrib", "--untranslated", "--no-obsolete", "--no-wrap", str(po)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fuzzy = subprocess.run(
        ["msgattrib", "--only-fuzzy", "--no-obsolete", "--no-wrap", str(po)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    missing, guessed = _msgids(untranslated), _msgids(fuzzy)
    assert not missing, "untranslated (run `make messages` and translate):\n" + "\n".join(missing)
    assert not guessed, "new msgids that only match old ones fuzzily:\n" + "\n".join(guessed)

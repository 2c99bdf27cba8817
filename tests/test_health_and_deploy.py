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
        ".venv",
        ".venv-s3",
        ".git",
        "var",
        "staticfiles",
        "test-artifacts",
        "__pycache__",
        "node_modules",
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


HEADERS_PROBE = """
import django, json
django.setup()
from django.http import HttpResponse
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, RequestFactory, override_settings
# No collectstatic and no migrated database here: the two settings swapped are where static
# names and session data are kept, not how headers and cookies are sent.
override_settings(STORAGES={
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}, SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies").enable()
client = Client(HTTP_HOST="market.example.com")
page = client.get("/accounts/login/", secure=True)
missing = client.get("/no-such-page/", secure=True)
plain = client.get("/accounts/login/")


def signed_in(request):
    request.session["probe"] = 1
    return HttpResponse()


request = RequestFactory().get("/", secure=True, HTTP_HOST="market.example.com")
session = SessionMiddleware(signed_in)(request).cookies["sessionid"]


def cookie(morsel):
    return {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]),
            "samesite": morsel["samesite"]}


print(json.dumps({
    "status": page.status_code,
    "headers": {name: page.get(name) for name in (
        "Content-Security-Policy", "Strict-Transport-Security", "X-Frame-Options",
        "Referrer-Policy", "X-Content-Type-Options", "Cross-Origin-Opener-Policy")},
    "missing": [missing.status_code, missing.get("Content-Security-Policy")],
    "plain": [plain.status_code, plain.get("Location")],
    "csrf": cookie(page.cookies["csrftoken"]),
    "session": cookie(session),
}))
"""


def _probe_headers(**extra):
    result = subprocess.run(
        [sys.executable, "-c", HEADERS_PROBE],
        cwd=ROOT,
        env=_production_env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _directives(policy):
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def test_production_security_headers_and_cookies():
    """Production settings (DEBUG off, env only): a strict CSP (no inline script, no eval,
    no inline style, nothing from other hosts, no framing), HSTS, frame and referrer
    headers, HTTPS redirect, and Secure + HttpOnly + SameSite session and CSRF cookies."""
    probe = _probe_headers()
    assert probe["status"] == 200
    headers = probe["headers"]
    assert _directives(headers["Content-Security-Policy"]) == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    # Error pages carry the policy too (django-csp skips 404/500 only under DEBUG).
    assert probe["missing"][0] == 404 and "script-src 'self'" in probe["missing"][1]
    assert probe["plain"] == [301, "https://market.example.com/accounts/login/"]
    strict = {"secure": True, "httponly": True, "samesite": "Lax"}
    assert probe["csrf"] == strict and probe["session"] == strict


def test_markdown_image_hosts_setting_is_the_policy_img_src():
    probe = _probe_headers(MARKDOWN_IMAGE_HOSTS="cdn.example.com, IMG.example.org:8443")
    policy = _directives(probe["headers"]["Content-Security-Policy"])
    assert policy["img-src"] == [
        "'self'",
        "https://cdn.example.com",
        "https://img.example.org:8443",
    ]

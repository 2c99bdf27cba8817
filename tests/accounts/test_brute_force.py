"""Brute force on the sign-in doors (the login page and the API token endpoint) meets a
lockout per username + client address (django-axes), and API use meets throttles.

The rest of the suite runs with both switched off (tests/settings.py); here they are on, as
in production, with their real storage (the database for axes, the cache for throttles)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from tests.conftest import wait_until

PASSWORD = "right-Password-1"
ATTACKER = "192.0.2.66"  # TEST-NET-1: an address for examples, nothing is sent anywhere
NEIGHBOUR = "192.0.2.77"
LOCKED_TEXT = "Too many failed sign-ins for this account from your address"


@pytest.fixture
def lockout_on(settings, db):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    yield settings
    AccessAttempt.objects.all().delete()


@pytest.fixture
def victim(make_user):
    return make_user("alice", password=PASSWORD)


def _login(client, password, *, address=ATTACKER, username="alice"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def _token(password, *, address=ATTACKER, username="alice"):
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def _signed_in(client):
    return "_auth_user_id" in client.session


def test_two_hundred_wrong_passwords_on_the_login_page_lock_the_account(lockout_on, victim):
    client = Client()
    answers = [_login(client, f"guess-{n}") for n in range(200)]
    # Four ordinary refusals, then the fifth failure locks: every later answer is the
    # lockout, a 429 with Retry-After, on the login form itself (translated, see below).
    assert [a.status_code for a in answers[:4]] == [200] * 4
    assert "Please enter a correct username and password" in answers[0].content.decode()
    for answer in answers[4:]:
        assert answer.status_code == 429
        assert LOCKED_TEXT in answer.content.decode()
        assert 0 < int(answer["Retry-After"]) <= 15 * 60
    page = answers[-1].content.decode()
    assert 'name="username"' in page and "15 more minutes" in page
    # The right password is refused while locked, and signs nobody in.
    right = _login(client, PASSWORD)
    assert right.status_code == 429 and LOCKED_TEXT in right.content.decode()
    assert not _signed_in(client)
    # The lockout is for this address only: the account's owner elsewhere is not locked out.
    elsewhere = Client()
    assert _login(elsewhere, PASSWORD, address=NEIGHBOUR).status_code == 302
    assert _signed_in(elsewhere)
    # ... and that success forgets only its own address's failures.
    assert _login(Client(), PASSWORD).status_code == 429
    # Audited once (the failure that locked), not once per refused attempt.
    entry = AuditEntry.objects.get(action="login.locked_out")
    assert entry.object_id == str(victim.pk) and entry.actor is None
    assert entry.changes["ip_address"] == ATTACKER and entry.changes["failures"] == 5
    assert entry.changes["until"]


def test_the_lockout_message_is_translated(lockout_on, victim):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    for n in range(5):
        answer = _login(client, f"guess-{n}")
    assert answer.status_code == 429
    assert "登录失败次数过多" in answer.content.decode()


def test_the_lockout_ends_after_its_cool_off(lockout_on, victim):
    client = Client()
    for n in range(5):
        _login(client, f"guess-{n}")
    assert _login(client, PASSWORD).status_code == 429
    assert not _signed_in(client)
    # A tiny cool-off (counted from the failure that locked): the right password then works.
    lockout_on.AXES_COOLOFF_TIME = timedelta(seconds=1)
    wait_until(
        lambda: _login(client, PASSWORD).status_code == 302,
        timeout=30,
        message="the lockout's cool-off to end",
    )
    assert _signed_in(client)
    # A successful sign-in forgets the earlier failures.
    assert not AccessAttempt.objects.filter(username="alice").exists()


def test_two_hundred_wrong_passwords_on_the_token_endpoint_lock_it_too(lockout_on, victim):
    answers = [_token(f"guess-{n}") for n in range(200)]
    assert [a.status_code for a in answers[:4]] == [400] * 4
    assert answers[0].json()["code"] == "invalid"
    for answer in answers[4:]:
        assert answer.status_code == 429
        body = answer.json()
        assert body["code"] == "locked_out" and body["status"] == 429
        assert body["detail"].startswith(LOCKED_TEXT)
        assert 0 < int(answer["Retry-After"]) <= 15 * 60
    refused = _token(PASSWORD)
    assert refused.status_code == 429 and refused.json()["code"] == "locked_out"
    assert "token" not in refused.json()
    assert _token(PASSWORD, address=NEIGHBOUR).status_code == 200
    assert AuditEntry.objects.filter(action="login.locked_out").count() == 1


def test_a_platform_admin_unlocks_in_the_django_admin_audited(lockout_on, victim, make_user):
    for n in range(5):
        _token(f"guess-{n}")
    assert _token(PASSWORD).status_code == 429
    admin = make_user("root", password="root-Password-1", is_staff=True, is_superuser=True)
    staff = Client()
    staff.force_login(admin)
    listed = staff.get("/django-admin/axes/accessattempt/")
    assert listed.status_code == 200 and "alice" in listed.content.decode()
    attempt = AccessAttempt.objects.get(username="alice")
    response = staff.post(
        "/django-admin/axes/accessattempt/",
        {"action": "unlock", "_selected_action": [attempt.pk]},
        follow=True,
    )
    assert "1 failed attempt record cleared." in response.content.decode()
    token = _token(PASSWORD)
    assert token.status_code == 200 and token.json()["token"]
    entry = AuditEntry.objects.get(action="login.unlocked")
    assert entry.actor == admin and entry.object_id == str(victim.pk)
    assert entry.changes == {
        "username": "alice",
        "ip_address": ATTACKER,
        "attempts_cleared": 1,
    }
    # The bare delete is gone: every unlock leaves its audit row.
    assert staff.post(f"/django-admin/axes/accessattempt/{attempt.pk}/delete/").status_code in (
        403,
        302,
    )


def test_the_operator_unlocks_from_the_shell_audited(lockout_on, victim, capsys):
    client = Client()
    for n in range(5):
        _login(client, f"guess-{n}")
    assert _login(client, PASSWORD).status_code == 429
    call_command("unlock_login", "alice", reason="phoned the help desk")
    assert "Unlocked alice" in capsys.readouterr().out
    assert _login(client, PASSWORD).status_code == 302
    entry = AuditEntry.objects.get(action="login.unlocked")
    assert entry.actor is None and entry.reason == "phoned the help desk"


def test_unknown_usernames_lock_too_and_are_audited(lockout_on, db):
    for n in range(6):
        answer = _token(f"guess-{n}", username="nobody")
    assert answer.status_code == 429 and answer.json()["code"] == "locked_out"
    entry = AuditEntry.objects.get(action="login.locked_out")
    assert entry.changes["username"] == "nobody"


# --- throttles ---------------------------------------------------------------------------


@pytest.fixture
def throttled(settings, db):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1/minute", "user": "3/minute", "sign_in": "4/minute"},
    }
    yield settings
    cache.clear()


def _assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_signed_in_api_use_is_throttled_per_user(throttled, make_user):
    api = APIClient()
    api.force_authenticate(make_user("busy"))
    assert [api.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    _assert_throttled(api.get("/api/v1/me/"))
    other = APIClient()
    other.force_authenticate(make_user("calm"))
    assert other.get("/api/v1/me/").status_code == 200


def test_anonymous_api_use_is_throttled_per_address(throttled):
    assert APIClient().get("/api/schema/?format=json", REMOTE_ADDR=ATTACKER).status_code == 200
    _assert_throttled(APIClient().get("/api/schema/?format=json", REMOTE_ADDR=ATTACKER))
    # A forged X-Forwarded-For does not buy a fresh allowance (TRUSTED_PROXIES is 0).
    _assert_throttled(
        APIClient().get(
            "/api/schema/?format=json", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="203.0.113.9"
        )
    )


def test_one_address_trying_many_usernames_is_throttled(throttled, make_user):
    answers = [_token("wrong", username=f"user{n}") for n in range(4)]
    assert [a.status_code for a in answers] == [400] * 4
    _assert_throttled(_token("wrong", username="user5"))
    assert _token("wrong", username="user5", address=NEIGHBOUR).status_code == 400


def test_the_django_admin_login_is_locked_the_same_way(lockout_on, make_user):
    make_user("root", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()

    def admin_login(password):
        return client.post(
            "/django-admin/login/?next=/django-admin/",
            {"username": "root", "password": password, "next": "/django-admin/"},
            REMOTE_ADDR=ATTACKER,
        )

    for n in range(5):
        answer = admin_login(f"guess-{n}")
    assert answer.status_code == 429 and LOCKED_TEXT in answer.content.decode()
    assert admin_login(PASSWORD).status_code == 429
    call_command("unlock_login", "root")
    assert admin_login(PASSWORD).status_code == 302

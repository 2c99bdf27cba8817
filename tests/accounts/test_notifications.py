"""Notifications (站内信): the service, the page, the header's badge and the API.

That the right people are told of listing requests and decisions is tested with the
approvals (tests/approvals/test_services.py).
"""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Notification
from core import pagination


@pytest.fixture
def member(tenant_with_owner):
    """The owner of zs-olm, who receives the notifications of these tests."""
    _tenant, owner = tenant_with_owner("zs-olm", is_provider=True)
    return owner


@pytest.fixture
def member_client(member):
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def member_api(member):
    api = APIClient()
    api.force_authenticate(member)
    return api


# --- the service --------------------------------------------------------------------------


def test_mark_notifications_read(platform_admin, make_user):
    admin = platform_admin
    second_admin = make_user("second-admin")
    one = account_services.notify(users=[admin, admin, None], title="a")[0]
    two = account_services.notify(users=[admin, second_admin], title="b")
    assert Notification.objects.filter(user=admin).count() == 2  # duplicates dropped
    assert account_services.mark_notifications_read(user=admin, ids=[one.pk]) == 1
    assert account_services.mark_notifications_read(user=admin, ids=[two[1].pk]) == 0  # not theirs
    assert account_services.mark_notifications_read(user=admin) == 1
    assert not Notification.objects.filter(user=admin, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=second_admin, read_at__isnull=True).count() == 1


# --- the pages ----------------------------------------------------------------------------


def test_the_header_counts_unread_notifications(member_client, member):
    html = member_client.get("/").content.decode()
    assert 'data-testid="notifications-link"' in html and 'class="count"' not in html
    account_services.notify(users=[member], title="One")
    account_services.notify(users=[member], title="Two")
    html = member_client.get("/").content.decode()
    assert re.search(r'class="count"[^>]*>2</span>', html)


def test_the_notification_page_lists_and_marks_read(member_client, member, make_user):
    html = member_client.get("/accounts/notifications/").content.decode()
    assert 'data-testid="notifications-empty"' in html
    stranger = make_user("stranger")
    (theirs,) = account_services.notify(users=[stranger], title="Not yours")
    (first,) = account_services.notify(
        users=[member], title="Approved", body="Reason: ok", url="/provider/assets/"
    )
    (second,) = account_services.notify(users=[member], title="Rejected")
    html = member_client.get("/accounts/notifications/").content.decode()
    assert html.index("Rejected") < html.index("Approved") and "Not yours" not in html
    assert html.count('class="panel notification unread"') == 2

    response = member_client.post(f"/accounts/notifications/{first.pk}/read/", {"open": "1"})
    assert response.status_code == 302 and response.url == "/provider/assets/"
    first.refresh_from_db()
    assert first.is_read
    response = member_client.post(f"/accounts/notifications/{second.pk}/read/")
    assert response.url == "/accounts/notifications/"
    assert member_client.post(f"/accounts/notifications/{theirs.pk}/read/").status_code == 404

    account_services.notify(users=[member], title="Third")
    response = member_client.post("/accounts/notifications/read-all/", follow=True)
    assert "All notifications are marked as read." in response.content.decode()
    assert not Notification.objects.filter(user=member, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert not theirs.is_read


def test_marking_read_goes_back_to_a_page_of_this_site_only(member_client, member):
    (note,) = account_services.notify(users=[member], title="x")
    url = f"/accounts/notifications/{note.pk}/read/"
    response = member_client.post(url, {"next": "/accounts/notifications/?page=2"})
    assert response.url == "/accounts/notifications/?page=2"
    response = member_client.post(url, {"next": "https://evil.example/"})
    assert response.url == "/accounts/notifications/"


def test_a_notification_never_opens_another_site(member_client, member):
    (note,) = account_services.notify(users=[member], title="x", url="https://evil.example/")
    response = member_client.post(f"/accounts/notifications/{note.pk}/read/", {"open": "1"})
    assert response.url == "/accounts/notifications/"


def test_notifications_page_is_paginated(member_client, member, monkeypatch):
    monkeypatch.setattr(pagination, "PAGE_SIZE", 3)
    for i in range(7):
        account_services.notify(users=[member], title=f"n{i}")
    html = member_client.get("/accounts/notifications/?page=3").content.decode()
    assert html.count('data-testid="notification"') == 1 and "Page 3 of 3" in html


def test_notification_page_query_count_stays_constant(
    member_client, member, django_assert_max_num_queries
):
    account_services.notify(users=[member], title="first")
    with django_assert_max_num_queries(10) as few:
        member_client.get("/accounts/notifications/")
    for i in range(10):
        account_services.notify(users=[member], title=f"n{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        member_client.get("/accounts/notifications/")


def test_anonymous_users_are_sent_to_log_in(client, db):
    response = client.get("/accounts/notifications/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


# --- the API ------------------------------------------------------------------------------


def test_notifications_over_the_api(member_api, member, make_user):
    stranger = make_user("stranger")
    (theirs,) = account_services.notify(users=[stranger], title="Not yours")
    (first,) = account_services.notify(users=[member], title="One", url="/x/")
    account_services.notify(users=[member], title="Two")
    body = member_api.get("/api/v1/notifications/").json()
    assert [n["title"] for n in body["results"]] == ["Two", "One"]
    assert body["results"][1]["url"] == "/x/" and body["results"][1]["read_at"] is None

    response = member_api.post(f"/api/v1/notifications/{first.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"] is not None
    unread = member_api.get("/api/v1/notifications/?unread=true").json()
    assert [n["title"] for n in unread["results"]] == ["Two"]
    response = member_api.post(f"/api/v1/notifications/{theirs.pk}/read/")
    assert response.status_code == 404
    assert response.json()["status"] == 404 and response.json()["code"] == "not_found"
    assert member_api.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    assert member_api.get("/api/v1/notifications/?unread=true").json()["count"] == 0

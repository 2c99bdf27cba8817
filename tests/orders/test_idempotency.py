"""Idempotency-Key on every request that moves money, top-ups first (issue 15, point 2).

One mechanism (orders.idempotency): the same key with the same body answers the first
response and writes nothing; the same key with another body is a 422 naming the
header; no key, every request counts. Races run on PostgreSQL, one connection per thread.
"""

import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import grant_platform_admin
from orders.models import IdempotencyKey, LedgerEntry, Order, Wallet

from .fixtures import plan_named
from .test_concurrency import assert_books_balance, run_concurrently

TOP_UP = "/api/v1/wallets/top-up/"


def client_of(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def admin_api(platform_admin):
    return client_of(platform_admin)


def top_ups(tenant):
    return LedgerEntry.objects.filter(wallet__tenant=tenant, kind=LedgerEntry.Kind.TOP_UP)


def balance(tenant):
    return Wallet.objects.get(tenant=tenant).balance


def assert_key_reused(response):
    """422, the API's one error shape, naming the header."""
    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["status"], body["code"]) == (422, "idempotency_key_reused"), body
    assert list(body["fields"]) == ["Idempotency-Key"], body
    assert body["detail"].startswith("Idempotency-Key: ") and "already used" in body["detail"]
    return body


# --- the API's top-up ------------------------------------------------------------------------


def test_the_same_key_twice_credits_once_and_answers_the_first_response(admin_api, buyer):
    body = {"tenant": buyer.pk, "amount": "25.50", "reason": "contract 7"}
    first = admin_api.post(TOP_UP, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first, first.content
    again = admin_api.post(TOP_UP, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert top_ups(buyer).count() == 1 and balance(buyer) == Decimal("25.50")
    # The same amount written another way is the same body.
    same = admin_api.post(
        TOP_UP, {**body, "amount": "25.5"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert same.status_code == 201 and same.content == first.content
    assert top_ups(buyer).count() == 1


@pytest.mark.parametrize(
    "change",
    [{"amount": "30.00"}, {"reason": "contract 8"}, "tenant"],
    ids=["amount", "reason", "tenant"],
)
def test_the_same_key_with_another_body_is_a_422_and_moves_nothing(
    admin_api, buyer, other_buyer, change
):
    body = {"tenant": buyer.pk, "amount": "25.50", "reason": "contract 7"}
    assert admin_api.post(TOP_UP, body, HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201
    other = {**body, "tenant": other_buyer.pk} if change == "tenant" else {**body, **change}
    assert_key_reused(admin_api.post(TOP_UP, other, HTTP_IDEMPOTENCY_KEY="k-2"))
    assert top_ups(buyer).count() == 1 and balance(buyer) == Decimal("25.50")
    assert not top_ups(other_buyer).exists()


def test_without_a_key_every_top_up_credits(admin_api, buyer):
    body = {"tenant": buyer.pk, "amount": "10.00", "reason": "no key"}
    for _ in range(2):
        response = admin_api.post(TOP_UP, body)
        assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert top_ups(buyer).count() == 2 and balance(buyer) == Decimal("20.00")
    assert not IdempotencyKey.objects.exists()


def test_a_refused_top_up_stores_no_key_so_its_retry_credits(admin_api, buyer):
    body = {"tenant": buyer.pk, "amount": "999999999.99", "reason": "too much"}
    assert admin_api.post(TOP_UP, body, HTTP_IDEMPOTENCY_KEY="k-3").status_code == 400
    body["amount"] = "12.00"
    assert admin_api.post(TOP_UP, body, HTTP_IDEMPOTENCY_KEY="k-3").status_code == 201
    assert balance(buyer) == Decimal("12.00")


def test_keys_are_per_admin_and_per_operation(admin_api, buyer, make_user, mem1, place):
    """Another admin's key of the same name is another key, and so is a buyer's payment key."""
    body = {"tenant": buyer.pk, "amount": "5.00", "reason": "r"}
    assert admin_api.post(TOP_UP, body, HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    colleague = make_user("second-admin")
    grant_platform_admin(user=colleague)
    response = client_of(colleague).post(TOP_UP, body, HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert balance(buyer) == Decimal("10.00")
    order = place(buyer, mem1)
    paid = client_of(buyer.owner).post(
        f"/api/v1/orders/{order.pk}/pay/", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert paid.status_code == 200 and paid.json()["balance_after"] == "9.00"


def test_a_key_longer_than_the_column_is_refused_on_the_header(admin_api, buyer):
    response = admin_api.post(
        TOP_UP, {"tenant": buyer.pk, "amount": "1", "reason": "r"}, HTTP_IDEMPOTENCY_KEY="k" * 256
    )
    assert response.status_code == 400 and response.json()["code"] == "idempotency_key_too_long"
    assert "Idempotency-Key" in response.json()["fields"]
    assert not top_ups(buyer).exists()


# --- the other money-moving requests, the same way ------------------------------------------------


def test_placing_with_the_same_key_and_another_body_is_a_422(buyer, mem1, fund):
    fund(buyer, 200)
    api = client_of(buyer.owner)
    body = {"plan": plan_named(mem1, "1T/年").pk, "project": buyer.project.pk, "pay_now": True}
    first = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="buy")
    assert first.status_code == 201
    again = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="buy")
    assert (again.status_code, again.json()["id"]) == (201, first.json()["id"])
    for other in ({"plan": plan_named(mem1, "100¥/年").pk}, {"approval": "Manual"}):
        response = api.post(
            "/api/v1/orders/", {**body, **other}, format="json", HTTP_IDEMPOTENCY_KEY="buy"
        )
        assert_key_reused(response)
    assert balance(buyer) == Decimal("199.00")


def test_paying_another_order_with_a_key_is_a_422(buyer, make_listed_asset, place, fund):
    fund(buyer, 5)
    first, second = place(buyer, make_listed_asset("a1")), place(buyer, make_listed_asset("a2"))
    api = client_of(buyer.owner)
    assert api.post(f"/api/v1/orders/{first.pk}/pay/", HTTP_IDEMPOTENCY_KEY="p").status_code == 200
    assert_key_reused(api.post(f"/api/v1/orders/{second.pk}/pay/", HTTP_IDEMPOTENCY_KEY="p"))
    second.refresh_from_db()
    assert second.status == "pending_payment" and balance(buyer) == Decimal("4.00")


# --- the HTML form -------------------------------------------------------------------------------


def _top_up_page(client, tenant):
    page = client.get(reverse("orders:wallet-top-up"), {"tenant": tenant.pk}).content.decode()
    return re.search(r'name="idempotency_key" value="(\w+)"', page).group(1)


def test_a_double_submit_of_the_form_credits_once_and_shows_the_first_result(
    client, buyer, platform_admin
):
    client.force_login(platform_admin)
    token = _top_up_page(client, buyer)
    data = {"tenant": buyer.pk, "amount": "40", "reason": "form", "idempotency_key": token}
    first = client.post(reverse("orders:wallet-top-up"), data, follow=True)
    again = client.post(reverse("orders:wallet-top-up"), data, follow=True)
    message = "Topped up 40.00 T for zs2-corp; the balance is now 40.00 T."
    for response in (first, again):
        assert response.redirect_chain == [(reverse("orders:wallet-top-up"), 302)]
        assert message in response.content.decode()
    assert top_ups(buyer).count() == 1 and balance(buyer) == Decimal("40.00")
    # A new page is a new token: it credits again.
    assert _top_up_page(client, buyer) != token


def test_a_form_sent_again_with_other_values_says_so_and_its_next_submit_counts(
    client, buyer, platform_admin
):
    client.force_login(platform_admin)
    token = _top_up_page(client, buyer)
    data = {"tenant": buyer.pk, "amount": "40", "reason": "form", "idempotency_key": token}
    assert client.post(reverse("orders:wallet-top-up"), data).status_code == 302
    edited = client.post(reverse("orders:wallet-top-up"), {**data, "amount": "50"})
    page = edited.content.decode()
    assert edited.status_code == 400 and "already submitted with other values" in page
    assert balance(buyer) == Decimal("40.00")
    fresh = re.search(r'name="idempotency_key" value="(\w+)"', page).group(1)
    assert fresh != token
    resent = client.post(
        reverse("orders:wallet-top-up"), {**data, "amount": "50", "idempotency_key": fresh}
    )
    assert resent.status_code == 302 and balance(buyer) == Decimal("90.00")


def test_a_form_without_a_token_still_credits_each_time(client, buyer, platform_admin):
    client.force_login(platform_admin)
    data = {"tenant": buyer.pk, "amount": "1", "reason": "old page"}
    for _ in range(2):
        assert client.post(reverse("orders:wallet-top-up"), data).status_code == 302
    assert top_ups(buyer).count() == 2


def test_the_buy_form_sent_again_as_pay_now_after_pay_later_says_so(
    client, buyer, mem1, fund, default_cluster
):
    """Pay later went through; the same page's Pay now is another request under its token."""
    fund(buyer, 5)
    client.force_login(buyer.owner)
    url = reverse("orders:buy", args=[mem1.code])
    page = client.get(url).content.decode()
    token = re.search(r'name="idempotency_key" value="(\w+)"', page).group(1)
    data = {
        "idempotency_key": token,
        "plan": plan_named(mem1, "1T/年").pk,
        "project": buyer.project.pk,
        "cluster": default_cluster.pk,
        "channel": "stable",
        "approval": "Automatic",
    }
    assert client.post(url, {**data, "pay": "later"}).status_code == 302
    again = client.post(url, {**data, "pay": "later"}, follow=True)
    assert "was already placed" in again.content.decode()
    now = client.post(url, {**data, "pay": "now"})
    page = now.content.decode()
    assert now.status_code == 400 and "already submitted with other values" in page
    assert Order.objects.count() == 1 and balance(buyer) == Decimal("5.00")
    assert re.search(r'name="idempotency_key" value="(\w+)"', page).group(1) != token


# --- the schema ------------------------------------------------------------------------------------


def test_the_schema_documents_the_key_and_the_422_of_every_money_moving_operation(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path, required in (
        ("/api/v1/wallets/top-up/", False),
        ("/api/v1/orders/", False),
        ("/api/v1/orders/{id}/pay/", True),
        ("/api/v1/entitlements/{id}/renew/", False),
    ):
        operation = paths[path]["post"]
        (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert key["in"] == "header" and key.get("required", False) is required, path
        assert "422" in key["description"], path
        assert "422" in operation["responses"], path
        first = next(code for code in operation["responses"] if code.startswith("2"))
        assert "Idempotent-Replayed" in operation["responses"][first].get("headers", {}), path


# --- races ---------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_top_ups_with_one_key_credit_once(buyer, platform_admin):
    body = {"tenant": buyer.pk, "amount": "7.00", "reason": "burst"}
    key = str(uuid.uuid4())
    responses = run_concurrently(
        [
            lambda: client_of(platform_admin).post(TOP_UP, body, HTTP_IDEMPOTENCY_KEY=key)
            for _ in range(8)
        ],
        workers=8,
    )
    assert [r.status_code for r in responses] == [201] * 8, responses
    assert sum("Idempotent-Replayed" not in r for r in responses) == 1
    assert len({r.content for r in responses}) == 1
    assert top_ups(buyer).count() == 1 and balance(buyer) == Decimal("7.00")
    assert_books_balance()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_top_ups_of_two_tenants_under_one_key_credit_one(
    buyer, other_buyer, platform_admin
):
    """No wallet lock is shared here: the key's unique constraint decides."""
    key = str(uuid.uuid4())
    calls = [
        lambda tenant=tenant: client_of(platform_admin).post(
            TOP_UP,
            {"tenant": tenant.pk, "amount": "3.00", "reason": "race"},
            HTTP_IDEMPOTENCY_KEY=key,
        )
        for tenant in (buyer, other_buyer) * 4
    ]
    responses = run_concurrently(calls, workers=8)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 4 + [422] * 4, [r.content for r in responses]
    credited = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.TOP_UP)
    assert credited.count() == 1 and credited.get().amount == Decimal("3.00")
    assert_books_balance()


# --- keys stored before fingerprints -------------------------------------------------------------


def test_the_migration_fingerprints_old_payment_keys_as_the_service_does(buyer, mem1, place, fund):
    import importlib

    from django.apps import apps

    from orders import services

    migration = importlib.import_module("orders.migrations.0004_idempotency_fingerprint_scopes")
    fund(buyer, 5)
    order = place(buyer, mem1)
    services.pay_order(actor=buyer.owner, order=order, idempotency_key="old")
    IdempotencyKey.objects.update(fingerprint="")  # as stored before migration 0004
    migration.fingerprint_payments(apps, None)
    stored = IdempotencyKey.objects.get(key="old")
    assert stored.fingerprint == services.pay_fingerprint(order_id=order.pk)
    again = services.pay_order(actor=buyer.owner, order=order, idempotency_key="old")
    assert again.replayed and balance(buyer) == Decimal("4.00")

"""REST twins: orders, payments (Idempotency-Key), wallets, ledgers, entitlements."""

import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from orders.models import Order, Wallet

from .fixtures import plan_named


@pytest.fixture
def api(buyer):
    client = APIClient()
    client.force_authenticate(buyer.owner)
    return client


def assert_error(response, status, field, code="invalid"):
    """The API error body; `code` is the service's stable code ("invalid": a serializer's)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert field in body["fields"], body
    assert body["detail"].startswith(f"{field}:")
    return body


def _create(api, buyer, asset, plan=None, **extra):
    plan = plan or plan_named(asset, "1T/年")
    return api.post(
        "/api/v1/orders/", {"plan": plan.pk, "project": buyer.project.pk, **extra}, format="json"
    )


def test_create_pay_and_replay(api, buyer, mem1, fund):
    response = _create(api, buyer, mem1, channel="alpha", approval="Manual")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["code"].startswith("AOID-") and body["status"] == "pending_payment"
    assert body["amount_due"] == "1.00" and body["amounts"] == "1T/0T"
    assert (body["channel"], body["approval"], body["kind"]) == ("alpha", "Manual", "new")
    order_id = body["id"]
    missing = api.post(f"/api/v1/orders/{order_id}/pay/")
    body = assert_error(missing, 400, "Idempotency-Key", "idempotency_key_required")
    assert "required" in body["detail"]
    key = str(uuid.uuid4())
    short = api.post(f"/api/v1/orders/{order_id}/pay/", HTTP_IDEMPOTENCY_KEY=key)
    assert "1.00 T short" in assert_error(short, 400, "wallet", "insufficient_balance")["detail"]
    fund(buyer, "3.00")
    first = api.post(f"/api/v1/orders/{order_id}/pay/", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first
    assert first.json()["status"] == "paid" and first.json()["balance_after"] == "2.00"
    repeat = api.post(f"/api/v1/orders/{order_id}/pay/", HTTP_IDEMPOTENCY_KEY=key)
    assert repeat.status_code == 200 and repeat["Idempotent-Replayed"] == "true"
    assert repeat.content == first.content
    other_key = api.post(f"/api/v1/orders/{order_id}/pay/", HTTP_IDEMPOTENCY_KEY="another")
    assert "already paid" in assert_error(other_key, 400, "status", "already_paid")["detail"]
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("2.00")


def test_create_with_pay_now_and_an_idempotency_key(api, buyer, mem1, fund):
    fund(buyer, 5)
    first = api.post(
        "/api/v1/orders/",
        {"plan": plan_named(mem1, "1T/年").pk, "project": buyer.project.pk, "pay_now": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY="buy-1",
    )
    assert first.status_code == 201 and first.json()["status"] == "paid"
    again = api.post(
        "/api/v1/orders/",
        {"plan": plan_named(mem1, "1T/年").pk, "project": buyer.project.pk, "pay_now": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY="buy-1",
    )
    # The first response again: its status too (a replay is no new resource, but a
    # client retrying must not have to tell the two answers apart).
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and Order.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"project": None}, "project", "invalid"),
        ({"plan": 999999}, "plan", "invalid"),
        ({"channel": "nightly"}, "channel", "channel_invalid"),  # the service's refusal
        ({"approval": "Sometimes"}, "approval", "invalid"),
        ({"pay_now": "perhaps"}, "pay_now", "invalid"),
    ],
)
def test_bad_input_names_the_field(api, buyer, mem1, payload, field, code):
    data = {"plan": plan_named(mem1, "1T/年").pk, "project": buyer.project.pk, **payload}
    data = {k: v for k, v in data.items() if v is not None}
    assert_error(api.post("/api/v1/orders/", data, format="json"), 400, field, code)


def test_a_project_of_another_tenant_is_not_a_choice(api, other_buyer, mem1):
    response = api.post(
        "/api/v1/orders/",
        {"plan": mem1.plans.first().pk, "project": other_buyer.project.pk},
        format="json",
    )
    assert_error(response, 400, "project")


def test_another_tenants_order_is_a_404(api, other_buyer, mem1, place):
    order = place(other_buyer, mem1)
    assert api.get(f"/api/v1/orders/{order.pk}/").status_code == 404
    response = api.post(f"/api/v1/orders/{order.pk}/pay/", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api.post(f"/api/v1/orders/{order.pk}/cancel/").status_code == 404
    assert api.get("/api/v1/orders/").json()["count"] == 0


def test_the_seller_lists_but_cannot_pay(buyer, provider, mem1, place):
    order = place(buyer, mem1)
    seller = APIClient()
    seller.force_authenticate(provider.owner)
    listing = seller.get("/api/v1/orders/", {"role": "seller"}).json()
    assert [o["code"] for o in listing["results"]] == [order.code]
    assert seller.get("/api/v1/orders/", {"role": "buyer"}).json()["count"] == 0
    response = seller.post(f"/api/v1/orders/{order.pk}/pay/", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = seller.post(f"/api/v1/orders/{order.pk}/cancel/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_cancel_and_filter(api, buyer, mem1, make_listed_asset, place):
    first = place(buyer, mem1)
    second = place(buyer, make_listed_asset("other"))
    response = api.post(f"/api/v1/orders/{first.pk}/cancel/", {"reason": "no"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    cancelled = api.get("/api/v1/orders/", {"status": "cancelled"}).json()
    assert [o["id"] for o in cancelled["results"]] == [first.pk]
    assert api.get("/api/v1/orders/", {"status": "pending_payment"}).json()["count"] == 1
    assert_error(api.get("/api/v1/orders/", {"status": "bogus"}), 400, "status")
    assert second.pk in [o["id"] for o in api.get("/api/v1/orders/").json()["results"]]


def test_order_list_query_count_stays_constant(
    api, buyer, make_listed_asset, place, django_assert_num_queries
):
    for i in range(2):
        place(buyer, make_listed_asset(f"a{i}"))
    with django_assert_num_queries(3) as few:  # count, page (everything joined), installations
        assert api.get("/api/v1/orders/").status_code == 200
    for i in range(2, 8):
        place(buyer, make_listed_asset(f"a{i}"))
    with django_assert_num_queries(len(few.captured_queries)):
        assert api.get("/api/v1/orders/").json()["count"] == 8


def test_entitlements_and_renewal(api, buyer, mem1, place, fund):
    fund(buyer, 5)
    place(buyer, mem1, pay_now=True)
    listing = api.get("/api/v1/entitlements/").json()
    assert listing["count"] == 1
    entitlement = listing["results"][0]
    assert entitlement["status"] == "active" and entitlement["asset"]["name"] == "mem1"
    assert api.get("/api/v1/entitlements/", {"status": "expired"}).json()["count"] == 0
    response = api.post(
        f"/api/v1/entitlements/{entitlement['id']}/renew/", {"pay_now": True}, format="json"
    )
    assert response.status_code == 201 and response.json()["kind"] == "renewal"
    assert response.json()["status"] == "paid"


def test_wallets_ledger_and_top_up(api, buyer, platform_admin, mem1, place, fund):
    fund(buyer, 10, reason="contract 9")
    place(buyer, mem1, pay_now=True)
    wallets = api.get("/api/v1/wallets/").json()["results"]
    assert [(w["tenant"]["name"], w["balance"]) for w in wallets] == [("zs2-corp", "9.00")]
    ledger = api.get(f"/api/v1/wallets/{wallets[0]['id']}/ledger/").json()
    assert [(e["kind"], e["amount"]) for e in ledger["results"]] == [
        ("payment", "-1.00"),
        ("top_up", "10.00"),
    ]
    assert ledger["results"][1]["reason"] == "contract 9"
    denied = api.post("/api/v1/wallets/top-up/", {"tenant": buyer.pk, "amount": "5", "reason": "x"})
    assert denied.status_code == 403
    admin = APIClient()
    admin.force_authenticate(platform_admin)
    assert_error(
        admin.post("/api/v1/wallets/top-up/", {"tenant": buyer.pk, "amount": "5"}), 400, "reason"
    )
    assert_error(
        admin.post("/api/v1/wallets/top-up/", {"tenant": buyer.pk, "amount": "-5", "reason": "r"}),
        400,
        "amount",
    )
    done = admin.post(
        "/api/v1/wallets/top-up/",
        {"tenant": buyer.pk, "amount": "5.50", "reason": "bonus"},
        format="json",
    )
    assert done.status_code == 201 and done.json()["balance_after"] == "14.50"
    assert len(admin.get("/api/v1/wallets/").json()["results"]) >= 2  # admins see every wallet


def test_another_tenants_wallet_is_a_404(api, other_buyer, fund):
    fund(other_buyer, 10)
    wallet = Wallet.objects.get(tenant=other_buyer)
    assert api.get(f"/api/v1/wallets/{wallet.pk}/").status_code == 404
    assert api.get(f"/api/v1/wallets/{wallet.pk}/ledger/").status_code == 404


def test_revenue_for_the_seller(buyer, provider, mem1, place, fund):
    fund(buyer, 200)
    place(buyer, mem1, plan_named(mem1, "100¥/年"), pay_now=True)
    seller = APIClient()
    seller.force_authenticate(provider.owner)
    body = seller.get("/api/v1/orders/revenue/").json()
    assert body["total"] == "100.00" and body["income"] == "100.00"
    assert body["per_asset"][0]["asset_name"] == "mem1" and len(body["per_month"]) == 1


# --- the service's reasons, in the API body -------------------------------------------------


def test_refusals_carry_the_services_codes(api, buyer, provider, mem1, place, fund):
    fund(buyer, 5)
    paid = place(buyer, mem1, pay_now=True)
    held = _create(api, buyer, mem1)
    assert "already holds mem1" in assert_error(held, 400, "asset", "already_held")["detail"]
    cancel = api.post(f"/api/v1/orders/{paid.pk}/cancel/")
    assert "can be cancelled" in assert_error(cancel, 400, "status", "not_cancellable")["detail"]
    own = APIClient()
    own.force_authenticate(provider.owner)
    response = own.post(
        "/api/v1/orders/",
        {"plan": plan_named(mem1, "1T/年").pk, "project": provider.project.pk},
        format="json",
    )
    assert "its own asset" in assert_error(response, 400, "asset", "own_asset")["detail"]


def test_a_key_reused_for_another_order_is_refused_by_code(
    api, buyer, make_listed_asset, place, fund
):
    fund(buyer, 5)
    first, second = place(buyer, make_listed_asset("a1")), place(buyer, make_listed_asset("a2"))
    assert api.post(f"/api/v1/orders/{first.pk}/pay/", HTTP_IDEMPOTENCY_KEY="k").status_code == 200
    reused = api.post(f"/api/v1/orders/{second.pk}/pay/", HTTP_IDEMPOTENCY_KEY="k")
    body = assert_error(reused, 422, "Idempotency-Key", "idempotency_key_reused")
    assert "already used" in body["detail"]
    too_long = api.post(f"/api/v1/orders/{second.pk}/pay/", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert_error(too_long, 400, "Idempotency-Key", "idempotency_key_too_long")


def test_paying_a_cancelled_or_overdue_order_says_why(api, buyer, mem1, place, fund, time_machine):
    fund(buyer, 5)
    cancelled = place(buyer, mem1)
    assert api.post(f"/api/v1/orders/{cancelled.pk}/cancel/").status_code == 200
    response = api.post(f"/api/v1/orders/{cancelled.pk}/pay/", HTTP_IDEMPOTENCY_KEY="k1")
    assert_error(response, 400, "status", "not_payable")
    overdue = place(buyer, mem1)
    time_machine.move_to(overdue.payment_deadline, tick=False)
    response = api.post(f"/api/v1/orders/{overdue.pk}/pay/", HTTP_IDEMPOTENCY_KEY="k2")
    assert "deadline" in assert_error(response, 400, "status", "deadline_passed")["detail"]


def test_another_tenant_in_the_filters_is_a_404(api, other_buyer):
    response = api.get("/api/v1/orders/", {"tenant": other_buyer.pk, "role": "buyer"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_revenue_without_a_tenant_asks_for_one(make_user):
    client = APIClient()
    client.force_authenticate(make_user("nobody"))
    assert_error(client.get("/api/v1/orders/revenue/"), 400, "tenant", "tenant_required")

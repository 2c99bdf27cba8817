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


def assert_error(response, status, field):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["code"] == "invalid"
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
    body = assert_error(missing, 400, "Idempotency-Key")
    assert "required" in body["detail"]
    key = str(uuid.uuid4())
    short = api.post(f"/api/v1/orders/{order_id}/pay/", HTTP_IDEMPOTENCY_KEY=key)
    assert "1.00 T short" in assert_error(short, 400, "wallet")["detail"]
    fund(buyer, "3.00")
    first = api.post(f"/api/v1/orders/{order_id}/pay/", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first
    assert first.json()["status"] == "paid" and first.json()["balance_after"] == "2.00"
    repeat = api.post(f"/api/v1/orders/{order_id}/pay/", HTTP_IDEMPOTENCY_KEY=key)
    assert repeat.status_code == 200 and repeat["Idempotent-Replayed"] == "true"
    assert repeat.content == first.content
    other_key = api.post(f"/api/v1/orders/{order_id}/pay/", HTTP_IDEMPOTENCY_KEY="another")
    assert "already paid" in assert_error(other_key, 400, "status")["detail"]
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
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and Order.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"project": None}, "project"),
        ({"plan": 999999}, "plan"),
        ({"channel": "nightly"}, "channel"),
        ({"approval": "Sometimes"}, "approval"),
        ({"pay_now": "perhaps"}, "pay_now"),
    ],
)
def test_bad_input_names_the_field(api, buyer, mem1, payload, field):
    data = {"plan": plan_named(mem1, "1T/年").pk, "project": buyer.project.pk, **payload}
    data = {k: v for k, v in data.items() if v is not None}
    assert_error(api.post("/api/v1/orders/", data, format="json"), 400, field)


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
    assert response.status_code == 404


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
    with django_assert_num_queries(2) as few:  # count, page (with everything joined)
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

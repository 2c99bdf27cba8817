"""The buyer's and seller's screens: buy dialog, 订单管理, 出售管理, 已购资产, wallet."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.models import Entitlement, LedgerEntry, Order, Wallet

from .fixtures import PLAN_FREE, plan_named


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer.owner)
    client.tenant = buyer
    return client


@pytest.fixture
def provider_client(provider):
    from django.test import Client

    client = Client()
    client.force_login(provider.owner)
    return client


def _buy_data(response_or_html, **overrides):
    """What the buy form posts: its own token, the preselected choices."""
    html = (
        response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    )
    token = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)
    data = {"idempotency_key": token, "approval": "Automatic", "channel": "stable"}
    data.update(overrides)
    return data


# --- the buy dialog -----------------------------------------------------------------------


def test_the_buy_dialog_preselects_sensible_defaults(buyer_client, buyer, mem1, default_cluster):
    response = buyer_client.get(reverse("orders:buy", args=[mem1.code]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="buy-dialog"' in html
    assert "<html" not in html  # a fragment for the modal
    cheapest = plan_named(mem1, "1T/年")
    assert re.search(rf'value="{cheapest.pk}"[^>]*checked', html)
    assert re.search(rf'<option value="{buyer.project.pk}" selected>', html)
    assert re.search(rf'<option value="{default_cluster.pk}" selected>', html)
    assert re.search(r'<option value="stable" selected>stable \(default\)</option>', html)
    assert re.search(r'value="Automatic"[^>]*checked', html)
    assert "1.00 T" in html and "Pay now" in html and "Pay later" in html
    assert 'data-testid="shortfall"' in html  # the wallet is empty: it says so up front
    full = buyer_client.get(reverse("orders:buy", args=[mem1.code])).content.decode()
    assert "<html" in full and 'data-testid="buy-form"' in full


def test_the_dependent_fields_refresh_with_the_chosen_plan(buyer_client, mem1):
    plan = plan_named(mem1, "100¥/年")
    html = buyer_client.get(
        reverse("orders:buy", args=[mem1.code]), {"fields": "1", "plan": plan.pk}
    ).content.decode()
    assert html.startswith('<div id="buy-fields"') and "100.00 T" in html


def test_buy_and_pay_later_then_continue_payment(buyer_client, buyer, provider, mem1, fund):
    page = buyer_client.get(reverse("orders:buy", args=[mem1.code]))
    data = _buy_data(
        page,
        plan=plan_named(mem1, "1T/年").pk,
        project=buyer.project.pk,
        cluster=Order._meta.get_field("cluster").related_model.objects.get().pk,
        pay="later",
    )
    response = buyer_client.post(reverse("orders:buy", args=[mem1.code]), data, follow=True)
    order = Order.objects.get()
    assert response.redirect_chain[-1][0] == reverse("orders:order-detail", args=[order.code])
    html = response.content.decode()
    assert "placed. Pay 1.00 T before" in html and order.status == "pending_payment"
    # 订单管理: the seed's table, 1T/0T, 待支付, 支付 and 取消.
    listing = buyer_client.get(reverse("orders:orders")).content.decode()
    for column in ["Order ID", "Asset type", "Asset name", "Order type", "Buyer", "Seller"]:
        assert column in listing
    assert order.code in listing and "1T/0T" in listing and "Pending payment" in listing
    assert reverse("orders:order-pay", args=[order.code]) in listing
    # 继续支付 with an empty wallet: the shortfall, nothing charged.
    pay_page = buyer_client.get(reverse("orders:order-pay", args=[order.code])).content.decode()
    assert "1.00 T short" in pay_page
    token = re.search(r'name="idempotency_key" value="(\w+)"', pay_page).group(1)
    short = buyer_client.post(
        reverse("orders:order-pay", args=[order.code]), {"idempotency_key": token}
    )
    assert short.status_code == 400 and "1.00 T short" in short.content.decode()
    fund(buyer, 10)
    paid = buyer_client.post(
        reverse("orders:order-pay", args=[order.code]), {"idempotency_key": token}, follow=True
    )
    assert "Paid 1.00 T for mem1" in paid.content.decode()
    again = buyer_client.post(  # the double click
        reverse("orders:order-pay", args=[order.code]), {"idempotency_key": token}, follow=True
    )
    assert "charged once" in again.content.decode()
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("9.00")
    listing = buyer_client.get(reverse("orders:orders")).content.decode()
    assert "1T/1T" in listing and "Paid" in listing


def test_pay_now_short_shows_the_shortfall_on_the_form(buyer_client, buyer, mem1, fund):
    fund(buyer, "0.50")
    page = buyer_client.get(reverse("orders:buy", args=[mem1.code]))
    data = _buy_data(page, plan=plan_named(mem1, "1T/年").pk, project=buyer.project.pk, pay="now")
    data["cluster"] = re.search(
        r'name="cluster"[^>]*>\s*<option value="(\d+)"', page.content.decode()
    ).group(1)
    response = buyer_client.post(reverse("orders:buy", args=[mem1.code]), data)
    assert response.status_code == 400
    assert "0.50 T short" in response.content.decode() and not Order.objects.exists()


def test_a_free_plan_is_got_at_once(buyer_client, buyer, make_listed_asset, default_cluster):
    free = make_listed_asset("freebie", plans=(PLAN_FREE,))
    page = buyer_client.get(reverse("orders:buy", args=[free.code]))
    assert "Get it free" in page.content.decode()
    data = _buy_data(
        page, plan=free.plans.get().pk, project=buyer.project.pk, cluster=default_cluster.pk
    )
    data["pay"] = "now"
    response = buyer_client.post(reverse("orders:buy", args=[free.code]), data, follow=True)
    assert "is free: it is yours until" in response.content.decode()
    assert Entitlement.objects.get(buyer=buyer).asset == free


def test_bad_choices_come_back_as_field_errors(buyer_client, buyer, mem1, default_cluster):
    page = buyer_client.get(reverse("orders:buy", args=[mem1.code]))
    data = _buy_data(
        page,
        plan=plan_named(mem1, "1T/年").pk,
        project=buyer.project.pk,
        cluster=default_cluster.pk,
        channel="nightly",
        pay="later",
    )
    response = buyer_client.post(reverse("orders:buy", args=[mem1.code]), data)
    assert response.status_code == 400
    assert re.search(r'data-field="channel"', response.content.decode())


def test_holders_and_the_seller_are_sent_elsewhere(
    buyer_client, provider_client, buyer, mem1, place, fund
):
    own = provider_client.get(reverse("orders:buy", args=[mem1.code]), follow=True)
    assert "cannot buy its own asset" in own.content.decode()
    fund(buyer, 5)
    place(buyer, mem1, pay_now=True)
    held = buyer_client.get(reverse("orders:buy", args=[mem1.code]), follow=True)
    assert "already holds mem1" in held.content.decode()


def test_a_draft_is_a_404_to_buy_and_its_name_never_shown(
    buyer_client, buyer, provider, platform_admin, make_listed_asset, place, fund
):
    from assets.lifecycle import transition_version
    from assets.models import AssetVersion

    draft = make_listed_asset("secret-draft", on_sale=False)
    answer = buyer_client.get(reverse("orders:buy", args=[draft.code]), follow=True)
    assert answer.status_code == 404
    assert "secret-draft" not in answer.content.decode()
    page = buyer_client.get(reverse("storefront:storefront-asset", args=[draft.code]))
    assert page.status_code == 404  # the same answer as the asset page
    # A tenant that holds an asset no longer on sale is told why it cannot buy it again.
    held = make_listed_asset("was-on-sale")
    fund(buyer, 5)
    place(buyer, held, pay_now=True)
    version = AssetVersion.objects.get(asset=held)
    transition_version(version=version, to="delisting_review", actor=provider.owner)
    transition_version(version=version, to="delisted", actor=platform_admin)
    told = buyer_client.get(reverse("orders:buy", args=[held.code]), follow=True)
    assert told.status_code == 200 and "was-on-sale is not on sale" in told.content.decode()


# --- orders, cancel, tenancy --------------------------------------------------------------


def test_cancel_asks_first(buyer_client, buyer, mem1, place):
    order = place(buyer, mem1)
    confirm = buyer_client.get(reverse("orders:order-cancel", args=[order.code])).content.decode()
    assert 'data-testid="confirm"' in confirm and "cannot be undone" in confirm
    order.refresh_from_db()
    assert order.status == "pending_payment"
    response = buyer_client.post(
        reverse("orders:order-cancel", args=[order.code]), {"reason": "wrong plan"}, follow=True
    )
    assert f"Order {order.code} cancelled." in response.content.decode()
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_a_buyer_never_sees_another_tenants_orders(client, buyer, other_buyer, mem1, place, fund):
    order = place(buyer, mem1)
    client.force_login(other_buyer.owner)
    for name in ("orders:order-detail", "orders:order-pay", "orders:order-cancel"):
        assert client.get(reverse(name, args=[order.code])).status_code == 404
    assert order.code not in client.get(reverse("orders:orders")).content.decode()
    assert client.post(reverse("orders:order-pay", args=[order.code]), {}).status_code == 404


def test_the_seller_sees_the_order_but_cannot_pay_it(provider_client, buyer, mem1, place):
    order = place(buyer, mem1)
    detail = provider_client.get(reverse("orders:order-detail", args=[order.code]))
    assert detail.status_code == 200 and "Continue payment" not in detail.content.decode()
    assert provider_client.get(reverse("orders:order-pay", args=[order.code])).status_code == 404


def test_filters_by_status_and_date(buyer_client, buyer, make_listed_asset, place, time_machine):
    now = timezone.now()
    time_machine.move_to(now - timedelta(days=10), tick=False)
    old = place(buyer, make_listed_asset("old"))
    time_machine.move_to(now, tick=False)
    new = place(buyer, make_listed_asset("new"))
    services.cancel_order(actor=buyer.owner, order=new)
    html = buyer_client.get(reverse("orders:orders"), {"status": "cancelled"}).content.decode()
    assert new.code in html and old.code not in html
    since = timezone.localdate(now - timedelta(days=2)).isoformat()
    html = buyer_client.get(reverse("orders:orders"), {"created_from": since}).content.decode()
    assert new.code in html and old.code not in html
    bad = buyer_client.get(
        reverse("orders:orders"), {"created_from": "2026-02-02", "created_to": "2026-01-01"}
    ).content.decode()
    assert "before the start date" in bad


def test_the_order_page_shows_snapshot_target_and_installation(
    buyer_client, buyer, mem1, place, fund, django_capture_on_commit_callbacks
):
    fund(buyer, 5)
    with django_capture_on_commit_callbacks(execute=True):  # order_paid goes out on commit
        order = place(buyer, mem1, pay_now=True)
    html = buyer_client.get(reverse("orders:order-detail", args=[order.code])).content.decode()
    for text in ["1T/年", "1.00 T", "my-mem", "默认集群", "stable", "Automatic"]:
        assert text in html
    # The timeline in words, not codes ("order.placed → pending_payment").
    timeline = html[html.index('data-testid="timeline"') :]
    assert "Order placed</strong> → Pending payment" in timeline
    assert "Paid</strong> → Paid" in timeline
    assert "order.placed" not in timeline.replace('data-action="order.placed"', "")
    assert "pending_payment" not in timeline
    zh = buyer_client.get(
        reverse("orders:order-detail", args=[order.code]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "Order placed" not in zh[zh.index('data-testid="timeline"') :]
    # The payment started an installation; the order page links to it with its status.
    from provisioning.models import Installation

    installation = Installation.objects.get(order=order)
    assert f'href="/operators/{installation.pk}/"' in html
    assert f'data-status="{installation.status}"' in html


def test_empty_states(buyer_client, provider_client):
    assert (
        'data-testid="orders-empty"' in buyer_client.get(reverse("orders:orders")).content.decode()
    )
    purchased = buyer_client.get(reverse("orders:purchased-assets")).content.decode()
    assert 'data-testid="purchased-empty"' in purchased
    wallet = buyer_client.get(reverse("orders:wallet")).content.decode()
    assert "0.00 T" in wallet and 'data-testid="ledger-empty"' in wallet
    assert (
        'data-testid="sales-empty"'
        in provider_client.get(reverse("orders:provider-sales")).content.decode()
    )
    not_provider = buyer_client.get(reverse("orders:provider-sales"))
    assert not_provider.status_code == 403 and "not a provider" in not_provider.content.decode()


# --- 出售管理 -----------------------------------------------------------------------------


def test_sales_show_revenue_per_asset_and_month(
    provider_client, buyer, other_buyer, mem1, make_listed_asset, place, fund
):
    other = make_listed_asset("other")
    fund(buyer, 500)
    fund(other_buyer, 500)
    place(buyer, mem1, plan_named(mem1, "100¥/年"), pay_now=True)
    place(other_buyer, mem1, pay_now=True)
    place(buyer, other)  # unpaid: not revenue
    response = provider_client.get(reverse("orders:provider-sales"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "101.00 T" in html  # 100 + 1
    assert 'id="revenue-chart"' in html and "chart.umd.min.js" in html
    chart = response.context["chart"]
    assert chart["revenue"] == ["101.00"] and len(chart["labels"]) == 1
    per_asset = {row["asset__name"]: row["revenue"] for row in response.context["per_asset"]}
    assert per_asset == {"mem1": Decimal("101.00")}
    assert "100T/100T" in html and "1T/0T" in html


# --- 已购资产, renewals -------------------------------------------------------------------


def test_purchased_assets_with_status_renew_and_install(buyer_client, buyer, mem1, place, fund):
    fund(buyer, 10)
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    html = buyer_client.get(reverse("orders:purchased-assets")).content.decode()
    assert "mem1" in html and "Active" in html
    assert (
        reverse("orders:renew", args=[entitlement.pk]) in html and 'data-testid="install"' in html
    )
    Entitlement.objects.filter(pk=entitlement.pk).update(ends_at=timezone.now() + timedelta(days=3))
    assert "Expiring soon" in buyer_client.get(reverse("orders:purchased-assets")).content.decode()
    Entitlement.objects.filter(pk=entitlement.pk).update(
        starts_at=timezone.now() - timedelta(days=400), ends_at=timezone.now() - timedelta(days=1)
    )
    html = buyer_client.get(reverse("orders:purchased-assets")).content.decode()
    assert "Expired" in html and "no new installation until renewed" in html
    filtered = buyer_client.get(
        reverse("orders:purchased-assets"), {"status": "active"}
    ).content.decode()
    assert "No purchased asset has this status" in filtered
    page = buyer_client.get(reverse("orders:renew", args=[entitlement.pk])).content.decode()
    token = re.search(r'name="idempotency_key" value="(\w+)"', page).group(1)
    response = buyer_client.post(
        reverse("orders:renew", args=[entitlement.pk]),
        {"plan": entitlement.plan_id, "idempotency_key": token, "pay": "now"},
        follow=True,
    )
    assert "Paid 1.00 T" in response.content.decode()
    entitlement.refresh_from_db()
    assert entitlement.status == "active"


def test_another_tenants_entitlement_is_a_404(client, buyer, other_buyer, mem1, place, fund):
    fund(buyer, 5)
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    client.force_login(other_buyer.owner)
    assert client.get(reverse("orders:renew", args=[entitlement.pk])).status_code == 404


# --- wallet and 充值 ----------------------------------------------------------------------


def test_admins_top_up_with_a_reason(client, buyer, platform_admin):
    client.force_login(platform_admin)
    page = client.get(reverse("orders:wallet-top-up"), {"tenant": buyer.pk}).content.decode()
    assert re.search(rf'<option value="{buyer.pk}" selected>', page)
    missing = client.post(reverse("orders:wallet-top-up"), {"tenant": buyer.pk, "amount": "10"})
    assert missing.status_code == 400 and 'data-field="reason"' in missing.content.decode()
    response = client.post(
        reverse("orders:wallet-top-up"),
        {"tenant": buyer.pk, "amount": "1000.00", "reason": "demo credit"},
        follow=True,
    )
    assert "Topped up 1000.00 T for zs2-corp" in response.content.decode()
    ledger = client.get(reverse("orders:wallet"), {"tenant": buyer.pk}).content.decode()
    assert "+1000.00 T" in ledger and "demo credit" in ledger


def test_only_admins_reach_the_top_up(buyer_client, buyer, other_buyer):
    denied = buyer_client.get(reverse("orders:wallet-top-up"))
    assert denied.status_code == 403
    assert "Only platform administrators may top up wallets." in denied.content.decode()
    # ?tenant= is for admins; a buyer always sees its own wallet.
    html = buyer_client.get(reverse("orders:wallet"), {"tenant": other_buyer.pk}).content.decode()
    assert "zs2-corp" in html and "globex" not in html


def test_the_wallet_shows_the_ledger(buyer_client, buyer, mem1, place, fund):
    fund(buyer, 10, reason="contract 7")
    order = place(buyer, mem1, pay_now=True)
    html = buyer_client.get(reverse("orders:wallet")).content.decode()
    assert "9.00 T" in html and "-1.00 T" in html and "contract 7" in html
    assert order.code in html and LedgerEntry.objects.count() == 3


# --- the provider's 用户 tab ----------------------------------------------------------------


def test_the_users_tab_lists_buying_tenants(provider_client, buyer, mem1, place, fund):
    empty = provider_client.get(reverse("assets:asset-users", args=[mem1.code])).content.decode()
    assert 'data-testid="users-empty"' in empty
    fund(buyer, 5)
    place(buyer, mem1, pay_now=True)
    html = provider_client.get(reverse("assets:asset-users", args=[mem1.code])).content.decode()
    assert 'data-testid="users-table"' in html and "zs2-corp" in html and "1T/年" in html


# --- query counts -------------------------------------------------------------------------


def _orders(buyer, asset_factory, place, count, start=0):
    for i in range(start, start + count):
        place(buyer, asset_factory(f"q{i}"))


@pytest.mark.parametrize(
    "name", ["orders:orders", "orders:provider-sales", "orders:purchased-assets", "orders:wallet"]
)
def test_list_pages_keep_their_query_count(
    client, buyer, provider, make_listed_asset, place, fund, django_assert_max_num_queries, name
):
    fund(buyer, 100)
    user = provider.owner if name == "orders:provider-sales" else buyer.owner
    client.force_login(user)

    def grow(start, count):
        for i in range(start, start + count):
            place(buyer, make_listed_asset(f"q{i}"), pay_now=True)

    grow(0, 2)
    with django_assert_max_num_queries(20) as few:
        assert client.get(reverse(name)).status_code == 200
    grow(2, 6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse(name))


def test_the_dialog_navigates_the_page_when_buying_is_not_the_answer(provider_client, mem1):
    response = provider_client.get(reverse("orders:buy", args=[mem1.code]), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("storefront:storefront-asset", args=[mem1.code])


def test_an_admin_asking_for_an_unknown_tenants_wallet_gets_a_404(client, platform_admin):
    client.force_login(platform_admin)
    for wanted in ("999999", "abc"):
        assert client.get(reverse("orders:wallet"), {"tenant": wanted}).status_code == 404


def test_the_seller_cannot_cancel_either(provider_client, buyer, mem1, place):
    order = place(buyer, mem1)
    response = provider_client.post(reverse("orders:order-cancel", args=[order.code]), {})
    assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_the_order_list_pages_and_keeps_its_filters(
    buyer_client, buyer, make_listed_asset, place, monkeypatch
):
    from core import pagination

    monkeypatch.setattr(pagination, "PAGE_SIZE", 1)
    first, second = place(buyer, make_listed_asset("p1")), place(buyer, make_listed_asset("p2"))
    html = buyer_client.get(reverse("orders:orders"), {"status": "pending_payment"}).content
    html = html.decode()
    assert second.code in html and first.code not in html  # newest first, one per page
    assert 'href="?status=pending_payment&amp;page=2"' in html
    page_two = buyer_client.get(
        reverse("orders:orders"), {"status": "pending_payment", "page": 2}
    ).content.decode()
    assert first.code in page_two and second.code not in page_two

"""A buyer filters the storefront, buys with 稍后支付, pays later from the order list and
finds the asset in 已购资产 — in a real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.orders.fixtures import (  # noqa: F401 - fixtures
    PLAN_1,
    PLAN_100,
    buyer,
    category,
    default_cluster,
    fund,
    make_listed_asset,
    provider,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def market(make_listed_asset, buyer, fund, settings, tmp_path):  # noqa: F811
    """mem1 (1 T and 100 T plans) and an expensive asset on sale; the buyer holds 10 T."""
    from decimal import Decimal

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SERVE_MEDIA = True
    expensive = {**PLAN_100, "name": "enterprise", "price": Decimal("12000.00")}
    make_listed_asset("mem1", plans=(PLAN_1, PLAN_100))
    make_listed_asset("bigdata", plans=(expensive,), summary="a large cluster")
    fund(buyer, "10.00")
    return buyer


def test_buyer_filters_buys_pays_later_and_finds_the_asset(page, login, market):
    buyer = market  # noqa: F811
    login(buyer.owner.username, buyer.owner.raw_password)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Cloud Market").click()
    cards = page.get_by_test_id("asset-card")
    expect(cards).to_have_count(2)

    # 价格 under 99 (the seed's "1 - 98"): only mem1 is left, and the filter is in the URL.
    page.get_by_test_id("price-filter").get_by_role("link", name="Under 99").click()
    expect(page).to_have_url(re.compile(r"price=1-98"))
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card).to_contain_text("mem1")
    expect(card).to_contain_text("Certified")
    expect(card.get_by_test_id("card-price")).to_have_text("1 T")

    # 购买: the dialog, with sensible defaults; the amount follows the plan (htmx).
    card.get_by_role("link", name="Buy").click()
    dialog = page.get_by_test_id("buy-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#id_project option:checked")).to_contain_text("my-mem")
    expect(dialog.locator("#id_cluster option:checked")).to_contain_text("默认集群")
    expect(dialog.locator("#id_channel option:checked")).to_contain_text("stable")
    expect(dialog.get_by_role("radio", name="Automatic")).to_be_checked()
    amount = dialog.get_by_test_id("amount")
    expect(amount).to_contain_text("1.00 T")
    dialog.get_by_text(re.compile(r"100¥/年")).click()
    expect(amount).to_contain_text("100.00 T")
    expect(dialog.get_by_test_id("shortfall")).to_contain_text("90.00 T")
    dialog.get_by_text(re.compile(r"1T/年")).click()
    expect(amount).to_contain_text("1.00 T")
    dialog.locator("#id_project").select_option(label="two (two)")
    expect(dialog.locator("#id_cluster option:checked")).to_contain_text("默认集群")
    dialog.get_by_role("button", name="Pay later").click()

    # The order waits for payment.
    expect(page.get_by_role("status")).to_contain_text("placed. Pay 1.00 T before")
    code = re.search(r"AOID-\w{11}", page.get_by_role("status").inner_text()).group(0)
    expect(page.get_by_test_id("order-status")).to_contain_text("Pending payment")
    expect(page.get_by_test_id("order-target")).to_contain_text("two")

    # 订单管理: 继续支付 from the list.
    nav.get_by_role("link", name="Order Management").click()
    row = page.get_by_test_id("order-table").locator("tr", has_text=code)
    expect(row).to_contain_text("1T/0T")
    expect(row).to_contain_text("Pending payment")
    row.get_by_role("link", name="Pay").click()
    expect(page.get_by_test_id("balance")).to_have_text("10.00 T")
    page.get_by_role("button", name="Pay 1.00 T").click()
    expect(page.get_by_role("status")).to_contain_text("Paid 1.00 T for mem1")
    expect(page.get_by_test_id("order-status")).to_contain_text("Paid")

    nav.get_by_role("link", name="Order Management").click()
    row = page.get_by_test_id("order-table").locator("tr", has_text=code)
    expect(row).to_contain_text("1T/1T")
    expect(row.get_by_role("link", name="Pay")).to_have_count(0)

    # 已购资产: mem1, active, with renew and install.
    nav.get_by_role("link", name="Purchased Assets").click()
    entry = page.get_by_test_id("purchased-table").locator("tr", has_text="mem1")
    expect(entry.get_by_test_id("entitlement-status")).to_have_text("Active")
    expect(entry.get_by_role("link", name="Renew")).to_be_visible()
    expect(entry.get_by_role("link", name="Install")).to_be_visible()

    # Back in the market, mem1's card now says 安装.
    nav.get_by_role("link", name="Cloud Market").click()
    expect(
        page.get_by_test_id("asset-card").filter(has_text="mem1").get_by_test_id("install")
    ).to_be_visible()

"""The screens fit the screens people use: 1366 px laptops (tables whole, actions visible)
and 390 px phones (the sidebar folds behind a menu button). Screenshots of each, in English
and 中文, are kept under test-artifacts/layout/."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS
from tests.orders.fixtures import (  # noqa: F401 - fixtures
    PLAN_1,
    buyer,
    category,
    default_cluster,
    fund,
    make_listed_asset,
    place,
    provider,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "layout"
# The pages with the widest tables a buyer sees.
PAGES = {"orders": "/orders/", "purchased": "/orders/purchased/", "market": "/market/"}

OVERFLOW = """() => {
  const page = document.documentElement;
  const cut = [...document.querySelectorAll("table.data td.actions, table.data th:last-child")]
    .filter((cell) => cell.getBoundingClientRect().right > window.innerWidth + 1)
    .map((cell) => cell.closest("table").className);
  return {pageWidth: page.scrollWidth, viewport: window.innerWidth, cut};
}"""


@pytest.fixture
def orders(make_listed_asset, buyer, fund, place, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SERVE_MEDIA = True
    asset = make_listed_asset("a-memcached-operator-with-a-long-name", plans=(PLAN_1,))
    fund(buyer, "10.00")
    for _ in range(3):
        place(buyer, asset)
    return buyer


@pytest.mark.parametrize("browser_locale", ["en-US", "zh-CN"])
def test_tables_fit_a_laptop_and_the_sidebar_folds_on_a_phone(page, login, orders, browser_locale):
    SHOTS.mkdir(parents=True, exist_ok=True)
    login(orders.owner.username, orders.owner.raw_password)
    page.set_viewport_size({"width": 1366, "height": 768})
    for name, url in PAGES.items():
        page.goto(url)
        fit = page.evaluate(OVERFLOW)
        page.screenshot(path=str(SHOTS / f"{name}-1366-{browser_locale}.png"), full_page=True)
        assert fit["pageWidth"] <= fit["viewport"], (name, fit)
        assert not fit["cut"], (name, fit)

    page.set_viewport_size({"width": 390, "height": 844})
    for name, url in PAGES.items():
        page.goto(url)
        fit = page.evaluate(OVERFLOW)
        page.screenshot(path=str(SHOTS / f"{name}-390-{browser_locale}.png"), full_page=True)
        # Wide tables scroll inside their own box; the page itself never scrolls sideways.
        assert fit["pageWidth"] <= fit["viewport"], (name, fit)
    nav = page.locator("#main-nav")
    menu = page.get_by_test_id("menu-toggle")
    expect(nav).to_be_hidden()
    expect(menu).to_be_visible()
    menu.click()
    expect(nav).to_be_visible()
    page.screenshot(path=str(SHOTS / f"menu-390-{browser_locale}.png"))
    nav.get_by_role(
        "link", name="Order Management" if browser_locale == "en-US" else "订单管理"
    ).click()
    expect(page).to_have_url(f"{page.url.split('/orders/')[0]}/orders/")
    expect(nav).to_be_hidden()  # a new page starts folded

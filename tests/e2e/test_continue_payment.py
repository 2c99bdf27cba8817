"""继续支付 chooses the project and cluster (the seed: "选择需要付款项目和使用集群，完成继续支付"):
a buyer orders with 稍后支付 for one project, then pays for another project and a cluster
linked to it — in a real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.orders.fixtures import (  # noqa: F401 - fixtures
    PLAN_1,
    buyer,
    category,
    default_cluster,
    fund,
    make_listed_asset,
    provider,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def patient_expect():
    """The page's own deadline (15 s) for every expectation, not Playwright's 5 s: on a
    loaded machine the htmx dialog can take longer than that to arrive."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
def market(make_listed_asset, buyer, provider, fund):  # noqa: F811
    """mem1 on sale; the buyer holds 10 T; the cluster `edge` is linked to its project
    `two` only and serves the provider's catalog."""
    from tests.assets.factories import ClusterFactory
    from tests.orders.factories import ProviderCatalogFactory

    make_listed_asset("mem1", plans=(PLAN_1,))
    edge = ClusterFactory(name="edge", projects=[buyer.projects_list[1]])
    ProviderCatalogFactory(cluster=edge, tenant=provider)
    fund(buyer, "10.00")
    return buyer


def test_continue_payment_for_another_project_and_cluster(page, login, market):
    buyer = market  # noqa: F811
    login(buyer.owner.username, buyer.owner.raw_password)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Cloud Market").click()
    # Loaded (scripts run, htmx set up): Buy opens the dialog, not the buy page.
    page.wait_for_url(re.compile(r"/market/"), wait_until="load")
    page.get_by_test_id("asset-card").filter(has_text="mem1").get_by_role(
        "link", name="Buy"
    ).click()
    dialog = page.get_by_test_id("buy-dialog")
    expect(dialog.locator("#id_project option:checked")).to_contain_text("my-mem")
    expect(dialog.locator("#id_cluster option:checked")).to_contain_text("默认集群")
    dialog.get_by_role("button", name="Pay later").click()
    expect(page.get_by_role("status")).to_contain_text("placed. Pay 1.00 T before")
    code = re.search(r"AOID-\w{11}", page.get_by_role("status").inner_text()).group(0)
    target = page.get_by_test_id("order-target")
    expect(target).to_contain_text("my-mem")
    expect(target).to_contain_text("默认集群")

    # 继续支付 from Order Management: the order's project and cluster are preselected;
    # choosing `two` refreshes the clusters (htmx) with edge, linked to it only.
    nav.get_by_role("link", name="Order Management").click()
    page.get_by_test_id("order-table").locator("tr", has_text=code).get_by_role(
        "link", name="Pay"
    ).click()
    # Loaded (htmx set up): a change of project refreshes the clusters.
    page.wait_for_url(re.compile(rf"/orders/{code}/pay/"), wait_until="load")
    form = page.get_by_test_id("pay-form")
    project, cluster = form.locator("#id_project"), form.locator("#id_cluster")
    expect(project.locator("option:checked")).to_contain_text("my-mem")
    expect(cluster.locator("option:checked")).to_contain_text("默认集群")
    expect(cluster.locator("option", has_text="edge")).to_have_count(0)
    project.select_option(label="two (two)")
    expect(cluster.locator("option", has_text="edge")).to_have_count(1)
    expect(project.locator("option:checked")).to_contain_text("two")
    cluster.select_option(label="edge")
    page.get_by_role("button", name="Pay 1.00 T").click()

    # Paid, and the order now installs into `two` on edge.
    expect(page.get_by_role("status")).to_contain_text("Paid 1.00 T for mem1")
    expect(page.get_by_test_id("order-status")).to_contain_text("Paid")
    expect(target).to_contain_text("two")
    expect(target).to_contain_text("edge")
    expect(target).not_to_contain_text("my-mem")

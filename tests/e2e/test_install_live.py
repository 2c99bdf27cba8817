"""Buy → watch the operator install live → the Subscription tab, in a real Chromium."""

import re
import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.conftest import wait_until
from tests.provisioning.conftest import list_operator, on_sale_version  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def funded_buyer(tenant_with_owner, platform_admin):
    from accounts import services as account_services
    from orders import services as order_services

    tenant, owner = tenant_with_owner("zs2-corp")
    project = account_services.create_project(
        actor=owner, tenant=tenant, name="my-mem", namespace=f"my-mem-{uuid.uuid4().hex[:6]}"
    )
    order_services.top_up_wallet(
        actor=platform_admin, tenant=tenant, amount=Decimal("10.00"), reason="test credit"
    )
    tenant.owner, tenant.project = owner, project
    return tenant


def test_buy_then_watch_the_install_live_and_see_the_subscription(
    page,
    login,
    funded_buyer,
    on_sale_version,  # noqa: F811 - the fixture imported above
    sandbox_cluster,
):
    from provisioning import tasks
    from provisioning.models import Installation

    login(funded_buyer.owner.username, funded_buyer.owner.raw_password)
    page.goto("/market/")
    card = page.get_by_test_id("asset-card").filter(has_text="mem1")
    card.get_by_role("link", name="Buy").click()
    dialog = page.get_by_test_id("buy-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("radio", name="Manual").check()
    dialog.get_by_role("button", name=re.compile("Pay now")).click()
    expect(page.get_by_role("status")).to_contain_text("Paid 1.00 T for mem1")

    # The order page links to the installation its payment started.
    page.get_by_test_id("installation-status").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/operators/\d+/$"))
    panel = page.locator("#status-panel")

    def follow(status):  # beat's periodic sync, run here
        def reached():
            tasks.sync_installations()
            return Installation.objects.filter(status=status).exists()

        wait_until(reached, timeout=20, message=status)

    follow("requires_approval")
    expect(panel.get_by_test_id("approval-box")).to_contain_text("1 upgrade needs approval")
    panel.get_by_role("button", name="Approve upgrade").click()
    expect(page.get_by_role("status")).to_contain_text("Upgrade approved")
    follow("installed")
    expect(page.locator("#status-panel")).to_contain_text("Installed")
    expect(page.locator("#status-panel .op-step.done")).to_have_count(4)

    page.get_by_role("link", name="Subscription", exact=True).click()
    subscription = page.get_by_test_id("subscription")
    expect(subscription).to_contain_text("memcached-cluster-operator")
    expect(subscription).to_contain_text("stable")
    expect(subscription).to_contain_text("Manual")
    expect(subscription).to_contain_text("mem-registry")
    installation = Installation.objects.get()
    expect(subscription).to_contain_text(installation.installed_csv)

    page.get_by_role("link", name="Operator Apps").first.click()
    row = page.locator(f'tr[data-installation="{installation.pk}"]')
    expect(row).to_contain_text("Installed")
    expect(row).to_contain_text(funded_buyer.project.namespace)

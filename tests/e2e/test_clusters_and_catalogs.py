import re

import pytest
from playwright.sync_api import expect

from tests.conftest import SANDBOX_TOKEN, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SEED_IMAGE = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"


@pytest.fixture
def admin_account(make_user, tenant_with_owner):
    from accounts.services import grant_platform_admin

    tenant, admin = tenant_with_owner("platform-ops")
    grant_platform_admin(user=admin)
    return admin


def test_admin_registers_the_sandbox_and_sees_it_connect(page, login, admin_account, sandbox):
    login(admin_account.username, admin_account.raw_password)
    page.goto("/clusters/")
    page.get_by_role("link", name="Register the first cluster").click()
    page.locator("#id_name").fill("sandbox")
    expect(page.locator("#id_token")).to_be_hidden()  # kubeconfig is the default choice
    page.get_by_role("radio", name="Bearer token").check()
    expect(page.locator("#id_kubeconfig")).to_be_hidden()
    page.locator("#id_api_url").fill(sandbox.url)
    page.locator("#id_token").fill("wrong-token")
    page.locator("form.stacked button[type=submit]").click()
    expect(page.get_by_test_id("last-error")).to_have_text("401 Unauthorized: token rejected")

    page.get_by_role("link", name="Edit").click()
    page.locator("#id_token").fill(SANDBOX_TOKEN)
    page.locator("form.stacked button[type=submit]").click()
    expect(page.locator("#connection")).to_contain_text("Connected")
    expect(page.locator("#connection")).to_contain_text("OLM API groups served")
    assert SANDBOX_TOKEN not in page.content()


def test_provider_submits_a_catalog_and_sees_its_packages(
    page, login, tenant_with_owner, sandbox_cluster
):
    from clusters import tasks
    from clusters.models import CatalogSource

    _tenant, provider = tenant_with_owner("zs-olm", is_provider=True)
    login(provider.username, provider.raw_password)
    page.get_by_role("link", name="CatalogSources").click()
    page.get_by_role("link", name="Submit the first CatalogSource").click()
    page.locator("#id_name").fill("mem-registry")
    page.locator("#id_display_name").fill("mem-01")
    page.locator("#id_image").fill(SEED_IMAGE)
    page.get_by_test_id("catalog-by-form").locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/clusters/catalog-sources/\d+/$"))

    def ready():  # the beat's periodic sync, run here
        tasks.sync_catalog_sources()
        return CatalogSource.objects.filter(state="ready", packages__isnull=False).exists()

    wait_until(ready, timeout=15)
    expect(page.get_by_test_id("packages")).to_contain_text("memcached-cluster-operator")
    expect(page.locator("#catalog-state")).to_contain_text("READY")

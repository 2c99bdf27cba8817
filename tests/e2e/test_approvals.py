"""A provider applies for listing, an admin approves in the queue, a buyer sees the asset."""

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from tests.assets.factories import (
    MEMCACHED_CHANNELS,
    CatalogSourceFactory,
    ClusterFactory,
    make_image_bytes,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-Secret-123"  # tests/conftest.py's make_user default


def _upload(name, width, height):
    return SimpleUploadedFile(name, make_image_bytes(width, height), content_type="image/png")


@pytest.fixture
def draft_version(tenant_with_owner, settings, tmp_path):
    """zs-olm's mem1, ready for listing (a plan, a screenshot), with a draft version."""
    from accounts import services as account_services
    from assets import services as asset_services
    from assets.models import Category

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SERVE_MEDIA = True
    category, _created = Category.objects.get_or_create(
        slug="basic-apps", defaults={"name_en": "Basic applications", "name_zh": "基础应用"}
    )
    tenant, owner = tenant_with_owner("zs-olm", is_provider=True)
    project = account_services.create_project(
        actor=owner, tenant=tenant, name="one", namespace="one"
    )
    catalog = CatalogSourceFactory(
        tenant=tenant,
        cluster=ClusterFactory(name="默认集群", is_default=True, is_sandbox=True),
        package__channels=MEMCACHED_CHANNELS,
    )
    asset = asset_services.register_asset(
        actor=owner,
        tenant=tenant,
        icon=_upload("icon.png", 96, 96),
        screenshots=[_upload("one.png", 264, 146)],
        plans=[
            {
                "name": "100¥/年",
                "price": Decimal("100.00"),
                "duration_value": 1,
                "duration_unit": "year",
            }
        ],
        delivery_type="operator",
        category=category,
        name="mem1",
        summary="memcached cluster",
        description="# Memcached\n\nA **fast** cache.",
    )
    version = asset_services.create_version(
        actor=owner,
        asset=asset,
        project=project,
        cluster=catalog.cluster,
        catalog_source=catalog,
        package_name="memcached-operator",
        channels=["stable"],
        default_channel="stable",
    )
    version.owner = owner
    return version


def _log_out(page):
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))


def test_provider_applies_admin_approves_buyer_sees_it(
    page, login, draft_version, platform_admin, tenant_with_owner
):
    _buyer_tenant, buyer = tenant_with_owner("zs2-corp")
    provider = draft_version.owner
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of this flow

    # 申请上架: the provider asks from the version card, with a reason.
    login(provider.username, PASSWORD)
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Asset Management"
    ).click()
    page.get_by_test_id("asset-table").get_by_role("link", name="mem1").click()
    card = page.get_by_test_id("version-card")
    expect(card.get_by_test_id("lifecycle").locator(".step.current")).to_contain_text(
        "Create version"
    )
    card.get_by_placeholder("Reason for the request (optional)").fill("First release")
    card.get_by_role("button", name="Apply for listing").click()
    expect(page.get_by_role("status").first).to_contain_text("submitted for listing")
    expect(card.get_by_test_id("pending-request")).to_contain_text("Listing pending review")
    expect(card.get_by_test_id("lifecycle").locator(".step.current")).to_contain_text(
        "Listing review"
    )
    _log_out(page)

    # 审批: the admin is told (header count) and approves in place.
    login(platform_admin.username, PASSWORD)
    expect(page.get_by_test_id("notifications-link")).to_contain_text("1")
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Approvals"
    ).click()
    row = page.get_by_test_id("approval-row")
    expect(row).to_have_count(1)
    for text in ["Listing pending review", "mem1", "0.0.2", "Operator", "First release"]:
        expect(row).to_contain_text(text)
    expect(page.get_by_test_id("pending-count")).to_have_text("1 pending")
    row.get_by_role("button", name="Approve").click()
    expect(row).to_contain_text("Listing approved")
    expect(row).to_contain_text("Approved: mem1 0.0.2 is on sale.")
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)
    # The heading's badge follows the decision: nothing is pending any more.
    expect(page.get_by_test_id("pending-count")).to_have_count(0)
    assert page.url.endswith("/approvals/")  # decided without leaving the list
    _log_out(page)

    # The provider hears about it; the buyer finds the asset in the storefront.
    login(provider.username, PASSWORD)
    expect(page.get_by_test_id("notifications-link")).to_contain_text("1")
    page.get_by_test_id("notifications-link").click()
    expect(page.get_by_test_id("notification").first).to_contain_text(
        "mem1 0.0.2 is approved and on sale"
    )
    _log_out(page)

    login(buyer.username, PASSWORD)
    page.goto("/market/")
    expect(page.locator("main")).to_contain_text("mem1")

"""资产镜像安全扫描结果 in a real Chromium: the provider uploads Trivy reports (a bad one is
refused, nothing stored), the table shows counts per severity, LISTING_MAX_SEVERITY stops
the admin's approval with the reason until a clean scan, and the buyer sees the table."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.assets.factories import CatalogSourceFactory
from tests.assets.scan_fixtures import OPERATOR, report, seed_channels
from tests.e2e.test_approvals import PASSWORD, _log_out, draft_version  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scanned_version(draft_version):  # noqa: F811
    """test_approvals' mem1 draft, re-pointed at a catalog whose package lists the seed's
    images (the version is made again so that its images come from that package)."""
    from assets import services

    owner = draft_version.owner
    catalog = CatalogSourceFactory(
        tenant=draft_version.asset.tenant,
        cluster=draft_version.cluster,
        name="seed-registry",
        package__channels=seed_channels(),
    )
    version = services.update_version(
        actor=owner,
        version=draft_version,
        project=draft_version.project,
        cluster=draft_version.cluster,
        catalog_source=catalog,
        package_name="memcached-operator",
        channels=["stable"],
        default_channel="stable",
    )
    version.owner = owner
    return version


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_scan_table_and_approval_gate(
    page, login, scanned_version, platform_admin, tenant_with_owner, settings, tmp_path
):
    settings.LISTING_MAX_SEVERITY = "HIGH"
    _buyer_tenant, buyer = tenant_with_owner("zs2-corp")
    page.on("dialog", lambda dialog: dialog.accept())
    login(scanned_version.owner.username, PASSWORD)
    page.goto(f"/provider/assets/{scanned_version.asset.code}/")
    card = page.get_by_test_id("version-card")
    expect(card.get_by_test_id("scan-summary")).to_contain_text("4 not scanned")
    card.get_by_test_id("scan-link").click()

    table = page.get_by_test_id("image-scans")
    for header in ["Image name", "Image ID", "Type", "Scan result"]:
        expect(table.locator("thead")).to_contain_text(header)
    expect(table.get_by_test_id("not-scanned")).to_have_count(4)

    # A malformed report is refused with the reason; nothing is stored.
    page.get_by_label("Trivy JSON report").set_input_files(_write(tmp_path, "bad.json", "{oops"))
    page.get_by_role("button", name="Upload report").click()
    expect(page.get_by_test_id("scan-upload")).to_contain_text("not JSON")
    expect(page.get_by_test_id("image-scans").get_by_test_id("not-scanned")).to_have_count(4)

    # A real-shaped report of the operator image, with a CRITICAL finding.
    page.get_by_label("Trivy JSON report").set_input_files(
        _write(tmp_path, "operator.json", report(OPERATOR, "CRITICAL", "HIGH", "LOW"))
    )
    page.get_by_role("button", name="Upload report").click()
    row = page.locator(f'[data-testid="image-row"][data-reference="{OPERATOR}"]')
    expect(row).to_contain_text("CRITICAL 1")
    expect(row).to_contain_text("HIGH 1")
    expect(row).to_contain_text("03d0effeed75")
    expect(row).to_contain_text("Operator")
    expect(page.get_by_test_id("scan-blockers")).to_contain_text("has findings above HIGH")
    row.get_by_test_id("findings-link").click()
    expect(page.get_by_test_id("finding")).to_have_count(3)
    expect(page.get_by_test_id("finding").first).to_contain_text("CVE-2023-1000")
    expect(page.get_by_test_id("finding").first).to_contain_text("3.1.4-r1")

    # 申请上架; the card says why the platform will not approve it.
    page.goto(f"/provider/assets/{scanned_version.asset.code}/")
    card = page.get_by_test_id("version-card")
    expect(card.get_by_test_id("scan-blockers")).to_contain_text(OPERATOR)
    card.get_by_role("button", name="Apply for listing").click()
    expect(card.get_by_test_id("pending-request")).to_contain_text("Listing pending review")
    _log_out(page)

    # The admin sees the scan in the queue; approving is refused with the reason.
    login(platform_admin.username, PASSWORD)
    page.goto("/approvals/")
    row = page.get_by_test_id("approval-row")
    expect(row.get_by_test_id("scan-summary")).to_contain_text("CRITICAL 1")
    expect(row.get_by_test_id("scan-blocked")).to_be_visible()
    row.get_by_role("button", name="Approve").click()
    expect(row.locator(".errorlist")).to_contain_text("cannot be approved")
    expect(row.locator(".errorlist")).to_contain_text("1 CRITICAL")
    expect(row).to_contain_text("Listing pending review")
    row.get_by_role("link", name="mem1").click()
    expect(page.get_by_test_id("review-image-scans")).to_contain_text("CRITICAL 1")
    _log_out(page)

    # A clean rescan lifts the block; the admin approves; the buyer sees the table.
    login(scanned_version.owner.username, PASSWORD)
    page.goto(f"/provider/assets/{scanned_version.asset.code}/versions/{scanned_version.pk}/scans/")
    page.get_by_label("Trivy JSON report").set_input_files(
        _write(tmp_path, "clean.json", report(OPERATOR))
    )
    page.get_by_role("button", name="Upload report").click()
    expect(page.get_by_test_id("scan-blockers")).to_have_count(0)
    _log_out(page)
    login(platform_admin.username, PASSWORD)
    page.goto("/approvals/")
    page.get_by_test_id("approval-row").get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("approval-row")).to_contain_text("Listing approved")
    _log_out(page)

    login(buyer.username, PASSWORD)
    page.goto(f"/market/{scanned_version.asset.code}/")
    market = page.get_by_test_id("market-image-scans")
    expect(market.locator(f'[data-reference="{OPERATOR}"]')).to_contain_text("CRITICAL 0")
    expect(market.get_by_test_id("not-scanned")).to_have_count(3)
    expect(
        page.get_by_role("heading", name=re.compile("Image security scan results"))
    ).to_be_visible()

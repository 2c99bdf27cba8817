"""LISTING_MAX_SEVERITY: no listing while an image has a finding above it; admins see the
scans in the queue and on the request, the provider sees why on the version card."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals import services
from assets import scans
from assets.models import AssetVersion
from core.errors import error_code
from tests.assets.scan_fixtures import MEMCACHED, OPERATOR, raw, report, seed_channels

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanned_draft(ready_asset, make_catalog, make_version):
    catalog = make_catalog(ready_asset.tenant, channels=seed_channels())
    version = make_version(ready_asset, catalog=catalog)
    owner = ready_asset.tenant.owner
    scans.upload_report(actor=owner, version=version, raw=raw(report(OPERATOR, "CRITICAL", "LOW")))
    scans.upload_report(actor=owner, version=version, raw=raw(report(MEMCACHED, "HIGH")))
    return version


def test_a_finding_above_the_limit_blocks_approval(scanned_draft, submit, admin, settings):
    settings.LISTING_MAX_SEVERITY = "HIGH"
    approval = submit(scanned_draft)
    with pytest.raises(ValidationError) as refused:
        services.approve_request(actor=admin, approval=approval)
    assert error_code(refused.value) == "scan_above_max_severity"
    assert OPERATOR in str(refused.value) and "1 CRITICAL" in str(refused.value)
    scanned_draft.refresh_from_db()
    approval.refresh_from_db()
    assert scanned_draft.status == AssetVersion.Status.LISTING_REVIEW and approval.is_pending


def test_findings_at_the_limit_do_not_block(scanned_draft, submit, admin, settings):
    settings.LISTING_MAX_SEVERITY = "CRITICAL"
    services.approve_request(actor=admin, approval=submit(scanned_draft))
    scanned_draft.refresh_from_db()
    assert scanned_draft.status == AssetVersion.Status.ON_SALE


def test_the_gate_is_off_by_default(scanned_draft, submit, admin, settings):
    assert settings.LISTING_MAX_SEVERITY == ""
    services.approve_request(actor=admin, approval=submit(scanned_draft))
    scanned_draft.refresh_from_db()
    assert scanned_draft.status == AssetVersion.Status.ON_SALE


def test_a_new_clean_scan_lifts_the_block(scanned_draft, submit, admin, settings):
    settings.LISTING_MAX_SEVERITY = "HIGH"
    approval = submit(scanned_draft)
    scans.upload_report(
        actor=scanned_draft.asset.tenant.owner, version=scanned_draft, raw=raw(report(OPERATOR))
    )
    services.approve_request(actor=admin, approval=approval)
    scanned_draft.refresh_from_db()
    assert scanned_draft.status == AssetVersion.Status.ON_SALE


def test_queue_request_and_card_show_scans_and_the_reason(
    scanned_draft, submit, admin_client, client, settings
):
    settings.LISTING_MAX_SEVERITY = "HIGH"
    approval = submit(scanned_draft)
    queue = admin_client.get("/approvals/").content.decode()
    assert "Scan result" in queue and "CRITICAL 1" in queue and "Blocks listing" in queue
    detail = admin_client.get(f"/approvals/{approval.pk}/").content.decode()
    assert 'data-testid="review-image-scans"' in detail and "has findings above HIGH" in detail
    refused = admin_client.post(f"/approvals/{approval.pk}/approve/", follow=True)
    assert "cannot be approved" in refused.content.decode()
    client.force_login(scanned_draft.asset.tenant.owner)
    card = client.get(f"/provider/assets/{scanned_draft.asset.code}/").content.decode()
    assert "will not approve listing this version" in card and OPERATOR in card


def test_the_storefront_shows_the_table_and_public_findings(
    scanned_draft, submit, admin, client, make_user
):
    services.approve_request(actor=admin, approval=submit(scanned_draft))
    buyer = make_user("a-buyer")
    client.force_login(buyer)
    page = client.get(f"/market/{scanned_draft.asset.code}/").content.decode()
    assert 'data-testid="market-image-scans"' in page
    assert "CRITICAL 1" in page and "Not scanned" in page  # mcrouter and the catalog image
    image = scanned_draft.images.get(reference=OPERATOR)
    findings = client.get(f"/market/{scanned_draft.asset.code}/images/{image.pk}/").content.decode()
    assert "CVE-2023-1000" in findings and "3.1.4-r1" in findings


def test_the_queue_query_count_does_not_grow_with_scanned_requests(
    ready_asset, make_catalog, make_version, submit, admin_client, django_assert_max_num_queries
):
    catalog = make_catalog(ready_asset.tenant, channels=seed_channels())
    owner = ready_asset.tenant.owner

    def scanned():
        version = make_version(ready_asset, catalog=catalog)
        scans.upload_report(actor=owner, version=version, raw=raw(report(OPERATOR, "HIGH")))
        submit(version)

    scanned()
    with django_assert_max_num_queries(20) as few:
        admin_client.get("/approvals/")
    for _ in range(4):
        scanned()
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get("/approvals/")


def test_the_table_headers_in_chinese(scanned_draft, client):
    client.force_login(scanned_draft.asset.tenant.owner)
    url = f"/provider/assets/{scanned_draft.asset.code}/versions/{scanned_draft.pk}/scans/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for header in ["资产镜像安全扫描结果", "镜像名称", "镜像id", "类型", "扫描结果", "未扫描"]:
        assert header in page


def test_admins_read_the_findings_of_a_version_in_review_others_do_not(
    scanned_draft, submit, admin_client, client, make_user
):
    submit(scanned_draft)
    image = scanned_draft.images.get(reference=OPERATOR)
    url = f"/market/{scanned_draft.asset.code}/images/{image.pk}/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "CVE-2023-1000" in page.content.decode()
    client.force_login(make_user("a-buyer"))
    assert client.get(url).status_code == 404  # not on sale yet: not public

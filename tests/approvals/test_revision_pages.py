"""Issue 16 over HTTP: the provider's pages say the edit is held; the queue shows the diff;
the API answers 202 with the pending revision."""

from decimal import Decimal

import pytest
from django.urls import reverse

from approvals.models import ApprovalRequest
from assets import services as asset_services
from assets.models import Asset, Plan
from assets.services import ASSET_FIELDS

pytestmark = pytest.mark.django_db


def _form_data(asset, **changes):
    data = {field: getattr(asset, field) for field in ASSET_FIELDS}
    data["category"] = asset.category_id
    data.update(changes)
    return data


def test_provider_edit_of_a_listed_asset_says_it_is_held(provider_client, on_sale):
    asset = on_sale.asset
    url = reverse("assets:asset-edit", args=[asset.code])
    page = provider_client.get(url).content.decode()
    assert 'data-testid="revision-policy"' in page  # told before saving
    response = provider_client.post(url, _form_data(asset, summary="Held summary"), follow=True)
    html = response.content.decode()
    assert "your changes are held for review" in html
    assert 'data-testid="revision-pending"' in html and "Changes waiting for review" in html
    assert Asset.objects.get(pk=asset.pk).summary != "Held summary"
    # Editing again starts from the held values, not the live ones.
    assert 'value="Held summary"' in provider_client.get(url).content.decode()
    # The plans tab shows the banner too, and a new plan waits there.
    response = provider_client.post(
        reverse("assets:plan-create", args=[asset.code]),
        {"name": "Trial", "price": "1.00", "duration_value": 7, "duration_unit": "day"},
        follow=True,
    )
    html = response.content.decode()
    assert "New plan: Trial" in html and not Plan.objects.filter(name="Trial").exists()


def test_withdrawing_from_the_asset_page(provider_client, on_sale, provider):
    asset = on_sale.asset
    asset_services.update_asset(actor=provider.owner, asset=asset, summary="Oops")
    approval = ApprovalRequest.objects.get(kind="revision")
    response = provider_client.post(
        reverse("approvals:approval-withdraw", args=[approval.pk]), follow=True
    )
    html = response.content.decode()
    assert "Your changes waiting for review are withdrawn." in html
    assert 'data-testid="revision-pending"' not in html
    approval.refresh_from_db()
    assert approval.status == "withdrawn"


def test_the_queue_row_and_the_detail_diff(admin_client, on_sale, provider):
    asset = on_sale.asset
    old_summary = asset.summary
    plan = Plan.objects.get(asset=asset)
    asset_services.update_asset(actor=provider.owner, asset=asset, summary="Shiny new summary")
    asset_services.update_plan(actor=provider.owner, plan=plan, price=Decimal("80"))
    asset_services.create_plan(
        actor=provider.owner,
        asset=asset,
        name="Trial",
        price=Decimal("0"),
        duration_value=7,
        duration_unit="day",
    )
    approval = ApprovalRequest.objects.get(kind="revision")
    queue = admin_client.get(reverse("approvals:approvals")).content.decode()
    assert "Listing changes pending review" in queue and "Page and plans" in queue
    detail = admin_client.get(reverse("approvals:approval-detail", args=[approval.pk]))
    html = detail.content.decode()
    assert 'data-testid="review-revision"' in html and 'data-testid="review-version"' not in html
    assert 'data-field="summary"' in html and old_summary in html and "Shiny new summary" in html
    assert "100¥/年 · 100.00 T / 1 year" in html and "100¥/年 · 80.00 T / 1 year" in html
    assert "Trial · Free / 7 days" in html
    response = admin_client.post(
        reverse("approvals:approval-approve", args=[approval.pk]),
        {"next": reverse("approvals:approval-detail", args=[approval.pk])},
    )
    assert response.status_code in (200, 302)
    live = Asset.objects.get(pk=asset.pk)
    assert live.summary == "Shiny new summary" and live.min_price == Decimal("0.00")


def test_zh_hans_banner(provider_client, on_sale, provider):
    asset_services.update_asset(actor=provider.owner, asset=on_sale.asset, summary="x")
    html = provider_client.get(
        reverse("assets:asset-info", args=[on_sale.asset.code]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "变更待审核" in html


def test_api_patch_of_a_listed_asset_is_202_with_the_revision(provider_api, on_sale):
    asset = on_sale.asset
    # An empty PATCH holds nothing: 200 with the live asset.
    assert provider_api.patch(f"/api/v1/assets/{asset.pk}/", {}, format="json").status_code == 200
    response = provider_api.patch(
        f"/api/v1/assets/{asset.pk}/", {"summary": "API summary"}, format="json"
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    approval = ApprovalRequest.objects.get(kind="revision")
    assert body["status"] == "pending" and body["fields"] == {"summary": "API summary"}
    assert body["asset"] == asset.pk and body["approval_request"] == approval.pk
    review = provider_api.get(f"/api/v1/approval-requests/{approval.pk}/").json()
    assert (review["kind"], review["revision"], review["version"]) == ("revision", body["id"], None)
    live = provider_api.get(f"/api/v1/assets/{asset.pk}/").json()
    assert live["summary"] != "API summary"
    # A bad value is still a 400, held or not.
    bad = provider_api.patch(f"/api/v1/assets/{asset.pk}/", {"name": ""}, format="json")
    assert bad.status_code == 400


def test_api_plans_on_a_listed_asset_are_202(provider_api, on_sale):
    asset = on_sale.asset
    plan = Plan.objects.get(asset=asset)
    created = provider_api.post(
        "/api/v1/plans/",
        {
            "asset": asset.pk,
            "name": "Trial",
            "price": "5.00",
            "duration_value": 7,
            "duration_unit": "day",
        },
        format="json",
    )
    assert created.status_code == 202, created.json()
    changed = provider_api.patch(f"/api/v1/plans/{plan.pk}/", {"price": "90.00"}, format="json")
    assert changed.status_code == 202, changed.json()
    assert changed.json()["id"] == created.json()["id"]
    assert [entry["name"] for entry in changed.json()["plans"]] == ["Trial", plan.name]
    plan.refresh_from_db()
    assert plan.price == Decimal("100.00")
    assert not Plan.objects.filter(name="Trial").exists()


def test_api_storefront_shows_live_values_until_approved(admin_api, on_sale, provider, admin):
    from approvals import services

    asset = on_sale.asset
    asset_services.update_asset(actor=provider.owner, asset=asset, summary="Later")
    response = admin_api.get(f"/api/v1/storefront/{asset.code}/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["summary"] != "Later"
    services.approve_request(actor=admin, approval=ApprovalRequest.objects.get(kind="revision"))
    assert admin_api.get(f"/api/v1/storefront/{asset.code}/").json()["summary"] == "Later"

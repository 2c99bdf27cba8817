"""Held screenshot and plan moves over HTTP: the provider's tabs mark them, the storefront
keeps the live page, the admin's request lists them, the API answers 202 with the revision."""

from decimal import Decimal

import pytest
from django.urls import reverse

from approvals import services
from approvals.models import ApprovalRequest
from assets import services as asset_services
from assets.models import Asset, AssetRevision, Plan, Screenshot
from tests.assets.factories import PLAN_100, image_upload

pytestmark = pytest.mark.django_db

OLD = {**PLAN_100, "name": "Old", "price": Decimal("50.00")}


@pytest.fixture
def listed(provider, make_asset, make_version, submit, admin):
    """mem1 on sale with one screenshot, the 100 T plan and an archived 50 T plan "Old"."""
    asset = make_asset(provider, plans=[PLAN_100, OLD], screenshots=[image_upload(264, 146)])
    asset_services.archive_plan(actor=provider.owner, plan=Plan.objects.get(name="Old"))
    version = make_version(asset)
    services.approve_request(actor=admin, approval=submit(version))
    return Asset.objects.get(pk=asset.pk)


def _html(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _storefront(client, asset, tab):
    return _html(
        client.get(reverse("storefront:storefront-asset", args=[asset.code]), {"tab": tab})
    )


def test_a_held_screenshot_shows_on_the_provider_page_not_the_storefront(provider_client, listed):
    response = provider_client.post(
        reverse("assets:screenshot-add", args=[listed.code]),
        {"image": image_upload(300, 150)},
        follow=True,
    )
    html = _html(response)
    assert "your changes are held for review" in html
    revision = AssetRevision.objects.get(status="pending")
    [entry] = revision.screenshots
    assert 'data-testid="screenshot-held-new"' in html and entry["image"] in html
    assert "New screenshot" in html and "Waiting for review" in html  # banner and the tile
    assert "(2/2)" in html and "screenshot-add" not in html.split('data-testid="screenshots"')[1]
    assert entry["image"] not in _storefront(provider_client, listed, "screenshots")
    # Removing the held one takes it back: nothing left, the revision is withdrawn.
    response = provider_client.post(
        reverse("assets:screenshot-undo", args=[listed.code, entry["key"]]), follow=True
    )
    html = _html(response)
    assert 'data-testid="screenshot-held-new"' not in html
    assert AssetRevision.objects.get(pk=revision.pk).status == "withdrawn"


def test_a_held_removal_is_marked_and_the_storefront_keeps_the_screenshot(provider_client, listed):
    shot = Screenshot.objects.get(asset=listed)
    url = reverse("assets:screenshot-delete", args=[listed.code, shot.pk])
    assert "approves its removal" in _html(provider_client.get(url))
    html = _html(provider_client.post(url, follow=True))
    assert "your changes are held for review" in html
    assert 'data-testid="screenshot-held-removal"' in html and "Removal waits for review" in html
    assert "Screenshot to remove" in html  # the banner's list
    assert shot.image.name in _storefront(provider_client, listed, "screenshots")


def test_held_plan_moves_are_marked_on_the_plans_tab(provider_client, listed):
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    old = Plan.objects.get(asset=listed, name="Old")
    provider_client.post(reverse("assets:plan-archive", args=[listed.code, plan.pk]))
    response = provider_client.post(
        reverse("assets:plan-restore", args=[listed.code, old.pk]), follow=True
    )
    html = _html(response)
    assert "your changes are held for review" in html
    assert 'data-testid="plan-held-archive"' in html and "Archiving waits for review" in html
    assert 'data-testid="plan-held-restore"' in html and "Back on sale after review" in html
    assert "Plan archived: 100¥/年" in html and "Plan back on sale: Old" in html
    storefront = _storefront(provider_client, listed, "plans")
    assert "100¥/年" in storefront and "Old" not in storefront
    # Keep on sale / keep archived take the moves back.
    provider_client.post(reverse("assets:plan-restore", args=[listed.code, plan.pk]))
    provider_client.post(reverse("assets:plan-archive", args=[listed.code, old.pk]))
    assert not AssetRevision.objects.filter(status="pending").exists()


def test_held_deletion_on_the_plans_tab(provider_client, listed):
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    response = provider_client.post(
        reverse("assets:plan-delete", args=[listed.code, plan.pk]), follow=True
    )
    html = _html(response)
    assert 'data-testid="plan-held-delete"' in html and "Deletion waits for review" in html
    assert Plan.objects.filter(pk=plan.pk).exists()


def test_the_admin_sees_the_held_moves_on_the_request(admin_client, listed, provider):
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    old = Plan.objects.get(asset=listed, name="Old")
    shot = Screenshot.objects.get(asset=listed)
    asset_services.archive_plan(actor=provider.owner, plan=plan)
    asset_services.delete_plan(actor=provider.owner, plan=old)
    asset_services.remove_screenshot(actor=provider.owner, screenshot=shot)
    held = asset_services.add_screenshot(
        actor=provider.owner, asset=listed, image=image_upload(300, 150)
    )
    approval = ApprovalRequest.objects.get(kind="revision", status="pending")
    html = _html(admin_client.get(reverse("approvals:approval-detail", args=[approval.pk])))
    panel = html.split('data-testid="review-revision"')[1].split('data-testid="review-asset"')[0]
    assert 'data-action="archive"' in panel and "Plan archived" in panel and "100¥/年" in panel
    assert 'data-action="delete"' in panel and "Plan deleted" in panel and "Old · 50.00 T" in panel
    assert 'data-action="add"' in panel and held.screenshots[1]["image"] in panel
    assert 'data-action="remove"' in panel and shot.image.name in panel
    assert "Screenshots added or removed" in panel


def test_zh_hans(provider_client, listed, provider):
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    asset_services.archive_plan(actor=provider.owner, plan=plan)
    asset_services.add_screenshot(actor=provider.owner, asset=listed, image=image_upload(300, 150))
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    plans = _html(provider_client.get(reverse("assets:asset-plans", args=[listed.code]), **zh))
    assert "归档待审核" in plans and "Archiving waits for review" not in plans
    info = _html(provider_client.get(reverse("assets:asset-info", args=[listed.code]), **zh))
    assert "新截图" in info and "New screenshot" not in info


# --- the API -------------------------------------------------------------------------------


def test_api_screenshot_changes_on_a_listed_asset_are_202(provider_api, listed):
    shot = Screenshot.objects.get(asset=listed)
    added = provider_api.post(
        "/api/v1/screenshots/", {"asset": listed.pk, "image": image_upload(300, 150)}
    )
    assert added.status_code == 202, added.json()
    body = added.json()
    approval = ApprovalRequest.objects.get(kind="revision", status="pending")
    assert body["approval_request"] == approval.pk
    [entry] = body["screenshots"]
    assert entry["action"] == "add"
    removed = provider_api.delete(f"/api/v1/screenshots/{shot.pk}/")
    assert removed.status_code == 202, removed.content
    assert [e["action"] for e in removed.json()["screenshots"]] == ["add", "remove"]
    live = provider_api.get(f"/api/v1/storefront/{listed.code}/").json()["screenshots"]
    assert [s["id"] for s in live] == [shot.pk]
    assert [
        s["id"] for s in provider_api.get(f"/api/v1/assets/{listed.pk}/").json()["screenshots"]
    ] == [shot.pk]
    undo = f"/api/v1/assets/{listed.pk}/held-screenshots/{entry['key']}/undo/"
    assert provider_api.post(undo).status_code == 202
    assert provider_api.post(undo).status_code == 404  # already taken back
    remove_key = removed.json()["screenshots"][1]["key"]
    last = provider_api.post(f"/api/v1/assets/{listed.pk}/held-screenshots/{remove_key}/undo/")
    assert last.status_code == 204  # nothing left: withdrawn
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "withdrawn"


def test_api_plan_moves_on_a_listed_asset_are_202(provider_api, listed, admin):
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    old = Plan.objects.get(asset=listed, name="Old")
    archived = provider_api.post(f"/api/v1/plans/{plan.pk}/archive/")
    assert archived.status_code == 202, archived.json()
    assert archived.json()["plan_actions"] == [{"plan": plan.pk, "action": "archive"}]
    restored = provider_api.post(f"/api/v1/plans/{old.pk}/restore/")
    assert restored.status_code == 202, restored.json()
    deleted = provider_api.delete(f"/api/v1/plans/{old.pk}/")
    assert deleted.status_code == 202, deleted.content
    assert deleted.json()["plan_actions"][1] == {"plan": old.pk, "action": "delete"}
    storefront = provider_api.get(f"/api/v1/storefront/{listed.code}/").json()
    assert [p["name"] for p in storefront["plans"]] == [PLAN_100["name"]]
    assert provider_api.get(f"/api/v1/plans/{plan.pk}/").json()["is_archived"] is False
    # Taking the archive back: the revision still holds the deletion.
    back = provider_api.post(f"/api/v1/plans/{plan.pk}/restore/")
    assert back.status_code == 202 and len(back.json()["plan_actions"]) == 1
    services.approve_request(
        actor=admin, approval=ApprovalRequest.objects.get(kind="revision", status="pending")
    )
    assert not Plan.objects.filter(pk=old.pk).exists()
    # Nothing held any more: restoring a plan on sale answers 200 with the plan.
    same = provider_api.post(f"/api/v1/plans/{plan.pk}/restore/")
    assert same.status_code == 200 and same.json()["id"] == plan.pk


def test_api_on_an_asset_not_on_sale_applies_at_once(provider_api, draft):
    asset = draft.asset
    shot = Screenshot.objects.get(asset=asset)
    plan = Plan.objects.get(asset=asset)
    assert provider_api.delete(f"/api/v1/screenshots/{shot.pk}/").status_code == 204
    archived = provider_api.post(f"/api/v1/plans/{plan.pk}/archive/")
    assert archived.status_code == 200 and archived.json()["is_archived"] is True
    assert provider_api.delete(f"/api/v1/plans/{plan.pk}/").status_code == 204
    assert not Screenshot.objects.filter(asset=asset).exists()
    assert not AssetRevision.objects.exists()

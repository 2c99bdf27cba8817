"""Screenshots added or removed and plans archived, restored or deleted on a listed asset
wait in its pending revision like every other edit: buyers keep the live page until an
admin approves (applied at once) or rejects (discarded, a held new file removed). An asset
nobody can buy yet still changes at once."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from approvals import services
from approvals.models import ApprovalRequest
from assets import services as asset_services
from assets.models import Asset, AssetRevision, Plan, Screenshot
from assets.storefront.selectors import plans_on_sale, screenshots_of
from core.errors import NotFound
from tests.assets.factories import PLAN_100, image_upload

R = ApprovalRequest.Status
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


def _request(asset):
    return ApprovalRequest.objects.get(asset=asset, kind="revision", status=R.PENDING)


def _approve(asset, admin):
    services.approve_request(actor=admin, approval=_request(asset))


def _reject(asset, admin):
    services.reject_request(actor=admin, approval=_request(asset), reason="Not this one")


def _live_shots(asset):
    return list(screenshots_of(asset).values_list("image", flat=True))


def _on_sale(asset):
    return sorted(plans_on_sale(asset).values_list("name", flat=True))


# --- screenshots ---------------------------------------------------------------------------


def test_a_screenshot_added_to_a_listed_asset_waits_for_approval(
    listed, provider, admin, django_capture_on_commit_callbacks
):
    before = _live_shots(listed)
    held = asset_services.add_screenshot(
        actor=provider.owner, asset=listed, image=image_upload(300, 150)
    )
    assert isinstance(held, AssetRevision) and held.is_pending
    [entry] = held.screenshots
    assert entry["action"] == "add" and (entry["width"], entry["height"]) == (300, 150)
    assert default_storage.exists(entry["image"])  # stored, but not shown
    assert _live_shots(listed) == before
    assert _request(listed).revision_id == held.pk
    with django_capture_on_commit_callbacks(execute=True):
        _approve(listed, admin)
    assert _live_shots(listed) == [*before, entry["image"]]
    assert Screenshot.objects.get(image=entry["image"]).position == 1
    assert default_storage.exists(entry["image"])


def test_rejecting_a_held_screenshot_deletes_its_file(
    listed, provider, admin, django_capture_on_commit_callbacks
):
    before = _live_shots(listed)
    held = asset_services.add_screenshot(
        actor=provider.owner, asset=listed, image=image_upload(300, 150)
    )
    name = held.screenshots[0]["image"]
    with django_capture_on_commit_callbacks(execute=True):
        _reject(listed, admin)
    assert _live_shots(listed) == before
    assert not default_storage.exists(name)
    assert AssetRevision.objects.get(pk=held.pk).status == AssetRevision.Status.REJECTED


def test_a_removed_screenshot_stays_on_the_storefront_until_approved(
    listed, provider, admin, django_capture_on_commit_callbacks
):
    shot = Screenshot.objects.get(asset=listed)
    held = asset_services.remove_screenshot(actor=provider.owner, screenshot=shot)
    assert isinstance(held, AssetRevision)
    assert [(e["action"], e["screenshot"]) for e in held.screenshots] == [("remove", shot.pk)]
    assert _live_shots(listed) == [shot.image.name]
    # Asking again records nothing more.
    again = asset_services.remove_screenshot(actor=provider.owner, screenshot=shot)
    assert again.pk == held.pk and len(again.screenshots) == 1
    with django_capture_on_commit_callbacks(execute=True):
        _approve(listed, admin)
    assert _live_shots(listed) == []
    assert not default_storage.exists(shot.image.name)


def test_rejecting_a_held_removal_keeps_the_screenshot(listed, provider, admin):
    shot = Screenshot.objects.get(asset=listed)
    asset_services.remove_screenshot(actor=provider.owner, screenshot=shot)
    _reject(listed, admin)
    assert _live_shots(listed) == [shot.image.name]


def test_replacing_a_screenshot_counts_the_held_changes(listed, provider, admin):
    shot = Screenshot.objects.get(asset=listed)
    asset_services.add_screenshot(actor=provider.owner, asset=listed, image=image_upload(300, 150))
    with pytest.raises(ValidationError) as caught:  # 1 live + 1 held = the two allowed
        asset_services.add_screenshot(
            actor=provider.owner, asset=listed, image=image_upload(300, 150)
        )
    assert "at most 2 screenshots" in caught.value.message_dict["image"][0]
    asset_services.remove_screenshot(actor=provider.owner, screenshot=shot)
    held = asset_services.add_screenshot(
        actor=provider.owner, asset=listed, image=image_upload(310, 150)
    )
    assert [e["action"] for e in held.screenshots] == ["add", "remove", "add"]
    _approve(listed, admin)
    assert sorted(screenshots_of(listed).values_list("width", flat=True)) == [300, 310]
    assert sorted(screenshots_of(listed).values_list("position", flat=True)) == [0, 1]


def test_taking_back_held_screenshot_changes_withdraws_an_empty_revision(
    listed, provider, django_capture_on_commit_callbacks
):
    shot = Screenshot.objects.get(asset=listed)
    held = asset_services.add_screenshot(
        actor=provider.owner, asset=listed, image=image_upload(300, 150)
    )
    held = asset_services.remove_screenshot(actor=provider.owner, screenshot=shot)
    added, removal = held.screenshots
    with django_capture_on_commit_callbacks(execute=True):
        left = asset_services.undo_screenshot_change(
            actor=provider.owner, asset=listed, key=added["key"]
        )
    assert not default_storage.exists(added["image"])  # never shown: the file goes
    assert [e["action"] for e in left.screenshots] == ["remove"]
    assert _request(listed).status == R.PENDING
    # Keeping the screenshot leaves nothing to review: withdrawn, as any emptied revision.
    assert (
        asset_services.undo_screenshot_change(
            actor=provider.owner, asset=listed, key=removal["key"]
        )
        is None
    )
    assert AssetRevision.objects.get(pk=held.pk).status == AssetRevision.Status.WITHDRAWN
    assert ApprovalRequest.objects.get(revision=held).status == R.WITHDRAWN
    assert _live_shots(listed) == [shot.image.name]
    with pytest.raises(NotFound):
        asset_services.undo_screenshot_change(
            actor=provider.owner, asset=listed, key=removal["key"]
        )


# --- plans -----------------------------------------------------------------------------------


def test_archiving_a_plan_of_a_listed_asset_waits_for_approval(listed, provider, admin):
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    held = asset_services.archive_plan(actor=provider.owner, plan=plan)
    assert isinstance(held, AssetRevision)
    assert held.plan_actions == [{"plan": plan.pk, "action": "archive"}]
    assert _on_sale(listed) == [PLAN_100["name"]]
    assert Asset.objects.get(pk=listed.pk).min_price == Decimal("100.00")
    _approve(listed, admin)
    plan.refresh_from_db()
    assert plan.is_archived and plan.archived_at is not None
    assert _on_sale(listed) == [] and Asset.objects.get(pk=listed.pk).min_price is None


def test_restoring_a_plan_of_a_listed_asset_waits_for_approval(listed, provider, admin):
    old = Plan.objects.get(asset=listed, name="Old")
    held = asset_services.restore_plan(actor=provider.owner, plan=old)
    assert held.plan_actions == [{"plan": old.pk, "action": "restore"}]
    assert _on_sale(listed) == [PLAN_100["name"]]
    _approve(listed, admin)
    old.refresh_from_db()
    assert not old.is_archived and old.archived_at is None
    assert _on_sale(listed) == sorted([PLAN_100["name"], "Old"])
    assert Asset.objects.get(pk=listed.pk).min_price == Decimal("50.00")


def test_deleting_a_plan_of_a_listed_asset_waits_for_approval(listed, provider, admin):
    old = Plan.objects.get(asset=listed, name="Old")
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    asset_services.update_plan(actor=provider.owner, plan=plan, price=Decimal("90"))
    held = asset_services.delete_plan(actor=provider.owner, plan=plan)
    # The deletion takes the plan's held edit with it.
    assert held.plans == [] and held.plan_actions == [{"plan": plan.pk, "action": "delete"}]
    held = asset_services.delete_plan(actor=provider.owner, plan=old)
    assert [m["action"] for m in held.plan_actions] == ["delete", "delete"]
    assert Plan.objects.filter(asset=listed).count() == 2
    assert _on_sale(listed) == [PLAN_100["name"]]
    _approve(listed, admin)
    assert not Plan.objects.filter(asset=listed).exists()


def test_rejecting_keeps_every_plan_as_it_is(listed, provider, admin):
    old = Plan.objects.get(asset=listed, name="Old")
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    asset_services.archive_plan(actor=provider.owner, plan=plan)
    asset_services.restore_plan(actor=provider.owner, plan=old)
    asset_services.delete_plan(actor=provider.owner, plan=old)  # the last move of a plan wins
    assert _request(listed).revision.plan_actions == [
        {"plan": plan.pk, "action": "archive"},
        {"plan": old.pk, "action": "delete"},
    ]
    _reject(listed, admin)
    assert _on_sale(listed) == [PLAN_100["name"]]
    assert Plan.objects.get(pk=old.pk).is_archived


def test_moving_a_plan_back_drops_the_held_move(listed, provider):
    plan = Plan.objects.get(asset=listed, name=PLAN_100["name"])
    held = asset_services.archive_plan(actor=provider.owner, plan=plan)
    assert isinstance(asset_services.restore_plan(actor=provider.owner, plan=plan), Plan)
    assert AssetRevision.objects.get(pk=held.pk).status == AssetRevision.Status.WITHDRAWN
    assert ApprovalRequest.objects.get(revision=held).status == R.WITHDRAWN
    # Restoring a plan that is on sale holds nothing.
    assert isinstance(asset_services.restore_plan(actor=provider.owner, plan=plan), Plan)
    assert not AssetRevision.objects.filter(status="pending").exists()


def test_a_held_restore_must_not_clash_with_a_held_plan_name(listed, provider):
    asset_services.create_plan(actor=provider.owner, asset=listed, **{**PLAN_100, "name": "Old"})
    with pytest.raises(ValidationError) as caught:
        asset_services.restore_plan(
            actor=provider.owner, plan=Plan.objects.get(asset=listed, name="Old")
        )
    assert "already have a plan called “Old”" in caught.value.message_dict["name"][0]


# --- not on sale: at once ----------------------------------------------------------------------


def test_an_asset_not_on_sale_changes_at_once(draft, provider):
    asset = draft.asset
    shot = asset_services.add_screenshot(
        actor=provider.owner, asset=asset, image=image_upload(300, 150)
    )
    assert isinstance(shot, Screenshot) and len(_live_shots(asset)) == 2
    assert asset_services.remove_screenshot(actor=provider.owner, screenshot=shot) is None
    assert len(_live_shots(asset)) == 1
    plan = Plan.objects.get(asset=asset)
    assert asset_services.archive_plan(actor=provider.owner, plan=plan).is_archived
    assert not asset_services.restore_plan(actor=provider.owner, plan=plan).is_archived
    assert asset_services.delete_plan(actor=provider.owner, plan=plan) is None
    assert not Plan.objects.filter(asset=asset).exists()
    assert not AssetRevision.objects.exists()
    assert not ApprovalRequest.objects.filter(kind="revision").exists()

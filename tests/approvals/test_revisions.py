"""Issue 16: a listed asset's public page and plans change only through review.

Edits of an asset with a version on sale are held as its pending AssetRevision and an
ApprovalRequest of kind "revision"; the storefront keeps the live values until an admin
approves (applied at once, storefront keys recomputed) or rejects (provider told why).
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEntry, Notification
from approvals import services
from approvals.models import ApprovalRequest
from assets import services as asset_services
from assets.models import Asset, AssetRevision, Plan
from assets.storefront.selectors import listed_assets
from tests.assets.factories import image_upload

R = ApprovalRequest.Status
pytestmark = pytest.mark.django_db


def _live(asset):
    return Asset.objects.get(pk=asset.pk)


def _request(asset):
    return ApprovalRequest.objects.get(asset=asset, kind="revision", status=R.PENDING)


def test_editing_a_listed_asset_holds_the_changes_and_queues_a_review(on_sale, provider, admin):
    asset = on_sale.asset
    before = _live(asset)
    result = asset_services.update_asset(
        actor=provider.owner, asset=asset, summary="A new summary", description="New **text**"
    )
    assert isinstance(result, AssetRevision) and result.is_pending
    assert result.fields == {"summary": "A new summary", "description": "New **text**"}
    live = _live(asset)
    assert (live.summary, live.description) == (before.summary, before.description)
    assert live.updated_at == before.updated_at
    shelf = listed_assets().get(pk=asset.pk)
    assert shelf.summary == before.summary
    approval = _request(asset)
    assert approval.revision_id == result.pk and approval.version_id is None
    assert approval.status_display == "Listing changes pending review"
    note = Notification.objects.get(user=admin, title__contains="public page")
    assert (
        note.title == "zs-olm asks to change the public page of mem1"
        or str(approval.pk) in note.url
    )


def test_a_second_edit_updates_the_same_pending_revision(on_sale, provider):
    asset = on_sale.asset
    first = asset_services.update_asset(actor=provider.owner, asset=asset, summary="One")
    second = asset_services.update_asset(actor=provider.owner, asset=asset, name="mem1 pro")
    assert first.pk == second.pk
    assert second.fields == {"summary": "One", "name": "mem1 pro"}
    assert ApprovalRequest.objects.filter(asset=asset, kind="revision").count() == 1
    # Setting a field back to its live value drops it; dropping every change withdraws.
    third = asset_services.update_asset(
        actor=provider.owner, asset=asset, summary=_live(asset).summary, name="mem1"
    )
    assert isinstance(third, Asset)  # nothing left to review: the live asset
    assert AssetRevision.objects.get(pk=first.pk).status == AssetRevision.Status.WITHDRAWN
    assert ApprovalRequest.objects.get(asset=asset, kind="revision").status == R.WITHDRAWN


def test_an_edit_that_changes_nothing_holds_nothing(on_sale, provider):
    asset = on_sale.asset
    assert isinstance(asset_services.update_asset(actor=provider.owner, asset=asset), Asset)
    plan = Plan.objects.get(asset=asset)
    same = asset_services.update_plan(actor=provider.owner, plan=plan, price=plan.price)
    assert isinstance(same, Plan)
    assert not AssetRevision.objects.exists()
    assert not ApprovalRequest.objects.filter(kind="revision").exists()


def test_held_changes_are_validated_like_a_direct_edit(on_sale, provider):
    with pytest.raises(ValidationError) as caught:
        asset_services.update_asset(actor=provider.owner, asset=on_sale.asset, name="")
    assert "name" in caught.value.message_dict
    assert not AssetRevision.objects.exists()


def test_approving_applies_fields_icon_and_plans_and_refreshes_min_price(on_sale, provider, admin):
    asset = on_sale.asset
    assert _live(asset).min_price == Decimal("100.00")
    old_plan = Plan.objects.get(asset=asset)
    asset_services.update_asset(
        actor=provider.owner, asset=asset, summary="Cheaper now", icon=image_upload(96, 96)
    )
    held = asset_services.create_plan(
        actor=provider.owner,
        asset=asset,
        name="Trial",
        price=Decimal("9.90"),
        duration_value=30,
        duration_unit="day",
    )
    asset_services.update_plan(actor=provider.owner, plan=old_plan, price=Decimal("80"))
    assert isinstance(held, AssetRevision)
    # Nothing live yet: no new plan, the old price, the old cheapest price.
    assert list(Plan.objects.filter(asset=asset).values_list("name", "price")) == [
        (old_plan.name, Decimal("100.00"))
    ]
    assert _live(asset).min_price == Decimal("100.00")
    old_icon = _live(asset).icon.name

    approval = services.approve_request(actor=admin, approval=_request(asset))
    assert approval.status == R.APPROVED
    live = _live(asset)
    assert live.summary == "Cheaper now"
    assert live.icon.name != old_icon and live.icon.name == held.icon.name
    assert live.min_price == Decimal("9.90")
    prices = dict(Plan.objects.filter(asset=asset).values_list("name", "price"))
    assert prices == {old_plan.name: Decimal("80.00"), "Trial": Decimal("9.90")}
    revision = AssetRevision.objects.get(pk=held.pk)
    assert revision.status == AssetRevision.Status.APPLIED
    assert AuditEntry.objects.filter(action="asset.revision_applied", actor=admin).exists()
    provider_note = Notification.objects.filter(user=provider.owner).latest("id")
    assert "approved" in provider_note.title
    # The next edit opens a new revision.
    again = asset_services.update_asset(actor=provider.owner, asset=asset, summary="Again")
    assert again.pk != held.pk


def test_rejecting_keeps_the_live_page_and_tells_the_provider_why(on_sale, provider, admin):
    asset = on_sale.asset
    before = _live(asset)
    asset_services.update_asset(actor=provider.owner, asset=asset, summary="Misleading")
    asset_services.create_plan(
        actor=provider.owner,
        asset=asset,
        name="Free",
        price=Decimal("0"),
        duration_value=1,
        duration_unit="year",
    )
    approval = _request(asset)
    Notification.objects.all().delete()
    services.reject_request(actor=admin, approval=approval, reason="The summary overclaims")
    live = _live(asset)
    assert live.summary == before.summary and live.min_price == Decimal("100.00")
    assert Plan.objects.filter(asset=asset).count() == 1
    revision = AssetRevision.objects.get(asset=asset)
    assert revision.status == AssetRevision.Status.REJECTED
    assert revision.decision_reason == "The summary overclaims"
    note = Notification.objects.get(user=provider.owner)
    assert "rejected" in note.title and note.body == "Reason: The summary overclaims"


def test_the_provider_can_withdraw_a_pending_revision(on_sale, provider):
    asset = on_sale.asset
    asset_services.update_asset(actor=provider.owner, asset=asset, summary="Oops")
    approval = services.withdraw_request(actor=provider.owner, approval=_request(asset))
    assert approval.status == R.WITHDRAWN
    assert AssetRevision.objects.get(asset=asset).status == AssetRevision.Status.WITHDRAWN
    assert _live(asset).summary != "Oops"


def test_an_asset_not_on_sale_is_edited_directly(draft, provider):
    asset = draft.asset  # its version is a draft: buyers cannot see it
    result = asset_services.update_asset(actor=provider.owner, asset=asset, summary="Direct")
    assert isinstance(result, Asset) and _live(asset).summary == "Direct"
    plan = asset_services.create_plan(
        actor=provider.owner,
        asset=asset,
        name="Cheap",
        price=Decimal("1"),
        duration_value=1,
        duration_unit="year",
    )
    assert isinstance(plan, Plan) and _live(asset).min_price == Decimal("1.00")
    assert not AssetRevision.objects.exists()
    assert not ApprovalRequest.objects.filter(kind="revision").exists()


def test_a_held_plan_name_must_not_clash(on_sale, provider):
    asset = on_sale.asset
    existing = Plan.objects.get(asset=asset)
    with pytest.raises(ValidationError):
        asset_services.create_plan(
            actor=provider.owner,
            asset=asset,
            name=existing.name,
            price=Decimal("1"),
            duration_value=1,
            duration_unit="year",
        )
    asset_services.create_plan(
        actor=provider.owner,
        asset=asset,
        name="Trial",
        price=Decimal("1"),
        duration_value=1,
        duration_unit="year",
    )
    with pytest.raises(ValidationError):
        asset_services.create_plan(
            actor=provider.owner,
            asset=asset,
            name="trial",
            price=Decimal("2"),
            duration_value=1,
            duration_unit="year",
        )


def test_a_revision_cannot_be_asked_for_through_submit(on_sale, provider):
    with pytest.raises(ValidationError):
        services.submit_request(actor=provider.owner, version=on_sale, kind="revision")


def test_an_admin_of_the_asking_tenant_cannot_decide_a_revision(on_sale, provider):
    from accounts import services as account_services
    from core.errors import NotPermitted

    asset_services.update_asset(actor=provider.owner, asset=on_sale.asset, summary="Mine")
    account_services.grant_platform_admin(user=provider.owner)
    with pytest.raises(NotPermitted):
        services.approve_request(actor=provider.owner, approval=_request(on_sale.asset))

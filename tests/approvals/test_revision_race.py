"""A provider editing held changes while an admin decides them: no deadlock, one order.

The decision locks the asset's pending requests, then the asset; the held edit takes the
same order (assets.services._lock_reviews), so the edit waits for the decision instead of
holding the asset while the decision waits for it.
"""

import time

import pytest
from django.core.exceptions import ValidationError

from approvals import services
from approvals.models import ApprovalRequest
from assets import services as asset_services
from assets.models import Asset, AssetRevision
from tests.concurrency import run_together


@pytest.mark.postgres
def test_an_edit_during_a_decision_waits_for_it(
    transactional_db, on_sale, provider, admin, monkeypatch
):
    asset = on_sale.asset
    asset_services.update_asset(actor=provider.owner, asset=asset, summary="Held")
    approval = ApprovalRequest.objects.get(kind="revision")
    real_decide, real_pending = services._decide_revision, asset_services._pending_revision

    def slow_decide(**kwargs):
        time.sleep(0.3)  # holding the request's lock, before taking the asset's
        return real_decide(**kwargs)

    def slow_pending(**kwargs):
        time.sleep(0.3)  # holding the asset's lock (without the fix), then the request's
        return real_pending(**kwargs)

    monkeypatch.setattr(services, "_decide_revision", slow_decide)
    monkeypatch.setattr(asset_services, "_pending_revision", slow_pending)
    summary = Asset.objects.get(pk=asset.pk).summary
    results = run_together(
        {
            "approve": lambda: services.approve_request(actor=admin, approval=approval),
            "revert": lambda: asset_services.update_asset(
                actor=provider.owner, asset=asset, summary=summary
            ),
        }
    )
    assert not isinstance(results["revert"], Exception), results  # never a deadlock
    if isinstance(results["approve"], Exception):  # the revert won: a clear refusal
        assert isinstance(results["approve"], ValidationError), results
        assert "already withdrawn" in results["approve"].messages[0]
    approval.refresh_from_db()
    live = Asset.objects.get(pk=asset.pk)
    if approval.status == "approved":
        # The decision went first: "Held" is live, the revert is a new pending revision.
        assert live.summary == "Held"
        assert AssetRevision.objects.get(status="pending").fields == {"summary": summary}
    else:
        # The revert went first: nothing left to review, the request withdrawn.
        assert approval.status == "withdrawn" and live.summary == summary


@pytest.mark.postgres
def test_taking_back_a_held_plan_move_during_a_decision_waits_for_it(
    transactional_db, on_sale, provider, admin, monkeypatch
):
    """The plan and screenshot moves take the same lock order as the held edits."""
    from assets.models import Plan

    plan = Plan.objects.get(asset=on_sale.asset)
    asset_services.archive_plan(actor=provider.owner, plan=plan)
    approval = ApprovalRequest.objects.get(kind="revision")
    real_decide, real_pending = services._decide_revision, asset_services._pending_revision

    def slow_decide(**kwargs):
        time.sleep(0.3)  # holding the request's lock, before taking the asset's
        return real_decide(**kwargs)

    def slow_pending(**kwargs):
        time.sleep(0.3)  # holding the asset's lock (out of order), then the request's
        return real_pending(**kwargs)

    monkeypatch.setattr(services, "_decide_revision", slow_decide)
    monkeypatch.setattr(asset_services, "_pending_revision", slow_pending)
    results = run_together(
        {
            "approve": lambda: services.approve_request(actor=admin, approval=approval),
            "keep": lambda: asset_services.restore_plan(actor=provider.owner, plan=plan),
        }
    )
    assert not isinstance(results["keep"], Exception), results  # never a deadlock
    approval.refresh_from_db()
    plan.refresh_from_db()
    if approval.status == "approved":
        # The decision went first: archived, and keeping it on sale is a new held restore.
        assert plan.is_archived
        assert AssetRevision.objects.get(status="pending").plan_actions == [
            {"plan": plan.pk, "action": "restore"}
        ]
    else:
        assert isinstance(results["approve"], ValidationError), results
        assert approval.status == "withdrawn" and not plan.is_archived

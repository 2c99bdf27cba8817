"""seed_demo_approvals: the seed's 上架待审核 row, once."""

from approvals.demo import DEMO_REASON, seed_demo_approvals
from approvals.models import ApprovalRequest


def test_nothing_to_submit_without_a_draft_version(db):
    assert seed_demo_approvals() is None
    assert not ApprovalRequest.objects.exists()


def test_a_draft_is_submitted_for_listing_once(draft, provider):
    approval = seed_demo_approvals(version=draft)
    assert approval.status == "pending" and approval.reason == DEMO_REASON
    assert approval.requested_by == provider.owner
    assert seed_demo_approvals(version=draft) is None
    assert seed_demo_approvals() is None  # finds zs-olm's mem1, no longer a draft
    assert ApprovalRequest.objects.count() == 1


def test_an_asset_that_is_not_ready_is_left_alone(provider, make_asset, make_version):
    version = make_version(make_asset(provider))  # no plan, no screenshot
    assert seed_demo_approvals() is None
    version.refresh_from_db()
    assert version.status == "draft"

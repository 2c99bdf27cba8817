"""Two admins deciding the same request at the same moment: one decision, one clear error."""

import time

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEntry
from approvals import services
from approvals.models import ApprovalRequest
from assets.models import AssetVersion
from tests.concurrency import run_together


@pytest.mark.postgres
def test_two_admins_deciding_at_once_give_one_decision(
    transactional_db, draft, submit, admin, second_admin, monkeypatch
):
    approval = submit(draft)
    real_transition = services.transition_version

    def slow_transition(**kwargs):
        # Whoever holds the request's row lock keeps it a while, so the other admin
        # certainly arrives while the first decision is still being written.
        time.sleep(0.3)
        return real_transition(**kwargs)

    monkeypatch.setattr(services, "transition_version", slow_transition)
    results = run_together(
        {
            "approve": lambda: services.approve_request(actor=admin, approval=approval),
            "reject": lambda: services.reject_request(
                actor=second_admin, approval=approval, reason="Blurry icon"
            ),
        }
    )

    decided = [r for r in results.values() if isinstance(r, ApprovalRequest)]
    errors = [r for r in results.values() if isinstance(r, Exception)]
    assert len(decided) == 1 and len(errors) == 1, results
    error, winner = errors[0], decided[0]
    assert isinstance(error, ValidationError), repr(error)
    assert error.messages[0].startswith(
        f"This request was already decided by {winner.decided_by} at "
    )
    assert error.messages[0].endswith(f"({winner.status}).")

    final = ApprovalRequest.objects.get()
    assert (final.status, final.decided_by_id) == (winner.status, winner.decided_by_id)
    draft.refresh_from_db()
    expected = AssetVersion.Status.ON_SALE if final.status == "approved" else "draft"
    assert draft.status == expected
    assert (
        AuditEntry.objects.filter(action__in=["approval.approved", "approval.rejected"]).count()
        == 1
    )

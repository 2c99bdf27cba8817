"""The version lifecycle of DESIGN.md, kept in assets.lifecycle for the approvals issue."""

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from accounts.models import AuditEntry
from assets.errors import AssetsErrorCode
from assets.lifecycle import (
    ALLOWED,
    WITHDRAW,
    allowed_targets,
    lifecycle_steps,
    transition_version,
)
from assets.models import AssetVersion
from core.errors import error_code

S = AssetVersion.Status


def test_the_transition_table_is_exactly_design_md():
    assert set(ALLOWED) == {
        (S.DRAFT, S.LISTING_REVIEW),
        (S.LISTING_REVIEW, S.ON_SALE),
        (S.LISTING_REVIEW, S.DRAFT),
        (S.ON_SALE, S.DELISTING_REVIEW),
        (S.DELISTING_REVIEW, S.DELISTED),
        (S.DELISTING_REVIEW, S.ON_SALE),
        # The provider withdraws a pending request (approvals): same moves, own audit action.
        (S.LISTING_REVIEW, S.DRAFT, WITHDRAW),
        (S.DELISTING_REVIEW, S.ON_SALE, WITHDRAW),
    }
    assert allowed_targets(S.DELISTED) == []
    assert allowed_targets(S.LISTING_REVIEW) == [S.ON_SALE, S.DRAFT]


def test_the_whole_way_with_timestamps_and_audit(provider, make_asset, make_version):
    version = make_version(make_asset(provider))
    actor = provider.owner
    for to, stamp in [
        (S.LISTING_REVIEW, "submitted_at"),
        (S.ON_SALE, "listed_at"),
        (S.DELISTING_REVIEW, "delisting_requested_at"),
        (S.DELISTED, "delisted_at"),
    ]:
        version = transition_version(version=version, to=to, actor=actor)
        assert version.status == to and getattr(version, stamp) is not None
    entries = AuditEntry.objects.filter(
        object_id=str(version.pk), action__startswith="version."
    ).order_by("id")
    assert [(e.from_state, e.to_state) for e in entries][1:] == [
        ("draft", "listing_review"),
        ("listing_review", "on_sale"),
        ("on_sale", "delisting_review"),
        ("delisting_review", "delisted"),
    ]


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (S.DRAFT, S.ON_SALE),
        (S.DRAFT, S.DELISTED),
        (S.ON_SALE, S.DRAFT),
        (S.DELISTED, S.ON_SALE),
        (S.DELISTED, S.DRAFT),
        (S.DRAFT, S.DRAFT),
    ],
)
def test_other_moves_are_refused_clearly(provider, make_asset, make_version, start, to):
    version = make_version(make_asset(provider))
    AssetVersion.objects.filter(pk=version.pk).update(status=start)
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        transition_version(version=version, to=to, actor=provider.owner)
    message = caught.value.message_dict["status"][0]
    assert message == f"A version cannot go from “{S(start).label}” to “{S(to).label}”."
    assert error_code(caught.value) == AssetsErrorCode.INVALID_TRANSITION  # the code survives
    assert AssetVersion.objects.get(pk=version.pk).status == start


def test_a_rejection_keeps_the_reason_and_undoes_the_step(provider, make_asset, make_version):
    version = make_version(make_asset(provider))
    version = transition_version(version=version, to=S.LISTING_REVIEW, actor=provider.owner)
    version = transition_version(
        version=version, to=S.DRAFT, actor=provider.owner, reason="Icon is blurry"
    )
    assert version.status == S.DRAFT and version.submitted_at is None
    assert version.review_reason == "Icon is blurry" and version.approval_display == "Rejected"
    entry = AuditEntry.objects.get(action="version.listing_rejected")
    assert entry.reason == "Icon is blurry"


def test_listing_a_newer_version_supersedes_the_one_on_sale(provider, make_asset, make_version):
    asset = make_asset(provider)
    old, new = make_version(asset), make_version(asset)
    for version in (old,):
        version = transition_version(version=version, to=S.LISTING_REVIEW, actor=None)
        transition_version(version=version, to=S.ON_SALE, actor=None)
    new = transition_version(version=new, to=S.LISTING_REVIEW, actor=None)
    new = transition_version(version=new, to=S.ON_SALE, actor=None)
    old.refresh_from_db()
    assert new.status == S.ON_SALE and old.status == S.DELISTED and old.delisted_at
    assert AuditEntry.objects.get(action="version.superseded").object_id == str(old.pk)


def test_lifecycle_bar_says_what_happened_when(provider, make_asset, make_version):
    with time_machine.travel(timezone.now() - timezone.timedelta(minutes=9), tick=False):
        version = make_version(make_asset(provider))
    steps = lifecycle_steps(version)
    assert [s["state"] for s in steps] == ["current", "todo", "todo", "todo", "todo"]
    assert steps[0]["at"] == version.created_at and steps[1]["at"] is None
    assert str(steps[1]["hint"]) == "(1–2 working days)"
    version = transition_version(version=version, to=S.LISTING_REVIEW, actor=None)
    version = transition_version(version=version, to=S.ON_SALE, actor=None)
    steps = lifecycle_steps(version)
    assert [s["state"] for s in steps] == ["done", "done", "current", "todo", "todo"]
    assert all(s["at"] for s in steps[:3])

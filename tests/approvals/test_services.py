"""Every transition of the review flow, and every refusal, at the service layer."""

import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from accounts import services as account_services
from accounts.models import AuditEntry, Membership, Notification
from approvals import services
from approvals.models import ApprovalRequest
from assets.models import AssetVersion, Screenshot
from core.errors import NotPermitted, error_code

S = AssetVersion.Status
R = ApprovalRequest.Status


def _message(exc_info):
    return " ".join(exc_info.value.messages)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


# --- submitting ---------------------------------------------------------------------------


def test_apply_for_listing_opens_a_pending_request(draft, submit, provider):
    approval = submit(draft, reason="First release")
    draft.refresh_from_db()
    assert draft.status == S.LISTING_REVIEW and draft.submitted_at is not None
    assert approval.status == R.PENDING and approval.kind == "listing"
    assert (approval.version, approval.version_number) == (draft, draft.version)
    assert (approval.tenant, approval.requested_by) == (provider, provider.owner)
    assert approval.reason == "First release" and approval.asset == draft.asset
    assert approval.status_display == "Listing pending review"
    entry = AuditEntry.objects.get(action="version.listing_requested")
    assert (entry.actor, entry.from_state, entry.to_state, entry.reason) == (
        provider.owner,
        "draft",
        "listing_review",
        "First release",
    )
    assert AuditEntry.objects.filter(action="approval.listing_requested").count() == 1


def test_listing_is_refused_until_the_checklist_is_complete(
    provider, make_asset, make_version, submit
):
    version = make_version(make_asset(provider))  # no plan, no screenshot
    with pytest.raises(ValidationError) as caught:
        submit(version)
    assert _message(caught) == (
        "mem1 is not ready for listing yet: At least one plan on sale; At least one screenshot."
    )
    assert error_code(caught.value) == "not_ready"
    version.refresh_from_db()
    assert version.status == S.DRAFT and not ApprovalRequest.objects.exists()


def test_only_members_of_the_provider_may_ask(draft, submit, other_provider, admin):
    for outsider in (other_provider.owner, admin):
        with pytest.raises(PermissionDenied, match="Only members of zs-olm") as caught:
            submit(draft, actor=outsider)
        assert isinstance(caught.value, NotPermitted) and caught.value.code == "not_a_member"
    assert not ApprovalRequest.objects.exists()


def test_a_version_cannot_be_submitted_twice_or_from_the_wrong_state(draft, submit, on_sale):
    # `on_sale` is the same version, listed: it is no draft any more.
    with pytest.raises(ValidationError) as caught:
        submit(on_sale)
    assert _message(caught) == (
        "Only a draft version can be submitted for listing; version 0.0.2 is “On sale”."
    )
    assert error_code(caught.value) == "invalid_state"
    submit(on_sale, kind="delisting")
    with pytest.raises(ValidationError, match="Only a version on sale can be submitted") as caught:
        submit(on_sale, kind="delisting")
    assert error_code(caught.value) == "invalid_state"
    assert ApprovalRequest.objects.filter(status=R.PENDING).count() == 1


def test_delisting_a_draft_is_refused(draft, submit):
    with pytest.raises(ValidationError, match="version 0.0.2 is “Draft”"):
        submit(draft, kind="delisting")


# --- deciding -----------------------------------------------------------------------------


def test_approving_a_listing_puts_the_version_on_sale(draft, submit, admin):
    approval = submit(draft)
    decided = services.approve_request(actor=admin, approval=approval, reason="Looks good")
    draft.refresh_from_db()
    assert draft.status == S.ON_SALE and draft.listed_at is not None
    assert (decided.status, decided.decided_by, decided.decision_reason) == (
        R.APPROVED,
        admin,
        "Looks good",
    )
    assert decided.decided_at is not None and decided.status_display == "Listing approved"
    listed = AuditEntry.objects.get(action="version.listed")
    assert (listed.actor, listed.from_state, listed.to_state) == (
        admin,
        "listing_review",
        "on_sale",
    )
    assert AuditEntry.objects.filter(action="approval.approved", actor=admin).count() == 1


def test_approving_a_newer_version_supersedes_the_one_on_sale(
    on_sale, ready_asset, make_version, submit, admin
):
    newer = make_version(ready_asset, channels=("stable", "alpha"), default_channel="alpha")
    services.approve_request(actor=admin, approval=submit(newer))
    on_sale.refresh_from_db()
    newer.refresh_from_db()
    assert (on_sale.status, newer.status) == (S.DELISTED, S.ON_SALE)
    assert on_sale.delisted_at is not None
    assert AuditEntry.objects.get(action="version.superseded").object_id == str(on_sale.pk)


def test_superseding_closes_the_pending_delisting_of_the_old_version(
    on_sale, ready_asset, make_version, submit, admin
):
    delisting = submit(on_sale, kind="delisting")
    newer = make_version(ready_asset, channels=("alpha",), default_channel="alpha")
    services.approve_request(actor=admin, approval=submit(newer))
    delisting.refresh_from_db()
    on_sale.refresh_from_db()
    assert on_sale.status == S.DELISTED
    assert delisting.status == R.APPROVED and delisting.decided_by == admin
    assert delisting.decision_reason == "Superseded when version 0.1.0 was listed."
    assert not ApprovalRequest.objects.filter(status=R.PENDING).exists()


def test_rejecting_a_listing_sends_the_version_back_with_the_reason(draft, submit, admin):
    approval = submit(draft)
    decided = services.reject_request(actor=admin, approval=approval, reason="  Icon is blurry ")
    draft.refresh_from_db()
    assert draft.status == S.DRAFT and draft.submitted_at is None
    assert draft.review_reason == "Icon is blurry"
    assert (decided.status, decided.decision_reason) == (R.REJECTED, "Icon is blurry")
    entry = AuditEntry.objects.get(action="version.listing_rejected")
    assert (entry.actor, entry.reason) == (admin, "Icon is blurry")
    # Fixed, the provider may ask again: a new request, the old one stays as history.
    again = submit(draft)
    assert again.pk != approval.pk and again.status == R.PENDING


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_rejecting_needs_a_reason(draft, submit, admin, reason):
    approval = submit(draft)
    with pytest.raises(ValidationError) as caught:
        services.reject_request(actor=admin, approval=approval, reason=reason)
    assert caught.value.message_dict == {
        "reason": ["Give a reason: the provider reads it to fix the version."]
    }
    assert error_code(caught.value) == "reason_required"
    approval.refresh_from_db()
    draft.refresh_from_db()
    assert approval.status == R.PENDING and draft.status == S.LISTING_REVIEW


def test_approving_a_delisting_delists_the_version(on_sale, submit, admin):
    approval = submit(on_sale, kind="delisting", reason="End of life")
    on_sale.refresh_from_db()
    assert on_sale.status == S.DELISTING_REVIEW and on_sale.delisting_requested_at
    assert approval.status_display == "Delisting pending review"
    services.approve_request(actor=admin, approval=approval)
    on_sale.refresh_from_db()
    assert on_sale.status == S.DELISTED and on_sale.delisted_at is not None


def test_rejecting_a_delisting_keeps_the_version_on_sale(on_sale, submit, admin):
    approval = submit(on_sale, kind="delisting")
    services.reject_request(actor=admin, approval=approval, reason="Buyers depend on it")
    on_sale.refresh_from_db()
    assert on_sale.status == S.ON_SALE and on_sale.delisting_requested_at is None
    assert on_sale.review_reason == "Buyers depend on it"


def test_a_request_is_decided_once(draft, submit, admin, second_admin):
    approval = submit(draft)
    services.approve_request(actor=admin, approval=approval)
    decided_at = timezone.localtime(ApprovalRequest.objects.get().decided_at)
    expected = (
        f"This request was already decided by {admin} at {decided_at:%Y-%m-%d %H:%M:%S} (approved)."
    )
    for decide in (
        lambda: services.approve_request(actor=second_admin, approval=approval),
        lambda: services.reject_request(actor=second_admin, approval=approval, reason="No"),
    ):
        with pytest.raises(ValidationError) as caught:
            decide()
        assert _message(caught) == expected
        assert error_code(caught.value) == "already_decided"
    assert ApprovalRequest.objects.get().decided_by == admin


def test_only_platform_admins_decide(draft, submit, provider, other_provider):
    approval = submit(draft)
    for user in (provider.owner, other_provider.owner):
        with pytest.raises(PermissionDenied, match="Only platform administrators") as caught:
            services.approve_request(actor=user, approval=approval)
        assert error_code(caught.value) == "not_platform_admin"
        with pytest.raises(PermissionDenied, match="Only platform administrators") as caught:
            services.reject_request(actor=user, approval=approval, reason="no")
        assert error_code(caught.value) == "not_platform_admin"
    approval.refresh_from_db()
    assert approval.status == R.PENDING


def test_an_admin_cannot_decide_for_their_own_tenant(draft, submit, admin, provider):
    account_services.add_member(actor=provider.owner, tenant=provider, user=admin)
    approval = submit(draft)
    with pytest.raises(PermissionDenied) as caught:
        services.approve_request(actor=admin, approval=approval)
    assert str(caught.value) == (
        "You are a member of zs-olm, which asked for this: another platform administrator "
        "must decide it."
    )
    assert isinstance(caught.value, NotPermitted) and caught.value.code == "self_approval"
    with pytest.raises(PermissionDenied, match="You are a member of zs-olm"):
        services.reject_request(actor=admin, approval=approval, reason="mine")
    approval.refresh_from_db()
    assert approval.status == R.PENDING


# --- withdrawing --------------------------------------------------------------------------


def test_withdrawing_a_listing_request_returns_the_version_to_draft(draft, submit, provider):
    approval = submit(draft)
    withdrawn = services.withdraw_request(actor=provider.owner, approval=approval)
    draft.refresh_from_db()
    assert draft.status == S.DRAFT and draft.submitted_at is None and draft.review_reason == ""
    assert withdrawn.status == R.WITHDRAWN and withdrawn.withdrawn_at is not None
    assert withdrawn.decided_by is None
    entry = AuditEntry.objects.get(action="version.listing_withdrawn")
    assert (entry.from_state, entry.to_state) == ("listing_review", "draft")
    assert AuditEntry.objects.filter(action="approval.withdrawn").count() == 1


def test_withdrawing_a_delisting_request_keeps_the_version_on_sale(on_sale, submit, provider):
    approval = submit(on_sale, kind="delisting")
    services.withdraw_request(actor=provider.owner, approval=approval)
    on_sale.refresh_from_db()
    assert on_sale.status == S.ON_SALE and on_sale.delisting_requested_at is None
    assert AuditEntry.objects.filter(action="version.delisting_withdrawn").count() == 1


def test_withdrawing_after_a_decision_is_refused(draft, submit, admin, provider):
    approval = submit(draft)
    services.reject_request(actor=admin, approval=approval, reason="Blurry icon")
    with pytest.raises(
        ValidationError, match=f"already decided by {admin} at .* \\(rejected\\)"
    ) as caught:
        services.withdraw_request(actor=provider.owner, approval=approval)
    assert error_code(caught.value) == "already_decided"


def test_deciding_a_withdrawn_request_is_refused(draft, submit, admin, provider):
    approval = submit(draft)
    services.withdraw_request(actor=provider.owner, approval=approval)
    with pytest.raises(ValidationError) as caught:
        services.approve_request(actor=admin, approval=approval)
    assert re.fullmatch(
        r"This request was already withdrawn by the provider at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.",
        _message(caught),
    )
    assert error_code(caught.value) == "already_withdrawn"
    draft.refresh_from_db()
    assert draft.status == S.DRAFT


def test_only_members_may_withdraw(draft, submit, other_provider, admin):
    approval = submit(draft)
    for outsider in (other_provider.owner, admin):
        with pytest.raises(PermissionDenied) as caught:
            services.withdraw_request(actor=outsider, approval=approval)
        assert error_code(caught.value) == "not_a_member"


# --- the database keeps the rules too -------------------------------------------------------


def test_a_second_pending_request_is_a_clear_error(draft, submit):
    """Should the status check ever pass, the database still holds one pending request."""
    submit(draft)
    AssetVersion.objects.filter(pk=draft.pk).update(status=S.DRAFT)
    with pytest.raises(ValidationError) as caught:
        submit(draft)
    assert _message(caught) == "This version already has a pending request."
    assert error_code(caught.value) == "duplicate"
    assert ApprovalRequest.objects.filter(status=R.PENDING).count() == 1


def test_one_pending_request_per_version_is_a_database_rule(draft, submit):
    approval = submit(draft)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.create(
            kind="listing",
            asset=approval.asset,
            version=draft,
            version_number="x",
            tenant=approval.tenant,
        )


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "maybe"},
        {"kind": "relisting"},
        {"status": "rejected", "decided_at": timezone.now(), "decision_reason": ""},
        {"status": "approved", "decided_at": None},
        {"status": "withdrawn", "withdrawn_at": None},
    ],
)
def test_status_and_decision_checks_are_database_rules(draft, submit, changes):
    approval = submit(draft)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.filter(pk=approval.pk).update(**changes)


def test_a_deleted_draft_leaves_its_history(draft, submit, admin, provider):
    from assets import services as asset_services

    approval = submit(draft)
    services.reject_request(actor=admin, approval=approval, reason="no")
    draft.refresh_from_db()
    asset_services.delete_version(actor=provider.owner, version=draft)
    approval.refresh_from_db()
    assert approval.version is None and approval.version_number == "0.0.2"


# --- notifications ------------------------------------------------------------------------


@pytest.fixture
def with_emails(admin, second_admin, provider):
    for user, address in ((admin, "admin@example.com"), (provider.owner, "zs@example.com")):
        user.email = address
        user.save(update_fields=["email"])
    return admin, second_admin, provider


def test_admins_are_told_of_every_new_request(
    draft, submit, with_emails, make_user, django_capture_on_commit_callbacks
):
    admin, second_admin, provider = with_emails
    insider = make_user("insider-admin", email="insider@example.com")
    account_services.grant_platform_admin(user=insider)
    Membership.objects.create(user=insider, tenant=provider)
    make_user("bystander", email="bystander@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        approval = submit(draft, reason="First release")
    notes = Notification.objects.order_by("user__username")
    # Everyone who may decide; not the admin of the asking tenant, nor the provider.
    assert [n.user for n in notes] == [admin, second_admin]
    note = notes[0]
    assert note.title == "zs-olm asks to list mem1 0.0.2"
    assert note.body == "Reason: First release"
    assert note.url == f"/approvals/{approval.pk}/" and note.read_at is None
    assert sorted(m.to[0] for m in mail.outbox) == [
        "admin@example.com",
        "second-admin@example.com",
    ]
    assert all(len(m.to) == 1 for m in mail.outbox)
    assert mail.outbox[0].subject == "zs-olm asks to list mem1 0.0.2"
    assert f"/approvals/{approval.pk}/" in mail.outbox[0].body


def test_the_provider_is_told_of_every_decision(
    draft, submit, with_emails, make_user, django_capture_on_commit_callbacks
):
    admin, _second, provider = with_emails
    member = make_user("zs-dev", email="dev@example.com")
    account_services.add_member(actor=provider.owner, tenant=provider, user=member)
    approval = submit(draft, actor=member)
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_request(actor=admin, approval=approval, reason="Blurry icon")
    notes = Notification.objects.order_by("user__username")
    # The applicant and the tenant's owners.
    assert [n.user for n in notes] == [member, provider.owner]
    assert notes[0].title == "Listing of mem1 0.0.2 was rejected"
    assert notes[0].body == "Reason: Blurry icon"
    assert notes[0].url == f"/provider/assets/{draft.asset.code}/#version-{draft.pk}"
    assert sorted(m.to[0] for m in mail.outbox) == ["dev@example.com", "zs@example.com"]

    approval = submit(draft)
    Notification.objects.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(actor=admin, approval=approval)
    assert {n.title for n in Notification.objects.all()} == {"mem1 0.0.2 is approved and on sale"}
    assert [m.to for m in mail.outbox] == [["zs@example.com"]]  # the owner asked this time


def test_delisting_decisions_are_told_too(on_sale, submit, admin, provider):
    Notification.objects.all().delete()
    services.reject_request(
        actor=admin, approval=submit(on_sale, kind="delisting"), reason="Buyers need it"
    )
    services.approve_request(actor=admin, approval=submit(on_sale, kind="delisting"))
    titles = list(
        Notification.objects.filter(user=provider.owner).order_by("id").values_list("title")
    )
    assert titles == [
        ("Delisting of mem1 0.0.2 was rejected: it stays on sale",),
        ("mem1 0.0.2 is delisted",),
    ]


def test_a_refused_change_tells_nobody(
    draft, submit, with_emails, django_capture_on_commit_callbacks
):
    admin, _second, provider = with_emails
    approval = submit(draft)
    Notification.objects.all().delete()
    services.approve_request(actor=admin, approval=approval)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        services.reject_request(actor=admin, approval=approval, reason="late")
    assert not Notification.objects.filter(title__contains="rejected").exists()
    assert mail.outbox == []


def test_a_mail_outage_is_logged_not_raised(
    draft, submit, with_emails, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from django.core.mail.backends.locmem import EmailBackend

    def broken(self, messages):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(EmailBackend, "send_messages", broken)
    with django_capture_on_commit_callbacks(execute=True):
        submit(draft)
    assert Notification.objects.count() == 2
    assert "could not e-mail 2 notifications" in caplog.text


def test_no_screenshot_means_no_listing(ready_asset, make_version, submit):
    Screenshot.objects.filter(asset=ready_asset).delete()
    with pytest.raises(ValidationError, match="At least one screenshot"):
        submit(make_version(ready_asset))


def test_an_unknown_kind_is_a_field_error(draft, submit):
    with pytest.raises(ValidationError) as caught:
        submit(draft, kind="relisting")
    assert caught.value.message_dict == {"kind": ["Ask for listing or for delisting."]}
    assert error_code(caught.value) == "unknown_kind"

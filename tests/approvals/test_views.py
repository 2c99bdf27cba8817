"""The queue (审批), its htmx decisions, the detail page and the version card."""

import re

from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from approvals import services
from approvals.models import ApprovalRequest
from assets.models import AssetVersion
from core import pagination

HTMX = {"HTTP_HX_REQUEST": "true"}


def _rows(html):
    return re.findall(r'<tr id="approval-\d+".*?</tr>', html, flags=re.S)


# --- the queue ------------------------------------------------------------------------------


def test_the_queue_replaces_coming_soon_and_is_for_admins(admin_client, provider):
    assert reverse("approvals:approvals") == "/approvals/"
    home = admin_client.get(reverse("home")).content.decode()
    assert 'href="/approvals/"' in home
    response = admin_client.get("/approvals/")
    html = response.content.decode()
    assert response.status_code == 200 and "Coming soon" not in html
    assert 'data-testid="approvals-empty"' in html
    provider_client = Client()
    provider_client.force_login(provider.owner)
    response = provider_client.get("/approvals/")
    assert response.status_code == 403
    assert "Only platform administrators review listing requests." in response.content.decode()


def test_the_queue_shows_the_seed_columns(admin_client, draft, submit, provider):
    submit(draft, reason="First release")
    html = admin_client.get("/approvals/").content.decode()
    for header in [
        "Status",
        "Applicant",
        "Asset name",
        "Asset version",
        "Asset type",
        "Asset users",
        "Reason for the request",
        "Requested at",
        "Reviewer",
        "Actions",
    ]:
        assert f"<th>{header}</th>" in html
    (row,) = _rows(html)
    for text in [
        "Listing pending review",
        str(provider.owner),
        "zs-olm",
        "mem1",
        "0.0.2",
        "Operator",
        "First release",
        ">Approve<",
        ">Reject<",
    ]:
        assert text in row, text
    assert re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d<", row)
    assert 'data-testid="pending-count"' in html and "1 pending" in html


def test_the_user_count_comes_from_the_apps_above(admin_client, draft, submit, monkeypatch):
    submit(draft)
    monkeypatch.setattr(
        "approvals.selectors.buyer_tenant_counts", lambda ids: dict.fromkeys(ids, 7)
    )
    (row,) = _rows(admin_client.get("/approvals/").content.decode())
    assert "<td>7</td>" in row


def test_pending_first_then_newest_with_filters(
    admin_client, admin, ready_asset, make_version, submit, on_sale
):
    # on_sale's request is approved (oldest); then a rejected one, then two pending.
    rejected = submit(make_version(ready_asset, channels=("alpha",), default_channel="alpha"))
    services.reject_request(actor=admin, approval=rejected, reason="no")
    delisting = submit(on_sale, kind="delisting")
    listing = submit(make_version(ready_asset))
    html = admin_client.get("/approvals/").content.decode()
    ids = [int(i) for i in re.findall(r'<tr id="approval-(\d+)"', html)]
    approved = ApprovalRequest.objects.get(status="approved")
    assert ids == [listing.pk, delisting.pk, rejected.pk, approved.pk]

    html = admin_client.get("/approvals/?status=pending&kind=delisting").content.decode()
    assert re.findall(r'<tr id="approval-(\d+)"', html) == [str(delisting.pk)]
    assert ">Clear<" in html
    html = admin_client.get("/approvals/?status=withdrawn").content.decode()
    assert 'data-testid="approvals-no-match"' in html
    # A filter value that is not a choice is ignored, not an error.
    assert admin_client.get("/approvals/?status=bogus").status_code == 200


def test_the_queue_is_paginated(admin_client, ready_asset, make_version, submit, monkeypatch):
    monkeypatch.setattr(pagination, "PAGE_SIZE", 2)
    for _ in range(5):
        submit(make_version(ready_asset))
    html = admin_client.get("/approvals/?status=pending").content.decode()
    assert len(_rows(html)) == 2 and "Page 1 of 3" in html
    assert "status=pending&amp;page=2" in html
    assert len(_rows(admin_client.get("/approvals/?page=3").content.decode())) == 1


def test_queue_query_count_stays_constant(
    admin_client, ready_asset, make_version, submit, django_assert_max_num_queries
):
    for _ in range(2):
        submit(make_version(ready_asset))
    with django_assert_max_num_queries(12) as few:
        admin_client.get("/approvals/")
    for _ in range(10):
        submit(make_version(ready_asset))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(_rows(admin_client.get("/approvals/").content.decode())) == 12


# --- deciding in place (htmx) ---------------------------------------------------------------


def test_approve_in_place_re_renders_the_row(admin_client, admin, draft, submit):
    approval = submit(draft)
    queue = admin_client.get("/approvals/").content.decode()
    assert "1 pending" in queue
    # The "N pending" badge refreshes itself when a decision is made in place.
    assert 'hx-trigger="approvals-changed from:body"' in queue
    response = admin_client.post(f"/approvals/{approval.pk}/approve/", **HTMX)
    assert response["HX-Trigger"] == "approvals-changed"
    badge = admin_client.get("/approvals/?fragment=pending-count", **HTMX).content.decode()
    assert "pending" not in badge
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith(f'<tr id="approval-{approval.pk}"')
    assert "Listing approved" in html and str(admin) in html
    assert "Approved: mem1 0.0.2 is on sale." in html
    assert ">Approve<" not in html and "Details" in html
    draft.refresh_from_db()
    assert draft.status == AssetVersion.Status.ON_SALE


def test_approving_without_javascript_redirects_with_a_message(admin_client, draft, submit):
    approval = submit(draft)
    response = admin_client.post(f"/approvals/{approval.pk}/approve/", follow=True)
    assert response.redirect_chain[-1][0] == "/approvals/"
    assert "Approved: mem1 0.0.2 is on sale." in response.content.decode()


def test_reject_opens_a_required_reason_field_in_the_row(admin_client, draft, submit):
    approval = submit(draft)
    url = f"/approvals/{approval.pk}/reject/"
    html = admin_client.get(url, **HTMX).content.decode()
    assert html.startswith(f'<tr id="approval-{approval.pk}"')
    assert 'data-testid="reject-form"' in html
    assert re.search(r'<textarea name="reason"[^>]*required', html)
    assert f'hx-get="/approvals/{approval.pk}/row/"' in html  # Cancel
    # Without JavaScript the link leads to the detail page's form.
    response = admin_client.get(url)
    assert response.status_code == 302 and response.url == f"/approvals/{approval.pk}/#decide"

    html = admin_client.post(url, {"reason": "  "}, **HTMX).content.decode()
    assert 'data-field="reason"' in html
    assert "Give a reason: the provider reads it to fix the version." in html
    approval.refresh_from_db()
    assert approval.is_pending

    html = admin_client.post(url, {"reason": "Icon is blurry"}, **HTMX).content.decode()
    assert "Listing rejected" in html and "the provider has been told why" in html
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.review_reason == "Icon is blurry"

    html = admin_client.get(f"/approvals/{approval.pk}/row/", **HTMX).content.decode()
    assert "Listing rejected" in html and "reject-form" not in html


def test_rejecting_without_javascript_and_without_reason_shows_the_form_again(
    admin_client, draft, submit
):
    approval = submit(draft)
    response = admin_client.post(f"/approvals/{approval.pk}/reject/", {"reason": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="reject-form"' in html and "Give a reason" in html


def test_a_decided_request_says_who_decided_in_the_row(admin_client, second_admin, draft, submit):
    approval = submit(draft)
    services.approve_request(actor=second_admin, approval=approval)
    html = admin_client.post(
        f"/approvals/{approval.pk}/reject/", {"reason": "late"}, **HTMX
    ).content.decode()
    assert f"This request was already decided by {second_admin} at" in html
    assert "Listing approved" in html
    response = admin_client.post(f"/approvals/{approval.pk}/approve/", follow=True)
    assert "already decided by" in response.content.decode()


def test_an_admin_of_the_asking_tenant_sees_no_buttons(
    admin_client, admin, draft, submit, provider
):
    account_services.add_member(actor=provider.owner, tenant=provider, user=admin)
    approval = submit(draft)
    (row,) = _rows(admin_client.get("/approvals/").content.decode())
    assert "another administrator decides it" in row and ">Approve<" not in row
    html = admin_client.post(f"/approvals/{approval.pk}/approve/", **HTMX).content.decode()
    assert "You are a member of zs-olm" in html
    detail = admin_client.get(f"/approvals/{approval.pk}/").content.decode()
    assert 'data-testid="own-tenant"' in detail and 'data-testid="decide"' not in detail


def test_providers_cannot_decide_over_the_screens(provider_client, draft, submit):
    approval = submit(draft)
    for url in (f"/approvals/{approval.pk}/approve/", f"/approvals/{approval.pk}/reject/"):
        assert provider_client.post(url, {"reason": "x"}).status_code == 403
    approval.refresh_from_db()
    assert approval.is_pending


# --- the detail page: what is being approved --------------------------------------------------


def test_the_detail_page_shows_what_is_being_approved(admin_client, ready_asset, draft, submit):
    ready_asset.description = "# Memcached\n\nA **fast** cache.<script>alert(1)</script>"
    ready_asset.save()
    approval = submit(draft, reason="First release")
    html = admin_client.get(f"/approvals/{approval.pk}/").content.decode()
    for text in [
        "Listing pending review",
        "First release",
        ready_asset.code,
        "memcached cluster",  # summary
        "100¥/年",
        "100.00 T",
        "1 year",
        "memcached-operator",  # package
        "memcached-operator.v0.0.2",  # CSV
        "mem-01",  # catalog display name
        "memcached-registry:v1",  # catalog image
        "stable · default",
        "MemcachedCluster",
        "<h1>Memcached</h1>",
        "<strong>fast</strong>",
        'data-testid="decide"',
        "Listing requested",  # the version's timeline
    ]:
        assert text in html, text
    assert "<script>alert" not in html
    assert ready_asset.icon.url in html


def test_the_detail_of_a_deleted_version_still_renders(
    admin_client, admin, provider, draft, submit
):
    from assets import services as asset_services

    approval = submit(draft)
    services.reject_request(actor=admin, approval=approval, reason="no")
    draft.refresh_from_db()
    asset_services.delete_version(actor=provider.owner, version=draft)
    html = admin_client.get(f"/approvals/{approval.pk}/").content.decode()
    assert "This version has since been deleted" in html


# --- the provider's version card --------------------------------------------------------------


def _card(html):
    return re.search(r'<article class="panel version-card".*?</article>', html, flags=re.S).group(0)


def test_apply_for_listing_from_the_version_card(provider_client, draft):
    page = f"/provider/assets/{draft.asset.code}/"
    card = _card(provider_client.get(page).content.decode())
    assert 'data-testid="request-listing"' in card and "Apply for listing" in card
    response = provider_client.post(
        f"/approvals/versions/{draft.pk}/submit/",
        {"kind": "listing", "reason": "First release"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"{page}#version-{draft.pk}"
    html = response.content.decode()
    assert "Version 0.0.2 is submitted for listing" in html
    card = _card(html)
    assert 'data-testid="pending-request"' in card and "Listing pending review" in card
    assert "First release" in card and "Withdraw request" in card and "data-confirm" in card
    assert "Apply for listing" not in card
    assert ApprovalRequest.objects.get().reason == "First release"


def test_the_checklist_blocks_listing_with_its_messages(
    provider_client, provider, make_asset, make_version
):
    version = make_version(make_asset(provider))
    html = provider_client.get(f"/provider/assets/{version.asset.code}/").content.decode()
    assert 'data-testid="listing-blocked"' in html and "At least one screenshot" in html
    assert 'data-testid="request-listing"' not in html
    response = provider_client.post(
        f"/approvals/versions/{version.pk}/submit/", {"kind": "listing"}, follow=True
    )
    assert "mem1 is not ready for listing yet" in response.content.decode()
    assert not ApprovalRequest.objects.exists()


def test_withdraw_from_the_version_card(provider_client, draft, submit):
    approval = submit(draft)
    response = provider_client.post(f"/approvals/{approval.pk}/withdraw/", follow=True)
    html = response.content.decode()
    assert "Your request for version 0.0.2 is withdrawn." in html
    card = _card(html)
    assert "Apply for listing" in card and "Listing request withdrawn" in card  # timeline
    response = provider_client.post(f"/approvals/{approval.pk}/withdraw/", follow=True)
    assert "already withdrawn by the provider" in response.content.decode()


def test_the_card_shows_the_rejection_and_the_timeline(provider_client, admin, draft, submit):
    services.reject_request(actor=admin, approval=submit(draft), reason="Icon is blurry")
    card = _card(provider_client.get(f"/provider/assets/{draft.asset.code}/").content.decode())
    rejection = re.search(r'data-testid="last-rejection".*?</div>', card, flags=re.S).group(0)
    assert "Listing rejected" in rejection and "Icon is blurry" in rejection
    assert str(admin) in rejection
    timeline = re.search(r'data-testid="timeline".*?</ol>', card, flags=re.S).group(0)
    assert timeline.index("Version created") < timeline.index("Listing requested")
    assert "Listing review → Draft" in timeline and "Icon is blurry" in timeline
    assert "Timeline (3 events)" in card


def test_apply_for_delisting_from_an_on_sale_card(provider_client, on_sale):
    card = _card(provider_client.get(f"/provider/assets/{on_sale.asset.code}/").content.decode())
    assert 'data-testid="request-delisting"' in card and "data-confirm" in card
    response = provider_client.post(
        f"/approvals/versions/{on_sale.pk}/submit/", {"kind": "delisting"}, follow=True
    )
    assert "Delisting of version 0.0.2 is requested" in response.content.decode()
    on_sale.refresh_from_db()
    assert on_sale.status == AssetVersion.Status.DELISTING_REVIEW


def test_the_card_queries_do_not_grow_with_versions(
    provider_client, ready_asset, make_version, django_assert_max_num_queries
):
    make_version(ready_asset)
    url = f"/provider/assets/{ready_asset.code}/"
    with django_assert_max_num_queries(30) as few:
        provider_client.get(url)
    for _ in range(4):
        make_version(ready_asset)
    with django_assert_max_num_queries(len(few.captured_queries)):
        provider_client.get(url)


def test_tenant_isolation_on_the_provider_actions(client, other_provider, draft, submit):
    approval = submit(draft)
    client.force_login(other_provider.owner)
    assert (
        client.post(f"/approvals/versions/{draft.pk}/submit/", {"kind": "listing"}).status_code
        == 404
    )
    assert client.post(f"/approvals/{approval.pk}/withdraw/").status_code == 404
    assert client.get(f"/approvals/{approval.pk}/").status_code == 403
    approval.refresh_from_db()
    assert approval.is_pending


def test_anonymous_users_are_sent_to_log_in(client, db):
    response = client.get("/approvals/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")

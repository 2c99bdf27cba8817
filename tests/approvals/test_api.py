"""REST twins of the queue: submit, withdraw, list, approve, reject."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts import services as account_services
from approvals import services
from assets.models import AssetVersion


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"


def assert_error(response, status, field=None, code=None):
    """The one error body; a field error is "invalid" unless a service gave its own code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status
    if field is not None:
        assert field in body["fields"], body
        code = code or "invalid"
    if code is not None:
        assert body["code"] == code, body
    return body


def test_a_provider_submits_lists_and_withdraws(provider_api, draft, provider):
    response = provider_api.post(
        "/api/v1/approval-requests/",
        {"version": draft.pk, "kind": "listing", "reason": "First release"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "listing" and body["status"] == "pending"
    assert body["status_display"] == "Listing pending review"
    assert body["version"] == draft.pk and body["version_number"] == "0.0.2"
    assert body["asset"] == {
        "id": draft.asset_id,
        "code": draft.asset.code,
        "name": "mem1",
        "delivery_type": "operator",
    }
    assert body["tenant"] == {"id": provider.pk, "name": "zs-olm"}
    assert body["requested_by"]["username"] == provider.owner.username
    assert body["reason"] == "First release" and body["decided_by"] is None
    assert body["user_count"] == 0

    listed = provider_api.get("/api/v1/approval-requests/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]

    response = provider_api.post(f"/api/v1/approval-requests/{body['id']}/withdraw/")
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert response.json()["withdrawn_at"] is not None
    draft.refresh_from_db()
    assert draft.status == AssetVersion.Status.DRAFT


def test_submit_refusals_name_the_field(
    provider_api, other_provider, make_asset, make_version, make_catalog, draft
):
    catalog = make_catalog(other_provider, name="globex-registry")
    foreign = make_version(make_asset(other_provider), catalog=catalog)
    response = provider_api.post(
        "/api/v1/approval-requests/", {"version": foreign.pk, "kind": "listing"}, format="json"
    )
    assert_error(response, 400, "version")
    response = provider_api.post(
        "/api/v1/approval-requests/", {"version": draft.pk, "kind": "relist"}, format="json"
    )
    assert_error(response, 400, "kind")
    response = provider_api.post(
        "/api/v1/approval-requests/", {"version": draft.pk, "kind": "delisting"}, format="json"
    )
    body = assert_error(response, 400, "non_field_errors", code="invalid_state")
    assert body["detail"].startswith("Only a version on sale can be submitted for delisting")


def test_admins_approve_and_reject(admin_api, admin, draft, submit, on_sale):
    # `on_sale` is the draft, listed; now the provider asks to delist it.
    approval = submit(on_sale, kind="delisting", reason="EOL")
    response = admin_api.post(f"/api/v1/approval-requests/{approval.pk}/reject/", {}, format="json")
    body = assert_error(response, 400, "reason")
    assert body["detail"] == "reason: This field is required."
    response = admin_api.post(
        f"/api/v1/approval-requests/{approval.pk}/reject/", {"reason": "   "}, format="json"
    )
    assert_error(response, 400, "reason")
    response = admin_api.post(
        f"/api/v1/approval-requests/{approval.pk}/reject/",
        {"reason": "Buyers need it"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "rejected" and body["decision_reason"] == "Buyers need it"
    assert body["decided_by"]["username"] == admin.username and body["decided_at"]

    again = submit(on_sale, kind="delisting")
    response = admin_api.post(f"/api/v1/approval-requests/{again.pk}/approve/")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    on_sale.refresh_from_db()
    assert on_sale.status == AssetVersion.Status.DELISTED

    response = admin_api.post(f"/api/v1/approval-requests/{again.pk}/approve/")
    body = assert_error(response, 400, "non_field_errors", code="already_decided")
    assert body["detail"].startswith(f"This request was already decided by {admin} at ")


def test_providers_and_insiders_cannot_decide(
    provider_api, admin_api, admin, draft, submit, provider
):
    approval = submit(draft)
    response = provider_api.post(f"/api/v1/approval-requests/{approval.pk}/approve/")
    body = assert_error(response, 403, code="not_platform_admin")
    assert body["detail"] == "Only platform administrators may approve or reject requests."
    account_services.add_member(actor=provider.owner, tenant=provider, user=admin)
    response = admin_api.post(f"/api/v1/approval-requests/{approval.pk}/approve/")
    body = assert_error(response, 403, code="self_approval")
    assert "You are a member of zs-olm" in body["detail"]
    approval.refresh_from_db()
    assert approval.is_pending


def test_tenant_isolation(other_provider, draft, submit, admin_api):
    approval = submit(draft)
    api = APIClient()
    api.force_authenticate(other_provider.owner)
    assert api.get("/api/v1/approval-requests/").json()["count"] == 0
    for method, url in [
        ("get", f"/api/v1/approval-requests/{approval.pk}/"),
        ("post", f"/api/v1/approval-requests/{approval.pk}/withdraw/"),
        ("post", f"/api/v1/approval-requests/{approval.pk}/approve/"),
    ]:
        assert_error(getattr(api, method)(url), 404, code="not_found")
    # Admins see every tenant's requests.
    assert admin_api.get("/api/v1/approval-requests/").json()["count"] == 1


def test_filters_and_pending_first(admin_api, admin, ready_asset, make_version, submit):
    first = submit(make_version(ready_asset))
    services.reject_request(actor=admin, approval=first, reason="no")
    second = submit(make_version(ready_asset))
    results = admin_api.get("/api/v1/approval-requests/").json()["results"]
    assert [r["id"] for r in results] == [second.pk, first.pk]
    results = admin_api.get("/api/v1/approval-requests/?status=rejected").json()["results"]
    assert [r["id"] for r in results] == [first.pk]
    assert admin_api.get("/api/v1/approval-requests/?kind=delisting").json()["count"] == 0
    assert_error(admin_api.get("/api/v1/approval-requests/?status=nope"), 400, "status")


def test_list_query_count_stays_constant(
    admin_api, ready_asset, make_version, submit, django_assert_max_num_queries
):
    for _ in range(2):
        submit(make_version(ready_asset))
    # The admin's permissions (2, then cached), count, page, user counts (one for the page).
    with django_assert_max_num_queries(5) as few:
        admin_api.get("/api/v1/approval-requests/")
    for _ in range(10):
        submit(make_version(ready_asset))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_api.get("/api/v1/approval-requests/").json()["count"] == 12


def test_the_version_timeline_endpoint(provider_api, admin, draft, submit, other_provider):
    services.reject_request(actor=admin, approval=submit(draft, reason="go"), reason="blurry")
    response = provider_api.get(f"/api/v1/versions/{draft.pk}/timeline/")
    assert response.status_code == 200
    entries = response.json()
    assert [e["action"] for e in entries] == [
        "version.created",
        "version.listing_requested",
        "version.listing_rejected",
    ]
    assert entries[1]["reason"] == "go" and entries[2]["reason"] == "blurry"
    assert (entries[2]["from_state"], entries[2]["to_state"]) == ("listing_review", "draft")
    assert entries[2]["actor"] == str(admin) and entries[2]["label"] == "Listing rejected"
    api = APIClient()
    api.force_authenticate(other_provider.owner)
    assert_error(api.get(f"/api/v1/versions/{draft.pk}/timeline/"), 404)


def test_refusals_carry_their_specific_codes(
    provider_api, admin_api, provider, make_asset, make_version, draft, submit
):
    unready = make_version(make_asset(provider, name="mem2"))  # no plan, no screenshot
    response = provider_api.post(
        "/api/v1/approval-requests/", {"version": unready.pk, "kind": "listing"}, format="json"
    )
    body = assert_error(response, 400, "non_field_errors", code="not_ready")
    assert body["detail"].startswith("mem2 is not ready for listing yet")

    approval = submit(draft)
    # An admin sees the request, but only the provider's people may withdraw it.
    response = admin_api.post(f"/api/v1/approval-requests/{approval.pk}/withdraw/")
    body = assert_error(response, 403, code="not_a_member")
    assert body["detail"] == "Only members of zs-olm can do this for its assets."

    response = provider_api.post(f"/api/v1/approval-requests/{approval.pk}/withdraw/")
    assert response.status_code == 200
    response = provider_api.post(f"/api/v1/approval-requests/{approval.pk}/withdraw/")
    body = assert_error(response, 400, "non_field_errors", code="already_withdrawn")
    assert body["detail"].startswith("This request was already withdrawn by the provider at ")
    response = admin_api.post(f"/api/v1/approval-requests/{approval.pk}/approve/")
    assert_error(response, 400, "non_field_errors", code="already_withdrawn")


def test_the_schema_stays_valid(db):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")

import pytest
from rest_framework.test import APIClient

from provisioning import services, tasks
from provisioning.models import Installation
from tests.conftest import wait_until


@pytest.fixture
def installed(buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        installation = services.request_installation(
            actor=buyer.owner,
            tenant=buyer,
            project=buyer.project,
            cluster=sandbox_cluster,
            version=on_sale_version,
            approval="Manual",
        )

    def waiting():
        tasks.sync_cluster(sandbox_cluster.pk, force=True)
        installation.refresh_from_db()
        return installation.status == "requires_approval"

    wait_until(waiting, timeout=15)
    return installation


def test_list_shows_status_steps_and_polls_while_unfinished(client, buyer, installed):
    client.force_login(buyer.owner)
    html = client.get("/operators/").content.decode()
    assert "mem1" in html and installed.namespace in html
    assert "Requires approval" in html and "1 upgrade needs approval" in html
    assert 'hx-trigger="every 2s"' in html
    fragment = client.get("/operators/?fragment=rows", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.startswith('<tbody id="installation-rows"')


def test_empty_list_invites_to_the_market(client, tenant_with_owner):
    _tenant, owner = tenant_with_owner("empty")
    client.force_login(owner)
    assert "No operator is installed" in client.get("/operators/").content.decode()


def test_detail_tabs_and_approval_from_the_page(
    client, buyer, installed, django_capture_on_commit_callbacks, sandbox_cluster
):
    client.force_login(buyer.owner)
    html = client.get(f"/operators/{installed.pk}/subscription/").content.decode()
    assert installed.pending_install_plan in html and "Approve upgrade" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/operators/{installed.pk}/approve/", follow=True)
    assert "Upgrade approved" in response.content.decode()

    def done():
        tasks.sync_cluster(sandbox_cluster.pk, force=True)
        installed.refresh_from_db()
        return installed.status == "installed"

    wait_until(done, timeout=15)
    details = client.get(f"/operators/{installed.pk}/").content.decode()
    assert "Memcached" in details and "MemcachedCluster" in details
    # The CSV's description is Markdown (as published CSVs write it): rendered, not raw.
    description = details[details.index('data-testid="csv-description"') :]
    assert "<strong>sharded</strong>" in description and "<li>" in description
    assert "**sharded**" not in description
    assert "<code>&lt;name&gt;-mcrouter-service</code>" in description
    assert installed.installed_version and installed.installed_version in details
    events = client.get(f"/operators/{installed.pk}/events/").content.decode()
    assert "InstallRequested" in events and "Cluster" in events


def test_a_tab_the_page_does_not_have_is_404(client, buyer, installed):
    client.force_login(buyer.owner)
    for tab in ("details", "subscription", "events", "instances"):
        assert client.get(f"/operators/{installed.pk}/{tab}/").status_code == 200, tab
    bogus = client.get(f"/operators/{installed.pk}/bogus/")
    assert bogus.status_code == 404 and "Page not found" in bogus.content.decode()


def test_other_tenants_get_404(client, installed, tenant_with_owner):
    _tenant, stranger = tenant_with_owner("stranger")
    client.force_login(stranger)
    assert client.get(f"/operators/{installed.pk}/").status_code == 404
    assert client.post(f"/operators/{installed.pk}/retry/").status_code == 404
    api = APIClient()
    api.force_authenticate(stranger)
    assert api.get(f"/api/v1/installations/{installed.pk}/").status_code == 404
    assert api.get("/api/v1/installations/").json()["count"] == 0


def test_subscription_change_with_bad_channel_says_so(client, buyer, installed):
    client.force_login(buyer.owner)
    response = client.post(
        f"/operators/{installed.pk}/subscription/change/",
        {"channel": "nope", "approval": "Manual"},
        follow=True,
    )
    assert "Select a valid choice" in response.content.decode()
    installed.refresh_from_db()
    assert installed.channel == "stable"


def test_retry_only_when_failed(client, buyer, installed):
    client.force_login(buyer.owner)
    response = client.post(f"/operators/{installed.pk}/retry/", follow=True)
    assert "Only a failed installation can be retried." in response.content.decode()


def test_api_create_is_idempotent_and_validates(
    buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.force_authenticate(buyer.owner)
    payload = {
        "tenant": buyer.pk,
        "project": buyer.project.pk,
        "cluster": sandbox_cluster.pk,
        "version": on_sale_version.pk,
        "channel": "stable",
        "approval": "Automatic",
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/installations/", payload, HTTP_IDEMPOTENCY_KEY="abc")
        again = api.post("/api/v1/installations/", payload, HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Installation.objects.count() == 1
    bad = api.post(
        "/api/v1/installations/", {**payload, "channel": "nightly"}, HTTP_IDEMPOTENCY_KEY="x"
    )
    assert bad.status_code == 400 and "channel" in bad.json()["fields"]
    missing = api.post("/api/v1/installations/", {"tenant": buyer.pk})
    assert missing.status_code == 400 and "project" in missing.json()["fields"]


def test_api_actions(buyer, installed, django_capture_on_commit_callbacks, sandbox_cluster):
    api = APIClient()
    api.force_authenticate(buyer.owner)
    body = api.get(f"/api/v1/installations/{installed.pk}/").json()
    assert body["status"] == "requires_approval" and body["needs_approval"] is True
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/installations/{installed.pk}/approve/").status_code == 202
    bad = api.patch(
        f"/api/v1/installations/{installed.pk}/subscription/",
        {"channel": "x", "approval": "Manual"},
    )
    assert bad.status_code == 400 and "channel" in bad.json()["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        ok = api.patch(
            f"/api/v1/installations/{installed.pk}/subscription/",
            {"channel": "alpha", "approval": "Automatic"},
        )
    assert ok.status_code == 202 and ok.json()["channel"] == "alpha"
    events = api.get(f"/api/v1/installations/{installed.pk}/events/").json()
    # Newest first. Only our own steps are compared: they are written one after another,
    # while the cluster's Events carry second-precision timestamps, and the sync that the
    # change triggers may add later ones of ours (Installing, Installed) on a slow machine.
    ours = [e["reason"] for e in events if e["source"] == "platform"]
    assert ours.index("SubscriptionChanged") < ours.index("ApprovalRequested")
    assert ours.index("ApprovalRequested") < ours.index("InstallRequested")
    times = [e["occurred_at"] for e in events if e["source"] == "platform"]
    assert times == sorted(times, reverse=True)
    with django_capture_on_commit_callbacks(execute=True):
        gone = api.post(f"/api/v1/installations/{installed.pk}/uninstall/", {})
    assert gone.status_code == 202 and gone.json()["status"] == "uninstalling"
    assert api.get(f"/api/v1/installations/{installed.pk}/").json()["status"] == "uninstalled"


def test_list_queries_stay_constant(
    client, buyer, installed, django_assert_max_num_queries, on_sale_version, sandbox_cluster
):
    client.force_login(buyer.owner)
    with django_assert_max_num_queries(30) as few:
        client.get("/operators/")
    from accounts import services as account_services

    for i in range(5):
        project = account_services.create_project(
            actor=buyer.owner, tenant=buyer, name=f"q{i}", namespace=f"{installed.namespace}-q{i}"
        )
        Installation.objects.create(
            tenant=buyer,
            project=project,
            cluster=sandbox_cluster,
            asset=on_sale_version.asset,
            version=on_sale_version,
            namespace=project.namespace,
            package="memcached-cluster-operator",
            channel="stable",
            catalog_source="mem-registry",
            catalog_namespace="olm",
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/operators/")
    api = APIClient()
    api.force_authenticate(buyer.owner)
    with django_assert_max_num_queries(6):
        assert api.get("/api/v1/installations/").json()["count"] == 6


def test_uninstall_page_asks_first(client, buyer, installed, django_capture_on_commit_callbacks):
    client.force_login(buyer.owner)
    page = client.get(f"/operators/{installed.pk}/uninstall/").content.decode()
    assert "The CRDs stay" in page
    installed.refresh_from_db()
    assert installed.status == "requires_approval"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/operators/{installed.pk}/uninstall/", follow=True)
    assert "Uninstalling memcached-cluster-operator" in response.content.decode()
    installed.refresh_from_db()
    assert installed.status == "uninstalled"


def test_install_from_purchased_assets(
    client, buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
):
    client.force_login(buyer.owner)
    url = f"/operators/install/{on_sale_version.asset.code}/"
    form = client.get(url).content.decode()
    assert "stable" in form and buyer.project.namespace in form
    bad = client.post(
        url,
        {
            "project": buyer.project.pk,
            "cluster": sandbox_cluster.pk,
            "channel": "nightly",
            "approval": "Automatic",
            "request_key": "k",
        },
    )
    assert "Select a valid choice" in bad.content.decode()
    assert not Installation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "project": buyer.project.pk,
                "cluster": sandbox_cluster.pk,
                "channel": "stable",
                "approval": "Automatic",
                "request_key": "k",
            },
        )
    installation = Installation.objects.get()
    assert response.url == f"/operators/{installation.pk}/"
    assert installation.namespace == buyer.project.namespace and installation.status != "failed"


def test_an_ended_entitlement_blocks_new_installations(client, buyer, on_sale_version):
    from django.utils import timezone

    from orders.models import Entitlement

    Entitlement.objects.filter(buyer=buyer).update(
        starts_at=timezone.now() - timezone.timedelta(days=400),
        ends_at=timezone.now() - timezone.timedelta(days=1),
    )
    client.force_login(buyer.owner)
    response = client.get(f"/operators/install/{on_sale_version.asset.code}/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "no active entitlement" in html and "Renew" in html

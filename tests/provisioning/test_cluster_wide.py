"""Operators that support only AllNamespaces (cert-manager's bundle, as published): OLM
refuses them in a project's own namespace (UnsupportedOperatorGroup), so a platform admin
installs them once per cluster and projects that buy them use that installation."""

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from core.errors import error_code
from orders.models import Order
from provisioning import services
from provisioning.models import Installation
from tests.conftest import sandbox_object
from tests.provisioning.conftest import buy_now, follow

COMMUNITY = "quay.io/sandbox/community-catalog:v1"
V1ALPHA1 = "operators.coreos.com/v1alpha1"


@pytest.fixture
def cert_manager(list_operator):
    return list_operator(
        image=COMMUNITY,
        package="cert-manager",
        name="cert-manager",
        catalog=f"community-{uuid.uuid4().hex[:4]}",
        channels=("stable", "candidate"),
        provider="jetstack",
    )


def test_the_catalog_says_cert_manager_only_watches_all_namespaces(cert_manager):
    assert cert_manager.install_modes("stable") == ["AllNamespaces"]


def test_refused_before_payment_until_the_platform_runs_it_cluster_wide(
    cert_manager, shopper, sandbox_cluster, client, django_capture_on_commit_callbacks
):
    with pytest.raises(ValidationError) as refused:
        buy_now(shopper, cert_manager, sandbox_cluster, django_capture_on_commit_callbacks)
    assert error_code(refused.value) == "not_installable_in_project"
    assert "installed once per cluster by the platform" in str(refused.value)
    assert not Order.objects.filter(buyer=shopper).exists()  # nothing charged
    # The buy dialog says so before anyone clicks pay.
    client.force_login(shopper.owner)
    page = client.get(f"/orders/buy/{cert_manager.asset.code}/")
    assert page.status_code == 200
    assert 'data-testid="install-problem"' in page.content.decode()
    assert "Ask a platform admin to install it cluster-wide" in page.content.decode()


def test_platform_admin_installs_once_and_buyers_use_it(
    cert_manager,
    shopper,
    sandbox_cluster,
    sandbox,
    platform_admin,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        platform = services.install_cluster_wide(
            actor=platform_admin, cluster=sandbox_cluster, version=cert_manager, channel="stable"
        )
    assert platform.scope == "cluster" and platform.tenant is None
    assert platform.namespace == "operators"  # the cluster's global operators namespace
    subscription = sandbox_object(sandbox, V1ALPHA1, "Subscription", "operators", "cert-manager")
    assert subscription["spec"]["startingCSV"] == cert_manager.starting_csv("stable")
    # The namespace's OperatorGroup (OLM's own global-operators) watches everything.
    platform.refresh_from_db()
    assert platform.operator_group == "global-operators"
    follow(platform, {"installed"}, timeout=20)
    # A second cluster-wide install of the same package is refused.
    with pytest.raises(ValidationError) as twice:
        services.install_cluster_wide(
            actor=platform_admin, cluster=sandbox_cluster, version=cert_manager
        )
    assert error_code(twice.value) == "already_installed"

    order = buy_now(shopper, cert_manager, sandbox_cluster, django_capture_on_commit_callbacks)
    use = Installation.objects.get(order=order)
    assert use.provided_by_id == platform.pk and use.namespace == shopper.project.namespace
    assert use.status == "installed" and use.installed_csv == platform.installed_csv
    assert use.csv_info["provided_apis"]  # instances can be created from it
    # No OLM objects of its own in the project's namespace: one operator per cluster.
    ns = shopper.project.namespace
    assert sandbox_object(sandbox, V1ALPHA1, "Subscription", ns, "cert-manager") is None

    # The platform's installation cannot go while a project uses it.
    with pytest.raises(ValidationError) as used:
        services.request_uninstall(actor=platform_admin, installation=platform)
    assert error_code(used.value) == "still_used"
    # Channel and approvals are the platform's, not the buyer's.
    with pytest.raises(ValidationError) as managed:
        services.change_subscription(
            actor=shopper.owner, installation=use, channel="candidate", approval="Manual"
        )
    assert error_code(managed.value) == "managed_cluster_wide"

    # The buyer's uninstall leaves the cluster-wide operator running for the others.
    with django_capture_on_commit_callbacks(execute=True):
        services.request_uninstall(actor=shopper.owner, installation=use)
    use.refresh_from_db()
    assert use.status == "uninstalled"
    assert sandbox_object(sandbox, V1ALPHA1, "Subscription", "operators", "cert-manager")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_uninstall(actor=platform_admin, installation=platform)
    platform.refresh_from_db()
    assert platform.status == "uninstalled"
    assert sandbox_object(sandbox, V1ALPHA1, "Subscription", "operators", "cert-manager") is None


def test_a_project_use_follows_the_cluster_wide_state(
    cert_manager, shopper, sandbox_cluster, platform_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        platform = services.install_cluster_wide(
            actor=platform_admin, cluster=sandbox_cluster, version=cert_manager
        )
    # Bought while the platform's install is still under way: the use waits with it.
    platform.refresh_from_db()
    order = buy_now(shopper, cert_manager, sandbox_cluster, django_capture_on_commit_callbacks)
    use = Installation.objects.get(order=order)
    assert use.provided_by_id == platform.pk
    follow(platform, {"installed"}, timeout=20)
    use.refresh_from_db()
    assert use.status == "installed"
    assert use.events.filter(reason="ProvidedClusterWide").exists()


def test_only_platform_admins_and_only_all_namespaces_operators(
    cert_manager, on_sale_version, shopper, sandbox_cluster, platform_admin
):
    with pytest.raises(PermissionDenied):
        services.install_cluster_wide(
            actor=shopper.owner, cluster=sandbox_cluster, version=cert_manager
        )
    # memcached watches its own namespace: buyers install it into their projects.
    with pytest.raises(ValidationError) as own:
        services.install_cluster_wide(
            actor=platform_admin, cluster=sandbox_cluster, version=on_sale_version
        )
    assert error_code(own.value) == "install_mode_unsupported"
    assert not Installation.objects.filter(scope="cluster").exists()


def test_the_cluster_wide_page_and_api(
    cert_manager,
    shopper,
    sandbox_cluster,
    platform_admin,
    client,
    django_capture_on_commit_callbacks,
):
    client.force_login(shopper.owner)
    assert client.get("/operators/cluster-wide/").status_code == 403
    api = client.post(
        "/api/v1/installations/cluster-wide/",
        {"cluster": sandbox_cluster.pk, "version": cert_manager.pk},
        content_type="application/json",
    )
    assert api.status_code == 403
    client.force_login(platform_admin)
    page = client.get("/operators/cluster-wide/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="cluster-wide-form"' in body and "cert-manager" in body
    # The page's form: a channel the version lacks is named on its field, nothing made.
    refused = client.post(
        "/operators/cluster-wide/",
        {"version": cert_manager.pk, "cluster": sandbox_cluster.pk, "channel": "nightly",
         "approval": "Automatic"},
    )  # fmt: skip
    assert refused.status_code == 400
    assert refused.context["form"].errors["channel"] == [
        "Choose one of the channels candidate, stable."
    ]
    assert not Installation.objects.filter(scope="cluster").exists()
    bad = client.post(
        "/api/v1/installations/cluster-wide/",
        {"cluster": sandbox_cluster.pk, "version": cert_manager.pk, "channel": "nightly"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "channel" in bad.json()["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/v1/installations/cluster-wide/",
            {"cluster": sandbox_cluster.pk, "version": cert_manager.pk},
            content_type="application/json",
        )
    assert created.status_code == 201, created.content
    assert created.json()["scope"] == "cluster" and created.json()["namespace"] == "operators"
    listed = client.get("/operators/cluster-wide/").content.decode()
    assert f'data-installation="{created.json()["id"]}"' in listed
    detail = client.get(f"/operators/{created.json()['id']}/").content.decode()
    assert 'data-testid="cluster-wide"' in detail

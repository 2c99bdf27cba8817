"""Install flows against the sandbox; the worker's jobs run inline on commit (eager)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from provisioning import records, services, tasks
from provisioning.models import ClusterSync, Installation
from tests.conftest import sandbox_object, wait_until

from .conftest import PACKAGE, channel_head

V1 = "operators.coreos.com/v1alpha1"


def _install(buyer, version, cluster, capture, **overrides):
    kwargs = {
        "actor": buyer.owner,
        "tenant": buyer,
        "project": buyer.project,
        "cluster": cluster,
        "version": version,
        "channel": "stable",
        "approval": "Automatic",
    }
    kwargs.update(overrides)
    with capture(execute=True):
        return services.request_installation(**kwargs)


def _follow(installation, until, timeout=15):
    def reached():
        tasks.sync_cluster(installation.cluster_id, force=True)
        installation.refresh_from_db()
        return installation.status in until

    wait_until(reached, timeout=timeout, message=f"installation to reach {until}")
    return installation


def test_automatic_install_reaches_installed(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    ns = buyer.project.namespace
    subscription = sandbox_object(sandbox, V1, "Subscription", ns, PACKAGE)
    assert subscription["spec"] == {
        "channel": "stable",
        "name": PACKAGE,
        "source": "mem-registry",
        "sourceNamespace": "olm",
        "installPlanApproval": "Automatic",
        # The CSV that was reviewed and listed, not whatever heads the channel later.
        "startingCSV": on_sale_version.starting_csv("stable"),
    }
    assert subscription["spec"]["startingCSV"] == channel_head(sandbox)
    group = sandbox_object(
        sandbox, "operators.coreos.com/v1", "OperatorGroup", ns, f"{ns}-operators"
    )
    assert group["spec"]["targetNamespaces"] == [ns]
    _follow(installation, {"installed"})
    head = channel_head(sandbox)
    assert installation.installed_csv == head
    assert head.startswith("memcached-cluster-operator.v1.")
    assert installation.installed_version == head.removeprefix("memcached-cluster-operator.v")
    assert installation.installed_at is not None
    reasons = list(installation.events.values_list("reason", flat=True))
    assert "InstallRequested" in reasons and "Installed" in reasons
    assert installation.events.filter(source="cluster").exists()  # OLM's own Events


def test_running_the_install_job_twice_creates_nothing_twice(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    Installation.objects.filter(pk=installation.pk).update(status="pending")
    tasks.install_operator.delay(installation.pk)
    ns = buyer.project.namespace
    subs, _rv = sandbox.store.list(sandbox.store.type_for(V1, "Subscription"), ns)
    groups, _rv = sandbox.store.list(
        sandbox.store.type_for("operators.coreos.com/v1", "OperatorGroup"), ns
    )
    assert len(subs) == 1 and len(groups) == 1


def test_an_existing_operator_group_is_reused(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    from clusters import kube

    gateway = kube.gateway_for(sandbox_cluster)
    ns = buyer.project.namespace
    gateway.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    gateway.apply(
        {
            "apiVersion": "operators.coreos.com/v1",
            "kind": "OperatorGroup",
            "metadata": {"name": "theirs", "namespace": ns},
            "spec": {"targetNamespaces": [ns]},
        },
        field_manager="kubectl",
    )
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    installation.refresh_from_db()
    assert installation.operator_group == "theirs"
    _follow(installation, {"installed"})


def test_two_operator_groups_fail_with_an_explanation(
    buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
):
    from clusters import kube

    gateway = kube.gateway_for(sandbox_cluster)
    ns = buyer.project.namespace
    gateway.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for name in ("a", "b"):
        gateway.apply(
            {
                "apiVersion": "operators.coreos.com/v1",
                "kind": "OperatorGroup",
                "metadata": {"name": name, "namespace": ns},
                "spec": {},
            }
        )
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    installation.refresh_from_db()
    assert installation.status == "failed"
    assert "2 OperatorGroups (a, b)" in installation.failure_reason


def test_manual_approval_waits_then_installs_what_was_approved(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer,
        on_sale_version,
        sandbox_cluster,
        django_capture_on_commit_callbacks,
        approval="Manual",
    )
    _follow(installation, {"requires_approval"})
    assert installation.pending_csvs == [channel_head(sandbox)]
    assert installation.events.filter(reason="RequiresApproval").exists()
    plan = sandbox_object(
        sandbox, V1, "InstallPlan", buyer.project.namespace, installation.pending_install_plan
    )
    assert plan["spec"]["approved"] is False
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_install_plan(actor=buyer.owner, installation=installation)
    _follow(installation, {"installed"})
    assert installation.pending_install_plan == ""


def test_approval_is_refused_when_the_plan_changed(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer,
        on_sale_version,
        sandbox_cluster,
        django_capture_on_commit_callbacks,
        approval="Manual",
    )
    _follow(installation, {"requires_approval"})
    Installation.objects.filter(pk=installation.pk).update(pending_csvs=["something-else.v9"])
    installation.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_install_plan(actor=buyer.owner, installation=installation)
    plan = sandbox_object(
        sandbox, V1, "InstallPlan", buyer.project.namespace, installation.pending_install_plan
    )
    assert plan["spec"]["approved"] is False
    assert installation.events.filter(reason="ApprovalRefused").exists()


def test_unknown_channel_fails_with_olms_message_and_retry_recovers(
    buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
):
    # The install job is held back, so the first Subscription the cluster ever sees asks for
    # a channel the catalog does not serve (had the stable one gone out first, OLM could
    # install its CSV before the change reached it).
    with django_capture_on_commit_callbacks(execute=False):
        installation = services.request_installation(
            actor=buyer.owner,
            tenant=buyer,
            project=buyer.project,
            cluster=sandbox_cluster,
            version=on_sale_version,
            channel="stable",
        )
    Installation.objects.filter(pk=installation.pk).update(channel="gone")
    tasks.install_operator.delay(installation.pk)
    _follow(installation, {"failed"})
    # A sentence a person understands, then OLM's own message (ResolutionFailed).
    assert installation.failure_reason.startswith("OLM could not resolve the operators of")
    assert "no operators found in channel gone" in installation.failure_reason
    Installation.objects.filter(pk=installation.pk).update(channel="stable")
    installation.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.retry_installation(actor=buyer.owner, installation=installation)
    _follow(installation, {"installed"})
    assert installation.failure_reason == ""


def test_automatic_upgrade_when_the_channel_gets_a_newer_csv(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    _follow(installation, {"installed"})
    sandbox.publish_csv(package=PACKAGE, channel="stable", version="1.1.1")

    def upgraded():
        tasks.sync_cluster(installation.cluster_id, force=True)
        installation.refresh_from_db()
        return installation.installed_version == "1.1.1"

    wait_until(upgraded, timeout=15, message="the automatic upgrade")
    assert installation.events.filter(reason="Upgraded").exists()


def test_manual_upgrade_shows_the_pending_install_plan(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer,
        on_sale_version,
        sandbox_cluster,
        django_capture_on_commit_callbacks,
        approval="Manual",
    )
    _follow(installation, {"requires_approval"})
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_install_plan(actor=buyer.owner, installation=installation)
    _follow(installation, {"installed"})
    sandbox.publish_csv(package=PACKAGE, channel="stable", version="1.1.2")

    def upgrade_waits():
        tasks.sync_cluster(installation.cluster_id, force=True)
        installation.refresh_from_db()
        return installation.pending_install_plan

    wait_until(upgrade_waits, timeout=15, message="the upgrade's InstallPlan")
    assert installation.status == "installed" and installation.needs_approval
    assert installation.pending_csvs == ["memcached-cluster-operator.v1.1.2"]
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_install_plan(actor=buyer.owner, installation=installation)

    def upgraded():
        tasks.sync_cluster(installation.cluster_id, force=True)
        installation.refresh_from_db()
        return installation.installed_version == "1.1.2"

    wait_until(upgraded, timeout=15, message="the approved upgrade")


def test_changing_channel_updates_the_subscription(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    _follow(installation, {"installed"})
    with django_capture_on_commit_callbacks(execute=True):
        services.change_subscription(
            actor=buyer.owner, installation=installation, channel="alpha", approval="Manual"
        )
    subscription = sandbox_object(sandbox, V1, "Subscription", buyer.project.namespace, PACKAGE)
    assert subscription["spec"]["channel"] == "alpha"
    assert subscription["spec"]["installPlanApproval"] == "Manual"
    with pytest.raises(ValidationError) as exc:
        services.change_subscription(
            actor=buyer.owner, installation=installation, channel="beta", approval="Manual"
        )
    assert "channel" in exc.value.message_dict


def test_uninstall_deletes_subscription_and_csv_but_keeps_crds(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    _follow(installation, {"installed"})
    ns = buyer.project.namespace
    with django_capture_on_commit_callbacks(execute=True):
        services.request_uninstall(actor=buyer.owner, installation=installation)
    installation.refresh_from_db()
    assert installation.status == "uninstalled"
    assert sandbox_object(sandbox, V1, "Subscription", ns, PACKAGE) is None
    assert (
        sandbox_object(sandbox, V1, "ClusterServiceVersion", ns, installation.installed_csv) is None
    )
    crd = sandbox_object(
        sandbox,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
        "memcachedclusters.daas.tenxcloud.com",
    )
    assert crd is not None
    # Installing again into the same namespace is allowed once uninstalled.
    again = _install(buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks)
    assert again.pk != installation.pk


def test_uninstall_is_refused_while_instances_run_unless_confirmed(
    buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
):
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )

    def two_instances(sender, installation, **kwargs):
        return 2

    services.installation_instance_count.connect(two_instances, dispatch_uid="test-two")
    try:
        with pytest.raises(ValidationError) as exc:
            services.request_uninstall(actor=buyer.owner, installation=installation)
        assert "2 instance(s)" in exc.value.message_dict["delete_instances"][0]
        installation.refresh_from_db()
        assert installation.status != "uninstalling"
        with django_capture_on_commit_callbacks(execute=True):
            services.request_uninstall(
                actor=buyer.owner, installation=installation, delete_instances=True
            )
    finally:
        services.installation_instance_count.disconnect(dispatch_uid="test-two")
    installation.refresh_from_db()
    assert installation.status == "uninstalled"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"channel": "beta"}, "channel"), ({"approval": "Sometimes"}, "approval")],
)
def test_bad_install_requests_name_the_field(
    buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks, overrides, field
):
    with pytest.raises(ValidationError) as exc:
        _install(
            buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks, **overrides
        )
    assert field in exc.value.message_dict
    assert not Installation.objects.exists()


def test_a_foreign_project_or_stranger_is_refused(
    buyer,
    on_sale_version,
    sandbox_cluster,
    tenant_with_owner,
    make_user,
    django_capture_on_commit_callbacks,
):
    from accounts import services as account_services

    other, other_owner = tenant_with_owner("other-buyer")
    foreign = account_services.create_project(
        actor=other_owner, tenant=other, name="x", namespace="x-foreign"
    )
    with pytest.raises(ValidationError) as exc:
        _install(
            buyer,
            on_sale_version,
            sandbox_cluster,
            django_capture_on_commit_callbacks,
            project=foreign,
        )
    assert "project" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        _install(
            buyer,
            on_sale_version,
            sandbox_cluster,
            django_capture_on_commit_callbacks,
            actor=make_user("stranger"),
        )


def test_same_package_twice_in_a_namespace_is_refused_but_a_repeated_key_returns_the_first(
    buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
):
    first = _install(
        buyer,
        on_sale_version,
        sandbox_cluster,
        django_capture_on_commit_callbacks,
        request_key="k-1",
    )
    again = _install(
        buyer,
        on_sale_version,
        sandbox_cluster,
        django_capture_on_commit_callbacks,
        request_key="k-1",
    )
    assert again.pk == first.pk
    with pytest.raises(ValidationError) as exc:
        _install(buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks)
    assert "already installed" in exc.value.message_dict["project"][0]


def test_cluster_errors_are_retried_then_the_installation_fails_with_the_reason(
    buyer, on_sale_version, sandbox_cluster, sandbox_faults, django_capture_on_commit_callbacks
):
    sandbox_faults.error_rate = 1.0
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    installation.refresh_from_db()
    assert installation.status == "failed"
    assert "500" in installation.failure_reason
    sandbox_faults.reset()
    with django_capture_on_commit_callbacks(execute=True):
        services.retry_installation(actor=buyer.owner, installation=installation)
    _follow(installation, {"installed"})


def test_sync_costs_list_calls_per_cluster_not_gets_per_installation(
    buyer,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    tenant_with_owner,
    django_capture_on_commit_callbacks,
    settings,
):
    from accounts import services as account_services

    installations = []
    for i in range(3):
        project = account_services.create_project(
            actor=buyer.owner,
            tenant=buyer,
            name=f"p{i}",
            namespace=f"{buyer.project.namespace}-{i}",
        )
        installations.append(
            _install(
                buyer,
                on_sale_version,
                sandbox_cluster,
                django_capture_on_commit_callbacks,
                project=project,
            )
        )
    for installation in installations:
        _follow(installation, {"installed"})
    # More namespaces than are worth listing one by one: one cluster-wide list per kind.
    settings.KUBE_PER_NAMESPACE_LISTS_UP_TO = 2
    # The first tick of a cluster-wide list reads its objects in full once (after their
    # metadata); later ticks read only what changed, here nothing.
    tasks.sync_cluster(sandbox_cluster.pk, force=True)
    sandbox.clear_request_log()
    tasks.sync_cluster(sandbox_cluster.pk, force=True)
    gets = [
        r
        for r in sandbox.request_log
        if r.method == "GET" and "/api" in r.path and "/customresourcedefinitions/" not in r.path
    ]
    # The session's sandbox may hold more than a page of some kind: later pages of one
    # list carry the server's continue token, and nothing else is asked twice.
    first_pages = [r for r in gets if "continue" not in r.query]
    assert all(r.path in {f.path for f in first_pages} for r in gets)
    assert sorted(r.path for r in first_pages) == sorted(
        [
            "/apis/operators.coreos.com/v1alpha1/subscriptions",
            "/apis/operators.coreos.com/v1alpha1/clusterserviceversions",
            # OLM's Events only (two selectors: v1alpha1 kinds, OperatorGroups).
            "/api/v1/events",
            "/api/v1/events",
            # OLM's Events about a Namespace object are filed in `default`.
            "/api/v1/namespaces/default/events",
            # No InstallPlans: each carries its bundle's manifests, and once every
            # installation is at its latest CSV none of them matters.
        ]
    )
    assert all(r.query.get("limit") == str(settings.KUBE_LIST_PAGE_SIZE) for r in gets)
    csv_list = next(r for r in gets if r.path.endswith("clusterserviceversions"))
    assert csv_list.query["labelSelector"] == "!olm.copiedFrom"
    event_lists = sorted(
        r.query["fieldSelector"] for r in first_pages if r.path == "/api/v1/events"
    )
    assert event_lists == [
        "involvedObject.apiVersion=operators.coreos.com/v1,involvedObject.kind=OperatorGroup",
        "involvedObject.apiVersion=operators.coreos.com/v1alpha1",
    ]
    namespace_events = next(r for r in gets if "/namespaces/default/" in r.path)
    assert namespace_events.query["fieldSelector"] == "involvedObject.kind=Namespace"

    # A few namespaces: listed one by one, so the answer is the size of ours, not the
    # cluster's (every copied CSV and Event of other tenants stays on the server).
    settings.KUBE_PER_NAMESPACE_LISTS_UP_TO = 8
    sandbox.clear_request_log()
    tasks.sync_cluster(sandbox_cluster.pk, force=True)
    paths = [
        r.path
        for r in sandbox.request_log
        if r.method == "GET"
        and "/api" in r.path
        and "continue" not in r.query
        # The owned CRDs are read once per CSV, when it first succeeds (operand forms).
        and "/customresourcedefinitions/" not in r.path
    ]
    namespaces = sorted(i.namespace for i in installations)
    assert sorted(paths) == sorted(
        [
            f"/apis/operators.coreos.com/v1alpha1/namespaces/{ns}/{plural}"
            for ns in namespaces
            for plural in ("subscriptions", "clusterserviceversions")
        ]
        + [f"/api/v1/namespaces/{ns}/events" for ns in namespaces] * 2
        + ["/api/v1/namespaces/default/events"]
    )
    for installation in installations:
        installation.refresh_from_db()
        assert installation.status == "installed"


def test_a_quiet_cluster_is_looked_at_less_often(
    buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from provisioning import selectors

    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    now = timezone.now()
    records.finish_sync(cluster_id=installation.cluster_id, changed=True, now=now)
    for _ in range(20):
        records.finish_sync(cluster_id=installation.cluster_id, changed=False, now=now)
    sync = ClusterSync.objects.get(cluster_id=installation.cluster_id)
    assert (sync.next_tick_at - now).total_seconds() == 32
    assert installation.cluster_id not in set(selectors.clusters_to_follow(now=now))
    # Something asked of the cluster (an install, a channel change): looked at again.
    records.sync_soon(cluster_id=installation.cluster_id)
    sync.refresh_from_db()
    assert sync.next_tick_at is None and sync.quiet_ticks == 0
    assert installation.cluster_id in set(selectors.clusters_to_follow(now=now))


def test_the_listed_version_is_installed_even_when_the_channel_moved_on(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    listed = on_sale_version.starting_csv("stable")
    assert listed == channel_head(sandbox)  # what was reviewed and put on sale
    # The provider publishes a newer bundle into the channel after the review.
    newer = sandbox.publish_csv(package=PACKAGE, channel="stable", version="1.4.2")
    installation = _install(
        buyer,
        on_sale_version,
        sandbox_cluster,
        django_capture_on_commit_callbacks,
        approval="Manual",
    )
    # OLM installs startingCSV first (the listed one), not the channel head ...
    _follow(installation, {"requires_approval"})
    assert installation.pending_csvs == [listed]
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_install_plan(actor=buyer.owner, installation=installation)

    def installed_listed_then_offered_newer():
        tasks.sync_cluster(installation.cluster_id, force=True)
        installation.refresh_from_db()
        return installation.installed_csv == listed and installation.pending_csvs == [newer]

    # ... and offers the later one as an upgrade, waiting for approval (Manual).
    wait_until(installed_listed_then_offered_newer, timeout=20, message="the upgrade offer")
    assert installation.status == "installed" and installation.needs_approval

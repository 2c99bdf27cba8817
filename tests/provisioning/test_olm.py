"""The pure OLM rules of provisioning/olm.py, without a cluster."""

from datetime import UTC, datetime

from provisioning.olm import assess, subscription_manifest


def _sub(**status):
    return {"metadata": {"name": "memcached-cluster-operator"}, "status": status}


def _failed_condition(when="2026-01-01T10:00:00Z"):
    return {
        "type": "ResolutionFailed",
        "status": "True",
        "message": "no operators found in channel gone",
        "lastTransitionTime": when,
    }


def test_subscription_manifest_has_olms_fields():
    manifest = subscription_manifest(
        installation_id=7,
        namespace="my-mem",
        package="memcached-cluster-operator",
        channel="stable",
        source="mem-registry",
        source_namespace="olm",
        approval="Manual",
    )
    assert manifest["apiVersion"] == "operators.coreos.com/v1alpha1"
    assert manifest["metadata"]["name"] == "memcached-cluster-operator"
    assert manifest["spec"] == {
        "channel": "stable",
        "name": "memcached-cluster-operator",
        "source": "mem-registry",
        "sourceNamespace": "olm",
        "installPlanApproval": "Manual",
    }


def test_resolution_failed_is_a_failure_with_olms_message():
    result = assess(subscription=_sub(conditions=[_failed_condition()]), install_plans={}, csvs={})
    assert result.status == "failed"
    assert result.message == "ResolutionFailed: no operators found in channel gone"


def test_a_condition_older_than_our_last_apply_is_stale():
    since = datetime(2026, 1, 1, 10, 0, 5, tzinfo=UTC)
    result = assess(
        subscription=_sub(conditions=[_failed_condition()]), install_plans={}, csvs={}, since=since
    )
    assert result.status == "subscribing"


def test_manual_plan_waits_for_approval_with_its_csvs():
    plan = {
        "metadata": {"name": "install-abc"},
        "spec": {"approved": False, "clusterServiceVersionNames": ["op.v1.1.0"]},
        "status": {"phase": "RequiresApproval"},
    }
    result = assess(
        subscription=_sub(currentCSV="op.v1.1.0", installPlanRef={"name": "install-abc"}),
        install_plans={"install-abc": plan},
        csvs={},
    )
    assert (result.status, result.pending_install_plan, result.pending_csvs) == (
        "requires_approval",
        "install-abc",
        ["op.v1.1.0"],
    )


def test_csv_failed_reports_its_reason():
    csv = {
        "metadata": {"name": "op.v1"},
        "spec": {"version": "1"},
        "status": {
            "phase": "Failed",
            "reason": "NoOperatorGroup",
            "message": "csv in namespace with no operatorgroups",
        },
    }
    result = assess(subscription=_sub(currentCSV="op.v1"), install_plans={}, csvs={"op.v1": csv})
    assert result.status == "failed"
    assert result.message == "NoOperatorGroup: csv in namespace with no operatorgroups"


def test_succeeded_csv_is_installed_with_its_version_and_details():
    csv = {
        "metadata": {"name": "op.v1.1.0", "annotations": {"alm-examples": "[]"}},
        "spec": {"version": "1.1.0", "displayName": "Memcached", "provider": {"name": "TenxCloud"}},
        "status": {"phase": "Succeeded"},
    }
    result = assess(
        subscription=_sub(currentCSV="op.v1.1.0", installedCSV="op.v1.1.0"),
        install_plans={},
        csvs={"op.v1.1.0": csv},
    )
    assert (result.status, result.installed_version) == ("installed", "1.1.0")
    assert result.csv_info["display_name"] == "Memcached"
    assert result.csv_info["provider"] == "TenxCloud"

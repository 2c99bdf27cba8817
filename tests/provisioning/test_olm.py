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


# --- statuses shaped exactly as OLM v0 writes them ---------------------------------------
# Sources (operator-framework/operator-lifecycle-manager unless said otherwise):
#   catalog/subscription/state.go        CatalogSourcesUnhealthy, InstallPlan* conditions
#   catalog/subscription/reconciler.go   catalogHealth, deprecation conditions
#   catalog/operator.go                  syncResolvingNamespace: ResolutionFailed,
#                                        BundleUnpacking/BundleUnpackFailed (setSubsCond: no
#                                        lastTransitionTime), namespace-wide Manual approval,
#                                        ensureSubscriptionCSVState (installedCSV timing)
#   olm/operator.go                      CSV phases and reasons; Replacing during upgrades
#   operator-framework/api pkg/operators/v1alpha1/clusterserviceversion.go  install modes,
#                                        IsCopied

NOW = datetime(2026, 5, 1, 10, 10, 0, tzinfo=UTC)
APPLIED_LONG_AGO = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)
APPLIED_JUST_NOW = datetime(2026, 5, 1, 10, 9, 50, tzinfo=UTC)
NS = "my-ns"


def _health(name="operatorhubio-catalog", namespace="olm", healthy=True):
    return {
        "catalogSourceRef": {
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "CatalogSource",
            "name": name,
            "namespace": namespace,
            "resourceVersion": "40213",
            "uid": "3b1f2a57-6a6e-4a8f-9d2c-0c1f3f7a1b11",
        },
        "healthy": healthy,
        "lastUpdated": "2026-05-01T10:00:05Z",
    }


HEALTHY = {
    "lastTransitionTime": "2026-05-01T10:00:05Z",
    "message": "all available catalogsources are healthy",
    "reason": "AllCatalogSourcesHealthy",
    "status": "False",
    "type": "CatalogSourcesUnhealthy",
}


def _olm_sub(*, conditions=(HEALTHY,), health=None, approval="Automatic", **status):
    return {
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "Subscription",
        "metadata": {"name": "etcd", "namespace": NS},
        "spec": {
            "channel": "singlenamespace-alpha",
            "name": "etcd",
            "source": "operatorhubio-catalog",
            "sourceNamespace": "olm",
            "installPlanApproval": approval,
        },
        "status": {
            "catalogHealth": health if health is not None else [_health()],
            "conditions": list(conditions),
            "lastUpdated": "2026-05-01T10:00:40Z",
            **status,
        },
    }


def _ref(name="install-7x2kq"):
    return {
        "installPlanRef": {
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "InstallPlan",
            "name": name,
            "namespace": NS,
            "resourceVersion": "40250",
            "uid": "9d0c1c44-2f53-4a9b-8f3e-6b2d1f0e9a22",
        },
        "installplan": {
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "InstallPlan",
            "name": name,
            "uuid": "9d0c1c44-2f53-4a9b-8f3e-6b2d1f0e9a22",
        },
        "installPlanGeneration": 1,
    }


def _ip(name="install-7x2kq", *, phase="Complete", approved=True, csvs=("etcdoperator.v0.9.4",)):
    status = {"phase": phase, "catalogSources": ["operatorhubio-catalog"]}
    if phase == "Complete":
        status["conditions"] = [
            {
                "lastTransitionTime": "2026-05-01T10:00:30Z",
                "lastUpdateTime": "2026-05-01T10:00:30Z",
                "status": "True",
                "type": "Installed",
            }
        ]
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "approval": "Automatic" if approved else "Manual",
            "approved": approved,
            "clusterServiceVersionNames": list(csvs),
            "generation": 1,
        },
        "status": status,
    }


def _csv(
    name, *, phase="Succeeded", reason="InstallSucceeded", message="", replaces="", copied=False
):
    messages = {
        "InstallSucceeded": "install strategy completed with no errors",
        "BeingReplaced": "being replaced by csv: etcdoperator.v0.9.5",
    }
    labels = {"olm.managed": "true", "operatorframework.io/arch.amd64": "supported"}
    if copied:
        labels = {"olm.copiedFrom": "operators"}
        reason, message = (
            "Copied",
            "The operator is running in operators but is managing this namespace",
        )
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": labels,
            "annotations": {
                "olm.operatorGroup": f"{NS}-operators",
                "olm.operatorNamespace": NS,
                "olm.targetNamespaces": NS,
            },
        },
        "spec": {
            "displayName": "etcd",
            "version": name.split(".v", 1)[-1],
            "replaces": replaces,
            "installModes": [
                {"type": "OwnNamespace", "supported": True},
                {"type": "SingleNamespace", "supported": True},
                {"type": "MultiNamespace", "supported": False},
                {"type": "AllNamespaces", "supported": False},
            ],
        },
        "status": {
            "phase": phase,
            "reason": reason,
            "message": message or messages.get(reason, ""),
            "lastUpdateTime": "2026-05-01T10:00:40Z",
            "lastTransitionTime": "2026-05-01T10:00:40Z",
            "cleanup": {},
        },
    }


def _assess(subscription, plans=(), csvs=(), since=APPLIED_LONG_AGO, **kwargs):
    return assess(
        subscription=subscription,
        install_plans={p["metadata"]["name"]: p for p in plans},
        csvs={c["metadata"]["name"]: c for c in csvs},
        since=since,
        now=NOW,
        **kwargs,
    )


INSTALLED = {
    "currentCSV": "etcdoperator.v0.9.4",
    "installedCSV": "etcdoperator.v0.9.4",
    "state": "AtLatestKnown",
    **_ref(),
}


def test_an_installed_operator_settled_as_olm_leaves_it():
    result = _assess(_olm_sub(**INSTALLED), [_ip()], [_csv("etcdoperator.v0.9.4")])
    assert (result.status, result.installed_version, result.notes) == ("installed", "0.9.4", [])


def test_an_unhealthy_catalog_never_fails_an_operator_whose_csv_succeeded():
    # Point 1: OLM marks every Subscription of the namespace when *any* catalog in scope is
    # unhealthy; the targeted one here, with OLM's own message.
    unhealthy = {
        "lastTransitionTime": "2026-05-01T10:05:00Z",
        "message": "targeted catalogsource olm/operatorhubio-catalog unhealthy",
        "reason": "UnhealthyCatalogSourceFound",
        "status": "True",
        "type": "CatalogSourcesUnhealthy",
    }
    result = _assess(
        _olm_sub(conditions=[unhealthy], health=[_health(healthy=False)], **INSTALLED),
        [_ip()],
        [_csv("etcdoperator.v0.9.4")],
    )
    assert result.status == "installed"


def test_another_unhealthy_catalog_is_a_note_even_with_olms_stale_healthy_message():
    # state.go keeps the previous message when only a non-targeted catalog is unhealthy:
    # status True with "all available catalogsources are healthy" really happens.
    stale = {**HEALTHY, "status": "True", "reason": "UnhealthyCatalogSourceFound"}
    health = [_health(), _health(name="broken", namespace=NS, healthy=False)]
    result = _assess(
        _olm_sub(
            conditions=[stale],
            health=health,
            currentCSV="etcdoperator.v0.9.4",
            state="UpgradePending",
            **_ref(),
        ),
        [_ip(phase="Installing")],
    )
    assert result.status == "installing"
    assert result.notes and f"{NS}/broken" in result.notes[0]


def test_the_targeted_catalog_missing_fails_a_new_install_with_olms_message():
    missing = {
        "lastTransitionTime": "2026-05-01T10:01:00Z",
        "message": "targeted catalogsource olm/operatorhubio-catalog missing",
        "reason": "UnhealthyCatalogSourceFound",
        "status": "True",
        "type": "CatalogSourcesUnhealthy",
    }
    result = _assess(_olm_sub(conditions=[missing], health=[]))
    assert result.status == "failed"
    assert "targeted catalogsource olm/operatorhubio-catalog missing" in result.message


RESOLUTION_FAILED = {
    # setSubsCond writes no lastTransitionTime (catalog/operator.go).
    "message": "constraints not satisfiable: no operators found in channel beta of package "
    "etcd in the catalog referenced by subscription etcd, subscription etcd exists",
    "reason": "ConstraintsNotSatisfiable",
    "status": "True",
    "type": "ResolutionFailed",
}


def test_resolution_failed_without_a_timestamp_waits_a_grace_period_after_our_apply():
    # Point 5: ResolutionFailed has no lastTransitionTime, so right after a channel change
    # the previous spec's failure is still there: it is not shown as a failure yet.
    fresh = _assess(_olm_sub(conditions=[HEALTHY, RESOLUTION_FAILED]), since=APPLIED_JUST_NOW)
    assert fresh.status == "subscribing"
    settled = _assess(_olm_sub(conditions=[HEALTHY, RESOLUTION_FAILED]))
    assert settled.status == "failed"
    assert f"namespace {NS}" in settled.message and "resolves them together" in settled.message
    assert "no operators found in channel beta" in settled.message


def test_resolution_failed_written_after_our_apply_is_shown_at_once():
    # catalog-operator sets status.lastUpdated whenever it sets a changed condition
    # (operator.go setSubsCond): written after our apply, the failure is about our spec.
    written_after = _olm_sub(
        conditions=[HEALTHY, RESOLUTION_FAILED], lastUpdated="2026-05-01T10:09:55Z"
    )
    assert _assess(written_after, since=APPLIED_JUST_NOW).status == "failed"
    # Written before it (an identical failure leaves lastUpdated alone): the grace decides.
    written_before = _olm_sub(
        conditions=[HEALTHY, RESOLUTION_FAILED], lastUpdated="2026-05-01T10:09:40Z"
    )
    assert _assess(written_before, since=APPLIED_JUST_NOW).status == "subscribing"


def test_a_namespace_wide_resolution_failure_leaves_an_installed_operator_installed():
    # Point 2: OLM writes ResolutionFailed on every Subscription of the namespace, also on
    # this one whose CSV runs.
    result = _assess(
        _olm_sub(conditions=[HEALTHY, RESOLUTION_FAILED], **INSTALLED),
        [_ip()],
        [_csv("etcdoperator.v0.9.4")],
    )
    assert result.status == "installed"


def test_one_manual_subscription_makes_the_namespaces_plans_manual_and_we_say_why():
    pending = {
        "lastTransitionTime": "2026-05-01T10:05:00Z",
        "reason": "RequiresApproval",
        "status": "True",
        "type": "InstallPlanPending",
    }
    result = _assess(
        _olm_sub(
            conditions=[HEALTHY, pending],
            currentCSV="etcdoperator.v0.9.4",
            state="UpgradePending",
            **_ref("install-abcde"),
        ),
        [_ip("install-abcde", phase="RequiresApproval", approved=False)],
        namespace_manual=True,
    )
    assert (result.status, result.pending_install_plan) == ("requires_approval", "install-abcde")
    assert any("manual approval" in note for note in result.notes)


def test_a_bundle_still_unpacking_says_so_with_olms_pull_hint():
    # Point 3 (OLM v0.43+: the message is set only when the unpack pod cannot pull).
    unpacking = {
        "message": "Bundle image pull failed. Common causes: Missing ICSP (ppc64le/s390x/arm64), "
        "auth failure, invalid image. Job will retry until timeout (~10 min), then auto-cleanup "
        "and retry in ~5 min.",
        "reason": "UnpackingInProgress",
        "status": "True",
        "type": "BundleUnpacking",
    }
    result = _assess(_olm_sub(conditions=[HEALTHY, unpacking]))
    assert result.status == "subscribing" and "Bundle image pull failed" in result.message
    silent = {k: v for k, v in unpacking.items() if k != "message"}  # v0.25-v0.42
    assert "Unpacking" in _assess(_olm_sub(conditions=[HEALTHY, silent])).message


def test_a_bundle_that_cannot_be_unpacked_fails_with_olms_message():
    failed = {
        "message": "Bundle unpacking failed - DeadlineExceeded: Job was active longer than "
        "specified deadline. Auto-retry in ~5 min after job cleanup (TTL).",
        "reason": "BundleUnpackFailed",
        "status": "True",
        "type": "BundleUnpackFailed",
    }
    result = _assess(_olm_sub(conditions=[HEALTHY, failed]))
    assert result.status == "failed"
    assert "could not be unpacked" in result.message and "DeadlineExceeded" in result.message


def test_install_plan_failed_reports_the_plans_reason_and_message():
    failed = {
        "lastTransitionTime": "2026-05-01T10:02:00Z",
        "message": "error validating existing CRs against new CRD's schema for "
        '"etcdclusters.etcd.database.coreos.com"',
        "reason": "InstallComponentFailed",
        "status": "True",
        "type": "InstallPlanFailed",
    }
    plan = _ip(phase="Failed")
    result = _assess(
        _olm_sub(
            conditions=[HEALTHY, failed],
            currentCSV="etcdoperator.v0.9.4",
            state="UpgradePending",
            **_ref(),
        ),
        [plan],
    )
    assert result.status == "failed"
    assert "InstallComponentFailed" in result.message and "CRD's schema" in result.message


def test_a_garbage_collected_install_plan_is_no_failure_of_an_installed_operator():
    missing = {
        "lastTransitionTime": "2026-05-03T10:00:00Z",
        "reason": "ReferencedInstallPlanNotFound",
        "status": "True",
        "type": "InstallPlanMissing",
    }
    result = _assess(
        _olm_sub(conditions=[HEALTHY, missing], **INSTALLED), [], [_csv("etcdoperator.v0.9.4")]
    )
    assert result.status == "installed"


def test_a_deprecated_bundle_is_a_note():
    message = (
        'olm.bundle/etcdoperator.v0.9.4: bundle "etcdoperator.v0.9.4" has been deprecated. '
        "Please switch to a different one."
    )
    deprecated = [
        {"lastTransitionTime": "2026-05-01T10:06:00Z", "message": message, "status": "True",
         "type": "BundleDeprecated"},
        {"lastTransitionTime": "2026-05-01T10:06:00Z", "message": message, "status": "True",
         "type": "Deprecated"},
    ]  # fmt: skip
    result = _assess(
        _olm_sub(conditions=[HEALTHY, *deprecated], **INSTALLED),
        [_ip()],
        [_csv("etcdoperator.v0.9.4")],
    )
    assert result.status == "installed" and result.notes == [f"Deprecated: {message}"]


def test_an_install_mode_the_operator_group_does_not_offer_fails_with_olms_words():
    csv = _csv(
        "etcdoperator.v0.9.4",
        phase="Failed",
        reason="UnsupportedOperatorGroup",
        message="OwnNamespace InstallModeType not supported, cannot configure to watch own "
        "namespace",
    )
    result = _assess(
        _olm_sub(**{**INSTALLED}),
        [_ip()],
        [csv],
    )
    assert result.status == "failed"
    assert result.message == (
        "UnsupportedOperatorGroup: OwnNamespace InstallModeType not supported, cannot "
        "configure to watch own namespace"
    )


UPGRADE = {
    # installedCSV moves to the new CSV as soon as it exists (ensureSubscriptionCSVState).
    "currentCSV": "etcdoperator.v0.9.5",
    "installedCSV": "etcdoperator.v0.9.5",
    "state": "AtLatestKnown",
    **_ref("install-up"),
}


def test_an_upgrade_in_progress_is_upgrading_while_the_old_csv_still_serves():
    # Point 6.
    old = _csv("etcdoperator.v0.9.4", phase="Replacing", reason="BeingReplaced")
    new = _csv(
        "etcdoperator.v0.9.5",
        phase="Installing",
        reason="InstallWaiting",
        message="installing: waiting for deployment etcd-operator to become ready: deployment "
        '"etcd-operator" not available: Deployment does not have minimum availability.',
        replaces="etcdoperator.v0.9.4",
    )
    result = _assess(_olm_sub(**UPGRADE), [_ip("install-up")], [old, new])
    assert (result.status, result.installed_csv, result.installed_version) == (
        "upgrading",
        "etcdoperator.v0.9.4",
        "0.9.4",
    )
    assert "etcdoperator.v0.9.5" in result.message and "minimum availability" in result.message


def test_a_failed_upgrade_says_the_old_version_still_serves():
    old = _csv("etcdoperator.v0.9.4", phase="Replacing", reason="BeingReplaced")
    new = _csv(
        "etcdoperator.v0.9.5",
        phase="Failed",
        reason="InstallCheckFailed",
        message="install timeout",
        replaces="etcdoperator.v0.9.4",
    )
    result = _assess(_olm_sub(**UPGRADE), [_ip("install-up")], [old, new])
    assert result.status == "failed" and result.installed_csv == "etcdoperator.v0.9.4"
    assert "InstallCheckFailed: install timeout" in result.message
    assert "etcdoperator.v0.9.4 still serves" in result.message


def test_a_copied_csv_is_never_taken_for_the_operator_itself():
    # AllNamespaces operators leave a copy, labelled olm.copiedFrom, in every namespace.
    copy = _csv("etcdoperator.v0.9.4", copied=True)
    result = _assess(
        _olm_sub(currentCSV="etcdoperator.v0.9.4", state="UpgradePending", **_ref()),
        [_ip(phase="Installing")],
        [copy],
    )
    assert result.status == "installing"


def test_a_manual_upgrade_waits_while_the_installed_version_serves():
    pending = {
        "lastTransitionTime": "2026-05-02T08:00:00Z",
        "reason": "RequiresApproval",
        "status": "True",
        "type": "InstallPlanPending",
    }
    result = _assess(
        _olm_sub(
            conditions=[HEALTHY, pending],
            approval="Manual",
            currentCSV="etcdoperator.v0.9.5",
            installedCSV="etcdoperator.v0.9.4",
            state="UpgradePending",
            **_ref("install-abcde"),
        ),
        [
            _ip(
                "install-abcde",
                phase="RequiresApproval",
                approved=False,
                csvs=["etcdoperator.v0.9.5"],
            )
        ],
        [_csv("etcdoperator.v0.9.4")],
    )
    assert (result.status, result.pending_install_plan, result.pending_csvs) == (
        "installed",
        "install-abcde",
        ["etcdoperator.v0.9.5"],
    )

"""A cluster registered with a token bound to the tenants' namespaces, as many platform
teams hand out: cluster-wide lists answer 403 (the API server's own Status body, from the
sandbox's RBAC), so the sync lists namespace by namespace, and a namespace it may not read
is named with the permission that is missing."""

import uuid

from clusters import kube
from clusters.kubeconfig import Credentials
from provisioning import tasks
from provisioning.models import Installation
from tests.conftest import SANDBOX_TOKEN, wait_until

from .test_install_flow import _follow, _install

READ_OLM = [
    {
        "apiGroups": ["operators.coreos.com"],
        "resources": ["subscriptions", "installplans", "clusterserviceversions"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
]


def _admin(sandbox, tmp_path):
    return kube.Gateway(Credentials(api_url=sandbox.url, token=SANDBOX_TOKEN), cache_key="admin")


def _grant(admin, *, namespace, service_account, account_namespace):
    admin.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "market-reader", "namespace": namespace},
            "rules": READ_OLM,
        }
    )
    admin.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "market-reader", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "market-reader",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": service_account, "namespace": account_namespace}
            ],
        }
    )


def _scoped_token(sandbox, admin, namespace):
    account = f"market-{uuid.uuid4().hex[:6]}"
    admin.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": account, "namespace": namespace},
        }
    )
    return account, sandbox.issue_token(namespace, account)


def test_a_namespace_bound_token_is_followed_namespace_by_namespace(
    buyer,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    settings.DATA_DIR = tmp_path
    settings.KUBE_PER_NAMESPACE_LISTS_UP_TO = 0  # would list cluster-wide if it could
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    _follow(installation, {"installed"})
    namespace = installation.namespace
    admin = _admin(sandbox, tmp_path)
    account, token = _scoped_token(sandbox, admin, namespace)
    _grant(admin, namespace=namespace, service_account=account, account_namespace=namespace)
    sandbox_cluster.credentials = {"token": token}
    sandbox_cluster.save()

    # The cluster-wide list is refused by the API server, as a real one would ...
    scoped = kube.Gateway(Credentials(api_url=sandbox.url, token=token), cache_key="scoped")
    try:
        scoped.list("operators.coreos.com/v1alpha1", "Subscription")
    except kube.ForbiddenError as exc:
        assert exc.permission == {
            "verb": "list",
            "resource": "subscriptions",
            "group": "operators.coreos.com",
            "namespace": "",
        }
        assert "may not list subscriptions.operators.coreos.com across the cluster" in exc.message
    else:
        raise AssertionError("a namespace-bound token listed cluster-wide")

    # ... so the sync falls back to its namespaces and keeps following the installation.
    sandbox.publish_csv(package=installation.package, channel="stable", version="1.9.0")
    sandbox.clear_request_log()
    tasks.sync_cluster(sandbox_cluster.pk, force=True)
    paths = {r.path for r in sandbox.request_log if r.method == "GET"}
    assert f"/apis/operators.coreos.com/v1alpha1/namespaces/{namespace}/subscriptions" in paths
    installation.refresh_from_db()
    assert installation.notes == [] or all("cannot read" not in n for n in installation.notes)

    def upgraded():
        tasks.sync_cluster(sandbox_cluster.pk, force=True)
        installation.refresh_from_db()
        return installation.installed_csv.endswith("v1.9.0") and installation.status == "installed"

    wait_until(upgraded, timeout=20, message="the upgrade seen through the scoped token")


def test_a_namespace_the_token_may_not_read_is_named_with_the_missing_permission(
    buyer,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    settings.DATA_DIR = tmp_path
    installation = _install(
        buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks
    )
    _follow(installation, {"installed"})
    admin = _admin(sandbox, tmp_path)
    _, token = _scoped_token(sandbox, admin, installation.namespace)  # no Role bound
    sandbox_cluster.credentials = {"token": token}
    sandbox_cluster.save()

    tasks.sync_cluster(sandbox_cluster.pk, force=True)
    installation.refresh_from_db()
    # The operator still runs: the status stays, the reason is said beside it.
    assert installation.status == Installation.Status.INSTALLED
    (note,) = installation.notes
    assert "cannot read this installation's state" in note
    assert (
        f"may not list subscriptions.operators.coreos.com in namespace {installation.namespace}"
        in note
    )
    assert "a cluster administrator must grant" in note

"""One beat tick of a cluster's installation sync costs the same whatever the number of
installations, and writes nothing when nothing changed (issue 14)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning import services, tasks
from provisioning.models import Installation
from tests.conftest import wait_until

WRITES = ("INSERT", "UPDATE", "DELETE")


def _install_up_to(count, buyer, version, cluster, capture):
    from accounts import services as account_services

    have = Installation.objects.filter(tenant=buyer).count()
    for i in range(have, count):
        project = account_services.create_project(
            actor=buyer.owner,
            tenant=buyer,
            name=f"t{i}",
            namespace=f"{buyer.project.namespace}-{i}",
        )
        with capture(execute=True):
            services.request_installation(
                actor=buyer.owner,
                tenant=buyer,
                project=project,
                cluster=cluster,
                version=version,
                channel="stable",
            )

    def all_installed():
        tasks.sync_cluster(cluster.pk)
        return not Installation.objects.filter(tenant=buyer).exclude(status="installed").exists()

    wait_until(all_installed, timeout=60, interval=0.2, message=f"{count} installed")


def _quiet_tick(sandbox, cluster):
    """The first tick that finds nothing new (OLM's last Events of the installs may still
    come in for a tick or two): its API calls, SQL statements and writes."""

    def tick():
        sandbox.clear_request_log()
        with CaptureQueriesContext(connection) as queries:
            tasks.sync_cluster(cluster.pk, force=True)  # every installation looked at
        statements = [q["sql"] for q in queries.captured_queries]
        # The cluster's own sync row (its lease and back-off) is the tick's bookkeeping.
        writes = [
            sql
            for sql in statements
            if sql.lstrip().upper().startswith(WRITES) and "provisioning_clustersync" not in sql
        ]
        calls = sorted(
            (r.method, r.path, tuple(sorted(r.query.items())))
            for r in sandbox.request_log
            if r.path.startswith(("/api", "/apis")) and "continue" not in r.query
        )
        return None if writes else (calls, statements)

    return wait_until(tick, timeout=30, interval=0.2, message="a tick that writes nothing")


def test_a_tick_costs_the_same_calls_and_writes_nothing_whatever_the_number_of_installations(
    buyer, on_sale_version, sandbox_cluster, sandbox, django_capture_on_commit_callbacks, settings
):
    settings.KUBE_PER_NAMESPACE_LISTS_UP_TO = 2  # past two namespaces: cluster-wide lists
    _install_up_to(3, buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks)
    few_calls, few_statements = _quiet_tick(sandbox, sandbox_cluster)
    _install_up_to(9, buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks)
    many_calls, many_statements = _quiet_tick(sandbox, sandbox_cluster)

    # Three times the installations: the same list calls (selected and paged) ...
    assert many_calls == few_calls
    assert all(dict(query).get("limit") for _method, _path, query in many_calls)
    assert {path for _method, path, _query in many_calls} == {
        "/apis/operators.coreos.com/v1alpha1/subscriptions",
        "/apis/operators.coreos.com/v1alpha1/clusterserviceversions",
        "/api/v1/events",
        "/api/v1/namespaces/default/events",
    }
    # ... and the same few statements: no query, let alone a write, per installation.
    assert len(many_statements) == len(few_statements) <= 6
    assert Installation.objects.filter(tenant=buyer, status="installed").count() == 9

"""One beat tick of a cluster's installation sync costs the same whatever the number of
installations, and writes nothing when nothing changed (issue 14)."""

import json
from urllib.parse import urlsplit

from django.db import connection
from django.test.utils import CaptureQueriesContext

from clusters import kube
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
    # ... and the same few statements: no query, let alone a write, per installation (the
    # cluster is read once, not joined to every row).
    assert len(many_statements) == len(few_statements) <= 7
    assert Installation.objects.filter(tenant=buyer, status="installed").count() == 9


def _record_answers(gateway, monkeypatch):
    """The kinds of the answers the gateway's client gets (the real client, wrapped at its
    one door to the server)."""
    answers = []
    call_api = gateway.api_client.call_api

    def recording(method, url, *args, **kwargs):
        response = call_api(method, url, *args, **kwargs)
        try:
            kind = json.loads(response.read()).get("kind", "")
        except (AttributeError, TypeError, ValueError):
            kind = ""
        answers.append((method, urlsplit(url).path, kind))
        return response

    monkeypatch.setattr(gateway.api_client, "call_api", recording)
    return answers


def test_a_settled_tick_reads_olm_objects_as_metadata_and_an_object_changed_since_in_full(
    buyer,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    django_capture_on_commit_callbacks,
    settings,
    monkeypatch,
):
    settings.KUBE_PER_NAMESPACE_LISTS_UP_TO = 2
    _install_up_to(3, buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks)
    _quiet_tick(sandbox, sandbox_cluster)
    gateway = kube.gateway_for(sandbox_cluster)
    answers = _record_answers(gateway, monkeypatch)

    tasks.sync_cluster(sandbox_cluster.pk, force=True)

    # Nothing changed since the last tick: names and resourceVersions, no object in full.
    olm_lists = [a for a in answers if a[1].endswith(("/subscriptions", "/clusterserviceversions"))]
    assert {kind for _method, _url, kind in olm_lists} == {"PartialObjectMetadataList"}
    assert not [a for a in answers if a[2] in ("Subscription", "ClusterServiceVersion")]

    # Someone edits one CSV (kubectl annotate): that one is read in full, and shown.
    installation = Installation.objects.filter(tenant=buyer).order_by("pk").first()
    examples = json.dumps([{"apiVersion": "daas.tenxcloud.com/v1", "kind": "MemcachedCluster"}])
    gateway.patch(
        "operators.coreos.com/v1alpha1",
        "ClusterServiceVersion",
        installation.installed_csv,
        {"metadata": {"annotations": {"alm-examples": examples}}},
        installation.namespace,
    )
    answers.clear()
    tasks.sync_cluster(sandbox_cluster.pk, force=True)

    installation.refresh_from_db()
    assert installation.csv_info["alm_examples"] == examples
    assert [a for a in answers if a[2] == "ClusterServiceVersion"] == [
        (
            "GET",
            f"/apis/operators.coreos.com/v1alpha1/namespaces/{installation.namespace}"
            f"/clusterserviceversions/{installation.installed_csv}",
            "ClusterServiceVersion",
        )
    ]

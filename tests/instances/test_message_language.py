"""Instance pages in the reader's language: what the worker (English) wrote down — the
verify-access result, the key's spread over the pods, the failure reason — reads in Chinese
for a 中文 reader with the cluster's own words and names intact, in English for the others;
and the create form explains the MemcachedCluster fields in our own words in Chinese
instead of the operator's English specDescriptors."""

import copy
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext_noop
from rest_framework.test import APIClient

from clusters import kube
from core.i18n import Text
from instances import memcached, records
from instances import tasks as instance_tasks
from instances.models import OperandInstance
from provisioning import records as provisioning_records
from provisioning.models import Installation
from tests.instances.test_event_language import page_text
from tests.instances.test_memcached_rules import CSV_INFO
from tests.provisioning.test_olm import HEALTHY, _assess, _olm_sub

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
UNPACK_FAILED = "Bundle unpacking failed - DeadlineExceeded: Job was active longer than specified"

# The operator's own words for its fields (sandbox/catalogs/tenxcloud.yaml).
MEMCACHED_CSV: dict[str, Any] = copy.deepcopy(CSV_INFO)
MEMCACHED_CSV["name"] = "memcached-operator.v1.1.0"
MEMCACHED_CSV["provided_apis"][0]["spec_descriptors"] += [
    {
        "path": "nodeSelector",
        "display_name": "Node Selector",
        "description": "Schedule memcached pods only on nodes with these labels.",
        "x_descriptors": [],
    },
    {
        "path": "affinity",
        "display_name": "Affinity",
        "description": "Kubernetes affinity rules for the memcached pods.",
        "x_descriptors": [],
    },
    {
        "path": "resources",
        "display_name": "Resources",
        "description": "CPU and memory for each memcached pod (recommended 1 CPU / 512Mi).",
        "x_descriptors": [],
    },
]


@pytest.fixture
def installation(buyer, on_sale_version, sandbox_cluster):
    """The operator as the worker recorded it (no cluster call: the tests write its state)."""
    return Installation.objects.create(
        tenant=buyer,
        project=buyer.project,
        cluster=sandbox_cluster,
        asset=on_sale_version.asset,
        version=on_sale_version,
        namespace=buyer.project.namespace,
        package="memcached-operator",
        channel="stable",
        catalog_source="mem-registry",
        catalog_namespace="olm",
        status=Installation.Status.INSTALLED,
        csv_info=MEMCACHED_CSV,
        created_by=buyer.owner,
    )


def _instance(installation, **fields):
    return OperandInstance.objects.create(
        tenant=installation.tenant,
        installation=installation,
        cluster=installation.cluster,
        namespace=installation.namespace,
        api_group="daas.tenxcloud.com",
        api_version="v1",
        kind="MemcachedCluster",
        name="mem1",
        created_by=installation.created_by,
        **fields,
    )


def _read(client, url, **headers):
    return page_text(client.get(url, **headers).content.decode())


def test_a_verification_reads_in_chinese_with_the_addresses_intact(
    client, buyer, installation, settings, memcached_server, closed_port
):
    """replset over a real memcached, one pod that answers and one that does not."""
    settings.MEMCACHED_ACCESS_OVERRIDES = {}
    settings.MEMCACHED_VERIFY_TIMEOUT = 1
    host, port = memcached_server.split(":")
    instance = _instance(
        installation,
        spec={"replicas": 2, "version": "v1.5", "setup": "replset"},
        status="running",
        settled=True,
        router_ip_address=memcached_server,
        pods=[
            {"name": "mem1-memcached-0", "role": "memcached", "ip": host, "port": int(port)},
            {
                "name": "mem1-memcached-1",
                "role": "memcached",
                "ip": "127.0.0.1",
                "port": int(closed_port.split(":")[1]),
            },
        ],
    )
    with translation.override("en"):  # the worker's language
        instance_tasks.verify_access(instance.pk)
    instance.refresh_from_db()
    assert instance.verify_ok is True and instance.verify_distribution_ok is False
    assert instance.verify_message.startswith("set marketplace-verify-")
    client.force_login(buyer.owner)
    url = f"/instances/{instance.pk}/access/"

    zh = _read(client, url, **ZH)
    assert f"（经由 {memcached_server}）。" in zh
    assert (
        "预期 replset：每个 memcached Pod 都必须持有该键，但实际 2 个 Pod 中有 1 个持有该键；" in zh
    )
    assert "mem1-memcached-1" in zh and "(连接被拒绝)" in zh  # the pod that did not answer
    for english in ("through", "Expected", "pods hold it", "could not be reached"):
        assert english not in zh, english
    en = _read(client, url)
    assert f"(through {memcached_server})." in en
    assert (
        "Expected replset: every memcached pod must hold the key, but 1 of 2 pods hold it; "
        "mem1-memcached-1 could not be reached."
    ) in en

    api = APIClient()
    api.force_authenticate(buyer.owner)
    verification = api.get(f"/api/v1/instances/{instance.pk}/", **ZH).json()["verification"]
    assert verification["distribution_message"].startswith("Expected replset")
    assert verification["distribution_message_display"].startswith("预期 replset")
    assert verification["message"].startswith("set ") and "through" in verification["message"]
    assert "经由" in verification["message_display"]
    unreachable = verification["pods"][1]
    assert (unreachable["error"], unreachable["error_display"]) == (
        "connection refused",
        "连接被拒绝",
    )


def test_a_refused_connection_reads_in_chinese(client, buyer, installation, settings, closed_port):
    settings.MEMCACHED_ACCESS_OVERRIDES = {f"{installation.namespace}/mem1": closed_port}
    instance = _instance(installation, spec={"setup": "sharded"}, status="running", settled=True)
    with translation.override("en"):
        instance_tasks.verify_access(instance.pk)
    instance.refresh_from_db()
    assert instance.verify_message == f"{closed_port}: connection refused"
    client.force_login(buyer.owner)
    url = f"/instances/{instance.pk}/access/"
    assert f"{closed_port}：连接被拒绝" in _read(client, url, **ZH)
    assert f"{closed_port}: connection refused" in _read(client, url)


def test_an_operator_that_failed_fails_its_waiting_instance_in_the_readers_language(
    client, buyer, installation
):
    """The instance's reason quotes the installation's: both read in Chinese, OLM's words
    as OLM wrote them."""
    failed = {
        "message": UNPACK_FAILED,
        "reason": "BundleUnpackFailed",
        "status": "True",
        "type": "BundleUnpackFailed",
    }
    Installation.objects.filter(pk=installation.pk).update(status="installing")
    instance = _instance(installation, spec={"setup": "sharded"}, status="pending")
    with translation.override("en"):
        provisioning_records.record_assessment(
            installation_id=installation.pk,
            assessment=_assess(_olm_sub(conditions=[HEALTHY, failed])),
        )
        instance_tasks.sync_instances(installation.cluster_id)
    instance.refresh_from_db()
    assert instance.status == "failed"
    assert instance.failure_reason == (
        f"The operator could not be installed: The operator's bundle could not be unpacked: "
        f"{UNPACK_FAILED}"
    )
    client.force_login(buyer.owner)
    zh = _read(client, f"/instances/{instance.pk}/", **ZH)
    assert f"Operator 安装失败：无法解包该 Operator 的 bundle：{UNPACK_FAILED}" in zh
    assert "could not be" not in zh
    assert "Operator 安装失败" in _read(client, "/instances/", **ZH)
    assert instance.failure_reason in _read(client, f"/instances/{instance.pk}/")


def test_an_instance_gone_from_the_cluster_reads_in_chinese(client, buyer, installation):
    instance = _instance(installation, spec={"setup": "sharded"}, status="running", settled=True)
    with translation.override("en"):
        observed = instance_tasks.observe(instance, None, pods=[], services_=[])
        records.record_observation(instance_id=instance.pk, observed=observed)
    instance.refresh_from_db()
    assert instance.status == "failed"
    assert "is gone from the cluster" in instance.failure_reason
    client.force_login(buyer.owner)
    zh = _read(client, f"/instances/{instance.pk}/", **ZH)
    assert "该 MemcachedCluster 已不在集群中（在平台之外被删除）。" in zh
    assert "is gone from the cluster" not in zh
    events = _read(client, f"/instances/{instance.pk}/events/", **ZH)
    assert "该 MemcachedCluster 已不在集群中" in events and "is gone" not in events


def test_the_create_form_explains_known_fields_in_chinese_and_the_operators_words_in_english(
    client, buyer, installation
):
    client.force_login(buyer.owner)
    url = f"/instances/new/{installation.pk}/"
    zh = _read(client, url, **ZH)
    assert "集群中 memcached Pod 的数量。" in zh  # replicas
    assert "集群中各 Pod 运行的 memcached 版本。" in zh  # version
    assert "Memcached 版本" in zh
    for operators in (
        "Memcached image version run by the cluster.",
        "Memcached Version",
        "Schedule memcached pods only on nodes with these labels.",
        "Kubernetes affinity rules for the memcached pods.",
        "CPU and memory for each memcached pod",
    ):
        assert operators not in zh, operators
    en = _read(client, url)
    assert "Memcached image version run by the cluster." in en  # the operator's, in English
    assert "Memcached Version" in en
    assert "Kubernetes affinity rules for the memcached pods." in en
    assert "CPU and memory for each memcached pod (recommended 1 CPU / 512Mi)." in en


def test_an_access_service_deleted_outside_the_platform_reads_in_chinese(
    client, buyer, installation
):
    instance = _instance(
        installation,
        spec={"setup": "sharded"},
        status="running",
        settled=True,
        expose_requested=True,
        access_state="exposed",
        access_address="127.0.0.1:30111",
    )
    cr = {
        "apiVersion": "daas.tenxcloud.com/v1",
        "kind": "MemcachedCluster",
        "metadata": {"name": "mem1", "namespace": instance.namespace, "generation": 1},
        "spec": instance.spec,
        "status": {"phase": "Running", "observedGeneration": 1},
    }
    with translation.override("en"):
        observed = instance_tasks.observe(instance, cr, pods=[], services_=[])
        records.record_observation(instance_id=instance.pk, observed=observed)
    instance.refresh_from_db()
    assert instance.access_state == "failed"
    name = memcached.external_service_name("mem1")
    assert instance.access_error == f"The access Service {name} was deleted outside the platform."
    client.force_login(buyer.owner)
    zh = _read(client, f"/instances/{instance.pk}/access/", **ZH)
    assert f"访问服务 {name} 在平台之外被删除。" in zh and "was deleted outside" not in zh
    assert instance.access_error in _read(client, f"/instances/{instance.pk}/access/")
    api = APIClient()
    api.force_authenticate(buyer.owner)
    body = api.get(f"/api/v1/instances/{instance.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    access = body["external_access"]
    assert access["error"] == instance.access_error
    assert "在平台之外被删除" in access["error_display"]


def test_a_job_that_ran_out_of_retries_fails_the_instance_in_the_readers_language(
    client, buyer, installation
):
    """Our own sentence inside a cluster error (the CRD not served yet, retried until the
    retries ran out) is kept as a sentence, so Celery's failure hook records it translatable."""
    instance = _instance(installation, spec={"setup": "sharded"}, status="pending")
    not_served = kube.TransientError(
        Text(gettext_noop("%(kind)s is not served by the cluster yet."), kind="MemcachedCluster")
    )
    with translation.override("en"):
        instance_tasks.apply_instance.on_failure(not_served, "job", (instance.pk,), {}, None)
    instance.refresh_from_db()
    assert instance.status == "failed"
    assert instance.failure_reason == "MemcachedCluster is not served by the cluster yet."
    client.force_login(buyer.owner)
    zh = _read(client, f"/instances/{instance.pk}/", **ZH)
    assert "集群尚未提供 MemcachedCluster。" in zh and "is not served" not in zh

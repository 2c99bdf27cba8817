"""What the worker learnt from OLM, read in the reader's language.

The worker runs in English and writes the installation's state down (failure reason, notes,
the status event); a 中文 reader must read our sentence in Chinese, with the cluster's own
words (OLM's status messages, names) exactly as the cluster wrote them, and an English
reader in English. The state is produced the way the sync produces it: OLM-shaped objects
through `olm.assess`, then `records.record_assessment`, in the worker's language.
"""

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from provisioning import records
from provisioning.models import Installation
from tests.instances.test_event_language import page_text
from tests.provisioning.test_olm import HEALTHY, INSTALLED, UPGRADE, _assess, _csv, _ip, _olm_sub

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
UNPACK_FAILED = (
    "Bundle unpacking failed - DeadlineExceeded: Job was active longer than specified "
    "deadline. Auto-retry in ~5 min after job cleanup (TTL)."
)
WAITING = (
    "installing: waiting for deployment etcd-operator to become ready: deployment "
    '"etcd-operator" not available: Deployment does not have minimum availability.'
)
DEPRECATED = (
    'olm.bundle/etcdoperator.v0.9.4: bundle "etcdoperator.v0.9.4" has been deprecated. '
    "Please switch to a different one."
)


@pytest.fixture
def installation(buyer, on_sale_version, sandbox_cluster):
    """An installation the worker follows (no cluster call: the test feeds OLM's objects)."""
    return Installation.objects.create(
        tenant=buyer,
        project=buyer.project,
        cluster=sandbox_cluster,
        asset=on_sale_version.asset,
        version=on_sale_version,
        namespace=buyer.project.namespace,
        package="etcd",
        channel="singlenamespace-alpha",
        catalog_source="operatorhubio-catalog",
        catalog_namespace="olm",
        status=Installation.Status.INSTALLING,
        created_by=buyer.owner,
    )


def _worker_records(installation, assessment):
    with translation.override("en"):  # the worker's language
        records.record_assessment(installation_id=installation.pk, assessment=assessment)
    installation.refresh_from_db()


def _read(client, url, **headers):
    return page_text(client.get(url, **headers).content.decode())


def test_an_unpack_failure_reads_in_chinese_with_olms_words_intact(client, buyer, installation):
    failed = {
        "message": UNPACK_FAILED,
        "reason": "BundleUnpackFailed",
        "status": "True",
        "type": "BundleUnpackFailed",
    }
    _worker_records(installation, _assess(_olm_sub(conditions=[HEALTHY, failed])))
    assert installation.status == "failed"
    client.force_login(buyer.owner)
    url = f"/operators/{installation.pk}/"

    zh = _read(client, url, **ZH)
    assert f"无法解包该 Operator 的 bundle：{UNPACK_FAILED}" in zh
    assert "could not be unpacked" not in zh
    english = _read(client, url)
    assert f"The operator's bundle could not be unpacked: {UNPACK_FAILED}" in english
    # The list of installations, too.
    assert "无法解包该 Operator 的 bundle" in _read(client, "/operators/", **ZH)

    # The API keeps the English `failure_reason` and adds it in the request's language.
    api = APIClient()
    api.force_authenticate(buyer.owner)
    body = api.get(f"/api/v1/installations/{installation.pk}/", **ZH).json()
    assert body["failure_reason"] == f"The operator's bundle could not be unpacked: {UNPACK_FAILED}"
    assert body["failure_reason_display"] == f"无法解包该 Operator 的 bundle：{UNPACK_FAILED}"


def test_an_upgrade_reads_in_chinese_on_the_events_tab(client, buyer, installation):
    Installation.objects.filter(pk=installation.pk).update(
        status=Installation.Status.INSTALLED, installed_csv="etcdoperator.v0.9.4"
    )
    old = _csv("etcdoperator.v0.9.4", phase="Replacing", reason="BeingReplaced")
    new = _csv(
        "etcdoperator.v0.9.5",
        phase="Installing",
        reason="InstallWaiting",
        message=WAITING,
        replaces="etcdoperator.v0.9.4",
    )
    _worker_records(installation, _assess(_olm_sub(**UPGRADE), [_ip("install-up")], [old, new]))
    assert installation.status == "upgrading"
    client.force_login(buyer.owner)
    url = f"/operators/{installation.pk}/events/"

    zh = _read(client, url, **ZH)
    assert f"正在从 etcdoperator.v0.9.4 升级到 etcdoperator.v0.9.5。{WAITING}" in zh
    assert "Upgrading from" not in zh
    english = _read(client, url)
    assert f"Upgrading from etcdoperator.v0.9.4 to etcdoperator.v0.9.5. {WAITING}" in english

    api = APIClient()
    api.force_authenticate(buyer.owner)
    rows = api.get(f"/api/v1/installations/{installation.pk}/events/", **ZH).json()
    (row,) = [r for r in rows if r["reason"] == "Upgrading"]
    assert row["message"].startswith("Upgrading from etcdoperator.v0.9.4")
    assert row["message_display"].startswith("正在从 etcdoperator.v0.9.4 升级到")


def test_a_deprecation_note_reads_in_chinese(client, buyer, installation):
    deprecated = {
        "lastTransitionTime": "2026-05-01T10:06:00Z",
        "message": DEPRECATED,
        "status": "True",
        "type": "Deprecated",
    }
    _worker_records(
        installation,
        _assess(
            _olm_sub(conditions=[HEALTHY, deprecated], **INSTALLED),
            [_ip()],
            [_csv("etcdoperator.v0.9.4")],
        ),
    )
    assert installation.notes == [f"Deprecated: {DEPRECATED}"]
    client.force_login(buyer.owner)
    url = f"/operators/{installation.pk}/"
    assert f"已弃用：{DEPRECATED}" in _read(client, url, **ZH)
    assert f"Deprecated: {DEPRECATED}" in _read(client, url)
    api = APIClient()
    api.force_authenticate(buyer.owner)
    body = api.get(f"/api/v1/installations/{installation.pk}/", **ZH).json()
    assert body["notes"] == [f"Deprecated: {DEPRECATED}"]
    assert body["notes_display"] == [f"已弃用：{DEPRECATED}"]


def test_a_reason_written_without_its_text_is_shown_as_written(client, buyer, installation):
    """A writer that sets the English field alone (an error the client library gave) never
    gets the translation of an earlier sentence shown in its place."""
    failed = {
        "message": UNPACK_FAILED,
        "reason": "BundleUnpackFailed",
        "status": "True",
        "type": "BundleUnpackFailed",
    }
    _worker_records(installation, _assess(_olm_sub(conditions=[HEALTHY, failed])))
    Installation.objects.filter(pk=installation.pk).update(failure_reason="HTTP 500: boom")
    client.force_login(buyer.owner)
    zh = _read(client, f"/operators/{installation.pk}/", **ZH)
    assert "HTTP 500: boom" in zh and "无法解包" not in zh

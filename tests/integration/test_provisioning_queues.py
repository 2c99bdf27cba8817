"""A burst of installs through a real Celery worker on Redis (issue 14): every install job
runs once, however long it waits in the queue while beat's syncs keep coming, and many
sync triggers leave at most one sync queued per cluster.
"""

import base64
import json
import subprocess
import sys
import textwrap
import uuid

import pytest
import redis
from celery import Celery

from tests.conftest import wait_until
from tests.integration.conftest import ROOT, clean_env, database_url_of_test_db

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

V1 = "operators.coreos.com/v1alpha1"
INSTALL = "provisioning.tasks.install_operator"
SYNC = "provisioning.tasks.sync_cluster"


@pytest.fixture
def not_eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False


def _installations(count, buyer, version, cluster):
    """`count` installations (one tenant's entitlement, a project each), their jobs not
    yet sent to any worker."""
    from accounts import services as account_services
    from provisioning import services

    made = []
    for i in range(count):
        project = account_services.create_project(
            actor=buyer.owner,
            tenant=buyer,
            name=f"q{i}",
            namespace=f"{buyer.project.namespace}-{i}",
        )
        made.append(
            services.request_installation(
                actor=buyer.owner,
                tenant=buyer,
                project=project,
                cluster=cluster,
                version=version,
                channel="stable",
            )
        )
    return made


def _succeeded(worker, task):
    return sum(
        1
        for line in worker.log.read_text().splitlines()
        if f"Task {task}[" in line and " succeeded in " in line
    )


def test_install_jobs_waiting_in_the_queue_run_once(
    worker_factory,
    redis_url,
    buyer,
    on_sale_version,
    sandbox_cluster,
    sandbox,
    sandbox_faults,
    not_eager,
):
    from provisioning.models import Installation

    count = 6
    installations = _installations(count, buyer, on_sale_version, sandbox_cluster)
    queue = f"burst-{uuid.uuid4().hex[:8]}"
    # A lost job is sent again after 2 s; every API call takes 0.1 s here, so each install
    # (4 calls) and each sync (a list per kind and namespace) is slow, and the last installs
    # wait in the queue, behind the others and the syncs, far longer than 2 s.
    worker = worker_factory(
        queue=queue, TEST_CELERY_DEFAULT_QUEUE=queue, TEST_INSTALL_RESUBMIT_AFTER="2"
    )
    sandbox_faults.latency = 0.1
    sender = Celery(broker=redis_url, set_as_current=False)
    for installation in installations:  # the purchases' jobs, and beat's rounds meanwhile
        sender.send_task(INSTALL, args=[installation.pk], queue=queue)
        sender.send_task(SYNC, args=[sandbox_cluster.pk], queue=queue)

    def all_subscribed():
        return (
            not Installation.objects.filter(pk__in=[i.pk for i in installations])
            .filter(status="pending")
            .exists()
            and _succeeded(worker, SYNC) >= count
        )

    wait_until(all_subscribed, timeout=120, interval=0.5, message="every install job to run")
    sandbox_faults.reset()
    for _ in range(3):  # more rounds after the burst: nothing is sent again
        sender.send_task(SYNC, args=[sandbox_cluster.pk], queue=queue)
    wait_until(
        lambda: _succeeded(worker, SYNC) >= count + 3,
        timeout=60,
        interval=0.5,
        message="the later sync rounds",
    )
    assert _succeeded(worker, INSTALL) == count, worker.log.read_text()[-3000:]
    assert "sending it again" not in worker.log.read_text()
    for installation in installations:
        items, _rv = sandbox.store.list(
            sandbox.store.type_for(V1, "Subscription"), installation.namespace
        )
        assert len(items) == 1


TRIGGERS = textwrap.dedent(
    """
    import sys
    import django

    django.setup()
    from provisioning import tasks

    cluster_ids = [int(a) for a in sys.argv[1:]]
    for _ in range(20):
        tasks.sync_installations()  # beat's rounds
        for cluster_id in cluster_ids:
            tasks._follow_soon(cluster_id)  # install jobs asking for a look
    print("sent", flush=True)
    """
)


def _queued_syncs(client, queues):
    """cluster id → how many sync_cluster messages wait in `queues` (read, not taken)."""
    counts = {}
    for queue in queues:
        for raw in client.lrange(queue, 0, -1):
            message = json.loads(raw)
            if message["headers"].get("task") != SYNC:
                continue
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            cluster_id = args[0]
            counts[cluster_id] = counts.get(cluster_id, 0) + 1
    return counts


def test_many_sync_triggers_leave_one_queued_sync_per_cluster(
    # The operator is listed with eager jobs; the clusters' rows come once they are queued.
    worker_factory,
    redis_url,
    buyer,
    on_sale_version,
    not_eager,
    installed_on_two_clusters,
):
    sandbox_cluster, second = installed_on_two_clusters
    queue = f"syncs-{uuid.uuid4().hex[:8]}"
    queues = [queue, f"{queue}.installs", f"{queue}.sync"]
    env = clean_env(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DATABASE_URL=database_url_of_test_db(),
        TEST_CELERY_BROKER_URL=redis_url,
        TEST_CELERY_EAGER="0",
        TEST_CELERY_DEFAULT_QUEUE=queue,
    )
    client = redis.Redis.from_url(redis_url)

    def trigger():
        done = subprocess.run(
            [sys.executable, "-c", TRIGGERS, str(sandbox_cluster.pk), str(second.pk)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    try:
        trigger()  # 20 beat rounds and 20 install jobs' asks per cluster, no worker yet
        assert _queued_syncs(client, queues) == {sandbox_cluster.pk: 1, second.pk: 1}

        # A worker takes them; asked again afterwards, each cluster gets one sync again.
        worker = worker_factory(queue=queue)
        wait_until(
            lambda: _succeeded(worker, SYNC) >= 2 and not _queued_syncs(client, queues),
            timeout=60,
            interval=0.5,
            message="the worker to run the queued syncs",
        )
        worker.stop()
        trigger()
        assert _queued_syncs(client, queues) == {sandbox_cluster.pk: 1, second.pk: 1}
    finally:
        client.delete(*queues)

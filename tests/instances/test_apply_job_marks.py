"""The apply job's marks (issue 14): the instance sync sends a pending instance's apply
job again only when it was lost, never while it waits behind a burst in the queue.

Jobs run inline (eager Celery), so a test stands for the broker by writing the marks a
real delivery leaves; the worker-side marks (started, returned) are the real task's.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from instances import services as instance_services
from instances import tasks as instance_tasks
from instances.models import OperandInstance
from tests.conftest import sandbox_object

from .conftest import cr

MC = "daas.tenxcloud.com/v1"
LONG_AGO = timedelta(hours=1)


@pytest.fixture
def pending(installed, django_capture_on_commit_callbacks):
    """An instance whose apply job was asked for an hour ago and has not run."""
    with django_capture_on_commit_callbacks(execute=False):  # the job is not run here
        instance = instance_services.request_instance(
            actor=installed.created_by,
            installation=installed,
            manifest=cr(name="marks", namespace=installed.namespace),
        )
    OperandInstance.objects.filter(pk=instance.pk).update(enqueued_at=timezone.now() - LONG_AGO)
    return instance


def _sync_and_read(instance, sandbox):
    instance_tasks.sync_instances(instance.cluster_id, force=True)
    instance.refresh_from_db()
    return sandbox_object(sandbox, MC, "MemcachedCluster", instance.namespace, instance.name)


def test_a_job_waiting_in_the_queue_is_not_sent_again(pending, sandbox):
    OperandInstance.objects.filter(pk=pending.pk).update(
        job_sent_at=timezone.now() - LONG_AGO  # the broker has held it for an hour
    )
    assert _sync_and_read(pending, sandbox) is None
    assert pending.status == "pending" and pending.job_runs == 0


def test_a_job_that_never_reached_the_broker_is_sent_again_and_runs_once(pending, sandbox):
    assert _sync_and_read(pending, sandbox) is not None
    assert pending.status == "creating"
    assert pending.job_runs == 1
    assert pending.job_started_at is None and pending.job_sent_at is None  # it returned


def test_a_job_whose_worker_died_is_sent_again(pending, sandbox):
    OperandInstance.objects.filter(pk=pending.pk).update(
        job_started_at=timezone.now() - LONG_AGO,
        job_runs=1,  # started, never returned
    )
    assert _sync_and_read(pending, sandbox) is not None
    assert pending.status == "creating" and pending.job_runs == 2


def test_a_job_running_now_is_left_to_finish(pending, sandbox):
    OperandInstance.objects.filter(pk=pending.pk).update(job_started_at=timezone.now(), job_runs=1)
    assert _sync_and_read(pending, sandbox) is None
    assert pending.status == "pending" and pending.job_runs == 1

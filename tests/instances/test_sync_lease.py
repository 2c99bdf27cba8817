"""One instance sync per cluster at a time, across worker replicas: the lease is a row.

A cache key in a local (per-process) cache would let a second worker process start the
same cluster's sync; a row in the shared database stops it.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from instances import records
from instances import tasks as instance_tasks
from instances.models import InstanceSync, OperandInstance

pytestmark = pytest.mark.django_db


def test_a_sync_held_by_another_replica_is_skipped_until_its_lease_lapses(running):
    cluster_id = running.cluster_id
    OperandInstance.objects.filter(pk=running.pk).update(ready_replicas=0)
    # Another worker process took the lease a moment ago (a row, not this process' memory).
    held = timezone.now() + timedelta(seconds=60)
    InstanceSync.objects.update_or_create(cluster_id=cluster_id, defaults={"running_until": held})

    assert instance_tasks.sync_instances(cluster_id, force=True) == 0
    running.refresh_from_db()
    assert running.ready_replicas == 0  # nothing read: the other run owns the cluster
    assert InstanceSync.objects.get(cluster_id=cluster_id).running_until == held

    # Its worker died: the lease lapses and the next run takes it, reads, and gives it back.
    InstanceSync.objects.filter(cluster_id=cluster_id).update(
        running_until=timezone.now() - timedelta(seconds=1)
    )
    instance_tasks.sync_instances(cluster_id, force=True)
    running.refresh_from_db()
    assert running.ready_replicas == 2
    assert InstanceSync.objects.get(cluster_id=cluster_id).running_until is None


def test_the_lease_is_taken_once_however_many_replicas_ask(sandbox_cluster):
    now, lease = timezone.now(), timedelta(seconds=30)
    taken = [records.start_sync(cluster_id=sandbox_cluster.pk, now=now, lease=lease) for _ in "ab"]
    assert taken == [True, False]
    records.finish_sync(cluster_id=sandbox_cluster.pk)
    assert records.start_sync(cluster_id=sandbox_cluster.pk, now=now, lease=lease)

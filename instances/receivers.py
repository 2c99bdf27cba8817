"""Operand instances answer the installation's signals (uninstall asks about them)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from provisioning.models import Installation
from provisioning.services import installation_instance_count
from provisioning.signals import delete_instances_requested

from . import services, tasks
from .selectors import instances_of, live_instance_count


@receiver(installation_instance_count, dispatch_uid="provisioning.instances.count")
def count_instances(sender: type[Installation], installation: Installation, **kwargs: Any) -> int:
    """Uninstalling is refused while this is above 0, unless the user confirmed."""
    return live_instance_count(installation=installation)


@receiver(delete_instances_requested, dispatch_uid="provisioning.instances.delete_all")
def delete_instances(sender: type[Installation], installation: Installation, **kwargs: Any) -> None:
    """In the uninstall job: the confirmed instances are deleted before their operator goes,
    so the operator is still there to run its finalizers. Synchronous on purpose (the job
    must wait); a transient cluster error propagates, so the uninstall job retries (both are
    idempotent)."""
    for instance in list(instances_of(installation=installation)):
        services.request_delete(actor=None, instance=instance, enqueue=False)
        tasks.delete_instance(instance.pk)

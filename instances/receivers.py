"""Operand instances answer the installation's signals (uninstall asks about them)."""

from django.dispatch import receiver

from provisioning.services import installation_instance_count
from provisioning.signals import delete_instances_requested

from .selectors import instances_of, live_instance_count


@receiver(installation_instance_count, dispatch_uid="provisioning.instances.count")
def count_instances(sender, installation, **kwargs):
    """Uninstalling is refused while this is above 0, unless the user confirmed."""
    return live_instance_count(installation=installation)


@receiver(delete_instances_requested, dispatch_uid="provisioning.instances.delete_all")
def delete_instances(sender, installation, **kwargs):
    """In the uninstall job: the confirmed instances are deleted before their operator goes.

    A transient cluster error propagates, so the uninstall job retries (both are idempotent).
    """
    from . import services
    from .tasks import delete_instance

    for instance in list(instances_of(installation=installation)):
        services.request_delete(actor=None, instance=instance, enqueue=False)
        delete_instance(instance.pk)

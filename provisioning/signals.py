from django.dispatch import Signal

# sender=Installation, installation=...: sent by the uninstall job when the user confirmed
# deleting the operator's instances too; the operand-instances code deletes them.
delete_instances_requested = Signal()

"""What orders tells the apps above it (provisioning) without importing them.

Sent on commit only, so a receiver never acts on a payment that rolled back.
"""

from django.dispatch import Signal

# sender=Order, order=<Order> (status paid, with its entitlement): the provisioning
# issue installs the operator into order.project on order.cluster from it.
order_paid = Signal()

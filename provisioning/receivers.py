"""Reacts to the apps below: a paid order installs its operator."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from orders.models import Order
from orders.signals import order_paid

from . import paid_orders
from .services import order_is_installable


@receiver(order_paid, dispatch_uid="provisioning.install_paid_order")
def install_paid_order(sender: type[Order], order: Order, **kwargs: Any) -> None:
    """Sent on commit: only enqueues the job (the job, not the web request, writes)."""
    if order_is_installable(order):
        paid_orders.install_paid_order.delay(order.pk)

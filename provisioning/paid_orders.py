"""Paid orders become installations: the job a payment enqueues, and the reconciler that
finds the payments whose job was lost.

Paying commits first; only then is `install_paid_order` enqueued (orders sends `order_paid`
on commit). A process that dies in between, or a broker that drops the message, leaves a
paid order with no installation: the reconciler enqueues it again once it is older than
PAID_ORDER_RECONCILE_AFTER seconds. The job is idempotent, keyed by the order (one
installation per order, a database constraint), so a late or repeated delivery installs
exactly once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import selectors, services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def install_paid_order(order_id: int) -> int | None:
    installation = services.install_paid_order(order_id=order_id)
    return installation.pk if installation is not None else None


@shared_task(acks_late=True)
def reconcile_paid_orders() -> int:
    """Periodic: every paid order left without its installation is enqueued again."""
    paid_before = timezone.now() - timedelta(seconds=settings.PAID_ORDER_RECONCILE_AFTER)
    order_ids = selectors.paid_orders_awaiting_installation(paid_before=paid_before)
    for order_id in order_ids:
        install_paid_order.delay(order_id)
    if order_ids:
        logger.warning("re-enqueued %s paid order(s) that had no installation", len(order_ids))
    return len(order_ids)

"""Periodic jobs of the orders app (Celery beat)."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="orders.tasks.expire_overdue_orders", acks_late=True)
def expire_overdue_orders() -> int:
    """Unpaid orders past their deadline become expired; safe to run any number of times."""
    total = 0
    while True:
        expired = services.expire_overdue_orders()
        total += expired
        if expired < services.EXPIRY_BATCH:
            break
    if total:
        logger.info("expired %s unpaid order(s) past their payment deadline", total)
    return total

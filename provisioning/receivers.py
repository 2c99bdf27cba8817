"""Reacts to the apps below: a paid order installs its operator."""

import logging

from django.core.exceptions import ValidationError
from django.dispatch import receiver

from orders.models import Order
from orders.signals import order_paid

from .services import request_installation

logger = logging.getLogger(__name__)


@receiver(order_paid, dispatch_uid="provisioning.install_paid_order")
def install_paid_order(sender, order, **kwargs):
    """A paid new purchase installs into the project and cluster chosen in the buy dialog.

    The order code is the request key, so a repeated signal installs once.
    """
    if order.kind != Order.Kind.NEW or not (
        order.project_id and order.cluster_id and order.version_id
    ):
        return None
    try:
        return request_installation(
            actor=order.created_by,
            tenant=order.buyer,
            project=order.project,
            cluster=order.cluster,
            version=order.version,
            channel=order.channel,
            approval=order.approval,
            order_code=order.code,
            request_key=f"order:{order.code}",
        )
    except ValidationError as exc:
        # E.g. the operator is already installed in that namespace: the order stays paid
        # and the buyer installs elsewhere from 已购资产.
        logger.info("order %s paid but not installed: %s", order.code, exc.messages)
        return None

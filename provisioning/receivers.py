"""Reacts to the apps below: a paid order installs its operator."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from orders.models import Order
from orders.signals import install_problem_check, order_paid

from . import paid_orders
from .selectors import project_install_problem
from .services import order_is_installable


@receiver(order_paid, dispatch_uid="provisioning.install_paid_order")
def install_paid_order(sender: type[Order], order: Order, **kwargs: Any) -> None:
    """Sent on commit: only enqueues the job (the job, not the web request, writes)."""
    if order_is_installable(order):
        paid_orders.install_paid_order.delay(order.pk)


@receiver(install_problem_check, dispatch_uid="provisioning.project_install_problem")
def check_project_install(
    sender: Any, version: Any, channel: str, cluster: Any, **kwargs: Any
) -> str:
    """Before payment: can the operator reach a project on that cluster (its own copy, or
    the platform's cluster-wide one)?"""
    return project_install_problem(
        version=version, channel=channel, cluster_id=cluster.pk if cluster is not None else None
    )

"""What orders tells the apps above it (provisioning) without importing them.

Sent on commit only, so a receiver never acts on a payment that rolled back.
"""

from django.dispatch import Signal

# sender=Order, order=<Order> (status paid, with its entitlement): the provisioning
# issue installs the operator into order.project on order.cluster from it.
order_paid = Signal()

# sender=AssetVersion, version=, channel=, cluster=: asked before an order is placed;
# receivers (provisioning) answer why the operator could not be installed into a project
# on that cluster ("" when it can), so nobody pays for what cannot be installed.
install_problem_check = Signal()


def install_problems(*, version, channel: str, cluster) -> list[str]:
    """Every receiver's non-empty answer to `install_problem_check`."""
    answers = install_problem_check.send(
        sender=type(version), version=version, channel=channel, cluster=cluster
    )
    return [str(answer) for _receiver, answer in answers if answer]

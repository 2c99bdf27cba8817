"""Reads of the provisioning app, scoped to the acting user's tenants."""

from core.errors import NotFound

from .models import Installation, InstallationEvent


def installations_for(*, user, tenant=None, include_uninstalled=False):
    installations = Installation.objects.filter(tenant__memberships__user=user).select_related(
        "asset", "project", "cluster", "tenant"
    )
    if tenant is not None:
        installations = installations.filter(tenant=tenant)
    if not include_uninstalled:
        installations = installations.exclude(status=Installation.Status.UNINSTALLED)
    return installations.order_by("-created_at", "-id")


def get_installation_for(*, user, installation_id):
    try:
        return (
            installations_for(user=user, include_uninstalled=True)
            .select_related("version")
            .get(pk=installation_id)
        )
    except (Installation.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such installation.") from None


def events_of(*, installation, limit=200):
    return InstallationEvent.objects.filter(installation=installation).order_by(
        "-occurred_at", "-id"
    )[:limit]


STEPS = [
    (Installation.Step.OPERATOR_GROUP, "OperatorGroup"),
    (Installation.Step.SUBSCRIPTION, "Subscription"),
    (Installation.Step.INSTALL_PLAN, "InstallPlan"),
    (Installation.Step.CSV, "CSV"),
]
_ORDER = [Installation.Step.NAMESPACE, *[step for step, _ in STEPS], Installation.Step.DONE]


def step_indicator(installation):
    """OperatorGroup → Subscription → InstallPlan → CSV, each done, current or to do."""
    current = _ORDER.index(installation.step) if installation.step in _ORDER else 0
    failed = installation.status == Installation.Status.FAILED
    steps = []
    for step, label in STEPS:
        index = _ORDER.index(step)
        if index < current or installation.step == Installation.Step.DONE:
            state = "done"
        elif index == current:
            state = "failed" if failed else "current"
        else:
            state = "todo"
        steps.append({"label": label, "state": state})
    return steps


def installable_version(*, asset):
    """What a holder installs: the version on sale, else the last one sold (delisted)."""
    from assets.models import AssetVersion

    statuses = [AssetVersion.Status.ON_SALE, AssetVersion.Status.DELISTING_REVIEW]
    version = asset.versions.filter(status__in=statuses).order_by("-listed_at").first()
    if version is None:
        version = (
            asset.versions.filter(status=AssetVersion.Status.DELISTED)
            .exclude(listed_at=None)
            .order_by("-listed_at")
            .first()
        )
    return version


def installation_for_order(*, order):
    return (
        Installation.objects.filter(order_code=order.code, tenant_id=order.buyer_id)
        .order_by("-created_at")
        .first()
    )

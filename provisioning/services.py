"""What people (and paid orders) ask of provisioning: keyword-only, one transaction each.

These record the intent and enqueue the worker's job on commit; the worker talks to the
cluster (tasks) and writes down what it found (records).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.guards import require_member, require_platform_admin
from accounts.models import Project, Tenant, User
from accounts.services import record_audit
from assets.models import AssetVersion
from clusters.manifests import ALL_NAMESPACES, installs_into_own_namespace
from clusters.models import Cluster
from clusters.selectors import clusters_open_to
from core.errors import FieldErrors, error_code, error_text, invalid
from core.i18n import Text
from core.jobs import enqueue_on_commit
from orders.models import Order
from orders.selectors import active_entitlement

from . import records, tasks
from .errors import ProvisioningErrorCode as Code
from .models import Installation, OrderInstallRefusal
from .records import add_event, set_status
from .selectors import cluster_wide_installation, project_install_problem

# sender=Installation, installation=...: receivers (the instances app) return how many
# instances still run on it; uninstalling is refused while any do, unless confirmed.
installation_instance_count = Signal()

Status = Installation.Status
SALEABLE = (
    AssetVersion.Status.ON_SALE,
    AssetVersion.Status.DELISTING_REVIEW,
    AssetVersion.Status.DELISTED,
)


def _check_subscription(
    errors: FieldErrors, *, version: AssetVersion, channel: str, approval: str
) -> None:
    """What every Subscription we apply needs: one of the version's channels, a known
    approval strategy (the install, the cluster-wide install and the 订阅 tab share it)."""
    if channel not in version.channels:
        errors.add(
            "channel",
            _("Choose one of the channels %(channels)s.")
            % {"channels": ", ".join(version.channels)},
            code=Code.CHANNEL_UNKNOWN,
        )
    if approval not in Installation.Approval.values:
        errors.add("approval", _("Choose Automatic or Manual."), code=Code.APPROVAL_UNKNOWN)


def _installation_errors(
    *,
    tenant: Tenant,
    project: Project | None,
    cluster: Cluster | None,
    version: AssetVersion,
    channel: str,
    approval: str,
) -> FieldErrors:
    errors = FieldErrors()
    if project is None or project.tenant_id != tenant.pk:
        errors.add(
            "project",
            _("Choose a project of %(tenant)s.") % {"tenant": tenant},
            code=Code.PROJECT_NOT_OURS,
        )
    elif cluster is None or not clusters_open_to(project=project).filter(pk=cluster.pk).exists():
        errors.add(
            "cluster", _("This project may not deploy to that cluster."), code=Code.CLUSTER_NOT_OPEN
        )
    _check_subscription(errors, version=version, channel=channel, approval=approval)
    if version.status not in SALEABLE:
        errors.add("version", _("This version is not on sale."), code=Code.VERSION_NOT_ON_SALE)
    problem = project_install_problem(
        version=version, channel=channel, cluster_id=cluster.pk if cluster else None
    )
    if problem:
        errors.add("version", problem, code=Code.INSTALL_MODE_UNSUPPORTED)
    return errors


def _require_may_manage(actor: User, installation: Installation) -> None:
    """A cluster-wide installation is the platform admins'; a project's, its tenant's; a
    project's use of a cluster-wide operator has no Subscription of its own to manage."""
    if installation.tenant is None:
        require_platform_admin(user=actor)
        return
    require_member(user=actor, tenant=installation.tenant)


def _create_installation(
    *,
    actor: User | None,
    tenant: Tenant,
    project: Project,
    cluster: Cluster,
    version: AssetVersion,
    channel: str,
    approval: str,
    order: Order | None,
    request_key: str,
) -> Installation:
    """Checks what the cluster and the entitlement allow, then records the installation and
    enqueues its job on commit. A repeated request key returns the first installation."""
    if request_key:
        existing = Installation.objects.filter(tenant=tenant, request_key=request_key).first()
        if existing is not None:
            return existing
    channel = channel or version.default_channel
    _installation_errors(
        tenant=tenant,
        project=project,
        cluster=cluster,
        version=version,
        channel=channel,
        approval=approval,
    ).raise_if_any()
    if active_entitlement(tenant, version.asset) is None:
        raise invalid(
            _("Your tenant holds no active entitlement for %(asset)s; buy or renew it first.")
            % {"asset": version.asset.name},
            code=Code.ENTITLEMENT_EXPIRED,
            field="version",
        )
    live = Installation.objects.filter(
        cluster=cluster, namespace=project.namespace, package=version.package_name
    ).exclude(status=Status.UNINSTALLED)
    if live.exists():
        raise invalid(
            _("%(package)s is already installed in %(namespace)s on %(cluster)s.")
            % {"package": version.package_name, "namespace": project.namespace, "cluster": cluster},
            code=Code.ALREADY_INSTALLED,
            field="project",
        )
    catalog = version.catalog_source
    provider = None
    if not installs_into_own_namespace(version.install_modes(channel)):
        # Checked above: the platform runs it cluster-wide here; the project uses that one.
        provider = cluster_wide_installation(cluster_id=cluster.pk, package=version.package_name)
    try:
        with transaction.atomic():
            installation = Installation.objects.create(
                tenant=tenant,
                project=project,
                cluster=cluster,
                asset=version.asset,
                version=version,
                order=order,
                request_key=request_key,
                namespace=project.namespace,
                package=version.package_name,
                channel=provider.channel if provider else channel,
                approval=provider.approval if provider else approval,
                catalog_source=catalog.name,
                catalog_namespace=catalog.namespace,
                # The version that was reviewed and listed, not today's channel head.
                starting_csv=version.starting_csv(channel),
                status=Status.PENDING,
                status_changed_at=timezone.now(),
                created_by=actor,
                provided_by=provider,
            )
            record_audit(
                actor=actor,
                action="installation.requested",
                obj=installation,
                tenant=tenant,
                to_state=Status.PENDING,
                changes={
                    "channel": channel,
                    "approval": approval,
                    "order": order.code if order else "",
                },
            )
            if provider is not None:
                add_event(
                    installation=installation,
                    reason="ProvidedClusterWide",
                    message=Text(
                        gettext_noop(
                            "%(package)s runs cluster-wide in %(namespace)s and watches every "
                            "namespace: instances go into %(project_namespace)s."
                        ),
                        package=installation.package,
                        namespace=provider.namespace,
                        project_namespace=project.namespace,
                    ),
                )
                records.mirror_provider(installation_id=installation.pk)
                enqueue_on_commit(tasks.install_operator, installation.pk)  # its namespace
            else:
                add_event(
                    installation=installation,
                    reason="InstallRequested",
                    message=Text(
                        gettext_noop(
                            "Install %(package)s (channel %(channel)s, %(approval)s approval)."
                        ),
                        package=installation.package,
                        channel=channel,
                        approval=_approval_label(approval),
                    ),
                )
                enqueue_on_commit(tasks.install_operator, installation.pk)
    except IntegrityError:
        # A concurrent request won: the same request (same key, same order) gets what it
        # created; another one for the same namespace and package is told so.
        existing = None
        if order is not None:
            existing = Installation.objects.filter(order=order).first()
        if existing is None and request_key:
            existing = Installation.objects.filter(tenant=tenant, request_key=request_key).first()
        if existing is not None:
            return existing
        raise invalid(
            _("This operator is already being installed in that namespace."),
            code=Code.INSTALL_IN_PROGRESS,
            field="project",
        ) from None
    return installation


def request_installation(
    *,
    actor: User,
    tenant: Tenant,
    project: Project | None,
    cluster: Cluster | None,
    version: AssetVersion,
    channel: str = "",
    approval: str = Installation.Approval.AUTOMATIC,
    request_key: str = "",
) -> Installation:
    """安装 (from 已购资产, the API or the service catalog): a member asks for it."""
    require_member(user=actor, tenant=tenant)
    if request_key:
        existing = Installation.objects.filter(tenant=tenant, request_key=request_key).first()
        if existing is not None:
            return existing
    if project is None or cluster is None:
        _installation_errors(
            tenant=tenant,
            project=project,
            cluster=cluster,
            version=version,
            channel=channel or version.default_channel,
            approval=approval,
        ).raise_if_any()
    assert project is not None and cluster is not None
    return _create_installation(
        actor=actor,
        tenant=tenant,
        project=project,
        cluster=cluster,
        version=version,
        channel=channel,
        approval=approval,
        order=None,
        request_key=request_key,
    )


def order_is_installable(order: Order) -> bool:
    """A paid new purchase that names where to install (the buy dialog's project and cluster)."""
    return (
        order.status == Order.Status.PAID
        and order.kind == Order.Kind.NEW
        and order.project_id is not None
        and order.cluster_id is not None
        and order.version_id is not None
    )


def install_paid_order(*, order_id: int) -> Installation | None:
    """The paid → install step, run by the worker: idempotent, keyed by the order.

    Creates the installation the order asked for, or finds the one made before; a refusal
    (already installed there, version withdrawn, …) is recorded once on the order, so the
    order stays paid, the buyer is told, and nobody retries for ever.
    """
    order = (
        Order.objects.select_related("buyer", "project", "cluster", "version__catalog_source")
        .select_related("version__asset", "created_by")
        .filter(pk=order_id)
        .first()
    )
    if order is None or not order_is_installable(order):
        return None
    existing = Installation.objects.filter(order=order).first()
    if existing is not None or OrderInstallRefusal.objects.filter(order=order).exists():
        return existing
    assert order.project is not None and order.cluster is not None and order.version is not None
    try:
        return _create_installation(
            actor=order.created_by,
            tenant=order.buyer,
            project=order.project,
            cluster=order.cluster,
            version=order.version,
            channel=order.channel,
            approval=order.approval,
            order=order,
            request_key=f"order:{order.code}",
        )
    except ValidationError as exc:
        with transaction.atomic():
            refusal, created = OrderInstallRefusal.objects.get_or_create(
                order=order,
                defaults={"code": error_code(exc)[:40], "reason": error_text(exc)},
            )
            if created:
                record_audit(
                    actor=None,
                    action="order.install_refused",
                    obj=order,
                    tenant=order.buyer,
                    reason=refusal.reason,
                )
        return None


def retry_installation(*, actor: User, installation: Installation) -> Installation:
    """重试: a failed installation starts again from the first step (every step is idempotent)."""
    _require_may_manage(actor, installation)
    _refuse_if_provided(installation)
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if installation.status != Status.FAILED:
            raise invalid(_("Only a failed installation can be retried."), code=Code.NOT_FAILED)
        set_status(installation, Status.PENDING, actor=actor, reason="retry")
        installation.failure_reason = ""
        installation.step = Installation.Step.NAMESPACE
        installation.save()
        add_event(
            installation=installation,
            reason="Retry",
            message=Text(gettext_noop("Retry requested.")),
        )
        enqueue_on_commit(tasks.install_operator, installation.pk)
    return installation


def approve_install_plan(*, actor: User, installation: Installation) -> Installation:
    """批准升级: approves exactly the CSVs the user was shown, on the worker."""
    _require_may_manage(actor, installation)
    _refuse_if_provided(installation)
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if not installation.pending_install_plan:
            raise invalid(
                _("No InstallPlan is waiting for approval."), code=Code.NOTHING_TO_APPROVE
            )
        record_audit(
            actor=actor,
            action="installation.approved",
            obj=installation,
            tenant=installation.tenant,
            changes={
                "install_plan": installation.pending_install_plan,
                "csvs": installation.pending_csvs,
            },
        )
        add_event(
            installation=installation,
            reason="ApprovalRequested",
            message=Text(
                gettext_noop("%(user)s approved InstallPlan %(plan)s."),
                user=actor,
                plan=installation.pending_install_plan,
            ),
        )
        enqueue_on_commit(
            tasks.approve_install_plan,
            installation.pk,
            installation.pending_install_plan,
            list(installation.pending_csvs),
        )
    return installation


def _approval_label(approval: str) -> Text | str:
    """An approval strategy as its label, translated when the event is read."""
    if approval in Installation.Approval.values:
        return Text.label(Installation.Approval(approval).label)
    return approval


def _subscription_change_text(changes: dict[str, list[str]]) -> Text:
    """What changed in the subscription, in words each reader gets in their language."""
    channel = changes.get("channel") or ["", ""]
    approval = [_approval_label(a) for a in changes.get("approval") or ["", ""]]
    if "channel" in changes and "approval" in changes:
        return Text(
            gettext_noop(
                "Channel changed from %(old_channel)s to %(new_channel)s; approval from "
                "%(old_approval)s to %(new_approval)s."
            ),
            old_channel=channel[0],
            new_channel=channel[1],
            old_approval=approval[0],
            new_approval=approval[1],
        )
    if "channel" in changes:
        return Text(
            gettext_noop("Channel changed from %(old)s to %(new)s."),
            old=channel[0],
            new=channel[1],
        )
    return Text(
        gettext_noop("Approval changed from %(old)s to %(new)s."),
        old=approval[0],
        new=approval[1],
    )


def change_subscription(
    *, actor: User, installation: Installation, channel: str, approval: str
) -> Installation:
    """The 订阅 tab: a new channel or approval strategy, applied to the Subscription."""
    _require_may_manage(actor, installation)
    _refuse_if_provided(installation)
    errors = FieldErrors()
    _check_subscription(errors, version=installation.version, channel=channel, approval=approval)
    errors.raise_if_any()
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED):
            raise invalid(_("This operator is being uninstalled."), code=Code.UNINSTALLING)
        changes = {}
        if installation.channel != channel:
            changes["channel"] = [installation.channel, channel]
        if installation.approval != approval:
            changes["approval"] = [installation.approval, approval]
        if not changes:
            return installation
        installation.channel = channel
        installation.approval = approval
        installation.save()
        record_audit(
            actor=actor,
            action="installation.subscription_changed",
            obj=installation,
            tenant=installation.tenant,
            changes=changes,
        )
        add_event(
            installation=installation,
            reason="SubscriptionChanged",
            message=_subscription_change_text(changes),
        )
        enqueue_on_commit(tasks.apply_subscription, installation.pk)
    return installation


def _refuse_if_provided(installation: Installation) -> None:
    if installation.is_provided:
        raise invalid(
            _(
                "This operator runs cluster-wide and is managed by the platform: its channel, "
                "approvals and retries are the platform admins' (Operators → Cluster-wide)."
            ),
            code=Code.MANAGED_CLUSTER_WIDE,
        )


def install_cluster_wide(
    *,
    actor: User,
    cluster: Cluster,
    version: AssetVersion,
    channel: str = "",
    approval: str = Installation.Approval.AUTOMATIC,
) -> Installation:
    """A platform admin installs an AllNamespaces operator once on a cluster, into its global
    operators namespace; projects that bought it then use that one (their operands go into
    their own namespaces, which it watches)."""
    require_platform_admin(user=actor)
    channel = channel or version.default_channel
    errors = FieldErrors()
    _check_subscription(errors, version=version, channel=channel, approval=approval)
    if version.status not in SALEABLE:
        errors.add("version", _("This version is not on sale."), code=Code.VERSION_NOT_ON_SALE)
    elif installs_into_own_namespace(version.install_modes(channel)):
        # Two copies watching one namespace would fight over its operands.
        errors.add(
            "version",
            _(
                "This operator can watch a project's own namespace: buyers install it into "
                "their projects, so it is not installed cluster-wide."
            ),
            code=Code.INSTALL_MODE_UNSUPPORTED,
        )
    elif ALL_NAMESPACES not in set(version.install_modes(channel) or ()):
        errors.add(
            "version",
            _("This operator does not support watching all namespaces."),
            code=Code.INSTALL_MODE_UNSUPPORTED,
        )
    errors.raise_if_any()
    namespace = cluster.global_operators_namespace
    if cluster_wide_installation(cluster_id=cluster.pk, package=version.package_name) or (
        Installation.objects.filter(
            cluster=cluster, namespace=namespace, package=version.package_name
        )
        .exclude(status=Status.UNINSTALLED)
        .exists()
    ):
        raise invalid(
            _("%(package)s is already installed cluster-wide on %(cluster)s.")
            % {"package": version.package_name, "cluster": cluster},
            code=Code.ALREADY_INSTALLED,
            field="cluster",
        )
    catalog = version.catalog_source
    with transaction.atomic():
        installation = Installation.objects.create(
            scope=Installation.Scope.CLUSTER,
            cluster=cluster,
            asset=version.asset,
            version=version,
            namespace=namespace,
            package=version.package_name,
            channel=channel,
            approval=approval,
            catalog_source=catalog.name,
            catalog_namespace=catalog.namespace,
            starting_csv=version.starting_csv(channel),
            status=Status.PENDING,
            status_changed_at=timezone.now(),
            created_by=actor,
        )
        record_audit(
            actor=actor,
            action="installation.requested_cluster_wide",
            obj=installation,
            to_state=Status.PENDING,
            changes={"channel": channel, "approval": approval, "namespace": namespace},
        )
        add_event(
            installation=installation,
            reason="InstallRequested",
            message=Text(
                gettext_noop(
                    "Install %(package)s cluster-wide into %(namespace)s, watching all "
                    "namespaces (channel %(channel)s, %(approval)s approval)."
                ),
                package=installation.package,
                namespace=namespace,
                channel=channel,
                approval=_approval_label(approval),
            ),
        )
        enqueue_on_commit(tasks.install_operator, installation.pk)
    return installation


def instance_count(installation: Installation) -> int:
    """How many operand instances run on it (the instances app answers the signal)."""
    return sum(
        int(answer or 0)
        for _receiver, answer in installation_instance_count.send(
            sender=Installation, installation=installation
        )
    )


def request_uninstall(
    *, actor: User, installation: Installation, delete_instances: bool = False
) -> Installation:
    """Refused while instances run, unless the user confirmed deleting them too; a
    cluster-wide operator, while projects use it."""
    _require_may_manage(actor, installation)
    if installation.is_cluster_wide:
        users = installation.project_uses.exclude(status=Status.UNINSTALLED).count()
        if users:
            raise invalid(
                _(
                    "%(count)s project(s) use this cluster-wide operator. They must uninstall "
                    "it from their projects first."
                )
                % {"count": users},
                code=Code.STILL_USED,
            )
    running = instance_count(installation)
    if running and not delete_instances:
        raise invalid(
            _(
                "%(count)s instance(s) still run on this operator. Confirm deleting "
                "them too, or delete them first."
            )
            % {"count": running},
            code=Code.INSTANCES_RUNNING,
            field="delete_instances",
        )
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED):
            return installation
        set_status(installation, Status.UNINSTALLING, actor=actor)
        installation.save()
        add_event(
            installation=installation,
            reason="UninstallRequested",
            message=Text(gettext_noop("Uninstall requested by %(user)s."), user=actor),
        )
        enqueue_on_commit(tasks.uninstall_operator, installation.pk, bool(delete_instances))
    return installation

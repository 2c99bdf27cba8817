"""Every write of the provisioning app: keyword-only, one transaction each.

Web requests only record intent and enqueue work on commit; the worker talks to clusters.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership
from accounts.services import record_audit
from assets.models import AssetVersion
from clusters.selectors import clusters_open_to
from orders.selectors import active_entitlement

from .models import Installation, InstallationEvent

# sender=Installation, installation=...: receivers (the operand-instances app) return how
# many instances still run on it; uninstalling is refused while any do, unless confirmed.
installation_instance_count = Signal()


Status = Installation.Status


def _enqueue(task_name, *args):
    from . import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))


def _require_member(*, user, tenant):
    if user is None:
        return
    if not Membership.objects.filter(user=user, tenant=tenant).exists():
        raise PermissionDenied(_("You are not a member of %(tenant)s.") % {"tenant": tenant})


def add_event(*, installation, reason, message="", type="Normal", source="platform", **extra):
    return InstallationEvent.objects.create(
        installation=installation,
        reason=reason,
        message=message,
        type=type,
        source=source,
        occurred_at=extra.pop("occurred_at", None) or timezone.now(),
        **extra,
    )


def _set_status(installation, status, *, actor=None, reason=""):
    previous = installation.status
    if previous == status:
        return False
    installation.status = status
    installation.status_changed_at = timezone.now()
    record_audit(
        actor=actor,
        action="installation.status",
        obj=installation,
        tenant=installation.tenant,
        from_state=previous,
        to_state=status,
        reason=reason,
    )
    return True


def request_installation(
    *,
    actor,
    tenant,
    project,
    cluster,
    version,
    channel="",
    approval=Installation.Approval.AUTOMATIC,
    order_code="",
    request_key="",
):
    """安装: records the installation and enqueues it; a repeated request key returns the first."""
    _require_member(user=actor, tenant=tenant)
    if request_key:
        existing = Installation.objects.filter(tenant=tenant, request_key=request_key).first()
        if existing is not None:
            return existing
    errors = {}
    if project is None or project.tenant_id != tenant.pk:
        errors["project"] = [_("Choose a project of %(tenant)s.") % {"tenant": tenant}]
    elif cluster is None or not clusters_open_to(project=project).filter(pk=cluster.pk).exists():
        errors["cluster"] = [_("This project may not deploy to that cluster.")]
    channel = channel or version.default_channel
    if channel not in version.channels:
        errors["channel"] = [
            _("Choose one of the channels %(channels)s.")
            % {"channels": ", ".join(version.channels)}
        ]
    if approval not in Installation.Approval.values:
        errors["approval"] = [_("Choose Automatic or Manual.")]
    if version.status not in (
        AssetVersion.Status.ON_SALE,
        AssetVersion.Status.DELISTING_REVIEW,
        AssetVersion.Status.DELISTED,
    ):
        errors["version"] = [_("This version is not on sale.")]
    if errors:
        raise ValidationError(errors)
    if active_entitlement(tenant, version.asset) is None:
        raise ValidationError(
            {
                "version": [
                    _(
                        "Your tenant holds no active entitlement for %(asset)s; buy or renew "
                        "it first."
                    )
                    % {"asset": version.asset.name}
                ]
            },
            code="entitlement_expired",
        )
    live = Installation.objects.filter(
        cluster=cluster, namespace=project.namespace, package=version.package_name
    ).exclude(status=Status.UNINSTALLED)
    if live.exists():
        raise ValidationError(
            {
                "project": [
                    _("%(package)s is already installed in %(namespace)s on %(cluster)s.")
                    % {
                        "package": version.package_name,
                        "namespace": project.namespace,
                        "cluster": cluster,
                    }
                ]
            }
        )
    catalog = version.catalog_source
    try:
        with transaction.atomic():
            installation = Installation.objects.create(
                tenant=tenant,
                project=project,
                cluster=cluster,
                asset=version.asset,
                version=version,
                order_code=order_code,
                request_key=request_key,
                namespace=project.namespace,
                package=version.package_name,
                channel=channel,
                approval=approval,
                catalog_source=catalog.name,
                catalog_namespace=catalog.namespace,
                status=Status.PENDING,
                status_changed_at=timezone.now(),
                created_by=actor,
            )
            record_audit(
                actor=actor,
                action="installation.requested",
                obj=installation,
                tenant=tenant,
                to_state=Status.PENDING,
                changes={"channel": channel, "approval": approval, "order": order_code},
            )
            add_event(
                installation=installation,
                reason="InstallRequested",
                message=_("Install %(package)s (channel %(channel)s, %(approval)s approval).")
                % {"package": installation.package, "channel": channel, "approval": approval},
            )
            _enqueue("install_operator", installation.pk)
    except IntegrityError:
        # A concurrent request won: the same request (same key) gets what it created;
        # another one for the same namespace and package is told so.
        existing = (
            Installation.objects.filter(tenant=tenant, request_key=request_key).first()
            if request_key
            else None
        )
        if existing is not None:
            return existing
        raise ValidationError(
            {"project": [_("This operator is already being installed in that namespace.")]}
        ) from None
    return installation


def record_step(*, installation_id, step, operator_group=""):
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED):
            return installation
        installation.step = step
        if operator_group:
            installation.operator_group = operator_group
        if step == Installation.Step.SUBSCRIPTION:
            installation.subscribed_at = timezone.now()
            if installation.status == Status.PENDING:
                _set_status(installation, Status.SUBSCRIBING)
        installation.attempts += 1 if step == Installation.Step.NAMESPACE else 0
        installation.next_sync_at = None
        installation.quiet_syncs = 0
        installation.save()
    return installation


def record_assessment(*, installation_id, assessment):
    """Applies what the cluster says; returns whether anything changed (for back-off)."""
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED, Status.PENDING):
            return False
        if installation.status == Status.FAILED and assessment.status in (
            Status.FAILED,
            Status.SUBSCRIBING,
        ):
            # Failed stays failed until the cluster shows progress again (OLM recovered,
            # e.g. a catalog became healthy) or the user retries.
            return False
        before = (
            installation.status,
            installation.step,
            installation.installed_csv,
            installation.current_csv,
            installation.pending_install_plan,
            installation.failure_reason,
        )
        changed_status = _set_status(installation, assessment.status, reason=assessment.message)
        installation.step = assessment.step
        if assessment.status == Status.FAILED:
            installation.failure_reason = assessment.message
        else:
            installation.failure_reason = ""
        if assessment.installed_csv:
            if (
                installation.installed_csv
                and assessment.installed_csv != installation.installed_csv
            ):
                add_event(
                    installation=installation,
                    reason="Upgraded",
                    message=_("Upgraded from %(old)s to %(new)s.")
                    % {"old": installation.installed_csv, "new": assessment.installed_csv},
                )
            installation.installed_csv = assessment.installed_csv
            installation.installed_version = (
                assessment.installed_version or installation.installed_version
            )
        installation.current_csv = assessment.current_csv or installation.current_csv
        if assessment.csv_info:
            installation.csv_info = assessment.csv_info
        if assessment.pending_install_plan and not installation.pending_install_plan:
            add_event(
                installation=installation,
                reason="RequiresApproval",
                message=_("InstallPlan %(plan)s waits for approval to install %(csvs)s.")
                % {
                    "plan": assessment.pending_install_plan,
                    "csvs": ", ".join(assessment.pending_csvs),
                },
            )
        installation.pending_install_plan = assessment.pending_install_plan
        installation.pending_csvs = assessment.pending_csvs
        if changed_status:
            add_event(
                installation=installation,
                reason={
                    "installed": "Installed",
                    "failed": "InstallFailed",
                    "installing": "Installing",
                    "requires_approval": "RequiresApproval",
                    "subscribing": "Subscribing",
                }.get(assessment.status, "StatusChanged"),
                message=assessment.message
                or _("Now %(status)s.") % {"status": installation.get_status_display()},
                type="Warning" if assessment.status == Status.FAILED else "Normal",
            )
        if assessment.status == Status.INSTALLED and installation.installed_at is None:
            installation.installed_at = timezone.now()
        after = (
            installation.status,
            installation.step,
            installation.installed_csv,
            installation.current_csv,
            installation.pending_install_plan,
            installation.failure_reason,
        )
        changed = before != after
        installation.save()
    return changed


def mark_failed(*, installation_id, reason):
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        if installation.status in (Status.UNINSTALLED,):
            return installation
        _set_status(installation, Status.FAILED, reason=reason)
        installation.failure_reason = reason
        installation.save()
        add_event(installation=installation, reason="InstallFailed", message=reason, type="Warning")
    return installation


def _for_member(actor, installation):
    _require_member(user=actor, tenant=installation.tenant)


def retry_installation(*, actor, installation):
    """重试: a failed installation starts again from the first step (every step is idempotent)."""
    _for_member(actor, installation)
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if installation.status != Status.FAILED:
            raise ValidationError(_("Only a failed installation can be retried."))
        _set_status(installation, Status.PENDING, actor=actor, reason="retry")
        installation.failure_reason = ""
        installation.step = Installation.Step.NAMESPACE
        installation.save()
        add_event(installation=installation, reason="Retry", message=_("Retry requested."))
        _enqueue("install_operator", installation.pk)
    return installation


def approve_install_plan(*, actor, installation):
    """批准升级: approves exactly the CSVs the user was shown, on the worker."""
    _for_member(actor, installation)
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if not installation.pending_install_plan:
            raise ValidationError(_("No InstallPlan is waiting for approval."))
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
            message=_("%(user)s approved InstallPlan %(plan)s.")
            % {"user": actor, "plan": installation.pending_install_plan},
        )
        _enqueue(
            "approve_install_plan",
            installation.pk,
            installation.pending_install_plan,
            list(installation.pending_csvs),
        )
    return installation


def change_subscription(*, actor, installation, channel, approval):
    """The 订阅 tab: a new channel or approval strategy, applied to the Subscription."""
    _for_member(actor, installation)
    errors = {}
    if channel not in installation.version.channels:
        errors["channel"] = [
            _("Choose one of the channels %(channels)s.")
            % {"channels": ", ".join(installation.version.channels)}
        ]
    if approval not in Installation.Approval.values:
        errors["approval"] = [_("Choose Automatic or Manual.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED):
            raise ValidationError(_("This operator is being uninstalled."))
        changes = {}
        if installation.channel != channel:
            changes["channel"] = [installation.channel, channel]
        if installation.approval != approval:
            changes["approval"] = [installation.approval, approval]
        if not changes:
            return installation
        installation.channel = channel
        installation.approval = approval
        installation.next_sync_at = None
        installation.quiet_syncs = 0
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
            message=", ".join(f"{k}: {a} → {b}" for k, (a, b) in changes.items()),
        )
        _enqueue("apply_subscription", installation.pk)
    return installation


def instance_count(installation):
    return sum(
        answer or 0
        for _receiver, answer in installation_instance_count.send(
            sender=Installation, installation=installation
        )
    )


def request_uninstall(*, actor, installation, delete_instances=False):
    """Refused while instances run, unless the user confirmed deleting them too."""
    _for_member(actor, installation)
    running = instance_count(installation)
    if running and not delete_instances:
        raise ValidationError(
            {
                "delete_instances": [
                    _(
                        "%(count)s instance(s) still run on this operator. Confirm deleting "
                        "them too, or delete them first."
                    )
                    % {"count": running}
                ]
            }
        )
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if installation.status in (Status.UNINSTALLING, Status.UNINSTALLED):
            return installation
        _set_status(installation, Status.UNINSTALLING, actor=actor)
        installation.save()
        add_event(
            installation=installation,
            reason="UninstallRequested",
            message=_("Uninstall requested by %(user)s.") % {"user": actor},
        )
        _enqueue("uninstall_operator", installation.pk, bool(delete_instances))
    return installation


def record_uninstalled(*, installation_id):
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation_id)
        if installation.status == Status.UNINSTALLED:
            return installation
        _set_status(installation, Status.UNINSTALLED)
        installation.pending_install_plan = ""
        installation.pending_csvs = []
        installation.save()
        add_event(
            installation=installation,
            reason="Uninstalled",
            message=_("Subscription and ClusterServiceVersion deleted; the CRDs stay."),
        )
    return installation


def record_sync_schedule(*, installation_id, changed, now, fast_syncs=15, max_delay=60):
    """Back-off: after a run of quiet looks, look less and less often (up to a minute)."""
    installation = Installation.objects.filter(pk=installation_id)
    if changed:
        installation.update(quiet_syncs=0, next_sync_at=None)
        return
    current = installation.values_list("quiet_syncs", flat=True).first() or 0
    quiet = current + 1
    delay = 0 if quiet <= fast_syncs else min(max_delay, 2 ** (quiet - fast_syncs))
    installation.update(
        quiet_syncs=quiet, next_sync_at=now + timezone.timedelta(seconds=delay) if delay else None
    )

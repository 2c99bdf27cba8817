"""Every write about operand instances: keyword-only, one transaction each.

Web requests validate, record intent and enqueue on commit; the worker applies the
custom resource, exposes it, verifies it and reads it back (instance_tasks).
"""

import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import record_audit
from clusters.selectors import clusters_open_to
from provisioning import services as provisioning_services
from provisioning.models import Installation
from provisioning.selectors import installable_version
from provisioning.services import _require_member

from . import memcached
from .models import InstanceEvent, InstanceLog, InstanceMetric, OperandInstance
from .selectors import best_csv_info, entitlement_state

Status = OperandInstance.Status
Access = OperandInstance.Access
MAX_LOG_LINES = 2000


def _enqueue(task_name, *args):
    from . import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))


def add_event(*, instance, reason, message="", type="Normal", source="platform", **extra):
    return InstanceEvent.objects.create(
        instance=instance,
        reason=reason,
        message=message,
        type=type,
        source=source,
        occurred_at=extra.pop("occurred_at", None) or timezone.now(),
        **extra,
    )


def _set_status(instance, status, *, actor=None, reason=""):
    previous = instance.status
    if previous == status:
        return False
    instance.status = status
    instance.status_changed_at = timezone.now()
    if status == Status.RUNNING and instance.running_at is None:
        instance.running_at = instance.status_changed_at
    if status == Status.DELETED:
        instance.deleted_at = instance.status_changed_at
    record_audit(
        actor=actor,
        action="instance.status",
        obj=instance,
        tenant=instance.tenant,
        from_state=previous,
        to_state=status,
        reason=reason[:2000],
    )
    return True


def _locked(instance_id):
    return OperandInstance.objects.select_for_update().get(pk=instance_id)


# --- checks shared by the screens, the API and the service catalog ----------------------------


def entitlement_error(*, tenant, asset):
    """An expired entitlement blocks new instances; the message says how to renew."""
    active, ended = entitlement_state(tenant=tenant, asset=asset)
    if active is not None:
        return None
    if ended is not None:
        return ValidationError(
            {
                "entitlement": [
                    _(
                        "Your entitlement to %(asset)s ended on %(date)s: renew it to create new "
                        "instances (%(url)s). Running instances stay manageable."
                    )
                    % {
                        "asset": asset.name,
                        "date": timezone.localtime(ended.ends_at).strftime("%Y-%m-%d"),
                        "url": reverse("orders:renew", args=[ended.pk]),
                    }
                ]
            },
            code="entitlement_expired",
        )
    return ValidationError(
        {
            "entitlement": [
                _("Your tenant holds no entitlement to %(asset)s; buy it first.")
                % {"asset": asset.name}
            ]
        },
        code="entitlement_expired",
    )


def validate_manifest(*, csv_info, namespace, obj, kind=None):
    """(manifest, errors by path): MemcachedCluster by its rules, other owned APIs generically.

    `kind` is the API an editor is for; without it the object's own kind decides.
    """
    kind = kind or (obj.get("kind") if isinstance(obj, dict) else None)
    if kind == memcached.KIND or not csv_info:
        return memcached.validate_memcached(
            obj,
            namespace=namespace,
            versions=memcached.offered_versions(csv_info),
            max_replicas=settings.MEMCACHED_MAX_REPLICAS,
        )
    api = memcached.find_api(csv_info, kind)
    if api is None:
        kinds = ", ".join(a["kind"] for a in memcached.owned_apis(csv_info))
        return None, {"kind": [_("This operator provides %(kinds)s.") % {"kinds": kinds or "-"}]}
    return memcached.validate_generic(obj, api=api, namespace=namespace)


def _clean(*, installation, obj, csv_info=None):
    manifest, errors = validate_manifest(
        csv_info=installation.csv_info if csv_info is None else csv_info,
        namespace=installation.namespace,
        obj=obj,
    )
    if errors:
        raise ValidationError(errors)
    return manifest


def _name_taken(*, cluster, namespace, kind, name, exclude=None):
    taken = (
        OperandInstance.objects.filter(cluster=cluster, namespace=namespace, kind=kind, name=name)
        .exclude(status=Status.DELETED)
        .exclude(pk=exclude)
    )
    return taken.exists()


def _name_error(kind, name, namespace):
    return ValidationError(
        {
            "metadata.name": [
                _("A %(kind)s named “%(name)s” already exists in %(namespace)s.")
                % {"kind": kind, "name": name, "namespace": namespace}
            ]
        }
    )


# --- create, edit, scale, delete ----------------------------------------------------------


def request_instance(
    *,
    actor,
    installation,
    manifest,
    request_key="",
    origin=OperandInstance.Origin.OPERATOR,
    expose=False,
    allow_waiting=False,
    csv_info=None,
):
    """创建: validates the custom resource and enqueues its apply; a repeated key returns the first.

    `allow_waiting` (the service catalog) accepts an operator still being installed: the
    instance waits and the sync creates it once the operator is there.
    """
    _require_member(user=actor, tenant=installation.tenant)
    if request_key:
        existing = OperandInstance.objects.filter(
            tenant=installation.tenant, request_key=request_key
        ).first()
        if existing is not None:
            return existing
    if installation.status in (
        Installation.Status.UNINSTALLING,
        Installation.Status.UNINSTALLED,
    ) or (installation.status != Installation.Status.INSTALLED and not allow_waiting):
        raise ValidationError(
            {
                "installation": [
                    _("The operator is %(status)s; instances are created once it is installed.")
                    % {"status": installation.get_status_display().lower()}
                ]
            }
        )
    problem = entitlement_error(tenant=installation.tenant, asset=installation.asset)
    if problem is not None:
        raise problem
    cleaned = _clean(installation=installation, obj=manifest, csv_info=csv_info)
    api_group, _slash, api_version = cleaned["apiVersion"].rpartition("/")
    name, kind = cleaned["metadata"]["name"], cleaned["kind"]
    if _name_taken(
        cluster=installation.cluster, namespace=installation.namespace, kind=kind, name=name
    ):
        raise _name_error(kind, name, installation.namespace)
    ready = installation.status == Installation.Status.INSTALLED
    try:
        with transaction.atomic():
            instance = OperandInstance.objects.create(
                tenant=installation.tenant,
                installation=installation,
                cluster=installation.cluster,
                namespace=installation.namespace,
                api_group=api_group,
                api_version=api_version,
                kind=kind,
                name=name,
                spec=cleaned.get("spec") or {},
                labels=cleaned["metadata"].get("labels") or {},
                request_key=request_key,
                origin=origin,
                expose_requested=bool(expose) and kind == memcached.KIND,
                status=Status.PENDING,
                status_changed_at=timezone.now(),
                enqueued_at=timezone.now() if ready else None,
                created_by=actor,
            )
            record_audit(
                actor=actor,
                action="instance.requested",
                obj=instance,
                tenant=instance.tenant,
                to_state=Status.PENDING,
                changes={"spec": instance.spec, "origin": origin, "expose": expose},
            )
            add_event(
                instance=instance,
                reason="CreateRequested",
                message=_("Create %(kind)s %(name)s in %(namespace)s.")
                % {"kind": kind, "name": name, "namespace": instance.namespace}
                if ready
                else _("Waiting for the operator to be installed, then create %(kind)s %(name)s.")
                % {"kind": kind, "name": name},
            )
            if ready:
                _enqueue("apply_instance", instance.pk)
    except IntegrityError:
        if request_key:
            found = OperandInstance.objects.filter(
                tenant=installation.tenant, request_key=request_key
            ).first()
            if found is not None:
                return found
        raise _name_error(kind, name, installation.namespace) from None
    return instance


def manifest_of(instance):
    """The custom resource as we apply it (the detail page's YAML and the edit form's start)."""
    return memcached.manifest(
        name=instance.name,
        namespace=instance.namespace,
        spec=json.loads(json.dumps(instance.spec or {})),
        kind=instance.kind,
        api_version=instance.api_version_full,
        labels=dict(instance.labels or {}),
    )


def _check_manageable(instance, *, allow_failed=True):
    blocked = {Status.DELETING, Status.DELETED}
    if not allow_failed:
        blocked.add(Status.FAILED)
    if instance.status in blocked:
        raise ValidationError(
            _("This instance is %(status)s.") % {"status": instance.get_status_display().lower()}
        )


def update_instance(*, actor, instance, manifest):
    """编辑: applies a new spec; a failed instance is created anew with it (the fix)."""
    _require_member(user=actor, tenant=instance.tenant)
    _check_manageable(instance)
    cleaned = _clean(installation=instance.installation, obj=manifest)
    if cleaned["metadata"]["name"] != instance.name or cleaned["kind"] != instance.kind:
        raise ValidationError(
            {"metadata.name": [_("The name cannot change; create a new instance instead.")]}
        )
    with transaction.atomic():
        instance = _locked(instance.pk)
        _check_manageable(instance)
        before = instance.spec
        instance.spec = cleaned.get("spec") or {}
        instance.labels = cleaned["metadata"].get("labels") or {}
        if before == instance.spec and instance.status != Status.FAILED:
            instance.save(update_fields=["labels", "updated_at"])
            return instance
        waiting = instance.status == Status.PENDING and instance.enqueued_at is None
        if instance.status == Status.FAILED:
            _set_status(instance, Status.PENDING, actor=actor, reason="edited")
            instance.failure_reason = ""
        instance.settled = False
        if not waiting:
            instance.enqueued_at = timezone.now()
        instance.save()
        record_audit(
            actor=actor,
            action="instance.updated",
            obj=instance,
            tenant=instance.tenant,
            changes={"spec": [before, instance.spec]},
        )
        add_event(instance=instance, reason="UpdateRequested", message=_("Spec changed."))
        if not waiting:
            _enqueue("apply_instance", instance.pk)
    return instance


def scale_instance(*, actor, instance, replicas):
    """扩缩容: a new replica count, validated by the same rules as the create form."""
    if instance.kind != memcached.KIND:
        raise ValidationError({"replicas": [_("Only a MemcachedCluster scales here.")]})
    manifest = manifest_of(instance)
    manifest["spec"]["replicas"] = replicas
    try:
        return update_instance(actor=actor, instance=instance, manifest=manifest)
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "spec.replicas" in exc.message_dict:
            raise ValidationError({"replicas": exc.message_dict["spec.replicas"]}) from None
        raise


def request_delete(*, actor, instance, enqueue=True):
    """删除: the worker deletes the custom resource; its children go with it (ownerReferences).

    The uninstall job, already on the worker, deletes at once (`enqueue=False`).
    """
    _require_member(user=actor, tenant=instance.tenant)
    with transaction.atomic():
        instance = _locked(instance.pk)
        if instance.status in (Status.DELETING, Status.DELETED):
            return instance
        _set_status(instance, Status.DELETING, actor=actor)
        instance.settled = False
        instance.save()
        add_event(
            instance=instance,
            reason="DeleteRequested",
            message=_("Delete requested by %(user)s.") % {"user": actor}
            if actor
            else _("Deleted with its operator."),
        )
        if enqueue:
            _enqueue("delete_instance", instance.pk)
    return instance


def set_external_access(*, actor, instance, enabled):
    """可集群外访问 on or off: a NodePort / LoadBalancer Service, as the cluster decides."""
    _require_member(user=actor, tenant=instance.tenant)
    if instance.kind != memcached.KIND:
        raise ValidationError({"enabled": [_("Only a MemcachedCluster has external access.")]})
    with transaction.atomic():
        instance = _locked(instance.pk)
        _check_manageable(instance, allow_failed=False)
        if instance.expose_requested == enabled and instance.access_state != Access.FAILED:
            return instance
        instance.expose_requested = enabled
        instance.access_error = ""
        if instance.status != Status.PENDING:
            instance.access_state = Access.EXPOSING if enabled else Access.REMOVING
        instance.settled = False
        instance.save()
        record_audit(
            actor=actor,
            action="instance.access",
            obj=instance,
            tenant=instance.tenant,
            to_state="external" if enabled else "cluster-only",
        )
        add_event(
            instance=instance,
            reason="ExposeRequested" if enabled else "UnexposeRequested",
            message=_("External access requested (%(type)s).")
            % {"type": instance.cluster.external_access}
            if enabled
            else _("External access removal requested."),
        )
        if instance.status != Status.PENDING:
            _enqueue("apply_external_access", instance.pk)
    return instance


def request_verify(*, actor, instance):
    """验证访问: the worker sets then gets a random key through the access address."""
    _require_member(user=actor, tenant=instance.tenant)
    if instance.kind != memcached.KIND:
        raise ValidationError(_("Only a MemcachedCluster can be verified."))
    with transaction.atomic():
        instance = _locked(instance.pk)
        _check_manageable(instance)
        instance.verify_running = True
        instance.save(update_fields=["verify_running", "updated_at"])
        _enqueue("verify_access", instance.pk)
    return instance


def request_logs(*, actor, instance, pod, container="", tail_lines=100):
    """日志: the worker fetches the pod's last lines; the page shows them when they arrive."""
    _require_member(user=actor, tenant=instance.tenant)
    pods = {p["name"]: p for p in instance.pods or []}
    if pod not in pods:
        raise ValidationError({"pod": [_("No pod %(pod)s in this instance.") % {"pod": pod}]})
    containers = pods[pod].get("containers") or []
    container = container or (containers[0] if containers else "")
    if containers and container not in containers:
        raise ValidationError(
            {
                "container": [
                    _("Choose one of %(containers)s.") % {"containers": ", ".join(containers)}
                ]
            }
        )
    if not isinstance(tail_lines, int) or not 1 <= tail_lines <= MAX_LOG_LINES:
        raise ValidationError(
            {"tail": [_("Between 1 and %(max)s lines.") % {"max": MAX_LOG_LINES}]}
        )
    with transaction.atomic():
        log, _created = InstanceLog.objects.update_or_create(
            instance=instance,
            pod=pod,
            container=container,
            defaults={"tail_lines": tail_lines, "requested_at": timezone.now()},
        )
        _enqueue("fetch_logs", log.pk)
    return log


# --- the service catalog (平台服务目录创建 memcached) -------------------------------------------


def request_catalog_instance(
    *, actor, tenant, asset, project, cluster, manifest, expose=False, request_key=""
):
    """One form: installs the operator where it is missing, then creates the instance.

    The spec is checked now against what the platform knows of the operator, and again
    against the installed CSV when the worker creates it.
    """
    _require_member(user=actor, tenant=tenant)
    if request_key:
        existing = OperandInstance.objects.filter(tenant=tenant, request_key=request_key).first()
        if existing is not None:
            return existing
    problem = entitlement_error(tenant=tenant, asset=asset)
    if problem is not None:
        raise problem
    version = installable_version(asset=asset)
    if version is None:
        raise ValidationError({"asset": [_("No version of %(asset)s can be installed.") % {
            "asset": asset.name
        }]})  # fmt: skip
    if project is None or project.tenant_id != tenant.pk:
        raise ValidationError(
            {"project": [_("Choose a project of %(tenant)s.") % {"tenant": tenant}]}
        )
    if cluster is None or not clusters_open_to(project=project).filter(pk=cluster.pk).exists():
        raise ValidationError({"cluster": [_("This project may not deploy to that cluster.")]})
    csv_info = best_csv_info(tenant=tenant, asset=asset)
    cleaned, errors = validate_manifest(
        csv_info=csv_info, namespace=project.namespace, obj=manifest
    )
    if errors:
        raise ValidationError(errors)
    if _name_taken(
        cluster=cluster,
        namespace=project.namespace,
        kind=cleaned["kind"],
        name=cleaned["metadata"]["name"],
    ):
        raise _name_error(cleaned["kind"], cleaned["metadata"]["name"], project.namespace)
    with transaction.atomic():
        installation = (
            Installation.objects.filter(
                cluster=cluster, namespace=project.namespace, package=version.package_name
            )
            .exclude(status=Installation.Status.UNINSTALLED)
            .first()
        )
        if installation is None:
            installation = provisioning_services.request_installation(
                actor=actor,
                tenant=tenant,
                project=project,
                cluster=cluster,
                version=version,
                request_key=f"catalog:{request_key}" if request_key else "",
            )
        elif installation.tenant_id != tenant.pk:
            raise ValidationError(
                {"project": [_("Another tenant's operator runs in that namespace.")]}
            )
        return request_instance(
            actor=actor,
            installation=installation,
            manifest=cleaned,
            request_key=request_key,
            origin=OperandInstance.Origin.CATALOG,
            expose=expose,
            allow_waiting=True,
            csv_info=csv_info or None,
        )


# --- what the worker records ------------------------------------------------------------------


def record_enqueued(*, instance_id, now=None):
    OperandInstance.objects.filter(pk=instance_id).update(enqueued_at=now or timezone.now())


def record_applied(*, instance_id):
    """The custom resource was accepted by the API server."""
    with transaction.atomic():
        instance = _locked(instance_id)
        if instance.status in (Status.DELETING, Status.DELETED):
            return instance
        if instance.status in (Status.PENDING, Status.FAILED):
            _set_status(instance, Status.CREATING)
            add_event(
                instance=instance,
                reason="Applied",
                message=_("%(kind)s %(name)s applied; waiting for its pods.")
                % {"kind": instance.kind, "name": instance.name},
            )
        instance.failure_reason = ""
        instance.settled = False
        instance.save()
    return instance


def mark_failed(*, instance_id, reason):
    with transaction.atomic():
        instance = _locked(instance_id)
        if instance.status in (Status.DELETED, Status.DELETING):
            return instance
        _set_status(instance, Status.FAILED, reason=reason)
        instance.failure_reason = reason
        instance.settled = True
        instance.save()
        add_event(instance=instance, reason="Failed", message=reason, type="Warning")
    return instance


def record_deleted(*, instance_id):
    with transaction.atomic():
        instance = _locked(instance_id)
        if instance.status == Status.DELETED:
            return instance
        _set_status(instance, Status.DELETED)
        instance.settled = True
        instance.access_state = Access.NONE
        instance.access_address = ""
        instance.pods = []
        instance.services = []
        instance.save()
        add_event(
            instance=instance,
            reason="Deleted",
            message=_("%(kind)s %(name)s deleted with its pods and services.")
            % {"kind": instance.kind, "name": instance.name},
        )
    return instance


_STATUS_REASONS = {
    Status.RUNNING: "Running",
    Status.DEGRADED: "Degraded",
    Status.CREATING: "Creating",
    Status.FAILED: "Failed",
}


def record_observation(*, instance_id, observed):
    """Applies one sync's reading (status, replicas, pods, services, access); True if changed."""
    with transaction.atomic():
        instance = _locked(instance_id)
        if instance.status in (Status.DELETED, Status.PENDING):
            return False
        status = observed["status"]
        if status == Status.DELETED:
            record_deleted(instance_id=instance.pk)
            return True
        fields = (
            "phase",
            "status_message",
            "ready_replicas",
            "desired_replicas",
            "pods",
            "services",
            "access_state",
            "access_address",
            "access_error",
            "settled",
        )
        before = {f: getattr(instance, f) for f in fields} | {"status": instance.status}
        for field in fields:
            if field in observed:
                setattr(instance, field, observed[field])
        if status != instance.status:
            if status == Status.FAILED:
                instance.failure_reason = observed.get("failure_reason", "")
            elif instance.status == Status.FAILED:
                instance.failure_reason = ""
            message = (
                instance.failure_reason
                if status == Status.FAILED
                else instance.status_message
                or _("%(ready)s/%(desired)s replicas ready.")
                % {
                    "ready": instance.ready_replicas or 0,
                    "desired": instance.desired_replicas or instance.replicas or 0,
                }
            )
            _set_status(instance, status, reason=message)
            add_event(
                instance=instance,
                reason=_STATUS_REASONS.get(status, "StatusChanged"),
                message=message,
                type="Warning" if status in (Status.FAILED, Status.DEGRADED) else "Normal",
            )
        if before["access_address"] != instance.access_address and instance.access_address:
            add_event(
                instance=instance,
                reason="Exposed",
                message=_("Reachable from outside the cluster at %(address)s.")
                % {"address": instance.access_address},
            )
        after = {f: getattr(instance, f) for f in fields} | {"status": instance.status}
        changed = before != after
        if changed:
            instance.save()
    return changed


def record_synced(*, instance_ids, now):
    """When each instance was last read (settled ones are read again after a while)."""
    OperandInstance.objects.filter(pk__in=instance_ids).update(synced_at=now)


def record_access(*, instance_id, state, address="", host="", service="", type="", error=""):
    with transaction.atomic():
        instance = _locked(instance_id)
        previous = instance.access_address
        instance.access_state = state
        instance.access_address = address
        instance.access_host = host or instance.access_host
        instance.access_service = service
        instance.access_type = type
        instance.access_error = error
        instance.settled = state not in (Access.EXPOSING, Access.REMOVING) and instance.settled
        instance.save()
        if state == Access.EXPOSED and address and address != previous:
            add_event(
                instance=instance,
                reason="Exposed",
                message=_("Reachable from outside the cluster at %(address)s.")
                % {"address": address},
            )
        elif state == Access.NONE and previous:
            add_event(
                instance=instance,
                reason="Unexposed",
                message=_("External access removed; only reachable inside the cluster."),
            )
        elif state == Access.FAILED:
            add_event(instance=instance, reason="ExposeFailed", message=error, type="Warning")
    return instance


def record_verification(*, instance_id, ok, message, address, ms):
    with transaction.atomic():
        instance = _locked(instance_id)
        instance.verify_running = False
        instance.verify_ok = ok
        instance.verify_message = message
        instance.verify_address = address
        instance.verify_ms = ms
        instance.verified_at = timezone.now()
        instance.save()
        add_event(
            instance=instance,
            reason="AccessVerified" if ok else "AccessVerifyFailed",
            message=message,
            type="Normal" if ok else "Warning",
        )
    return instance


def record_metric(*, instance_id, values, now):
    InstanceMetric.objects.create(instance_id=instance_id, time=now, **values)
    OperandInstance.objects.filter(pk=instance_id).update(stats_at=now, stats_error="")


def record_stats_error(*, instance_id, error, now):
    """Written only when the reason changes, so an unreachable instance costs no writes."""
    OperandInstance.objects.filter(pk=instance_id).exclude(stats_error=error).update(
        stats_error=error, stats_at=now
    )


def prune_metrics(*, before):
    """Points older than the retention go (a 7 d chart needs 7 d, plus a day of slack)."""
    deleted, _counts = InstanceMetric.objects.filter(time__lt=before).delete()
    return deleted


def record_logs(*, log_id, text="", error=""):
    InstanceLog.objects.filter(pk=log_id).update(text=text, error=error, fetched_at=timezone.now())

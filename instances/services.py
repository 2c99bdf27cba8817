"""What people ask of their operand instances: keyword-only, one transaction each.

These validate, record the intent and enqueue the worker's job on commit; the worker
applies the custom resource, exposes it, verifies it and reads it back (tasks), and writes
down what it found (records).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.guards import require_member
from accounts.models import Project, Tenant, User
from accounts.services import record_audit
from assets.models import Asset
from clusters.models import NODE_PORT_RANGE, Cluster, ClusterExit
from clusters.selectors import clusters_open_to
from core.errors import FieldErrors, invalid
from core.i18n import Text
from core.jobs import enqueue_on_commit
from provisioning import services as provisioning_services
from provisioning.models import Installation
from provisioning.selectors import installable_version, live_installation

from . import memcached, tasks
from .errors import InstancesErrorCode as Code
from .manifests import clean_manifest, manifest_of
from .models import InstanceLog, OperandInstance
from .records import add_event, locked, set_status
from .selectors import best_csv_info, entitlement_state

Status = OperandInstance.Status
Access = OperandInstance.Access
MAX_LOG_LINES = 2000


# --- checks shared by the screens, the API and the service catalog ----------------------------


def entitlement_error(*, tenant: Tenant, asset: Asset) -> ValidationError | None:
    """An expired entitlement blocks new instances; the message says how to renew."""
    active, ended = entitlement_state(tenant=tenant, asset=asset)
    if active is not None:
        return None
    if ended is not None:
        return invalid(
            _(
                "Your entitlement to %(asset)s ended on %(date)s: renew it to create new "
                "instances (%(url)s). Running instances stay manageable."
            )
            % {
                "asset": asset.name,
                "date": timezone.localtime(ended.ends_at, timezone.get_default_timezone())
                .date()
                .isoformat(),
                "url": reverse("orders:renew", args=[ended.pk]),
            },
            code=Code.ENTITLEMENT_EXPIRED,
            field="entitlement",
        )
    return invalid(
        _("Your tenant holds no entitlement to %(asset)s; buy it first.") % {"asset": asset.name},
        code=Code.NO_ENTITLEMENT,
        field="entitlement",
    )


def _name_taken(
    *, cluster: Cluster, namespace: str, kind: str, name: str, exclude: int | None = None
) -> bool:
    taken = OperandInstance.objects.filter(
        cluster=cluster, namespace=namespace, kind=kind, name=name
    ).exclude(status=Status.DELETED)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    return taken.exists()


def _name_error(kind: str, name: str, namespace: str) -> ValidationError:
    return invalid(
        _("A %(kind)s named “%(name)s” already exists in %(namespace)s.")
        % {"kind": kind, "name": name, "namespace": namespace},
        code=Code.NAME_TAKEN,
        field="metadata.name",
    )


# --- create, edit, scale, delete ----------------------------------------------------------


def request_instance(
    *,
    actor: User | None,
    installation: Installation,
    manifest: dict[str, Any],
    request_key: str = "",
    origin: str = OperandInstance.Origin.OPERATOR,
    expose: bool = False,
    allow_waiting: bool = False,
    csv_info: dict[str, Any] | None = None,
) -> OperandInstance:
    """创建: validates the custom resource and enqueues its apply; a repeated key returns the first.

    `allow_waiting` (the service catalog) accepts an operator still being installed: the
    instance waits and the sync creates it once the operator is there.
    """
    tenant = installation.tenant
    if tenant is None:  # the platform's cluster-wide installation itself
        raise invalid(
            _(
                "Instances go into a project: create them from a project that uses this "
                "cluster-wide operator."
            ),
            code=Code.NOT_MANAGEABLE,
            field="installation",
        )
    require_member(user=actor, tenant=tenant)
    if request_key:
        existing = OperandInstance.objects.filter(
            tenant=installation.tenant, request_key=request_key
        ).first()
        if existing is not None:
            return existing
    if installation.status in (
        Installation.Status.UNINSTALLING,
        Installation.Status.UNINSTALLED,
    ) or (not installation.is_serving and not allow_waiting):
        raise invalid(
            _("The operator is %(status)s; instances are created once it is installed.")
            % {"status": installation.get_status_display().lower()},
            code=Code.OPERATOR_NOT_INSTALLED,
            field="installation",
        )
    problem = entitlement_error(tenant=tenant, asset=installation.asset)
    if problem is not None:
        raise problem
    cleaned = clean_manifest(
        csv_info=installation.csv_info if csv_info is None else csv_info,
        namespace=installation.namespace,
        obj=manifest,
    )
    api_group, _slash, api_version = cleaned["apiVersion"].rpartition("/")
    name, kind = cleaned["metadata"]["name"], cleaned["kind"]
    if _name_taken(
        cluster=installation.cluster, namespace=installation.namespace, kind=kind, name=name
    ):
        raise _name_error(kind, name, installation.namespace)
    ready = installation.is_serving
    try:
        with transaction.atomic():
            instance = OperandInstance.objects.create(
                tenant=tenant,
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
                message=Text(
                    gettext_noop("Create %(kind)s %(name)s in %(namespace)s."),
                    kind=kind,
                    name=name,
                    namespace=instance.namespace,
                )
                if ready
                else Text(
                    gettext_noop(
                        "Waiting for the operator to be installed, then create %(kind)s %(name)s."
                    ),
                    kind=kind,
                    name=name,
                ),
            )
            if ready:
                enqueue_on_commit(tasks.apply_instance, instance.pk)
    except IntegrityError:
        if request_key:
            found = OperandInstance.objects.filter(
                tenant=installation.tenant, request_key=request_key
            ).first()
            if found is not None:
                return found
        raise _name_error(kind, name, installation.namespace) from None
    return instance


def _check_manageable(instance: OperandInstance, *, allow_failed: bool = True) -> None:
    blocked = {Status.DELETING, Status.DELETED}
    if not allow_failed:
        blocked.add(Status.FAILED)
    if instance.status in blocked:
        raise invalid(
            _("This instance is %(status)s.") % {"status": instance.get_status_display().lower()},
            code=Code.NOT_MANAGEABLE,
        )


def update_instance(
    *, actor: User, instance: OperandInstance, manifest: dict[str, Any]
) -> OperandInstance:
    """编辑: applies a new spec; a failed instance is created anew with it (the fix)."""
    require_member(user=actor, tenant=instance.tenant)
    _check_manageable(instance)
    cleaned = clean_manifest(
        csv_info=instance.installation.csv_info, namespace=instance.namespace, obj=manifest
    )
    if cleaned["metadata"]["name"] != instance.name or cleaned["kind"] != instance.kind:
        raise invalid(
            _("The name cannot change; create a new instance instead."),
            code=Code.NAME_FIXED,
            field="metadata.name",
        )
    with transaction.atomic():
        instance = locked(instance.pk)
        _check_manageable(instance)
        before = instance.spec
        instance.spec = cleaned.get("spec") or {}
        instance.labels = cleaned["metadata"].get("labels") or {}
        if before == instance.spec and instance.status != Status.FAILED:
            instance.save(update_fields=["labels", "updated_at"])
            return instance
        waiting = instance.status == Status.PENDING and instance.enqueued_at is None
        if instance.status == Status.FAILED:
            set_status(instance, Status.PENDING, actor=actor, reason="edited")
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
        add_event(
            instance=instance, reason="UpdateRequested", message=Text(gettext_noop("Spec changed."))
        )
        if not waiting:
            enqueue_on_commit(tasks.apply_instance, instance.pk)
    return instance


def scale_instance(*, actor: User, instance: OperandInstance, replicas: int) -> OperandInstance:
    """扩缩容: a new replica count, validated by the same rules as the create form."""
    if instance.kind != memcached.KIND:
        raise invalid(
            _("Only a MemcachedCluster scales here."), code=Code.NOT_SCALABLE, field="replicas"
        )
    manifest = manifest_of(instance)
    manifest["spec"]["replicas"] = replicas
    try:
        return update_instance(actor=actor, instance=instance, manifest=manifest)
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "spec.replicas" in exc.error_dict:
            raise ValidationError({"replicas": exc.error_dict["spec.replicas"]}) from None
        raise


def request_delete(
    *, actor: User | None, instance: OperandInstance, enqueue: bool = True
) -> OperandInstance:
    """删除: the worker deletes the custom resource; its children go with it (ownerReferences).

    The uninstall job, already on the worker, deletes at once (`enqueue=False`, no actor).
    """
    require_member(user=actor, tenant=instance.tenant, allow_system=not enqueue)
    with transaction.atomic():
        instance = locked(instance.pk)
        if instance.status in (Status.DELETING, Status.DELETED):
            return instance
        set_status(instance, Status.DELETING, actor=actor)
        instance.settled = False
        instance.save()
        add_event(
            instance=instance,
            reason="DeleteRequested",
            message=Text(gettext_noop("Delete requested by %(user)s."), user=actor)
            if actor
            else Text(gettext_noop("Deleted with its operator.")),
        )
        if enqueue:
            enqueue_on_commit(tasks.delete_instance, instance.pk)
    return instance


def _route_errors(
    *,
    instance: OperandInstance,
    service_exit: ClusterExit | None,
    port: int | None,
    target: str,
) -> FieldErrors:
    """What is wrong with a route rule, field by field, before anything is applied; the
    cluster itself still has the last word on a port (the worker reports its refusal)."""
    errors = FieldErrors()
    if service_exit is not None and service_exit.cluster_id != instance.cluster_id:
        errors.add(
            "exit",
            _("That exit belongs to another cluster."),
            code=Code.ROUTE_EXIT_UNKNOWN,
        )
    kind = service_exit.kind if service_exit is not None else instance.cluster.external_access
    if port is not None:
        low, high = (
            service_exit.port_range if service_exit is not None else _default_port_range(kind)
        )
        if not low <= port <= high:
            errors.add(
                "port",
                _("Choose a port from %(low)d to %(high)d on this exit, or leave it empty.")
                % {"low": low, "high": high},
                code=Code.ROUTE_PORT_OUT_OF_RANGE,
            )
        else:
            # A node port is one per cluster; a LoadBalancer port is one per exit.
            taken = OperandInstance.objects.filter(
                cluster_id=instance.cluster_id, expose_requested=True, route_port=port
            ).exclude(pk=instance.pk)
            if kind != Cluster.ExternalAccess.NODE_PORT:
                taken = taken.filter(route_exit=service_exit)
            holder = taken.first()
            if holder is not None:
                errors.add(
                    "port",
                    _("Port %(port)d is taken on this exit (by %(holder)s); choose another.")
                    % {
                        "port": port,
                        "holder": holder.name
                        if holder.tenant_id == instance.tenant_id
                        else _("another tenant"),
                    },
                    code=Code.ROUTE_PORT_TAKEN,
                )
    services = {row.get("name") for row in instance.services or []}
    services.discard(memcached.external_service_name(instance.name))
    if target and target not in services:
        errors.add(
            "service",
            _("%(service)s is not a Service of this instance.") % {"service": target},
            code=Code.ROUTE_TARGET_UNKNOWN,
        )
    return errors


def _default_port_range(kind: str) -> tuple[int, int]:
    return NODE_PORT_RANGE if kind == Cluster.ExternalAccess.NODE_PORT else (1, 65535)


def set_external_access(
    *,
    actor: User,
    instance: OperandInstance,
    enabled: bool,
    service_exit: ClusterExit | None = None,
    port: int | None = None,
    service: str = "",
) -> OperandInstance:
    """可集群外访问 on or off, as a route rule (应用路由): the Service it forwards to (the
    mcrouter Service unless another is named), the exit (the cluster's default unless one of
    its named exits) and the port on it (automatic unless chosen)."""
    require_member(user=actor, tenant=instance.tenant)
    if instance.kind != memcached.KIND:
        raise invalid(
            _("Only a MemcachedCluster has external access."),
            code=Code.NO_EXTERNAL_ACCESS,
            field="enabled",
        )
    target = "" if service == memcached.router_service_name(instance.name) else service
    with transaction.atomic():
        instance = locked(instance.pk)
        _check_manageable(instance, allow_failed=False)
        if enabled:
            _route_errors(
                instance=instance, service_exit=service_exit, port=port, target=target
            ).raise_if_any()
        rule = (service_exit.pk if service_exit else None, port, target)
        same_rule = (instance.route_exit_id, instance.route_port, instance.route_target) == rule
        if (
            instance.expose_requested == enabled
            and (same_rule or not enabled)
            and instance.access_state != Access.FAILED
        ):
            return instance
        instance.expose_requested = enabled
        if enabled:
            instance.route_exit, instance.route_port, instance.route_target = (
                service_exit,
                port,
                target,
            )
        instance.access_error, instance.access_error_text = "", {}
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
            changes={
                "exit": service_exit.name if service_exit else "",
                "port": port,
                "service": target,
            }
            if enabled
            else {},
        )
        kind = service_exit.kind if service_exit else instance.cluster.external_access
        add_event(
            instance=instance,
            reason="ExposeRequested" if enabled else "UnexposeRequested",
            message=Text(
                gettext_noop("External access requested (%(type)s, port %(port)s)."),
                type=kind,
                port=port or Text(gettext_noop("automatic")),
            )
            if enabled
            else Text(gettext_noop("External access removal requested.")),
        )
        if instance.status != Status.PENDING:
            enqueue_on_commit(tasks.apply_external_access, instance.pk)
    return instance


def request_verify(*, actor: User, instance: OperandInstance) -> OperandInstance:
    """验证访问: the worker sets then gets a random key through the access address."""
    require_member(user=actor, tenant=instance.tenant)
    if instance.kind != memcached.KIND:
        raise invalid(_("Only a MemcachedCluster can be verified."), code=Code.NOT_VERIFIABLE)
    with transaction.atomic():
        instance = locked(instance.pk)
        _check_manageable(instance)
        instance.verify_running = True
        instance.save(update_fields=["verify_running", "updated_at"])
        enqueue_on_commit(tasks.verify_access, instance.pk)
    return instance


def delete_stuck_pods(*, actor: User, instance: OperandInstance) -> OperandInstance:
    """The fix of a stuck rollout: the worker deletes the old-revision pods left Pending, so
    that their StatefulSet recreates them with the new spec (it never does so by itself)."""
    require_member(user=actor, tenant=instance.tenant)
    with transaction.atomic():
        instance = locked(instance.pk)
        _check_manageable(instance)
        pods = [p["name"] for p in (instance.stuck_rollout or {}).get("pods") or []]
        if not pods:
            raise invalid(
                _("No rollout of this instance is stuck: there is no pod to delete."),
                code=Code.ROLLOUT_NOT_STUCK,
            )
        instance.settled = False
        instance.save(update_fields=["settled", "updated_at"])
        record_audit(
            actor=actor,
            action="instance.stuck_pods_deleted",
            obj=instance,
            tenant=instance.tenant,
            changes={"pods": pods},
        )
        add_event(
            instance=instance,
            reason="DeleteStuckPodRequested",
            message=Text(
                gettext_noop("%(user)s asked to delete the stuck pod %(pods)s."),
                user=actor,
                pods=", ".join(pods),
            ),
        )
        enqueue_on_commit(tasks.delete_stuck_pods, instance.pk)
    return instance


def request_logs(
    *,
    actor: User,
    instance: OperandInstance,
    pod: str,
    container: str = "",
    tail_lines: int = 100,
) -> InstanceLog:
    """日志: the worker fetches the pod's last lines; the page shows them when they arrive."""
    require_member(user=actor, tenant=instance.tenant)
    pods = {p["name"]: p for p in instance.pods or []}
    if pod not in pods:
        raise invalid(
            _("No pod %(pod)s in this instance.") % {"pod": pod}, code=Code.UNKNOWN_POD, field="pod"
        )
    containers = pods[pod].get("containers") or []
    container = container or (containers[0] if containers else "")
    if containers and container not in containers:
        raise invalid(
            _("Choose one of %(containers)s.") % {"containers": ", ".join(containers)},
            code=Code.UNKNOWN_CONTAINER,
            field="container",
        )
    if not isinstance(tail_lines, int) or not 1 <= tail_lines <= MAX_LOG_LINES:
        raise invalid(
            _("Between 1 and %(max)s lines.") % {"max": MAX_LOG_LINES},
            code=Code.TAIL_OUT_OF_RANGE,
            field="tail",
        )
    with transaction.atomic():
        log, _created = InstanceLog.objects.update_or_create(
            instance=instance,
            pod=pod,
            container=container,
            defaults={"tail_lines": tail_lines, "requested_at": timezone.now()},
        )
        enqueue_on_commit(tasks.fetch_logs, log.pk)
    return log


# --- the service catalog (平台服务目录创建 memcached) -------------------------------------------


def request_catalog_instance(
    *,
    actor: User,
    tenant: Tenant,
    asset: Asset,
    project: Project | None,
    cluster: Cluster | None,
    manifest: dict[str, Any],
    expose: bool = False,
    request_key: str = "",
) -> OperandInstance:
    """One form: installs the operator where it is missing, then creates the instance.

    The spec is checked now against what the platform knows of the operator, and again
    against the installed CSV when the worker creates it.
    """
    require_member(user=actor, tenant=tenant)
    if request_key:
        existing = OperandInstance.objects.filter(tenant=tenant, request_key=request_key).first()
        if existing is not None:
            return existing
    problem = entitlement_error(tenant=tenant, asset=asset)
    if problem is not None:
        raise problem
    version = installable_version(asset=asset)
    if version is None:
        raise invalid(
            _("No version of %(asset)s can be installed.") % {"asset": asset.name},
            code=Code.NO_INSTALLABLE_VERSION,
            field="asset",
        )
    if project is None or project.tenant_id != tenant.pk:
        raise invalid(
            _("Choose a project of %(tenant)s.") % {"tenant": tenant},
            code=Code.PROJECT_NOT_OURS,
            field="project",
        )
    if cluster is None or not clusters_open_to(project=project).filter(pk=cluster.pk).exists():
        raise invalid(
            _("This project may not deploy to that cluster."),
            code=Code.CLUSTER_NOT_OPEN,
            field="cluster",
        )
    csv_info = best_csv_info(tenant=tenant, asset=asset)
    cleaned = clean_manifest(csv_info=csv_info, namespace=project.namespace, obj=manifest)
    if _name_taken(
        cluster=cluster,
        namespace=project.namespace,
        kind=cleaned["kind"],
        name=cleaned["metadata"]["name"],
    ):
        raise _name_error(cleaned["kind"], cleaned["metadata"]["name"], project.namespace)
    with transaction.atomic():
        installation = live_installation(
            cluster_id=cluster.pk, namespace=project.namespace, package=version.package_name
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
            raise invalid(
                _("Another tenant's operator runs in that namespace."),
                code=Code.FOREIGN_OPERATOR,
                field="project",
            )
        elif installation.asset_id != asset.pk:
            # One Subscription per package and namespace (OLM): the instance would run on the
            # other asset's operator and be billed to neither, so say so instead.
            raise invalid(
                _(
                    "The operator package %(package)s already runs in project %(project)s, "
                    "installed from %(other)s. Create the instance from that operator "
                    "(Operator Apps), or choose another project."
                )
                % {
                    "package": version.package_name,
                    "project": project.name,
                    "other": installation.asset.name,
                },
                code=Code.PACKAGE_UNDER_OTHER_ASSET,
                field="project",
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

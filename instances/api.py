"""REST twins of the operator-instance screens and of the service catalog.

A MemcachedCluster is given either as fields (`name`, `replicas`, `version`, `setup`,
`node_selector`, `affinity`, `resources`) or as a whole `manifest` (object or YAML text);
both go through the same validation, and errors name the field that was sent.
"""

from typing import Any, cast

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Project
from accounts.selectors import projects_for
from assets.storefront.selectors import get_asset_by_code
from clusters.models import Cluster, ClusterExit
from clusters.selectors import clusters_for
from core.api import require_query_params
from core.errors import NON_FIELD, NotFound, invalid
from provisioning.models import Installation
from provisioning.selectors import installations_for

from . import memcached, operand_form, schema, selectors, services
from .errors import InstancesErrorCode as Code
from .forms import API_FIELD_FOR_PATH
from .manifests import manifest_of
from .models import InstanceEvent, InstanceLog, OperandInstance


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectOrYAMLField(serializers.JSONField):
    """An object, or YAML text of one."""


class ExternalAccessSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(source="expose_requested")
    state = serializers.CharField(source="access_state")
    type = serializers.CharField(source="access_type")
    service = serializers.CharField(source="access_service")
    address = serializers.CharField(source="access_address")
    error = serializers.CharField(source="access_error")
    error_display = serializers.CharField(
        source="display_access_error",
        help_text="`error` in the request's language (Accept-Language).",
    )


class PodKeySerializer(serializers.Serializer):
    pod = serializers.CharField(help_text="The memcached pod's name.")
    address = serializers.CharField(
        help_text="podIP:port as the cluster reports it (status.podIP, the container's port); "
        "empty while the pod has no IP."
    )
    holds = serializers.BooleanField(
        allow_null=True,
        help_text="Whether `get` of the test key on this pod returned it; null when the pod "
        "could not be reached (see `error`).",
    )
    error = serializers.CharField(
        help_text="Why the pod could not be reached (English), else empty."
    )
    error_display = serializers.CharField(
        help_text="`error` in the request's language (Accept-Language)."
    )


class VerificationSerializer(serializers.Serializer):
    """验证访问: a random key set and got through `address`, then read from each memcached pod."""

    running = serializers.BooleanField(source="verify_running")
    ok = serializers.BooleanField(
        source="verify_ok",
        allow_null=True,
        help_text="The set/get round trip through `address` worked (null: never verified).",
    )
    message = serializers.CharField(source="verify_message", help_text="In English.")
    message_display = serializers.CharField(
        source="display_verify_message",
        help_text="`message` in the request's language (Accept-Language).",
    )
    address = serializers.CharField(source="verify_address", help_text="The address used.")
    address_source = serializers.ChoiceField(
        source="verify_source",
        choices=["override", "external", "cluster-ip", "dns", ""],
        help_text="Which address that was: `external` the service exit, `cluster-ip` the "
        "router Service's spec.clusterIP:port, `dns` its in-cluster DNS name, `override` "
        "MEMCACHED_ACCESS_OVERRIDES (the pods are then not read).",
    )
    round_trip_ms = serializers.FloatField(source="verify_ms", allow_null=True)
    verified_at = serializers.DateTimeField(allow_null=True)
    expectation = serializers.ChoiceField(
        source="verify_expectation",
        choices=["all", "one", ""],
        help_text="`all`: replset, every memcached pod must hold the key; `one`: sharded, "
        "exactly one must.",
    )
    distribution_ok = serializers.BooleanField(
        source="verify_distribution_ok",
        allow_null=True,
        help_text="The pods hold the key as `expectation` says; false is a problem (a pod "
        "lacking it, or unreachable); null when the pods were not read.",
    )
    distribution_message = serializers.CharField(
        source="verify_distribution_message",
        help_text="What was expected and what was found, in words (English).",
    )
    distribution_message_display = serializers.CharField(
        source="display_verify_distribution_message",
        help_text="`distribution_message` in the request's language (Accept-Language).",
    )
    pods = PodKeySerializer(source="display_verify_pods", many=True, help_text="Per memcached pod.")


class StuckPodSerializer(serializers.Serializer):
    name = serializers.CharField()
    revision = serializers.CharField(help_text="The pod's controller-revision-hash (the old one).")
    reason = serializers.CharField(help_text="e.g. Unschedulable, ImagePullBackOff.")
    message = serializers.CharField()
    since = serializers.DateTimeField(help_text="Pending since.")


class StuckRolloutSerializer(serializers.Serializer):
    """A StatefulSet rollout that cannot go on: fix it with POST `delete-stuck-pods`."""

    statefulset = serializers.CharField(required=False)
    current_revision = serializers.CharField(required=False)
    update_revision = serializers.CharField(required=False)
    pods = StuckPodSerializer(many=True, required=False)


class OperandInstanceSerializer(serializers.ModelSerializer):
    api_version = serializers.CharField(source="api_version_full", read_only=True)
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    asset_name = serializers.CharField(source="installation.asset.name", read_only=True)
    setup = serializers.CharField(read_only=True)
    version = serializers.CharField(source="memcached_version", read_only=True)
    failure_reason = serializers.CharField(
        read_only=True, help_text="Why it failed, in English (the cluster's own words kept)."
    )
    failure_reason_display = serializers.CharField(
        source="display_failure_reason",
        read_only=True,
        help_text="`failure_reason` in the request's language (Accept-Language).",
    )
    router_address = serializers.SerializerMethodField()
    pod_addresses = serializers.SerializerMethodField()
    external_access = ExternalAccessSerializer(source="*", read_only=True)
    verification = VerificationSerializer(source="*", read_only=True)
    pods = serializers.ListField(child=serializers.DictField(), read_only=True)
    services = serializers.ListField(child=serializers.DictField(), read_only=True)
    router_ip_address = serializers.CharField(
        read_only=True,
        help_text="The router Service's spec.clusterIP:port as the cluster reports it (where "
        "the platform's worker connects); `router_address` is its in-cluster DNS name.",
    )
    stuck_rollout = StuckRolloutSerializer(
        read_only=True,
        help_text="Empty when no rollout is stuck; else the old-revision pods left Pending.",
    )

    class Meta:
        model = OperandInstance
        fields = [
            "id",
            "tenant",
            "installation",
            "asset_name",
            "cluster",
            "cluster_name",
            "namespace",
            "api_version",
            "kind",
            "name",
            "spec",
            "status",
            "phase",
            "ready_replicas",
            "desired_replicas",
            "setup",
            "version",
            "status_message",
            "failure_reason",
            "failure_reason_display",
            "pods",
            "services",
            "router_address",
            "router_ip_address",
            "pod_addresses",
            "stuck_rollout",
            "external_access",
            "verification",
            "origin",
            "created_at",
            "running_at",
            "deleted_at",
        ]
        read_only_fields = fields

    def get_router_address(self, instance) -> str:
        return instance.router_address if instance.is_memcached else ""

    def get_pod_addresses(self, instance) -> list[str]:
        return selectors.pod_addresses(instance)


class ResourceAmountsSerializer(serializers.Serializer):
    cpu = serializers.CharField(required=False, allow_blank=True)
    memory = serializers.CharField(required=False, allow_blank=True)


class ResourcesSerializer(serializers.Serializer):
    requests = ResourceAmountsSerializer(required=False)
    limits = ResourceAmountsSerializer(required=False)


class SpecFieldsSerializer(serializers.Serializer):
    """A MemcachedCluster as fields; or `manifest`, the whole custom resource."""

    name = serializers.CharField(required=False)
    replicas = serializers.IntegerField(required=False)
    version = serializers.CharField(required=False)
    setup = serializers.CharField(required=False)
    node_selector = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False
    )
    affinity = ObjectOrYAMLField(required=False, allow_null=True)
    resources = ResourcesSerializer(required=False)
    manifest = ObjectOrYAMLField(
        required=False,
        help_text="The whole custom resource (any API the operator owns), instead of fields.",
    )
    spec = serializers.DictField(
        required=False, help_text="The spec of any other owned API (with `kind`)."
    )
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def validate_affinity(self, value):
        if isinstance(value, str):
            parsed, problems = memcached.parse_affinity_yaml(value)
            if problems:
                raise serializers.ValidationError(problems)
            return parsed
        return value

    def validate_manifest(self, value):
        if isinstance(value, str):
            try:
                return memcached.parse_yaml(value)
            except memcached.ManifestError as exc:
                raise serializers.ValidationError(str(exc)) from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("Send an object, or YAML text of one.")
        return value


class InstanceCreateSerializer(SpecFieldsSerializer):
    installation = serializers.PrimaryKeyRelatedField(queryset=Installation.objects.none())
    expose = serializers.BooleanField(default=False, help_text="可集群外访问 right away.")
    kind = serializers.CharField(
        required=False, help_text="Any kind the operator owns (default MemcachedCluster)."
    )
    api_version = serializers.CharField(
        required=False,
        help_text="The served version to create (`v1beta1` or `group/v1beta1`); default: "
        "the storage version, else the newest served.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["installation"].queryset = installations_for(user=request.user)


class CatalogCreateSerializer(SpecFieldsSerializer):
    asset = serializers.CharField(help_text="The asset's code (its entitlement must be active).")
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.none())
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.none())
    expose = serializers.BooleanField(default=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["project"].queryset = projects_for(user=request.user)
            self.fields["cluster"].queryset = clusters_for(user=request.user)


class RouteRuleSerializer(serializers.Serializer):
    """添加路由规则: every field optional (the defaults are the seed's choices)."""

    exit = serializers.PrimaryKeyRelatedField(
        queryset=ClusterExit.objects.all(), required=False, allow_null=True
    )
    port = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=65535)
    protocol = serializers.ChoiceField(choices=["TCP"], required=False, default="TCP")
    service = serializers.CharField(required=False, allow_blank=True, max_length=63)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.context.get("instance")
        if instance is not None:  # only the exits of the instance's own cluster
            relation = cast(serializers.PrimaryKeyRelatedField, self.fields["exit"])
            relation.queryset = ClusterExit.objects.filter(cluster_id=instance.cluster_id)


class ScaleSerializer(serializers.Serializer):
    replicas = serializers.IntegerField()


class LogsRequestSerializer(serializers.Serializer):
    pod = serializers.CharField()
    container = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="One of the pod's containers; default: its first (an mcrouter pod's is mcrouter).",
    )
    tail = serializers.IntegerField(default=100)


class InstanceLogSerializer(serializers.ModelSerializer):
    fetching = serializers.BooleanField(source="is_fetching", read_only=True)

    class Meta:
        model = InstanceLog
        fields = [
            "pod",
            "container",
            "tail_lines",
            "text",
            "error",
            "requested_at",
            "fetched_at",
            "fetching",
        ]


class InstanceEventSerializer(serializers.ModelSerializer):
    message = serializers.CharField(read_only=True, help_text="In English.")
    message_display = serializers.CharField(
        source="display_message",
        read_only=True,
        help_text="`message` in the request's language (Accept-Language); a cluster's Event "
        "as the cluster wrote it.",
    )

    class Meta:
        model = InstanceEvent
        fields = [
            "occurred_at",
            "source",
            "type",
            "reason",
            "message",
            "message_display",
            "involved_object",
        ]


class MetricsLatestSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    hits = serializers.IntegerField()
    misses = serializers.IntegerField()
    hit_ratio = serializers.FloatField(allow_null=True)
    items = serializers.IntegerField()
    bytes = serializers.IntegerField()
    limit_maxbytes = serializers.IntegerField()
    curr_connections = serializers.IntegerField()
    evictions = serializers.IntegerField()
    uptime = serializers.IntegerField()


class MetricsSerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=list(selectors.RANGES))
    interval_seconds = serializers.IntegerField()
    labels = serializers.ListField(child=serializers.CharField())
    times = serializers.ListField(child=serializers.DateTimeField())
    hits = serializers.ListField(child=serializers.IntegerField(allow_null=True))
    misses = serializers.ListField(child=serializers.IntegerField(allow_null=True))
    hit_ratio = serializers.ListField(child=serializers.FloatField(allow_null=True))
    items = serializers.ListField(child=serializers.IntegerField())
    bytes = serializers.ListField(child=serializers.IntegerField())
    limit_maxbytes = serializers.ListField(child=serializers.IntegerField())
    curr_connections = serializers.ListField(child=serializers.IntegerField())
    evictions = serializers.ListField(child=serializers.IntegerField(allow_null=True))
    latest = MetricsLatestSerializer(allow_null=True)


class CatalogStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    detail = serializers.CharField()
    state = serializers.ChoiceField(choices=["done", "current", "todo", "failed"])


class CatalogProgressSerializer(serializers.Serializer):
    instance = OperandInstanceSerializer()
    steps = CatalogStepSerializer(many=True)
    done = serializers.BooleanField()


class OfferingSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    provider = serializers.CharField(source="tenant.name")
    summary = serializers.CharField()


def _manifest_from(data, *, namespace, base=None):
    """The request's fields (or its manifest) as the custom resource to validate."""
    if data.get("manifest") is not None:
        return data["manifest"], False
    spec = dict((base or {}).get("spec") or {})
    for field, key in (("replicas", "replicas"), ("version", "version"), ("setup", "setup")):
        if field in data:
            spec[key] = data[field]
    if "node_selector" in data:
        spec["nodeSelector"] = data["node_selector"] or None
    if "affinity" in data:
        spec["affinity"] = data["affinity"] or None
    if "resources" in data:
        spec["resources"] = {k: dict(v) for k, v in data["resources"].items() if v} or None
    spec = {k: v for k, v in spec.items() if v is not None}
    name = data.get("name") or ((base or {}).get("metadata") or {}).get("name", "")
    return memcached.manifest(name=name, namespace=namespace, spec=spec), True


GENERIC_FIELD_FOR_PATH = {"metadata.name": "name", "apiVersion": "api_version"}


def _operand_manifest(data, *, installation):
    """`kind` + `api_version` + `name` + `spec` (any owned API) as the custom resource."""
    csv_info = installation.csv_info
    kind_api = schema.find_kind(csv_info, data["kind"])
    if kind_api is None:
        kinds = ", ".join(k["kind"] for k in schema.owned_kinds(csv_info)) or "-"
        raise invalid(f"This operator provides {kinds}.", code=Code.UNKNOWN_KIND, field="kind")
    version = schema.version_of(kind_api, data.get("api_version"))
    if version is None:
        served = ", ".join(v["api_version"] for v in kind_api["versions"])
        raise invalid(
            f"{kind_api['kind']} is served as {served}.",
            code=Code.UNKNOWN_VERSION,
            field="api_version",
        )
    metadata = {"name": data.get("name") or "", "namespace": installation.namespace}
    if data.get("labels"):
        metadata["labels"] = dict(data["labels"])
    return {
        "apiVersion": version["api_version"],
        "kind": kind_api["kind"],
        "metadata": metadata,
        "spec": data.get("spec") or {},
    }


def _generic_fields(exc: ValidationError) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError(
        {GENERIC_FIELD_FOR_PATH.get(p, p): errors for p, errors in exc.error_dict.items()}
    )


def _by_fields(exc: ValidationError, as_fields: bool) -> ValidationError:
    """Custom-resource paths → the API's field names, when fields were sent (codes kept)."""
    if not hasattr(exc, "error_dict"):
        return exc

    def name(path: str) -> str:
        if path in (NON_FIELD, NON_FIELD_ERRORS):
            return NON_FIELD
        return API_FIELD_FOR_PATH.get(path, path) if as_fields else f"manifest.{path}"

    return ValidationError({name(path): errors for path, errors in exc.error_dict.items()})


class OperandInstanceViewSet(
    mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Operator instances (MemcachedCluster and other owned APIs) of the caller's tenants.

    Writes are carried out by the worker: create/update/scale/delete/access answer 202
    (create 201) with the instance; follow `status` until it settles.
    """

    serializer_class = OperandInstanceSerializer
    queryset = OperandInstance.objects.none()
    filterset_fields = ["status", "installation", "cluster", "kind"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        instances = selectors.instances_for(
            user=self.request.user,
            include_deleted=self.request.query_params.get("include_deleted") == "true",
        )
        if self.action in ("retrieve", "events"):
            instances = selectors.instances_for(user=self.request.user, include_deleted=True)
        return instances

    def _respond(self, instance, code=status.HTTP_202_ACCEPTED):
        instance.refresh_from_db()
        return Response(self.get_serializer(instance).data, status=code)

    @extend_schema(
        request=InstanceCreateSerializer,
        responses={201: OperandInstanceSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request, *args, **kwargs):
        """创建: a repeated `Idempotency-Key` returns the first instance."""
        incoming = InstanceCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        installation = data["installation"]
        generic = data.get("manifest") is None and (
            data.get("kind", memcached.KIND) != memcached.KIND or "spec" in data
        )
        if generic:
            try:
                manifest = _operand_manifest(
                    {"kind": memcached.KIND, **data}, installation=installation
                )
                instance = services.request_instance(
                    actor=request.user,
                    installation=installation,
                    manifest=manifest,
                    request_key=request.headers.get("Idempotency-Key", "")[:100],
                    origin=OperandInstance.Origin.API,
                )
            except ValidationError as exc:
                raise _generic_fields(exc) from None
            return self._respond(instance, status.HTTP_201_CREATED)
        manifest, as_fields = _manifest_from(data, namespace=installation.namespace)
        if (
            as_fields is False
            and data.get("api_version")
            and isinstance(manifest, dict)
            and not manifest.get("apiVersion")
        ):
            kind_api = schema.find_kind(installation.csv_info, str(manifest.get("kind") or ""))
            version = schema.version_of(kind_api, data["api_version"]) if kind_api else None
            if version is not None:
                manifest = {**manifest, "apiVersion": version["api_version"]}
        try:
            instance = services.request_instance(
                actor=request.user,
                installation=installation,
                manifest=manifest,
                request_key=request.headers.get("Idempotency-Key", "")[:100],
                origin=OperandInstance.Origin.API,
                expose=data["expose"],
            )
        except ValidationError as exc:
            raise _by_fields(exc, as_fields) from None
        return self._respond(instance, status.HTTP_201_CREATED)

    @extend_schema(request=SpecFieldsSerializer, responses={202: OperandInstanceSerializer})
    def partial_update(self, request, *args, **kwargs):
        """编辑: the given fields change, the rest of the spec stays (or send a whole manifest)."""
        instance = self.get_object()
        incoming = SpecFieldsSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if instance.kind != memcached.KIND and data.get("manifest") is None:
            # Any other owned API: `spec` (and `labels`) replace theirs; the rest stays.
            manifest = manifest_of(instance)
            if "spec" in data:
                manifest["spec"] = data["spec"]
            if "labels" in data:
                manifest["metadata"]["labels"] = dict(data["labels"])
            try:
                services.update_instance(actor=request.user, instance=instance, manifest=manifest)
            except ValidationError as exc:
                raise _generic_fields(exc) from None
            return self._respond(instance)
        manifest, as_fields = _manifest_from(
            incoming.validated_data,
            namespace=instance.namespace,
            base=manifest_of(instance),
        )
        try:
            services.update_instance(actor=request.user, instance=instance, manifest=manifest)
        except ValidationError as exc:
            raise _by_fields(exc, as_fields) from None
        return self._respond(instance)

    @extend_schema(request=None, responses={202: OperandInstanceSerializer})
    def destroy(self, request, *args, **kwargs):
        """删除: the worker deletes the custom resource and everything the operator runs for it."""
        return self._respond(
            services.request_delete(actor=request.user, instance=self.get_object())
        )

    @extend_schema(request=ScaleSerializer, responses={202: OperandInstanceSerializer})
    @action(detail=True, methods=["post"])
    def scale(self, request, pk=None):
        """扩缩容: the number of memcached replicas."""
        incoming = ScaleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return self._respond(
            services.scale_instance(
                actor=request.user,
                instance=self.get_object(),
                replicas=incoming.validated_data["replicas"],
            )
        )

    @extend_schema(
        methods=["POST"],
        request=RouteRuleSerializer,
        responses={202: OperandInstanceSerializer},
        description="可集群外访问 as a route rule (应用路由): a NodePort or LoadBalancer Service "
        "on the chosen exit (`exit`: one of the cluster's `exits`, or null for its default), "
        "on the chosen `port` (null: the cluster picks), forwarding TCP to `service` (empty: "
        "the `<name>-mcrouter-service`). The body may be empty.",
    )
    @extend_schema(
        methods=["DELETE"],
        request=None,
        responses={202: OperandInstanceSerializer},
        description="仅在集群内访问: removes the external Service.",
    )
    @action(detail=True, methods=["post", "delete"])
    def access(self, request, pk=None):
        instance = self.get_object()
        if request.method != "POST":
            return self._respond(
                services.set_external_access(actor=request.user, instance=instance, enabled=False)
            )
        rule = RouteRuleSerializer(data=request.data, context={"instance": instance})
        rule.is_valid(raise_exception=True)
        return self._respond(
            services.set_external_access(
                actor=request.user,
                instance=instance,
                enabled=True,
                service_exit=rule.validated_data.get("exit"),
                port=rule.validated_data.get("port"),
                service=rule.validated_data.get("service", ""),
            )
        )

    @extend_schema(request=None, responses={202: OperandInstanceSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """验证访问: the worker sets and gets a random key through the router, then reads it
        from each memcached pod; see `verification` for the result (`ok`, and per pod
        `pods` with `expectation` and `distribution_ok`)."""
        return self._respond(
            services.request_verify(actor=request.user, instance=self.get_object())
        )

    @extend_schema(request=None, responses={202: OperandInstanceSerializer})
    @action(detail=True, methods=["post"], url_path="delete-stuck-pods")
    def delete_stuck_pods(self, request, pk=None):
        """A stuck rollout's fix (see `stuck_rollout`): the worker deletes the old-revision
        pods left Pending, and their StatefulSet recreates them with the new spec."""
        return self._respond(
            services.delete_stuck_pods(actor=request.user, instance=self.get_object())
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("installation", OpenApiTypes.INT, required=True),
            OpenApiParameter("kind", str, required=True),
            OpenApiParameter("version", str, description="Default: the storage version."),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"], url_path="form-schema")
    def form_schema(self, request):
        """The create form of a kind and version: its fields (from the CRD's schema and the
        CSV's specDescriptors), the versions served, and the object it starts from."""
        require_query_params(request, "installation", "kind")
        try:
            installation = installations_for(user=request.user).get(
                pk=request.query_params.get("installation")
            )
        except (Installation.DoesNotExist, ValueError, TypeError):
            raise NotFound("No such installation.") from None
        kind_api = schema.find_kind(installation.csv_info, request.query_params.get("kind", ""))
        if kind_api is None:
            raise NotFound("The operator provides no such API.")
        version = schema.version_of(kind_api, request.query_params.get("version"))
        if version is None:
            raise invalid(
                "Not a served version of this kind.", code=Code.UNKNOWN_VERSION, field="version"
            )
        scoped = schema.cluster_scoped(kind_api)
        return Response(
            {
                "kind": kind_api["kind"],
                "group": kind_api["group"],
                "scope": kind_api["scope"] or None,
                "creatable": not scoped,
                "reason": schema.cluster_scoped_reason(kind_api["kind"]) if scoped else "",
                "versions": [
                    {"name": v["name"], "api_version": v["api_version"], "storage": v["storage"]}
                    for v in kind_api["versions"]
                ],
                "version": version["name"],
                "api_version": version["api_version"],
                "schema": version["schema"],
                "fields": [f.as_dict() for f in operand_form.build_fields(version)],
                "initial": operand_form.start_object(
                    installation.csv_info, kind_api, version, namespace=installation.namespace
                ),
            }
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("range", str, enum=list(selectors.RANGES), description="1h|24h|7d")
        ],
        responses=MetricsSerializer,
    )
    @action(detail=True, methods=["get"])
    def metrics(self, request, pk=None):
        """监控: hits/misses per interval, hit ratio, items, bytes vs limit, connections."""
        range_name = request.query_params.get("range", "1h")
        if range_name not in selectors.RANGES:
            raise invalid("Choose 1h, 24h or 7d.", code=Code.UNKNOWN_RANGE, field="range")
        return Response(selectors.metrics_of(instance=self.get_object(), range_name=range_name))

    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter("pod", str, required=True),
            OpenApiParameter("container", str),
        ],
        responses=InstanceLogSerializer,
        description="日志: the last tail the worker fetched for that pod (see `fetching`).",
    )
    @extend_schema(
        methods=["POST"],
        request=LogsRequestSerializer,
        responses={202: InstanceLogSerializer},
        description="Asks the worker for the pod's last `tail` lines.",
    )
    @action(detail=True, methods=["get", "post"])
    def logs(self, request, pk=None):
        instance = self.get_object()
        if request.method == "POST":
            incoming = LogsRequestSerializer(data=request.data)
            incoming.is_valid(raise_exception=True)
            log = services.request_logs(
                actor=request.user,
                instance=instance,
                pod=incoming.validated_data["pod"],
                container=incoming.validated_data["container"],
                tail_lines=incoming.validated_data["tail"],
            )
            log.refresh_from_db()
            return Response(InstanceLogSerializer(log).data, status=status.HTTP_202_ACCEPTED)
        require_query_params(request, "pod")
        logs = selectors.logs_of(instance=instance)
        pod = request.query_params.get("pod", "")
        container = request.query_params.get("container", "")
        log = logs.get((pod, container)) or next(
            (entry for (p, _c), entry in logs.items() if p == pod and not container), None
        )
        if log is None:
            raise invalid(
                "No logs fetched for this pod yet; POST first.", code=Code.NO_LOGS_YET, field="pod"
            )
        return Response(InstanceLogSerializer(log).data)

    @extend_schema(responses=InstanceEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        events = selectors.events_of(instance=self.get_object())
        return Response(InstanceEventSerializer(events, many=True).data)


class ServiceCatalogViewSet(viewsets.GenericViewSet):
    """平台服务目录: create a MemcachedCluster in one call; the platform installs the
    operator where it is missing. `GET /service-catalog/{instance_id}/` follows the steps."""

    serializer_class = CatalogProgressSerializer
    queryset = OperandInstance.objects.none()
    pagination_class = None

    @extend_schema(responses=OfferingSerializer(many=True))
    def list(self, request):
        """The assets the active tenant may create a MemcachedCluster of (entitlement active)."""
        tenant = request.workspace.tenant
        return Response(
            OfferingSerializer(selectors.memcached_offerings(tenant=tenant), many=True).data
        )

    @extend_schema(
        request=CatalogCreateSerializer,
        responses={201: CatalogProgressSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request):
        """Create a MemcachedCluster from the catalog (the operator is installed if missing)."""
        incoming = CatalogCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            asset = get_asset_by_code(code=data["asset"])
        except NotFound:
            raise invalid("No such asset.", code=Code.UNKNOWN_ASSET, field="asset") from None
        project = data["project"]
        manifest, as_fields = _manifest_from(data, namespace=project.namespace)
        try:
            instance = services.request_catalog_instance(
                actor=request.user,
                tenant=project.tenant,
                asset=asset,
                project=project,
                cluster=data["cluster"],
                manifest=manifest,
                expose=data["expose"],
                request_key=request.headers.get("Idempotency-Key", "")[:100],
            )
        except ValidationError as exc:
            raise _by_fields(exc, as_fields) from None
        return Response(self._progress(instance), status=status.HTTP_201_CREATED)

    def _progress(self, instance):
        instance.refresh_from_db()
        steps = selectors.catalog_steps(instance)
        return CatalogProgressSerializer(
            {"instance": instance, "steps": steps, "done": selectors.catalog_done(steps)}
        ).data

    @extend_schema(
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses=CatalogProgressSerializer,
    )
    def retrieve(self, request, pk=None):
        return Response(
            self._progress(selectors.get_instance_for(user=request.user, instance_id=pk))
        )

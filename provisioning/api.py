"""REST twins of the Operator 应用 screens."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api_tenancy import TenantField
from accounts.models import Project
from accounts.selectors import projects_for
from assets.models import AssetVersion
from clusters.models import Cluster
from clusters.selectors import clusters_for

from . import selectors, services
from .models import Installation, InstallationEvent


class InstallationSerializer(serializers.ModelSerializer):
    asset_name = serializers.CharField(source="asset.name", read_only=True)
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    needs_approval = serializers.BooleanField(read_only=True)
    order_code = serializers.CharField(source="order.code", read_only=True, default="")
    failure_reason = serializers.CharField(
        read_only=True, help_text="Why it failed, in English (the cluster's own words kept)."
    )
    failure_reason_display = serializers.CharField(
        source="display_failure_reason",
        read_only=True,
        help_text="`failure_reason` in the request's language (Accept-Language): the "
        "platform's sentence translated, the cluster's own words as the cluster wrote them.",
    )
    notes = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="What the cluster says that stops nothing (deprecations, an unhealthy "
        "catalog elsewhere in scope), in English.",
    )
    notes_display = serializers.ListField(
        child=serializers.CharField(),
        source="display_notes",
        read_only=True,
        help_text="`notes` in the request's language (Accept-Language).",
    )

    class Meta:
        model = Installation
        fields = [
            "id",
            "scope",
            "provided_by",
            "tenant",
            "project",
            "project_name",
            "cluster",
            "cluster_name",
            "asset",
            "asset_name",
            "version",
            "order",
            "order_code",
            "namespace",
            "package",
            "channel",
            "approval",
            "catalog_source",
            "catalog_namespace",
            "status",
            "step",
            "operator_group",
            "installed_csv",
            "current_csv",
            "installed_version",
            "needs_approval",
            "pending_install_plan",
            "pending_csvs",
            "csv_info",
            "failure_reason",
            "failure_reason_display",
            "notes",
            "notes_display",
            "created_at",
            "installed_at",
        ]
        read_only_fields = fields


class InstallationCreateSerializer(serializers.Serializer):
    tenant = TenantField()
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.none())
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.none())
    version = serializers.PrimaryKeyRelatedField(queryset=AssetVersion.objects.none())
    channel = serializers.CharField(required=False, allow_blank=True)
    approval = serializers.ChoiceField(
        choices=Installation.Approval.choices, default=Installation.Approval.AUTOMATIC
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["project"].queryset = projects_for(user=request.user)
            self.fields["cluster"].queryset = clusters_for(user=request.user)
            self.fields["version"].queryset = selectors.saleable_versions()


class ClusterWideCreateSerializer(serializers.Serializer):
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.all())
    version = serializers.PrimaryKeyRelatedField(queryset=AssetVersion.objects.none())
    channel = serializers.CharField(required=False, allow_blank=True)
    approval = serializers.ChoiceField(
        choices=Installation.Approval.choices, default=Installation.Approval.AUTOMATIC
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = selectors.saleable_versions()


class SubscriptionChangeSerializer(serializers.Serializer):
    channel = serializers.CharField()
    approval = serializers.ChoiceField(choices=Installation.Approval.choices)


class UninstallSerializer(serializers.Serializer):
    delete_instances = serializers.BooleanField(default=False)


class InstallationEventSerializer(serializers.ModelSerializer):
    message = serializers.CharField(read_only=True, help_text="In English.")
    message_display = serializers.CharField(
        source="display_message",
        read_only=True,
        help_text="`message` in the request's language (Accept-Language); a cluster's Event "
        "as the cluster wrote it.",
    )

    class Meta:
        model = InstallationEvent
        fields = [
            "occurred_at",
            "source",
            "type",
            "reason",
            "message",
            "message_display",
            "involved_object",
        ]


class InstallationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Installations of the caller's tenants; every action is carried out by the worker."""

    serializer_class = InstallationSerializer
    queryset = Installation.objects.none()
    filterset_fields = ["status", "tenant", "project", "cluster", "order"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.installations_for(user=self.request.user, include_uninstalled=True)

    @extend_schema(
        request=InstallationCreateSerializer,
        responses={201: InstallationSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request, *args, **kwargs):
        """安装: a repeated `Idempotency-Key` returns the first installation."""
        incoming = InstallationCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        installation = services.request_installation(
            actor=request.user,
            tenant=data["tenant"],
            project=data["project"],
            cluster=data["cluster"],
            version=data["version"],
            channel=data.get("channel", ""),
            approval=data["approval"],
            request_key=request.headers.get("Idempotency-Key", "")[:100],
        )
        return Response(self.get_serializer(installation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ClusterWideCreateSerializer, responses={201: InstallationSerializer})
    @action(detail=False, methods=["post"], url_path="cluster-wide")
    def cluster_wide(self, request):
        """Platform admins: install an AllNamespaces operator once on a cluster (its
        global operators namespace); projects that buy it then use that installation."""
        incoming = ClusterWideCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        installation = services.install_cluster_wide(actor=request.user, **incoming.validated_data)
        return Response(self.get_serializer(installation).data, status=status.HTTP_201_CREATED)

    def _respond(self, installation, code=status.HTTP_202_ACCEPTED):
        installation.refresh_from_db()
        return Response(self.get_serializer(installation).data, status=code)

    @extend_schema(request=None, responses={202: InstallationSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._respond(
            services.retry_installation(actor=request.user, installation=self.get_object())
        )

    @extend_schema(request=None, responses={202: InstallationSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """批准升级: approves the InstallPlan waiting, with the CSVs shown in `pending_csvs`."""
        return self._respond(
            services.approve_install_plan(actor=request.user, installation=self.get_object())
        )

    @extend_schema(request=SubscriptionChangeSerializer, responses={202: InstallationSerializer})
    @action(detail=True, methods=["patch"])
    def subscription(self, request, pk=None):
        incoming = SubscriptionChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return self._respond(
            services.change_subscription(
                actor=request.user, installation=self.get_object(), **incoming.validated_data
            )
        )

    @extend_schema(request=UninstallSerializer, responses={202: InstallationSerializer})
    @action(detail=True, methods=["post"])
    def uninstall(self, request, pk=None):
        incoming = UninstallSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return self._respond(
            services.request_uninstall(
                actor=request.user, installation=self.get_object(), **incoming.validated_data
            )
        )

    @extend_schema(responses=InstallationEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        events = selectors.events_of(installation=self.get_object())
        return Response(InstallationEventSerializer(events, many=True).data)

"""REST twins of the cluster and CatalogSource screens. Credentials are write-only."""

from typing import Any

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.api_tenancy import TenantField
from accounts.models import Project
from accounts.permissions import IsPlatformAdmin, is_platform_admin

from . import selectors, services
from .models import CatalogPackage, CatalogSource, Cluster, ClusterExit, FoundCatalogSource


def _choices_from(field: serializers.Field, queryset: QuerySet[Model]) -> None:
    """What a related field accepts: only what the caller may pick (a selector's answer)."""
    relation = field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
    if not isinstance(relation, serializers.RelatedField):
        raise TypeError(f"{field!r} is not a related field")
    relation.queryset = queryset


class ClusterSerializer(serializers.ModelSerializer):
    # The querysets are the caller's (see __init__); `none()` only for the schema.
    projects = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Project.objects.none(), required=False
    )
    api_url = serializers.CharField(required=False, allow_blank=True, max_length=300)
    kubeconfig = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"base_template": "textarea.html"}
    )
    token = serializers.CharField(write_only=True, required=False, allow_blank=True)
    ca_data = serializers.CharField(write_only=True, required=False, allow_blank=True)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "api_url",
            "auth_method",
            "kubeconfig",
            "token",
            "ca_data",
            "skip_tls_verify",
            "is_default",
            "is_sandbox",
            "catalog_namespace",
            "global_operators_namespace",
            "external_access",
            "external_host",
            "projects",
            "connection_state",
            "server_version",
            "olm_available",
            "last_error",
            "last_checked_at",
            "created_at",
        ]
        read_only_fields = [
            "is_sandbox",
            "global_operators_namespace",
            "connection_state",
            "server_version",
            "olm_available",
            "last_error",
            "last_checked_at",
            "created_at",
        ]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            _choices_from(self.fields["projects"], selectors.linkable_projects(user=request.user))


class ClusterChoiceSerializer(serializers.ModelSerializer):
    """What a non-admin needs to choose a cluster: its name, flags and whether it is ready.
    Never its API URL, its namespaces, its errors or the projects (of every tenant) linked."""

    ready = serializers.SerializerMethodField(
        help_text="The platform reached the cluster and OLM's API groups are served."
    )

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "is_default",
            "is_sandbox",
            "skip_tls_verify",
            "external_access",
            "connection_state",
            "olm_available",
            "ready",
        ]
        read_only_fields = fields

    def get_ready(self, cluster: Cluster) -> bool:
        return (
            cluster.connection_state == Cluster.ConnectionState.CONNECTED
            and cluster.olm_available is True
        )


def _cluster_views(*, many: bool) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name="ClusterView",
        serializers=[ClusterSerializer, ClusterChoiceSerializer],
        resource_type_field_name=None,
        many=many,
    )


class ClusterExitSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClusterExit
        fields = ["id", "name", "kind", "address", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list[Any] = []


CLUSTER_VIEW_DOC = (
    "Platform admins get the whole `Cluster`; everyone else a `ClusterChoice`: what they need "
    "to choose a cluster (name, flags, readiness), never its API URL or linked projects."
)


@extend_schema_view(
    list=extend_schema(responses=_cluster_views(many=True), description=CLUSTER_VIEW_DOC),
    retrieve=extend_schema(responses=_cluster_views(many=False), description=CLUSTER_VIEW_DOC),
)
class ClusterViewSet(viewsets.ModelViewSet):
    """Everyone lists the clusters they may deploy to; platform admins manage them."""

    serializer_class = ClusterSerializer
    queryset = Cluster.objects.none()

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or is_platform_admin(self.request.user):
            return ClusterSerializer
        return ClusterChoiceSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        clusters = selectors.clusters_for(user=self.request.user)
        # Only admins see the linked projects (other tenants' among them).
        return (
            clusters.prefetch_related("projects")
            if is_platform_admin(self.request.user)
            else clusters
        )

    def get_permissions(self):
        if self.action in ("list", "retrieve") or (
            self.action == "exits" and self.request.method == "GET"
        ):
            return super().get_permissions()
        return [*super().get_permissions(), IsPlatformAdmin()]

    def _kwargs(self, data: dict[str, Any], instance: Cluster | None = None) -> dict[str, Any]:
        return {
            "name": data.get("name", instance.name if instance else ""),
            "api_url": data.get("api_url") or (instance.api_url if instance else ""),
            "kubeconfig": data.get("kubeconfig", ""),
            "token": data.get("token", ""),
            "ca_data": data.get("ca_data", ""),
            "skip_tls_verify": data.get(
                "skip_tls_verify", instance.skip_tls_verify if instance else False
            ),
            "is_default": data.get("is_default", instance.is_default if instance else False),
            "catalog_namespace": data.get(
                "catalog_namespace", instance.catalog_namespace if instance else "olm"
            ),
            "external_access": data.get(
                "external_access",
                instance.external_access if instance else Cluster.ExternalAccess.NODE_PORT,
            ),
            "external_host": data.get("external_host", instance.external_host if instance else ""),
            "projects": data.get(
                "projects", list(selectors.projects_of(cluster=instance)) if instance else []
            ),
        }

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.register_cluster(
            actor=self.request.user, auth_method=data.get("auth_method", ""), **self._kwargs(data)
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        instance = serializer.instance
        serializer.instance = services.update_cluster(
            actor=self.request.user,
            cluster=instance,
            auth_method=data.get("auth_method"),
            **self._kwargs(data, instance),
        )

    def perform_destroy(self, instance):
        services.delete_cluster(actor=self.request.user, cluster=instance)

    @extend_schema(request=None, responses={202: ClusterSerializer})
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        """Test the connection to the cluster. Runs on the worker; poll the cluster until
        `connection_state` is not `testing`."""
        cluster = self.get_object()
        services.request_connection_test(actor=request.user, cluster=cluster)
        return Response(self.get_serializer(cluster).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(methods=["GET"], responses=ClusterExitSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"], request=ClusterExitSerializer, responses={201: ClusterExitSerializer}
    )
    @action(detail=True, methods=["get", "post"], serializer_class=ClusterExitSerializer)
    def exits(self, request, pk=None):
        """网络出口: the named exits route rules may open ports on (the default exit is the
        cluster's own `external_access`); admins add them with a POST."""
        cluster = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.exits_of(cluster=cluster))
            return self.get_paginated_response(ClusterExitSerializer(page, many=True).data)
        body = ClusterExitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        service_exit = services.add_cluster_exit(
            actor=request.user, cluster=cluster, **body.validated_data
        )
        return Response(ClusterExitSerializer(service_exit).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"exits/(?P<exit_id>\d+)")
    def delete_exit(self, request, pk=None, exit_id=None):
        """Refused (400 `exit_in_use`) while a route rule uses the exit."""
        cluster = self.get_object()
        service_exit = get_object_or_404(ClusterExit, pk=exit_id, cluster=cluster)
        services.delete_cluster_exit(actor=request.user, service_exit=service_exit)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CatalogPackageSerializer(serializers.ModelSerializer):
    class Meta:
        model = CatalogPackage
        fields = ["name", "display_name", "provider", "default_channel", "channels", "updated_at"]


class FoundCatalogSourceSerializer(serializers.ModelSerializer):
    submitted_as = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="Name of your platform CatalogSource with the same image, if you submitted one.",
    )

    class Meta:
        model = FoundCatalogSource
        fields = [
            "id",
            "cluster",
            "namespace",
            "name",
            "display_name",
            "image",
            "publisher",
            "source_type",
            "last_observed_state",
            "seen_at",
            "submitted_as",
        ]
        read_only_fields = fields


class CatalogSourceSerializer(serializers.ModelSerializer):
    # The querysets are the caller's (see __init__); `none()` only for the schema.
    tenant = TenantField(providers_only=True)
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.none())

    class Meta:
        model = CatalogSource
        fields = [
            "id",
            "tenant",
            "cluster",
            "name",
            "namespace",
            "display_name",
            "image",
            "publisher",
            "state",
            "last_observed_state",
            "message",
            "packages_synced_at",
            "created_at",
        ]
        read_only_fields = [
            "namespace",
            "state",
            "last_observed_state",
            "message",
            "packages_synced_at",
            "created_at",
        ]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}
        validators: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            tenants = account_selectors.tenants_for(user=request.user)
            # Where any of the user's tenants may deploy; the service checks the tenant chosen.
            _choices_from(self.fields["cluster"], selectors.clusters_open_to(tenants=tenants))


class CatalogSourceYamlSerializer(serializers.Serializer):
    """The seed's memcached.yaml as the body: the same submission as the fields above."""

    tenant = TenantField(providers_only=True)
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.none())
    manifest = serializers.CharField(
        trim_whitespace=False,
        help_text="A CatalogSource (operators.coreos.com/v1alpha1) in YAML, as for kubectl apply: "
        "metadata.namespace is a namespace of one of your projects on the cluster or its global "
        "catalog namespace; spec.sourceType grpc with spec.image.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            tenants = account_selectors.tenants_for(user=request.user)
            _choices_from(self.fields["cluster"], selectors.clusters_open_to(tenants=tenants))


class CatalogSourceViewSet(
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Providers submit catalogs; the worker deploys them and caches their packages."""

    serializer_class = CatalogSourceSerializer
    queryset = CatalogSource.objects.none()
    filterset_fields = ["state", "cluster", "tenant"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.catalog_sources_for(user=self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.submit_catalog_source(
            actor=self.request.user,
            tenant=data["tenant"],
            cluster=data["cluster"],
            name=data["name"],
            display_name=data["display_name"],
            image=data["image"],
            publisher=data.get("publisher", ""),
        )

    @extend_schema(responses={202: CatalogSourceSerializer})
    def destroy(self, request, *args, **kwargs):
        """Withdraw a catalog: the worker deletes it from its cluster (state `deleting`)."""
        catalog = services.delete_catalog_source(
            actor=request.user, catalog_source=self.get_object()
        )
        return Response(self.get_serializer(catalog).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=CatalogSourceYamlSerializer, responses={201: CatalogSourceSerializer})
    @action(
        detail=False,
        methods=["post"],
        url_path="yaml",
        serializer_class=CatalogSourceYamlSerializer,
    )
    def submit_yaml(self, request):
        """Submit a CatalogSource as its YAML (the seed's memcached.yaml) instead of its fields;
        errors on the YAML are under `manifest`, each naming its path (e.g. `spec.image`)."""
        body = CatalogSourceYamlSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        catalog = services.submit_catalog_source_manifest(
            actor=request.user,
            tenant=body.validated_data["tenant"],
            cluster=body.validated_data["cluster"],
            manifest=body.validated_data["manifest"],
        )
        return Response(
            CatalogSourceSerializer(catalog, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={202: CatalogSourceSerializer})
    @action(detail=True, methods=["post"])
    def redeploy(self, request, pk=None):
        """重新部署: a failed (or withdrawn) catalog is applied to its cluster again."""
        catalog = services.redeploy_catalog_source(
            actor=request.user, catalog_source=self.get_object()
        )
        return Response(self.get_serializer(catalog).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=FoundCatalogSourceSerializer(many=True), filters=False)
    @action(detail=False, methods=["get"], serializer_class=FoundCatalogSourceSerializer)
    def found(self, request):
        """CatalogSources applied with kubectl in your projects' namespaces (seen by the catalog
        sync); submit one's image with a POST to this collection to offer it to buyers."""
        tenants = account_selectors.tenants_for(user=request.user)
        found = selectors.found_catalog_sources_for(tenants=tenants)
        page = self.paginate_queryset(found)
        return self.get_paginated_response(FoundCatalogSourceSerializer(page, many=True).data)

    @extend_schema(responses=CatalogPackageSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def packages(self, request, pk=None):
        """The catalog's packages as its last sync cached them, a page at a time."""
        catalog = self.get_object()
        page = self.paginate_queryset(selectors.packages_of(catalog_source=catalog))
        return self.get_paginated_response(CatalogPackageSerializer(page, many=True).data)

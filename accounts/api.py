"""REST twins of the accounts screens: thin serializers and viewsets over services."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .models import Membership, Project, Tenant
from .permissions import is_platform_admin


class TenantSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "is_provider", "is_certified", "role"]

    def get_role(self, tenant) -> str | None:
        return self.context.get("roles", {}).get(tenant.pk)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    email = serializers.EmailField()
    is_platform_admin = serializers.BooleanField()
    tenants = TenantSerializer(many=True)


class ProjectSerializer(serializers.ModelSerializer):
    tenant = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.none())

    class Meta:
        model = Project
        fields = ["id", "tenant", "name", "namespace", "description", "created_at"]
        read_only_fields = ["id", "created_at"]
        # The service reports clashes with the same messages as the web form.
        validators = []
        extra_kwargs = {"namespace": {"validators": []}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["tenant"].queryset = selectors.tenants_for(user=request.user)


def _roles(user):
    return {m.tenant_id: m.role for m in Membership.objects.filter(user=user)}


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        roles = _roles(request.user)
        tenants = selectors.tenants_for(user=request.user)
        data = {
            "id": request.user.pk,
            "username": request.user.username,
            "display_name": request.user.display_name,
            "email": request.user.email,
            "is_platform_admin": is_platform_admin(request.user),
            "tenants": TenantSerializer(tenants, many=True, context={"roles": roles}).data,
        }
        return Response(data)


class TenantViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TenantSerializer
    queryset = Tenant.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.tenants_for(user=self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "roles": _roles(self.request.user)}


class ProjectViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ProjectSerializer
    filterset_fields = ["tenant"]
    queryset = Project.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.projects_for(user=self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_project(
            actor=self.request.user,
            tenant=data["tenant"],
            name=data["name"],
            namespace=data["namespace"],
            description=data.get("description", ""),
        )

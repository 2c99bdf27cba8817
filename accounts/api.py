"""REST twins of the accounts screens: thin serializers and viewsets over services."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.throttling import SignInThrottle

from . import lockout, selectors, services
from .api_tenancy import TenantField
from .models import Notification, Project, Tenant
from .permissions import is_platform_admin
from .workspace import signed_in_user


class TenantSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "is_provider", "is_certified", "role"]

    def get_role(self, tenant: Tenant) -> str | None:
        return self.context.get("roles", {}).get(tenant.pk)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    email = serializers.EmailField()
    is_platform_admin = serializers.BooleanField()
    tenants = TenantSerializer(many=True)


class ProjectSerializer(serializers.ModelSerializer):
    tenant = TenantField()

    class Meta:
        model = Project
        fields = ["id", "tenant", "name", "namespace", "description", "created_at"]
        read_only_fields = ["id", "created_at"]
        # The service reports clashes with the same messages as the web form.
        validators: list[Any] = []
        extra_kwargs: dict[str, dict[str, Any]] = {"namespace": {"validators": []}}


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        """Who you are: your user and your tenants, with your role in each."""
        user = signed_in_user(request)
        roles = selectors.roles_of(user=user)
        tenants = selectors.tenants_for(user=user)
        data = {
            "id": user.pk,
            "username": user.username,
            "display_name": user.display_name,
            "email": user.email,
            "is_platform_admin": is_platform_admin(user),
            "tenants": TenantSerializer(tenants, many=True, context={"roles": roles}).data,
        }
        return Response(data)


class SignInLockedOut(exceptions.APIException):
    """429: this username is locked for the caller's address; `wait` becomes Retry-After."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self, *, wait: int | None) -> None:
        super().__init__(lockout.lockout_message(wait), code=self.default_code)
        self.wait = wait


class TokenSerializer(AuthTokenSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        try:
            return super().validate(attrs)
        except serializers.ValidationError:
            # Axes flags the request it refused (or that just locked the pair).
            if lockout.is_locked_out(request):
                raise SignInLockedOut(
                    wait=lockout.retry_after_seconds(request, attrs.get("username", ""))
                ) from None
            raise


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


ErrorSerializer = inline_serializer(
    "SignInError",
    fields={
        "status": serializers.IntegerField(),
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)


class ObtainTokenView(ObtainAuthToken):
    """Sign in with username and password for an API token. Too many failures of one
    username from one address lock it (429 `locked_out` with Retry-After); one address is
    also throttled across usernames (429 `throttled`)."""

    serializer_class = TokenSerializer
    authentication_classes = ()  # the anonymous door: a stale token header must not stop it
    throttle_classes = (SignInThrottle,)

    @extend_schema(
        request=TokenSerializer,
        responses={
            200: TokenResponseSerializer,
            400: ErrorSerializer,
            429: ErrorSerializer,
        },
        summary="Exchange a username and password for an API token",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class TenantViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TenantSerializer
    queryset = Tenant.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> QuerySet[Tenant]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.tenants_for(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "roles": selectors.roles_of(user=self.request.user),
        }


class ProjectViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ProjectSerializer
    filterset_fields = ["tenant"]
    queryset = Project.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> QuerySet[Project]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.projects_for(user=self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[Project]) -> None:
        data = serializer.validated_data
        serializer.instance = services.create_project(
            actor=signed_in_user(self.request),
            tenant=data["tenant"],
            name=data["name"],
            namespace=data["namespace"],
            description=data.get("description", ""),
        )


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "title", "body", "url", "read_at", "created_at"]
        read_only_fields = fields


class NotificationFilter(filters.FilterSet):
    unread = filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", label="Only unread ones"
    )

    class Meta:
        model = Notification
        fields = ["unread"]


@extend_schema_view(list=extend_schema(summary="Your notifications, newest first"))
class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()
    filterset_class = NotificationFilter

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.notifications_for(user=self.request.user)

    @extend_schema(request=None, responses=NotificationSerializer, summary="Mark one as read")
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        note = self.get_object()
        services.mark_notifications_read(user=signed_in_user(request), ids=[note.pk])
        note = selectors.get_notification_for(user=request.user, notification_id=note.pk)
        return Response(self.get_serializer(note).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("NotificationsMarked", {"marked": serializers.IntegerField()}),
        summary="Mark all as read",
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        marked = services.mark_notifications_read(user=signed_in_user(request))
        return Response({"marked": marked})

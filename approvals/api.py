"""REST twins of the review queue: thin serializers over the same services.

Admins list every request, providers their own tenants'; anything else is a 404.
Services raise Django errors that core.api turns into the one error shape.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Tenant, User
from accounts.workspace import signed_in_user
from assets import selectors as asset_selectors
from assets.models import Asset, AssetVersion

from . import selectors, services
from .forms import REASON_MAX_LENGTH
from .models import ApprovalRequest


class ApprovalUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name"]


class ApprovalTenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name"]


class ApprovalAssetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Asset
        fields = ["id", "code", "name", "delivery_type"]


class ApprovalRequestSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(read_only=True, help_text="状态, as the queue shows it.")
    asset = ApprovalAssetSerializer(read_only=True)
    version: serializers.PrimaryKeyRelatedField[AssetVersion] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Null once a draft/delisted version is deleted."
    )
    tenant = ApprovalTenantSerializer(read_only=True)
    requested_by = ApprovalUserSerializer(read_only=True, allow_null=True)
    decided_by = ApprovalUserSerializer(read_only=True, allow_null=True)
    user_count = serializers.SerializerMethodField(
        help_text="资产用户量: distinct buyer tenants holding an entitlement to the asset."
    )

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "kind",
            "status",
            "status_display",
            "asset",
            "version",
            "version_number",
            "revision",
            "tenant",
            "requested_by",
            "reason",
            "created_at",
            "decided_by",
            "decided_at",
            "decision_reason",
            "withdrawn_at",
            "user_count",
        ]
        read_only_fields = fields

    def get_user_count(self, approval: ApprovalRequest) -> int:
        return getattr(approval, "user_count", 0)


class ApprovalSubmitSerializer(serializers.Serializer):
    version = serializers.PrimaryKeyRelatedField(
        queryset=AssetVersion.objects.none(), help_text="A version of your provider tenant."
    )
    kind = serializers.ChoiceField(
        # One enum with the queue's `kind`; asking for "revision" is refused (a revision
        # request is opened by editing a listed asset).
        choices=ApprovalRequest.Kind.choices,
        help_text="listing (申请上架, from draft) or delisting (申请下架, from on sale).",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, help_text="申请原因"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            version = cast(
                "serializers.PrimaryKeyRelatedField[AssetVersion]", self.fields["version"]
            )
            version.queryset = asset_selectors.versions_for(user=request.user)


class ApproveSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, help_text="Optional note."
    )


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH, help_text="Required: the provider reads it."
    )


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField(help_text="The audit action, e.g. version.listed.")
    # A field called "label": the serializer's metaclass takes it out of the class, so it
    # never shadows Field.label, but the stubs see an attribute of another type.
    label = serializers.CharField()  # type: ignore[assignment]
    actor = serializers.CharField(allow_blank=True)
    from_state = serializers.CharField(allow_blank=True)
    to_state = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)


class ApprovalRequestFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ApprovalRequest.Status.choices)
    kind = filters.ChoiceFilter(choices=ApprovalRequest.Kind.choices)
    version = filters.NumberFilter(field_name="version")
    asset = filters.NumberFilter(field_name="asset")

    class Meta:
        model = ApprovalRequest
        fields = ["status", "kind", "version", "asset"]


@extend_schema_view(
    list=extend_schema(
        summary="The review queue (审批)",
        description="Admins see every request, providers their tenants'; pending first, "
        "then newest.",
    ),
    retrieve=extend_schema(summary="One approval request"),
)
class ApprovalRequestViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ApprovalRequestSerializer
    queryset = ApprovalRequest.objects.none()
    filterset_class = ApprovalRequestFilter

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.requests_for(user=self.request.user)

    def paginate_queryset(self, queryset):  # the page, with its user counts
        page = super().paginate_queryset(queryset)
        return selectors.attach_user_counts(page) if page is not None else None

    def get_object(self) -> ApprovalRequest:
        approval = super().get_object()
        selectors.attach_user_counts([approval])
        return approval

    def _answer(self, approval: ApprovalRequest, status_code: int = status.HTTP_200_OK) -> Response:
        """The request as it is now, read again through the selector."""
        approval = selectors.get_request_for(user=self.request.user, request_id=approval.pk)
        selectors.attach_user_counts([approval])
        return Response(self.get_serializer(approval).data, status=status_code)

    @extend_schema(
        request=ApprovalSubmitSerializer,
        responses={201: ApprovalRequestSerializer},
        summary="Ask for listing or delisting of a version (申请上架 / 申请下架)",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        submit = ApprovalSubmitSerializer(data=request.data, context={"request": request})
        submit.is_valid(raise_exception=True)
        data = submit.validated_data
        approval = services.submit_request(
            actor=signed_in_user(request),
            version=data["version"],
            kind=data["kind"],
            reason=data.get("reason", ""),
        )
        return self._answer(approval, status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses=ApprovalRequestSerializer,
        summary="Withdraw a pending request (撤回)",
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        approval = services.withdraw_request(
            actor=signed_in_user(request), approval=self.get_object()
        )
        return self._answer(approval)

    @extend_schema(
        request=ApproveSerializer,
        responses=ApprovalRequestSerializer,
        summary="Approve a pending request (通过; platform admins)",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        approval = self.get_object()
        decision = ApproveSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        approval = services.approve_request(
            actor=signed_in_user(request),
            approval=approval,
            reason=decision.validated_data.get("reason", ""),
        )
        return self._answer(approval)

    @extend_schema(
        request=RejectSerializer,
        responses=ApprovalRequestSerializer,
        summary="Reject a pending request with a reason (拒绝; platform admins)",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        approval = self.get_object()
        decision = RejectSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        approval = services.reject_request(
            actor=signed_in_user(request),
            approval=approval,
            reason=decision.validated_data["reason"],
        )
        return self._answer(approval)

"""REST twins of buying and selling: orders, payments, wallets, ledgers, entitlements.

Thin: serializers check shapes, orders.services checks the rules. Money is a decimal
string in T ("100.00"). Requests that move money — placing, paying, renewing, topping
up — take an `Idempotency-Key` header (orders.idempotency): the same key with the same
body returns the first result, with its status and `Idempotent-Replayed: true`; the
same key with another body is a 422 naming the header.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Project, Tenant, User
from accounts.permissions import IsPlatformAdmin
from accounts.selectors import get_tenant_for, projects_for, tenants_for
from assets.models import Plan
from core.api import error_body
from core.errors import invalid, messages_by_field
from core.schema import ErrorSerializer
from provisioning.models import Installation

from . import idempotency, selectors, services
from .errors import OrdersErrorCode
from .models import MONEY, Entitlement, LedgerEntry, Order, Wallet

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _idempotency_key(request: Request, *, required: bool) -> str:
    """The header's key, checked as the service checks it, its errors named by the header."""
    try:
        return idempotency.clean_key(
            request.headers.get(IDEMPOTENCY_HEADER),
            required=required,
            required_message=_(
                "This header is required: send a unique key (e.g. a UUID) per payment, "
                "and the same key when you retry it."
            ),
        )
    except ValidationError as exc:
        raise _header_key_errors(exc) from exc


def _header_key_errors(exc: ValidationError) -> ValidationError:
    """The service names the key `idempotency_key`; over the API it is the header. The
    errors keep their codes (the API body's `code`)."""
    if hasattr(exc, "error_dict") and idempotency.FIELD in exc.error_dict:
        return ValidationError({IDEMPOTENCY_HEADER: exc.error_dict[idempotency.FIELD]})
    return exc


def _refused(exc: ValidationError) -> Response:
    """A service's refusal of a money-moving request. A key sent again with another body
    is a 422 (the request is well formed, but not the one the key stands for), in the
    API's one error shape; every other refusal goes on to the 400 it always was."""
    if not idempotency.is_key_reused(exc):
        renamed = _header_key_errors(exc)
        if renamed is exc:
            raise exc
        raise renamed from exc
    messages = messages_by_field(exc).get(idempotency.FIELD) or [str(exc)]
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    body = error_body(
        status_code=status_code,
        code=str(OrdersErrorCode.IDEMPOTENCY_KEY_REUSED),
        message=f"{IDEMPOTENCY_HEADER}: {messages[0]}",
        fields={IDEMPOTENCY_HEADER: messages},
    )
    return Response(body, status=status_code)


def _key_parameter(description: str, *, required: bool = False) -> OpenApiParameter:
    return OpenApiParameter(
        IDEMPOTENCY_HEADER,
        str,
        location=OpenApiParameter.HEADER,
        required=required,
        description=description
        + " The same key with the same body returns the first response (same status and "
        "body, header Idempotent-Replayed: true); with another body it is a 422. At most "
        f"{idempotency.MAX_LENGTH} characters.",
    )


IDEMPOTENCY_PARAMETER = _key_parameter(
    "Optional: the same key returns the order it placed first, never a second one."
)
REPLAYED_PARAMETER = OpenApiParameter(
    REPLAYED_HEADER,
    str,
    location=OpenApiParameter.HEADER,
    response=True,
    enum=["true"],
    description="Present (true) when the response is the replay of an Idempotency-Key's "
    "first response.",
)
# The one error body (core.schema.ErrorSerializer), with `fields` naming the header.
KEY_REUSED_RESPONSE = OpenApiResponse(
    ErrorSerializer,
    description="This Idempotency-Key was already used for a request with another body "
    "(code idempotency_key_reused); nothing was done. Send a new key for a new request.",
)


# --- serializers ----------------------------------------------------------------------------


class TenantBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "is_certified"]
        read_only_fields = fields


class AssetBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    delivery_type = serializers.CharField()


class OrderInstallationSerializer(serializers.ModelSerializer):
    """An installation the paid order created: follow `url` until `status` is installed."""

    url = serializers.HyperlinkedIdentityField(view_name="api:installation-detail")
    # A string here: the installation's own schema carries the enum of its statuses.
    status = serializers.CharField(read_only=True, help_text="As the installation's `status`.")

    class Meta:
        model = Installation
        fields = ["id", "url", "status"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    installations = OrderInstallationSerializer(
        many=True,
        read_only=True,
        help_text="What paying created (empty until the worker takes the order); "
        "`GET /installations/?order={id}` lists the same.",
    )
    buyer = TenantBriefSerializer(read_only=True)
    seller = TenantBriefSerializer(read_only=True)
    asset = AssetBriefSerializer(read_only=True)
    plan_price = serializers.DecimalField(read_only=True, **MONEY)
    plan_duration_unit = serializers.CharField(read_only=True, help_text="year or day")
    plan_duration = serializers.CharField(source="plan_duration_display", read_only=True)
    amount_due = serializers.DecimalField(read_only=True, **MONEY)
    amount_paid = serializers.DecimalField(read_only=True, **MONEY)
    amounts = serializers.CharField(
        source="amounts_display", read_only=True, help_text="应付/实付 as the table shows it."
    )
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "code",
            "kind",
            "kind_display",
            "status",
            "status_display",
            "buyer",
            "seller",
            "asset",
            "plan",
            "plan_name",
            "plan_price",
            "plan_duration_value",
            "plan_duration_unit",
            "plan_duration",
            "version",
            "project",
            "cluster",
            "channel",
            "approval",
            "amount_due",
            "amount_paid",
            "amounts",
            "entitlement",
            "installations",
            "created_at",
            "payment_deadline",
            "paid_at",
            "cancelled_at",
            "expired_at",
        ]
        read_only_fields = fields


class OrderCreateSerializer(serializers.Serializer):
    plan = serializers.PrimaryKeyRelatedField(
        queryset=selectors.orderable_plans(), help_text="A plan on sale of an asset on sale."
    )
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(),
        help_text="A project of your tenant; the buyer is the project's tenant.",
    )
    cluster = serializers.PrimaryKeyRelatedField(
        queryset=selectors.orderable_clusters(),
        required=False,
        allow_null=True,
        help_text="Linked to the project, or the default cluster (the default when left out).",
    )
    channel = serializers.CharField(
        required=False, allow_blank=True, help_text="Left out: the version's default channel."
    )
    approval = serializers.ChoiceField(
        choices=Order.Approval.choices, default=Order.Approval.AUTOMATIC
    )
    pay_now = serializers.BooleanField(
        default=False,
        help_text="直接支付: pay in the same request (nothing is ordered if the wallet is short).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            project = cast(serializers.PrimaryKeyRelatedField, self.fields["project"])
            project.queryset = projects_for(user=request.user)


class PaySerializer(serializers.Serializer):
    """继续支付 may install elsewhere: another project of the buyer, a cluster open to it."""

    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(),
        required=False,
        allow_null=True,
        help_text="Left out: the order's. Another project of the buyer tenant moves the order there.",
    )
    cluster = serializers.PrimaryKeyRelatedField(
        queryset=selectors.orderable_clusters(),
        required=False,
        allow_null=True,
        help_text="Linked to the project, or the default cluster. Left out: the order's, or "
        "for another project its first open cluster.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            project = cast(serializers.PrimaryKeyRelatedField, self.fields["project"])
            project.queryset = projects_for(user=request.user)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class PaymentResultSerializer(serializers.Serializer):
    """The first result of a payment; a repeat with the same key returns it unchanged."""

    order_id = serializers.IntegerField()
    order = serializers.CharField(help_text="The order ID (AOID-…).")
    status = serializers.CharField()
    amount_due = serializers.DecimalField(**MONEY)
    amount_paid = serializers.DecimalField(**MONEY)
    paid_at = serializers.DateTimeField(allow_null=True)
    balance_after = serializers.DecimalField(allow_null=True, **MONEY)
    entitlement_id = serializers.IntegerField(allow_null=True)
    entitlement_ends_at = serializers.DateTimeField(allow_null=True)


class RevenueAssetSerializer(serializers.Serializer):
    asset_id = serializers.IntegerField()
    asset_code = serializers.CharField(source="asset__code")
    asset_name = serializers.CharField(source="asset__name")
    orders = serializers.IntegerField()
    revenue = serializers.DecimalField(**MONEY)


class RevenueMonthSerializer(serializers.Serializer):
    month = serializers.DateTimeField()
    orders = serializers.IntegerField()
    revenue = serializers.DecimalField(**MONEY)


class RevenueSerializer(serializers.Serializer):
    tenant = serializers.IntegerField()
    total = serializers.DecimalField(**MONEY)
    income = serializers.DecimalField(
        allow_null=True, help_text="Received after the platform commission.", **MONEY
    )
    per_asset = RevenueAssetSerializer(many=True)
    per_month = RevenueMonthSerializer(many=True)


class OrderFilter(filters.FilterSet):
    role = filters.ChoiceFilter(
        method="filter_role",
        choices=[(selectors.ROLE_BUYER, "buyer"), (selectors.ROLE_SELLER, "seller")],
        label="Orders your tenants bought (buyer) or sold (seller); both when left out",
    )
    tenant = filters.NumberFilter(method="filter_tenant", label="One of your tenants")
    status = filters.ChoiceFilter(choices=Order.Status.choices)
    kind = filters.ChoiceFilter(choices=Order.Kind.choices)
    created_from = filters.DateFilter(method="filter_from", label="Ordered on or after (date)")
    created_to = filters.DateFilter(method="filter_to", label="Ordered on or before (date)")

    class Meta:
        model = Order
        fields = ["role", "tenant", "status", "kind", "created_from", "created_to"]

    def filter_role(self, queryset, name, value):
        return queryset  # applied together with `tenant` in filter_queryset

    def filter_tenant(self, queryset, name, value):
        return queryset

    def filter_from(self, queryset, name, value):
        return selectors.filter_orders(queryset, created_from=value)

    def filter_to(self, queryset, name, value):
        return selectors.filter_orders(queryset, created_to=value)

    def filter_queryset(self, queryset: QuerySet[Order]) -> QuerySet[Order]:
        role = self.form.cleaned_data.get("role") or None
        tenant_id = self.form.cleaned_data.get("tenant")
        if role is not None or tenant_id is not None:
            # The queryset is already the user's orders, either side: narrow it to one
            # side and/or one of the user's tenants (another tenant is a 404).
            user = self.request.user
            tenant = None if tenant_id is None else get_tenant_for(user=user, tenant_id=tenant_id)
            queryset = selectors.orders_for(user=user, tenant=tenant, role=role)
        return super().filter_queryset(queryset)


# Views may read any app (DESIGN.md): an order shows the installations it created.
ORDER_INSTALLATIONS = Prefetch(
    "installations", queryset=Installation.objects.only("id", "order_id", "status").order_by("id")
)


def _with_replay(response: Response, replayed: bool) -> Response:
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


# --- orders ---------------------------------------------------------------------------------


class OrderViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """订单管理 and 出售管理: orders your tenants bought or sold; others are a 404."""

    serializer_class = OrderSerializer
    queryset = Order.objects.none()
    filterset_class = OrderFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.orders_for(user=self.request.user)

    def filter_queryset(self, queryset):
        # After the filters: OrderFilter may replace the queryset with a narrower one.
        return super().filter_queryset(queryset).prefetch_related(ORDER_INSTALLATIONS)

    def get_serializer_class(self):
        if self.action == "create":
            return OrderCreateSerializer
        return OrderSerializer

    @extend_schema(summary="List orders (订单管理 / 出售管理)")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Place an order (购买); pay_now pays at once (直接支付)",
        parameters=[IDEMPOTENCY_PARAMETER, REPLAYED_PARAMETER],
        request=OrderCreateSerializer,
        responses={201: OrderSerializer, 422: KEY_REUSED_RESPONSE},
        description="A free plan is paid at once. Without pay_now the order waits for "
        "`POST /orders/{id}/pay/` until its payment_deadline, then expires.",
    )
    def create(self, request, *args, **kwargs):
        key = _idempotency_key(request, required=False)
        serializer = OrderCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        try:
            order = services.place_order(
                actor=request.user, idempotency_key=key, **serializer.validated_data
            )
        except ValidationError as exc:
            return _refused(exc)
        replayed = order.replayed
        order = selectors.get_order_for(user=request.user, order_id=order.pk)
        body = OrderSerializer(order, context={"request": request}).data
        return _with_replay(Response(body, status=status.HTTP_201_CREATED), replayed)

    @extend_schema(
        summary="Pay an order (支付 / 继续支付), exactly once",
        parameters=[
            _key_parameter(
                "Required. A unique key per payment; retry with the same key.", required=True
            ),
            REPLAYED_PARAMETER,
        ],
        request=PaySerializer,
        responses={
            200: PaymentResultSerializer,
            400: OpenApiResponse(
                description="Missing key, wallet short (with the shortfall), not payable, "
                "a project or cluster that cannot be chosen."
            ),
            422: KEY_REUSED_RESPONSE,
        },
    )
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        key = _idempotency_key(request, required=True)
        order = self._buyer_order()
        data = PaySerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        try:
            payment = services.pay_order(
                actor=request.user,
                order=order,
                idempotency_key=key,
                project=data.validated_data.get("project"),
                cluster=data.validated_data.get("cluster"),
            )
        except ValidationError as exc:
            return _refused(exc)
        return _with_replay(
            Response(PaymentResultSerializer(payment.result).data), payment.replayed
        )

    @extend_schema(summary="Cancel an unpaid order (取消)", request=CancelSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self._buyer_order()
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.cancel_order(
            actor=request.user, order=order, reason=data.validated_data.get("reason", "")
        )
        order = selectors.get_order_for(user=request.user, order_id=order.pk)
        return Response(self.get_serializer(order).data)

    def _buyer_order(self) -> Order:
        """Only the buyer pays or cancels an order: to its seller (and anyone else) the
        order is not found here."""
        user = cast(User, self.request.user)  # IsAuthenticated let the request in
        return selectors.get_order_for(
            user=user, order_id=self.kwargs["pk"], role=selectors.ROLE_BUYER
        )

    @extend_schema(
        summary="Revenue per asset and per month (出售管理)",
        parameters=[OpenApiParameter("tenant", int, description="Your provider tenant.")],
        responses=RevenueSerializer,
        filters=False,
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def revenue(self, request):
        tenant = _tenant_param(request)
        per_asset = list(selectors.revenue_by_asset(user=request.user, tenant=tenant))
        data = {
            "tenant": tenant.pk,
            "total": sum((row["revenue"] for row in per_asset), start=services.ZERO),
            "income": selectors.sales_income(user=request.user, tenant=tenant),
            "per_asset": per_asset,
            "per_month": list(selectors.revenue_by_month(user=request.user, tenant=tenant)),
        }
        return Response(RevenueSerializer(data).data)


def _tenant_param(request: Request) -> Tenant:
    """`?tenant=` (one of yours), else your only tenant, else the active one."""
    tenant_id = request.query_params.get("tenant")
    if tenant_id:
        return get_tenant_for(user=request.user, tenant_id=tenant_id)
    tenants = list(tenants_for(user=request.user)[:2])
    if len(tenants) == 1:
        return tenants[0]
    workspace = getattr(request._request, "workspace", None)
    if workspace is not None and workspace.tenant is not None:
        return workspace.tenant
    raise invalid(
        _("Choose one of your tenants."), code=OrdersErrorCode.TENANT_REQUIRED, field="tenant"
    )


# --- entitlements ---------------------------------------------------------------------------


class PlanBriefSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(read_only=True, **MONEY)
    duration = serializers.CharField(source="duration_display", read_only=True)

    class Meta:
        model = Plan
        fields = ["id", "name", "price", "duration"]
        read_only_fields = fields


class EntitlementSerializer(serializers.ModelSerializer):
    buyer = TenantBriefSerializer(read_only=True)
    asset = AssetBriefSerializer(read_only=True)
    plan = PlanBriefSerializer(read_only=True)
    status = serializers.ChoiceField(choices=Entitlement.Status.choices, read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Entitlement
        fields = [
            "id",
            "buyer",
            "asset",
            "plan",
            "starts_at",
            "ends_at",
            "status",
            "status_display",
        ]
        read_only_fields = fields


class RenewSerializer(serializers.Serializer):
    plan = serializers.PrimaryKeyRelatedField(
        queryset=selectors.orderable_plans(),
        required=False,
        help_text="A plan of the asset; left out: the current plan.",
    )
    pay_now = serializers.BooleanField(default=False)


class EntitlementFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Entitlement.Status.choices, method="filter_status")
    tenant = filters.NumberFilter(field_name="buyer", label="One of your tenants")
    asset = filters.NumberFilter(field_name="asset")

    class Meta:
        model = Entitlement
        fields = ["status", "tenant", "asset"]

    def filter_status(
        self, queryset: QuerySet[Entitlement], name: str, value: str
    ) -> QuerySet[Entitlement]:
        return selectors.filter_entitlements(queryset, status=value)


class EntitlementViewSet(viewsets.ReadOnlyModelViewSet):
    """已购资产: what your tenants hold and until when."""

    serializer_class = EntitlementSerializer
    queryset = Entitlement.objects.none()
    filterset_class = EntitlementFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.entitlements_for(user=self.request.user)

    @extend_schema(
        summary="Renew (续费): a renewal order that extends the end once paid",
        parameters=[IDEMPOTENCY_PARAMETER, REPLAYED_PARAMETER],
        request=RenewSerializer,
        responses={201: OrderSerializer, 422: KEY_REUSED_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        key = _idempotency_key(request, required=False)
        entitlement = self.get_object()
        data = RenewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            order = services.renew(
                actor=request.user,
                entitlement=entitlement,
                plan=data.validated_data.get("plan"),
                pay_now=data.validated_data["pay_now"],
                idempotency_key=key,
            )
        except ValidationError as exc:
            return _refused(exc)
        replayed = order.replayed
        order = selectors.get_order_for(user=request.user, order_id=order.pk)
        body = OrderSerializer(order, context={"request": request}).data
        return _with_replay(Response(body, status=status.HTTP_201_CREATED), replayed)


# --- wallets --------------------------------------------------------------------------------


class WalletSerializer(serializers.ModelSerializer):
    tenant = TenantBriefSerializer(read_only=True, allow_null=True)
    balance = serializers.DecimalField(read_only=True, **MONEY)

    class Meta:
        model = Wallet
        fields = ["id", "tenant", "is_platform", "balance", "updated_at"]
        read_only_fields = fields


class LedgerEntrySerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(read_only=True, **MONEY)
    balance_after = serializers.DecimalField(read_only=True, **MONEY)
    order: serializers.SlugRelatedField[Order] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "wallet",
            "kind",
            "kind_display",
            "amount",
            "balance_after",
            "transfer",
            "order",
            "reason",
            "created_at",
        ]
        read_only_fields = fields


class TopUpSerializer(serializers.Serializer):
    tenant = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.none())
    amount = serializers.DecimalField(
        min_value=services.CENT,
        max_value=services.MAX_TOP_UP,
        help_text='In T, as a string: "1000.00".',
        **MONEY,
    )
    reason = serializers.CharField(max_length=300, help_text="Required; kept in the ledger.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            tenant = cast(serializers.PrimaryKeyRelatedField, self.fields["tenant"])
            tenant.queryset = selectors.tenants_to_top_up(user=request.user)


class WalletViewSet(viewsets.ReadOnlyModelViewSet):
    """余额: your tenants' wallets (platform admins: every wallet); ledgers; 充值."""

    serializer_class = WalletSerializer
    queryset = Wallet.objects.none()
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.wallets_for(user=self.request.user)

    @extend_schema(
        summary="The wallet's ledger, newest first", responses=LedgerEntrySerializer(many=True)
    )
    @action(detail=True, methods=["get"], serializer_class=LedgerEntrySerializer)
    def ledger(self, request, pk=None):
        wallet = self.get_object()
        page = self.paginate_queryset(selectors.ledger_for(wallet=wallet))
        return self.get_paginated_response(LedgerEntrySerializer(page, many=True).data)

    @extend_schema(
        summary="Top up a tenant's wallet (充值, platform admins), once per Idempotency-Key",
        parameters=[
            _key_parameter(
                "Optional: a unique key per top-up (e.g. a UUID), the same one when you "
                "retry it, so a retry never credits twice. Keys are per admin."
            ),
            REPLAYED_PARAMETER,
        ],
        request=TopUpSerializer,
        responses={201: LedgerEntrySerializer, 422: KEY_REUSED_RESPONSE},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="top-up",
        permission_classes=[IsPlatformAdmin],
        serializer_class=TopUpSerializer,
    )
    def top_up(self, request):
        key = _idempotency_key(request, required=False)
        data = TopUpSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        try:
            entry = services.top_up_wallet(
                actor=request.user, idempotency_key=key, **data.validated_data
            )
        except ValidationError as exc:
            return _refused(exc)
        body = LedgerEntrySerializer(entry).data
        return _with_replay(Response(body, status=status.HTTP_201_CREATED), entry.replayed)

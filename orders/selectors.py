"""Reads of the orders app, always scoped to the acting user.

A buyer sees its tenant's orders, a seller the orders of its assets; any other order,
wallet or entitlement is a 404, never a 403.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.guards import is_member
from accounts.models import AuditEntry, Tenant, User
from accounts.permissions import is_platform_admin
from accounts.selectors import tenants_for
from assets.models import Asset, Plan
from clusters.models import Cluster
from core.errors import NotFound

from .models import EXPIRING_WITHIN, Entitlement, LedgerEntry, Order, Wallet

ROLE_BUYER = "buyer"
ROLE_SELLER = "seller"


def _orders() -> QuerySet[Order]:
    return Order.objects.select_related(
        "buyer", "seller", "asset", "project", "cluster", "entitlement"
    )


def orders_for(
    *, user: User, tenant: Tenant | None = None, role: str | None = None
) -> QuerySet[Order]:
    """Orders the user's tenants bought (role buyer), sold (seller), or either."""
    tenants = tenants_for(user=user)
    if tenant is not None:
        tenants = tenants.filter(pk=tenant.pk)
    ids = tenants.order_by().values("pk")
    if role == ROLE_BUYER:
        scope = Q(buyer__in=ids)
    elif role == ROLE_SELLER:
        scope = Q(seller__in=ids)
    else:
        scope = Q(buyer__in=ids) | Q(seller__in=ids)
    return _orders().filter(scope).order_by("-created_at", "-id")


def filter_orders(
    orders: QuerySet[Order],
    *,
    status: str = "",
    created_from: date | None = None,
    created_to: date | None = None,
) -> QuerySet[Order]:
    """订单状态 and 下单时间 filters; dates are whole local days, both ends included."""
    if status in Order.Status.values:
        orders = orders.filter(status=status)
    zone = timezone.get_current_timezone()
    if created_from:
        orders = orders.filter(created_at__gte=datetime.combine(created_from, time.min, zone))
    if created_to:
        orders = orders.filter(created_at__lte=datetime.combine(created_to, time.max, zone))
    return orders


def get_order_for(
    *,
    user: User,
    code: str | None = None,
    order_id: int | str | None = None,
    role: str | None = None,
) -> Order:
    """One order the user's tenants bought or sold (`role`: only as its buyer or seller).

    Only the buyer pays or cancels an order: to its seller, that order is not found there.
    """
    try:
        lookup: dict[str, object] = {"code": code} if code is not None else {"pk": order_id}
        return orders_for(user=user, role=role).get(**lookup)
    except (Order.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such order.") from None


# What the order page's timeline says for each audit action, instead of its code.
ORDER_TIMELINE_LABELS = {
    "order.placed": _("Order placed"),
    "order.paid": _("Paid"),
    "order.cancelled": _("Cancelled"),
    "order.expired": _("Payment deadline passed: expired"),
}


def _order_status_label(value: str) -> str | Promise:
    try:
        return Order.Status(value).label
    except ValueError:
        return value


def order_timeline(*, order: Order) -> list[dict[str, Any]]:
    """The order's audit rows, oldest first (placed, paid / cancelled / expired), in words:
    the action's label and the status it led to, as the order table names statuses."""
    entries = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Order), object_id=str(order.pk)
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )
    return [
        {
            "created_at": entry.created_at,
            "action": entry.action,
            "label": ORDER_TIMELINE_LABELS.get(entry.action, entry.action),
            "to_label": _order_status_label(entry.to_state) if entry.to_state else "",
            "actor": entry.actor,
            "reason": entry.reason,
        }
        for entry in entries
    ]


def order_ledger(*, order: Order, tenant: Tenant) -> QuerySet[LedgerEntry]:
    """The order's ledger entries in one tenant's wallet: the buyer never sees the seller's."""
    return (
        LedgerEntry.objects.filter(order=order, wallet__tenant=tenant)
        .select_related("wallet__tenant")
        .order_by("id")
    )


def order_role(*, user: User, order: Order) -> str:
    """Whether the user sees the order as its buyer or its seller (buyer wins)."""
    return ROLE_BUYER if is_member(user=user, tenant=order.buyer_id) else ROLE_SELLER


# --- what the order forms and serializers offer -------------------------------------------


def orderable_plans() -> QuerySet[Plan]:
    """Any plan may be named: the service says why one is not sold (archived, not on sale)."""
    return Plan.objects.all()


def orderable_clusters() -> QuerySet[Cluster]:
    """Any cluster may be named: the service says whether it is open to the project."""
    return Cluster.objects.all()


def renewal_plans(*, entitlement: Entitlement) -> QuerySet[Plan]:
    """The plans a renewal may choose: those still sold, and the tenant's own even if
    archived since (the rule orders.services.renew enforces), cheapest first."""
    return (
        Plan.objects.filter(asset_id=entitlement.asset_id)
        .filter(Q(is_archived=False) | Q(pk=entitlement.plan_id))
        .order_by("price", "position", "id")
    )


def tenants_to_top_up(*, user: User) -> QuerySet[Tenant]:
    """Every tenant, for a platform admin (充值); nothing for anyone else."""
    if not is_platform_admin(user):
        return Tenant.objects.none()
    return Tenant.objects.order_by("name")


# --- entitlements -------------------------------------------------------------------------


def active_entitlement(
    tenant: Tenant | None, asset: Asset | None, *, now: datetime | None = None
) -> Entitlement | None:
    """The tenant's entitlement to the asset if it has not ended, else None.

    The provisioning issue asks this before every new installation or instance.
    """
    if tenant is None or asset is None:
        return None
    now = now or timezone.now()
    return (
        Entitlement.objects.filter(buyer=tenant, asset=asset, ends_at__gt=now)
        .select_related("plan")
        .first()
    )


def entitlement_for_asset(
    *, user: User, tenant: Tenant | None, asset: Asset | None
) -> Entitlement | None:
    """The tenant's entitlement to the asset, ended or not (None if the user is not a member)."""
    if tenant is None or asset is None or not is_member(user=user, tenant=tenant):
        return None
    return Entitlement.objects.filter(buyer=tenant, asset=asset).select_related("plan").first()


def with_entitlement_flag(
    assets: QuerySet[Asset], *, tenant: Tenant | None, now: datetime | None = None
) -> QuerySet[Asset]:
    """Annotates an Asset queryset with `entitled` (the tenant holds it now): no extra query.

    The storefront's cards show 安装 instead of 购买 from it.
    """
    if tenant is None:
        return assets.annotate(entitled=Value(False, output_field=BooleanField()))
    now = now or timezone.now()
    held = Entitlement.objects.filter(buyer=tenant, asset=OuterRef("pk"), ends_at__gt=now)
    return assets.annotate(entitled=Exists(held))


def entitlements_for(
    *, user: User, tenant: Tenant | None = None, status: str = ""
) -> QuerySet[Entitlement]:
    """已购资产 of the user's tenants (or one of them), soonest end first."""
    tenants = tenants_for(user=user)
    if tenant is not None:
        tenants = tenants.filter(pk=tenant.pk)
    entitlements = Entitlement.objects.filter(
        buyer__in=tenants.order_by().values("pk")
    ).select_related("buyer", "asset", "asset__tenant", "asset__category", "plan")
    return filter_entitlements(entitlements, status=status).order_by("ends_at", "id")


def filter_entitlements(
    entitlements: QuerySet[Entitlement], *, status: str = ""
) -> QuerySet[Entitlement]:
    """有效 / 即将到期 / 已过期 in SQL, by the same rule as Entitlement.status_at."""
    now = timezone.now()
    if status == Entitlement.Status.ACTIVE:
        return entitlements.filter(ends_at__gt=now + EXPIRING_WITHIN)
    if status == Entitlement.Status.EXPIRING:
        return entitlements.filter(ends_at__gt=now, ends_at__lte=now + EXPIRING_WITHIN)
    if status == Entitlement.Status.EXPIRED:
        return entitlements.filter(ends_at__lte=now)
    return entitlements


def get_entitlement_for(*, user: User, entitlement_id: int | str) -> Entitlement:
    try:
        return entitlements_for(user=user).get(pk=entitlement_id)
    except (Entitlement.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such purchased asset.") from None


def asset_users(*, asset: Asset) -> QuerySet[Entitlement]:
    """用户 tab of the provider portal: each buying tenant, its plan, start and end.

    The caller (the portal) already checked that the user may see the asset.
    """
    return (
        Entitlement.objects.filter(asset=asset)
        .select_related("buyer", "plan")
        .order_by("-ends_at", "id")
    )


# --- wallets ------------------------------------------------------------------------------


def wallets_for(*, user: User) -> QuerySet[Wallet]:
    """The wallets of the user's tenants; platform admins see every wallet."""
    wallets = Wallet.objects.select_related("tenant")
    if is_platform_admin(user):
        return wallets.order_by("is_platform", "tenant__name")
    return wallets.filter(tenant__in=tenants_for(user=user).order_by().values("pk")).order_by(
        "tenant__name"
    )


def get_wallet_tenant_for(*, user: User, tenant_id: int | str) -> Tenant:
    """The tenant whose wallet a platform admin looks at (?tenant=): any tenant for them,
    only the user's own tenants for anyone else."""
    tenants = Tenant.objects.all() if is_platform_admin(user) else tenants_for(user=user)
    try:
        return tenants.get(pk=tenant_id)
    except (Tenant.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such tenant.") from None


def wallet_of(*, user: User, tenant: Tenant) -> Wallet | None:
    """The tenant's wallet (None before its first top-up), if the user may see it."""
    if not (is_member(user=user, tenant=tenant) or is_platform_admin(user)):
        raise NotFound("No such wallet.")
    return Wallet.objects.filter(tenant=tenant).first()


def balance_of(*, tenant: Tenant) -> Decimal:
    """The tenant's balance; 0.00 before its wallet exists (the first top-up creates it)."""
    balance = Wallet.objects.filter(tenant=tenant).values_list("balance", flat=True).first()
    return balance if balance is not None else Decimal("0.00")


def ledger_for(*, wallet: Wallet) -> QuerySet[LedgerEntry]:
    """A wallet's entries, newest first (the caller got the wallet through a selector)."""
    return (
        LedgerEntry.objects.filter(wallet=wallet)
        .select_related("order", "actor")
        .order_by("-created_at", "-id")
    )


# --- sales (出售管理) -----------------------------------------------------------------------


def revenue_by_asset(*, user: User, tenant: Tenant) -> QuerySet[Order, dict[str, Any]]:
    """Paid orders per asset of the seller tenant: how many, and what buyers paid (gross)."""
    return (
        orders_for(user=user, tenant=tenant, role=ROLE_SELLER)
        .filter(status=Order.Status.PAID)
        .order_by()
        .values("asset_id", "asset__name", "asset__code")
        .annotate(orders=Count("id"), revenue=Sum("amount_paid"))
        .order_by("-revenue", "asset__name")
    )


def revenue_by_month(*, user: User, tenant: Tenant) -> QuerySet[Order, dict[str, Any]]:
    """Paid orders per month (local time) of the seller tenant, oldest first."""
    return (
        orders_for(user=user, tenant=tenant, role=ROLE_SELLER)
        .filter(status=Order.Status.PAID)
        .order_by()
        .annotate(month=TruncMonth("paid_at"))
        .values("month")
        .annotate(orders=Count("id"), revenue=Sum("amount_paid"))
        .order_by("month")
    )


def sales_income(*, user: User, tenant: Tenant) -> Decimal | None:
    """What the seller actually received (after commission), from the ledger."""
    wallet = Wallet.objects.filter(tenant=tenant).first()
    if wallet is None or not is_member(user=user, tenant=tenant):
        return None
    total = wallet.entries.filter(kind=LedgerEntry.Kind.SALE).aggregate(total=Sum("amount"))
    return total["total"]

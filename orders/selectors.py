"""Reads of the orders app, always scoped to the acting user.

A buyer sees its tenant's orders, a seller the orders of its assets; any other order,
wallet or entitlement is a 404, never a 403.
"""

from datetime import datetime, time
from decimal import Decimal

from django.db.models import BooleanField, Count, Exists, OuterRef, Q, Sum, Value
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import Tenant
from accounts.permissions import is_platform_admin
from core.errors import NotFound

from .models import EXPIRING_WITHIN, Entitlement, LedgerEntry, Order, Wallet

ROLE_BUYER = "buyer"
ROLE_SELLER = "seller"


def _member_tenants(user):
    if not user.is_authenticated:
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user)


def _is_member(user, tenant):
    return tenant is not None and _member_tenants(user).filter(pk=tenant.pk).exists()


def _orders():
    return Order.objects.select_related(
        "buyer", "seller", "asset", "project", "cluster", "entitlement"
    )


def orders_for(*, user, tenant=None, role=None):
    """Orders the user's tenants bought (role buyer), sold (seller), or either."""
    tenants = _member_tenants(user)
    if tenant is not None:
        tenants = tenants.filter(pk=tenant.pk)
    ids = tenants.values("pk")
    if role == ROLE_BUYER:
        scope = Q(buyer__in=ids)
    elif role == ROLE_SELLER:
        scope = Q(seller__in=ids)
    else:
        scope = Q(buyer__in=ids) | Q(seller__in=ids)
    return _orders().filter(scope).order_by("-created_at", "-id")


def filter_orders(orders, *, status="", created_from=None, created_to=None):
    """订单状态 and 下单时间 filters; dates are whole local days, both ends included."""
    if status in Order.Status.values:
        orders = orders.filter(status=status)
    zone = timezone.get_current_timezone()
    if created_from:
        orders = orders.filter(created_at__gte=datetime.combine(created_from, time.min, zone))
    if created_to:
        orders = orders.filter(created_at__lte=datetime.combine(created_to, time.max, zone))
    return orders


def get_order_for(*, user, code=None, order_id=None):
    try:
        lookup = {"code": code} if code is not None else {"pk": order_id}
        return orders_for(user=user).get(**lookup)
    except (Order.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such order.") from None


def order_timeline(*, order):
    """The order's audit rows, oldest first: placed, paid / cancelled / expired."""
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import AuditEntry

    return (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Order), object_id=str(order.pk)
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )


def order_ledger(*, order, tenant):
    """The order's ledger entries in one tenant's wallet: the buyer never sees the seller's."""
    return (
        LedgerEntry.objects.filter(order=order, wallet__tenant=tenant)
        .select_related("wallet__tenant")
        .order_by("id")
    )


def order_role(*, user, order):
    """Whether the user sees the order as its buyer or its seller (buyer wins)."""
    tenants = set(_member_tenants(user).values_list("pk", flat=True))
    return ROLE_BUYER if order.buyer_id in tenants else ROLE_SELLER


# --- entitlements -------------------------------------------------------------------------


def active_entitlement(tenant, asset, *, now=None):
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


def entitlement_for_asset(*, user, tenant, asset):
    """The tenant's entitlement to the asset, ended or not (None if the user is not a member)."""
    if tenant is None or asset is None or not _is_member(user, tenant):
        return None
    return Entitlement.objects.filter(buyer=tenant, asset=asset).select_related("plan").first()


def with_entitlement_flag(assets, *, tenant, now=None):
    """Annotates an Asset queryset with `entitled` (the tenant holds it now): no extra query.

    The storefront's cards show 安装 instead of 购买 from it.
    """
    if tenant is None:
        return assets.annotate(entitled=Value(False, output_field=BooleanField()))
    now = now or timezone.now()
    held = Entitlement.objects.filter(buyer=tenant, asset=OuterRef("pk"), ends_at__gt=now)
    return assets.annotate(entitled=Exists(held))


def entitlements_for(*, user, tenant=None, status=""):
    tenants = _member_tenants(user)
    if tenant is not None:
        tenants = tenants.filter(pk=tenant.pk)
    entitlements = Entitlement.objects.filter(buyer__in=tenants.values("pk")).select_related(
        "buyer", "asset", "asset__tenant", "asset__category", "plan"
    )
    return filter_entitlements(entitlements, status=status).order_by("ends_at", "id")


def filter_entitlements(entitlements, *, status=""):
    """有效 / 即将到期 / 已过期 in SQL, by the same rule as Entitlement.status_at."""
    now = timezone.now()
    if status == Entitlement.Status.ACTIVE:
        return entitlements.filter(ends_at__gt=now + EXPIRING_WITHIN)
    if status == Entitlement.Status.EXPIRING:
        return entitlements.filter(ends_at__gt=now, ends_at__lte=now + EXPIRING_WITHIN)
    if status == Entitlement.Status.EXPIRED:
        return entitlements.filter(ends_at__lte=now)
    return entitlements


def get_entitlement_for(*, user, entitlement_id):
    try:
        return entitlements_for(user=user).get(pk=entitlement_id)
    except (Entitlement.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such purchased asset.") from None


def asset_users(*, asset):
    """用户 tab of the provider portal: each buying tenant, its plan, start and end.

    The caller (the portal) already checked that the user may see the asset.
    """
    return (
        Entitlement.objects.filter(asset=asset)
        .select_related("buyer", "plan")
        .order_by("-ends_at", "id")
    )


# --- wallets ------------------------------------------------------------------------------


def wallets_for(*, user):
    """The wallets of the user's tenants; platform admins see every wallet."""
    wallets = Wallet.objects.select_related("tenant")
    if is_platform_admin(user):
        return wallets.order_by("is_platform", "tenant__name")
    return wallets.filter(tenant__in=_member_tenants(user).values("pk")).order_by("tenant__name")


def get_wallet_for(*, user, wallet_id):
    try:
        return wallets_for(user=user).get(pk=wallet_id)
    except (Wallet.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such wallet.") from None


def wallet_of(*, user, tenant):
    """The tenant's wallet (None before its first top-up), if the user may see it."""
    if not (_is_member(user, tenant) or is_platform_admin(user)):
        raise NotFound("No such wallet.")
    return Wallet.objects.filter(tenant=tenant).first()


def balance_of(*, tenant):
    """The tenant's balance; 0.00 before its wallet exists (the first top-up creates it)."""
    if tenant is None:
        return None
    balance = Wallet.objects.filter(tenant=tenant).values_list("balance", flat=True).first()
    return balance if balance is not None else Decimal("0.00")


def ledger_for(*, wallet):
    return (
        LedgerEntry.objects.filter(wallet=wallet)
        .select_related("order", "actor")
        .order_by("-created_at", "-id")
    )


# --- sales (出售管理) -----------------------------------------------------------------------


def revenue_by_asset(*, user, tenant):
    """Paid orders per asset of the seller tenant: how many, and what buyers paid (gross)."""
    return (
        orders_for(user=user, tenant=tenant, role=ROLE_SELLER)
        .filter(status=Order.Status.PAID)
        .order_by()
        .values("asset_id", "asset__name", "asset__code")
        .annotate(orders=Count("id"), revenue=Sum("amount_paid"))
        .order_by("-revenue", "asset__name")
    )


def revenue_by_month(*, user, tenant):
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


def sales_income(*, user, tenant):
    """What the seller actually received (after commission), from the ledger."""
    wallet = Wallet.objects.filter(tenant=tenant).first()
    if wallet is None or not _is_member(user, tenant):
        return None
    total = wallet.entries.filter(kind=LedgerEntry.Kind.SALE).aggregate(total=Sum("amount"))
    return total["total"]

"""Money and what it buys: wallets, ledger entries, orders, entitlements, idempotency keys.

Amounts are `Decimal` with two places in the platform credit "T", never floats. The
database keeps the invariants a bug must not break: no balance below zero, one wallet
per tenant, an order paid means paid in full, one entitlement per tenant and asset,
one idempotency key per sender and operation.
"""

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Project, Tenant
from assets.models import BASE62, Asset, AssetVersion, Plan
from clusters.models import Cluster


class MoneyDigits(TypedDict):
    """How every amount in T is stored: a TypedDict, so `DecimalField(**MONEY)` type-checks."""

    max_digits: int
    decimal_places: int


MONEY: MoneyDigits = {"max_digits": 12, "decimal_places": 2}
ORDER_CODE_PREFIX = "AOID-"
ORDER_CODE_RE = r"^AOID-[0-9A-Za-z]{11}$"
# An entitlement is "expiring soon" (即将到期) this long before its end.
EXPIRING_WITHIN = timedelta(days=7)


def generate_order_code() -> str:
    """`AOID-` + 11 base62 characters from a CSPRNG, like asset codes: unguessable."""
    return ORDER_CODE_PREFIX + "".join(secrets.choice(BASE62) for _ in range(11))


def add_duration(start: datetime, value: int, unit: str) -> datetime:
    """The end of a plan bought at `start`: n days, or n years (29 February → 28)."""
    if unit == Plan.DurationUnit.DAY:
        return start + timedelta(days=value)
    try:
        return start.replace(year=start.year + value)
    except ValueError:
        return start.replace(year=start.year + value, day=28)


class Wallet(models.Model):
    """A tenant's T credits; the platform's own wallet (no tenant) takes the commission.

    The balance is a cache of the ledger: every change writes a LedgerEntry in the
    same transaction, and the database refuses a negative balance.
    """

    tenant = models.OneToOneField(
        Tenant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wallet",
        verbose_name=_("tenant"),
    )
    is_platform = models.BooleanField(_("platform wallet"), default=False)
    balance = models.DecimalField(_("balance"), default=0, **MONEY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["is_platform", "tenant__name"]
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="wallet_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(is_platform=True, tenant__isnull=True)
                | models.Q(is_platform=False, tenant__isnull=False),
                name="wallet_tenant_or_platform",
            ),
            models.UniqueConstraint(
                fields=["is_platform"],
                condition=models.Q(is_platform=True),
                name="wallet_single_platform",
            ),
        ]

    def __str__(self) -> str:
        owner = _("Platform") if self.is_platform else self.tenant
        return f"{owner}: {self.balance} T"


class LedgerEntry(models.Model):
    """One change of one wallet's balance. The entries of a payment sum to zero."""

    class Kind(models.TextChoices):
        TOP_UP = "top_up", _("Top-up")
        PAYMENT = "payment", _("Payment")
        SALE = "sale", _("Sales income")
        COMMISSION = "commission", _("Platform commission")

    # No index of its own: the (wallet, created_at, id) index serves it, one less to write
    # while the wallet is locked.
    wallet = models.ForeignKey(
        Wallet,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("wallet"),
        db_index=False,
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), help_text=_("Signed: a debit is negative."), **MONEY)
    balance_after = models.DecimalField(_("balance after"), **MONEY)
    # Entries written together (one payment) share a transfer id.
    transfer = models.UUIDField(_("transfer"), db_index=True)
    order = models.ForeignKey(
        "Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("order"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = [models.Index(fields=["wallet", "-created_at", "-id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["top_up", "payment", "sale", "commission"]),
                name="ledgerentry_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="payment", amount__lt=0)
                | models.Q(kind__in=["top_up", "sale", "commission"], amount__gt=0),
                name="ledgerentry_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(balance_after__gte=0),
                name="ledgerentry_balance_after_not_negative",
            ),
        ]

    # Not a column: set by orders.services on the entry a top-up returns, True when an
    # idempotency key answered with the entry it had written before.
    replayed: bool = False

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} T"


class Order(models.Model):
    """A purchase (新购) or a renewal (续费) of one plan of one asset by one tenant.

    The plan's name, price and duration are copied when the order is placed, so a later
    price change never alters it. Status: pending_payment → paid | cancelled | expired.
    """

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Pending payment")
        PAID = "paid", _("Paid")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    class Kind(models.TextChoices):
        NEW = "new", _("New purchase")
        RENEWAL = "renewal", _("Renewal")

    class Approval(models.TextChoices):
        """OLM's installPlanApproval, spelled as the Subscription wants it."""

        AUTOMATIC = "Automatic", _("Automatic")
        MANUAL = "Manual", _("Manual")

    code = models.CharField(
        _("order ID"), max_length=16, unique=True, default=generate_order_code, editable=False
    )
    kind = models.CharField(_("order type"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("order status"),
        max_length=16,
        choices=Status.choices,
        default=Status.PENDING_PAYMENT,
    )
    # No index of their own: (buyer, created_at) and (seller, created_at) serve them, two
    # fewer for a payment to write while the wallets are locked.
    buyer = models.ForeignKey(
        Tenant,
        on_delete=models.PROTECT,
        related_name="orders_bought",
        verbose_name=_("buyer"),
        db_index=False,
    )
    seller = models.ForeignKey(
        Tenant,
        on_delete=models.PROTECT,
        related_name="orders_sold",
        verbose_name=_("seller"),
        db_index=False,
    )
    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="orders", verbose_name=_("asset")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="orders", verbose_name=_("plan")
    )
    plan_name = models.CharField(_("plan name"), max_length=100)
    plan_price = models.DecimalField(_("plan price"), **MONEY)
    plan_duration_value = models.PositiveIntegerField(_("duration"))
    plan_duration_unit = models.CharField(
        _("duration unit"), max_length=4, choices=Plan.DurationUnit.choices
    )
    version = models.ForeignKey(
        AssetVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("version"),
    )
    # Where the provisioning issue installs the operator (new purchases only).
    project = models.ForeignKey(
        Project,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("project"),
    )
    cluster = models.ForeignKey(
        Cluster,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("cluster"),
    )
    channel = models.CharField(_("update channel"), max_length=100, blank=True)
    approval = models.CharField(
        _("update approval"), max_length=10, choices=Approval.choices, default=Approval.AUTOMATIC
    )
    amount_due = models.DecimalField(_("amount due"), **MONEY)
    amount_paid = models.DecimalField(_("amount paid"), default=0, **MONEY)
    entitlement = models.ForeignKey(
        "Entitlement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("purchased asset"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("ordered at"), default=timezone.now, db_index=True)
    payment_deadline = models.DateTimeField(_("payment deadline"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["buyer", "-created_at"]),
            models.Index(fields=["seller", "-created_at"]),
            models.Index(fields=["status", "payment_deadline"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=ORDER_CODE_RE), name="order_code_format"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending_payment", "paid", "cancelled", "expired"]),
                name="order_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["new", "renewal"]), name="order_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(approval__in=["Automatic", "Manual"]),
                name="order_approval_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_due__gte=0, plan_price__gte=0),
                name="order_amounts_not_negative",
            ),
            # Paid means paid in full, at a known time; anything else has paid nothing.
            models.CheckConstraint(
                condition=models.Q(
                    status="paid", paid_at__isnull=False, amount_paid=models.F("amount_due")
                )
                | (~models.Q(status="paid") & models.Q(amount_paid=0)),
                name="order_paid_in_full",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="renewal") | models.Q(project__isnull=False),
                name="order_new_has_project",
            ),
        ]

    # Not a column: set by orders.services on the order a place/renew call returns, True
    # when an idempotency key answered with the order it had placed before.
    replayed: bool = False

    def __str__(self) -> str:
        return self.code

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING_PAYMENT

    @property
    def is_free(self) -> bool:
        return self.amount_due == 0

    @property
    def is_overdue(self) -> bool:
        return self.is_pending and timezone.now() >= self.payment_deadline

    @property
    def can_pay(self) -> bool:
        return self.is_pending and not self.is_overdue

    @property
    def plan_duration_display(self) -> str:
        plan = Plan(duration_value=self.plan_duration_value, duration_unit=self.plan_duration_unit)
        return plan.duration_display

    @property
    def amounts_display(self) -> str:
        """应付/实付 as the seed writes it: `1T/1T`."""
        return f"{_t(self.amount_due)}/{_t(self.amount_paid)}"


def _t(amount: Decimal) -> str:
    """`1T`, `0.5T`, `100T`: the seed's compact amounts, exact (no float)."""
    text = f"{amount:.2f}".rstrip("0").rstrip(".")
    return f"{text}T"


class Entitlement(models.Model):
    """已购资产: a tenant may use an asset until `ends_at`; a renewal extends the end.

    One per tenant and asset. Its status (有效 / 即将到期 / 已过期) follows from the dates.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        EXPIRING = "expiring", _("Expiring soon")
        EXPIRED = "expired", _("Expired")

    # No indexes of their own: the (buyer, asset) constraint and the (asset, ends_at) index
    # serve them, two fewer for every payment to write.
    buyer = models.ForeignKey(
        Tenant,
        on_delete=models.PROTECT,
        related_name="entitlements",
        verbose_name=_("buyer"),
        db_index=False,
    )
    asset = models.ForeignKey(
        Asset,
        on_delete=models.PROTECT,
        related_name="entitlements",
        verbose_name=_("asset"),
        db_index=False,
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="entitlements", verbose_name=_("plan")
    )
    starts_at = models.DateTimeField(_("start"))
    ends_at = models.DateTimeField(_("end"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ends_at", "id"]
        verbose_name = _("purchased asset")
        verbose_name_plural = _("purchased assets")
        indexes = [models.Index(fields=["asset", "ends_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "asset"], name="entitlement_one_per_tenant_and_asset"
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="entitlement_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.buyer} · {self.asset.name}"

    def status_at(self, now: datetime | None = None) -> "Entitlement.Status":
        now = now or timezone.now()
        if now >= self.ends_at:
            return self.Status.EXPIRED
        if now >= self.ends_at - EXPIRING_WITHIN:
            return self.Status.EXPIRING
        return self.Status.ACTIVE

    @property
    def status(self) -> "Entitlement.Status":
        return self.status_at()

    @property
    def is_active(self) -> bool:
        """Usable now (有效 or 即将到期): new installations are allowed."""
        return self.status != self.Status.EXPIRED

    def get_status_display(self) -> str:
        return str(self.Status(self.status).label)


class IdempotencyKey(models.Model):
    """The first result of a request that moves money, kept under its key (orders.idempotency).

    A key belongs to who sent it — the buyer tenant, or the platform admin for a top-up
    (no tenant acts there) — and to one operation; `fingerprint` (a hash of the request's
    canonical body) tells a retry from another request under the same key. Written in the
    same transaction as the work itself: a failed attempt leaves no key, so a retry after
    a failure (say, a top-up) really tries again.
    """

    class Action(models.TextChoices):
        PLACE = "place", _("Place order")
        PAY = "pay", _("Pay order")
        TOP_UP = "top_up", _("Top up wallet")

    # No index of its own: the (tenant, action, key) constraint serves it.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    # The scope when no tenant sends the request (top-ups); (user, action, key) serves it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    key = models.CharField(_("key"), max_length=255)
    action = models.CharField(max_length=8, choices=Action.choices)
    # Empty only on keys stored before fingerprints were (they replay as they did then).
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    ledger_entry = models.ForeignKey(
        LedgerEntry, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    result = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            # NULLs are distinct: each constraint binds only the rows of its own scope.
            models.UniqueConstraint(
                fields=["tenant", "action", "key"], name="idempotencykey_unique_per_tenant_action"
            ),
            models.UniqueConstraint(
                fields=["user", "action", "key"], name="idempotencykey_unique_per_user_action"
            ),
            models.CheckConstraint(
                condition=models.Q(tenant__isnull=False, user__isnull=True)
                | models.Q(tenant__isnull=True, user__isnull=False),
                name="idempotencykey_one_scope",
            ),
            models.CheckConstraint(
                condition=models.Q(action__in=["place", "pay", "top_up"]),
                name="idempotencykey_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.key}"

"""Every write of the orders app: keyword-only, one transaction each, audited.

Money moves only here. Rows are locked in one fixed order everywhere — orders by id,
then wallets by id, then the entitlement — so concurrent payments cannot deadlock;
the database's check keeps every balance ≥ 0 even if a bug slipped past the locks.
Requests that move money carry an idempotency key (orders.idempotency, one mechanism
for all of them): the first result is stored under it in the same transaction, and a
repeat with the same body returns that result instead of charging or crediting again.
"""

from __future__ import annotations

import json
import logging
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.guards import is_member, require_member, require_platform_admin
from accounts.models import AuditEntry, Project, Tenant, User
from accounts.services import record_audit
from assets.models import AssetVersion, Plan
from clusters.models import Cluster
from clusters.selectors import clusters_open_to
from core.errors import FieldErrors, invalid
from core.sql import prepared_cursor

from . import idempotency
from .errors import OrdersErrorCode
from .idempotency import Scope
from .models import (
    MONEY,
    Entitlement,
    IdempotencyKey,
    LedgerEntry,
    Order,
    Wallet,
    add_duration,
    generate_order_code,
)
from .signals import install_problems, order_paid

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest single top-up: a guard against an extra zero typed by hand.
MAX_TOP_UP = Decimal("1000000.00")
MAX_BALANCE = Decimal(10 ** (MONEY["max_digits"] - MONEY["decimal_places"])) - CENT
IDEMPOTENCY_KEY_MAX_LENGTH = idempotency.MAX_LENGTH
# Orders expired per transaction; the periodic task loops until none are left.
EXPIRY_BATCH = 500


@dataclass(frozen=True)
class Payment:
    """What pay_order returns: the order, the first result, and whether this was a repeat."""

    order: Order
    result: dict[str, Any]
    replayed: bool


# --- helpers ------------------------------------------------------------------------------


def to_money(value: Decimal | str | int, *, field: str = "amount") -> Decimal:
    """T amounts are Decimals with two places; a float is a bug, never rounded silently."""
    if isinstance(value, float):
        raise TypeError("Money is a Decimal (or its string), never a float.")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise invalid(
            _("Enter an amount in T, e.g. 100.00."),
            code=OrdersErrorCode.AMOUNT_INVALID,
            field=field,
        ) from None
    if not amount.is_finite():
        raise invalid(
            _("Enter an amount in T, e.g. 100.00."),
            code=OrdersErrorCode.AMOUNT_INVALID,
            field=field,
        )
    if amount != amount.quantize(CENT):
        raise invalid(
            _("Use at most two decimal places."), code=OrdersErrorCode.AMOUNT_PRECISION, field=field
        )
    return amount.quantize(CENT)


def format_t(amount: Decimal) -> str:
    """`100.00 T`: how messages write an amount."""
    return f"{amount:.2f} T"


def format_when(moment: datetime) -> str:
    """Local time (TIME_ZONE, also when the API asked: it speaks UTC), to the minute, as
    messages show it."""
    return date_format(timezone.localtime(moment, timezone.get_default_timezone()), "Y-m-d H:i")


def commission_rate() -> Decimal:
    """PLATFORM_COMMISSION_RATE (a decimal string, 0 ≤ rate < 1): the platform's share."""
    raw = getattr(settings, "PLATFORM_COMMISSION_RATE", "0")
    if isinstance(raw, float):
        raise ImproperlyConfigured("PLATFORM_COMMISSION_RATE must be a string or Decimal.")
    try:
        rate = Decimal(str(raw))
    except InvalidOperation:
        raise ImproperlyConfigured(f"PLATFORM_COMMISSION_RATE is not a number: {raw!r}") from None
    if not (ZERO <= rate < 1):
        raise ImproperlyConfigured("PLATFORM_COMMISSION_RATE must be at least 0 and below 1.")
    return rate


def payment_deadline(now: datetime) -> datetime:
    """An order not paid by then expires (ORDER_PAYMENT_DEADLINE_HOURS, 24 by default)."""
    return now + timedelta(hours=getattr(settings, "ORDER_PAYMENT_DEADLINE_HOURS", 24))


def _buyer_scope(tenant_id: int, action: str) -> Scope:
    return Scope(action=action, tenant_id=tenant_id)


def _platform_wallet() -> Wallet:
    wallet, _created = Wallet.objects.get_or_create(is_platform=True, tenant=None)
    return wallet


def ensure_wallet(*, tenant: Tenant) -> Wallet:
    """A tenant's wallet, created empty if it has none yet (payments and top-ups do this too)."""
    wallet, _created = Wallet.objects.get_or_create(tenant=tenant, defaults={"is_platform": False})
    return wallet


def shortfall_message(
    *, balance: Decimal, amount: Decimal, deadline: datetime | None = None
) -> str:
    """How short the wallet is, and what to do about it (before the deadline, if any)."""
    message = _("Your wallet holds %(balance)s but this costs %(amount)s: %(shortfall)s short.") % {
        "balance": format_t(balance),
        "amount": format_t(amount),
        "shortfall": format_t(amount - balance),
    }
    if deadline is not None:
        return (
            message
            + " "
            + _("Ask a platform admin to top up your wallet, then pay before %(deadline)s.")
            % {"deadline": format_when(deadline)}
        )
    return (
        message
        + " "
        + _(
            "Ask a platform admin to top up your wallet, or choose Pay later and pay before the deadline."
        )
    )


def _payment_result(order: Order, balance_after: Decimal | None) -> dict[str, Any]:
    """What a payment answered, stored under its idempotency key and replayed as is."""
    entitlement = order.entitlement
    return {
        "order_id": order.pk,
        "order": order.code,
        "status": order.status,
        "amount_due": str(order.amount_due),
        "amount_paid": str(order.amount_paid),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "balance_after": str(balance_after) if balance_after is not None else None,
        "entitlement_id": entitlement.pk if entitlement else None,
        "entitlement_ends_at": entitlement.ends_at.isoformat() if entitlement else None,
    }


# --- paying -------------------------------------------------------------------------------


def _announce_paid(order: Order) -> None:
    """On commit: the payment is done whatever a receiver does, so a failing receiver
    (say, provisioning) is logged, never turned into an error for the buyer who paid."""
    for receiver, result in order_paid.send_robust(sender=Order, order=order):
        if isinstance(result, Exception):
            logger.error(
                "order_paid receiver %r failed for %s",
                receiver,
                order.code,
                exc_info=(type(result), result, result.__traceback__),
            )


def _interval(order: Order) -> str:
    """The plan's duration as a PostgreSQL interval: `timestamptz + '1 years'` in UTC turns
    29 February into 28 February, as `add_duration` does."""
    unit = "days" if order.plan_duration_unit == Plan.DurationUnit.DAY else "years"
    return f"{order.plan_duration_value} {unit}"


def _grant(*, order: Order, now: datetime) -> Entitlement:
    """Create the entitlement, or extend it: from its end if it still runs, else from now.

    On PostgreSQL one upsert does it on the row as it is when locked, so two payments for
    the same tenant and asset each extend it; elsewhere the row is read locked and saved.
    """
    if connection.vendor == "postgresql":
        table = Entitlement._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} AS e
                    (buyer_id, asset_id, plan_id, starts_at, ends_at, created_at, updated_at)
                VALUES (%(buyer)s, %(asset)s, %(plan)s, %(now)s,
                        %(now)s + %(duration)s::interval, %(now)s, %(now)s)
                {_EXTEND_ON_CONFLICT}
                RETURNING {", ".join(_ENTITLEMENT_COLUMNS)}
                """,
                {
                    "buyer": order.buyer_id,
                    "asset": order.asset_id,
                    "plan": order.plan_id,
                    "now": now,
                    "duration": _interval(order),
                },
            )
            row = cursor.fetchone()
        return Entitlement.from_db(connection.alias, _ENTITLEMENT_COLUMNS, row)
    entitlement = (
        Entitlement.objects.select_for_update()
        .filter(buyer_id=order.buyer_id, asset_id=order.asset_id)
        .first()
    )
    if entitlement is None:
        return Entitlement.objects.create(
            buyer_id=order.buyer_id,
            asset_id=order.asset_id,
            plan_id=order.plan_id,
            starts_at=now,
            ends_at=add_duration(now, order.plan_duration_value, order.plan_duration_unit),
        )
    if entitlement.ends_at > now:
        base = entitlement.ends_at
    else:  # lapsed: a new period starts today
        base = entitlement.starts_at = now
    entitlement.ends_at = add_duration(base, order.plan_duration_value, order.plan_duration_unit)
    entitlement.plan_id = order.plan_id
    entitlement.save(update_fields=["starts_at", "ends_at", "plan", "updated_at"])
    return entitlement


# An entitlement that still runs is extended from its end, a lapsed one from now (the
# row as it is when locked, so concurrent payments each extend it).
_EXTEND_ON_CONFLICT = """
    ON CONFLICT (buyer_id, asset_id) DO UPDATE SET
        starts_at = CASE WHEN e.ends_at > EXCLUDED.starts_at
                         THEN e.starts_at ELSE EXCLUDED.starts_at END,
        ends_at = CASE WHEN e.ends_at > EXCLUDED.starts_at
                       THEN e.ends_at + %(duration)s::interval ELSE EXCLUDED.ends_at END,
        plan_id = EXCLUDED.plan_id,
        updated_at = EXCLUDED.updated_at
"""
_ENTITLEMENT_COLUMNS = [
    "id",
    "buyer_id",
    "asset_id",
    "plan_id",
    "starts_at",
    "ends_at",
    "created_at",
    "updated_at",
]


@dataclass(frozen=True)
class _Move:
    """One leg of a payment: which wallet (a tenant's, or the platform's) gets `delta`."""

    tenant_id: int | None
    kind: str
    delta: Decimal


@dataclass(frozen=True)
class _Held:
    """A wallet as locked: its id, owner and balance before the payment."""

    id: int
    tenant_id: int | None
    is_platform: bool
    balance: Decimal


class _MissingWallet(Exception):
    """A leg has no wallet row yet (a tenant from before wallets were made with it)."""

    def __init__(self, tenant_id: int | None) -> None:
        super().__init__(tenant_id)
        self.tenant_id = tenant_id


def _short(*, order: Order, balance: Decimal, deadline_hint: bool) -> ValidationError:
    """The buyer's wallet holds less than the order costs."""
    return invalid(
        shortfall_message(
            balance=balance,
            amount=order.amount_due,
            deadline=order.payment_deadline if deadline_hint else None,
        ),
        code=OrdersErrorCode.INSUFFICIENT_BALANCE,
        field="wallet",
    )


def _plan_moves(
    *, order: Order, moves: list[_Move], held: list[_Held], deadline_hint: bool
) -> list[tuple[_Held, _Move, Decimal]]:
    """(wallet, move, balance after) per leg, or the buyer's error: short, or over the limit."""
    by_owner = {None if w.is_platform else w.tenant_id: w for w in held}
    running = {w.id: w.balance for w in held}
    planned = []
    for move in moves:
        wallet = by_owner.get(move.tenant_id)
        if wallet is None:
            raise _MissingWallet(move.tenant_id)
        running[wallet.id] += move.delta
        planned.append((wallet, move, running[wallet.id]))
    buyer = by_owner[order.buyer_id]
    if running[buyer.id] < 0:
        raise _short(order=order, balance=buyer.balance, deadline_hint=deadline_hint)
    if any(after > MAX_BALANCE for _wallet, _move, after in planned):
        raise invalid(
            _("A wallet cannot hold more than %(max)s.") % {"max": format_t(MAX_BALANCE)},
            code=OrdersErrorCode.BALANCE_LIMIT,
            field="wallet",
        )
    return planned


def _pay_postgres(
    *,
    actor_id: int | None,
    order: Order,
    moves: list[_Move],
    now: datetime,
    audit: dict[str, Any],
    result: dict[str, Any],
    key: str,
    key_action: str,
    key_fingerprint: str,
) -> tuple[list[_Held], dict[str, Any] | None]:
    """One statement, so the buyer's wallet is locked for one round trip and the commit:
    lock the order if it is still pending payment (else raise _OrderChanged: nothing was
    written), then the wallets in id order and — only if every leg has a wallet and every balance
    after it stays within [0, MAX_BALANCE] — write the balances, the ledger entries, the
    entitlement (created or extended), the order as paid (with its project and cluster,
    which 继续支付 may have changed), its audit row and the
    idempotency key. The audit changes and the key's result get the balance after and
    the entitlement from the statement itself, so a replay answers exactly what the
    first call did. Returns the wallets as locked and {balance_after, entitlement_id,
    entitlement_ends_at} (None: nothing was written); sets `order.entitlement`."""
    params: dict[str, Any] = {
        "tenants": [m.tenant_id for m in moves if m.tenant_id is not None],
        "platform": any(m.tenant_id is None for m in moves),
        "legs": len(moves),
        "max": MAX_BALANCE,
        "now": now,
        "transfer": transfer_id(),
        "order": order.pk,
        "code": order.code,
        "actor": actor_id,
        "paid": Order.Status.PAID,
        "pending": Order.Status.PENDING_PAYMENT,
        "amount": order.amount_due,
        "asset": order.asset_id,
        "plan": order.plan_id,
        "duration": _interval(order),
        "buyer": order.buyer_id,
        "project": order.project_id,
        "target_cluster": order.cluster_id,
        "audit_action": "order.paid",
        "content_type": ContentType.objects.get_for_model(Order).pk,
        "repr": str(order)[:200],
        "from_state": Order.Status.PENDING_PAYMENT,
        "changes": json.dumps(audit),
        "key": key,
        "key_action": key_action,
        "fingerprint": key_fingerprint,
        "result": json.dumps(result),
    }
    rows = []
    for n, move in enumerate(moves):
        params |= {f"t{n}": move.tenant_id, f"p{n}": move.tenant_id is None}
        params |= {f"k{n}": move.kind, f"d{n}": move.delta}
        rows.append(f"(%(t{n})s::bigint, %(p{n})s::boolean, %(k{n})s::varchar, %(d{n})s::numeric)")
    wallets, entries, grants = (
        Wallet._meta.db_table,
        LedgerEntry._meta.db_table,
        Entitlement._meta.db_table,
    )
    orders, keys, audits = (
        Order._meta.db_table,
        IdempotencyKey._meta.db_table,
        AuditEntry._meta.db_table,
    )
    sql = f"""
        WITH moves (tenant_id, is_platform, kind, amount) AS (VALUES {", ".join(rows)}),
        claim AS MATERIALIZED (
            SELECT id FROM {orders} WHERE id = %(order)s AND status = %(pending)s FOR UPDATE
        ),
        locked AS (
            SELECT id, tenant_id, is_platform, balance FROM {wallets}
            WHERE EXISTS (SELECT FROM claim)
              AND (tenant_id = ANY(%(tenants)s::bigint[]) OR (is_platform AND %(platform)s))
            ORDER BY id FOR UPDATE
        ),
        planned AS (
            SELECT l.id, m.kind, m.amount, l.balance + m.amount AS after
            FROM moves m JOIN locked l
              ON (m.is_platform AND l.is_platform)
              OR (NOT m.is_platform AND l.tenant_id = m.tenant_id)
        ),
        go AS (
            SELECT count(*) = %(legs)s AND coalesce(bool_and(after BETWEEN 0 AND %(max)s), false)
                AS ok
            FROM planned
        ),
        buyer AS (SELECT after FROM planned WHERE kind = 'payment'),
        ent AS (
            INSERT INTO {grants} AS e
                (buyer_id, asset_id, plan_id, starts_at, ends_at, created_at, updated_at)
            SELECT %(buyer)s::bigint, %(asset)s::bigint, %(plan)s::bigint, %(now)s::timestamptz,
                   %(now)s::timestamptz + %(duration)s::interval, %(now)s::timestamptz,
                   %(now)s::timestamptz
            FROM go WHERE go.ok
            {_EXTEND_ON_CONFLICT}
            RETURNING {", ".join(_ENTITLEMENT_COLUMNS)}
        ),
        outcome AS (
            SELECT b.after, e.id AS entitlement_id, e.ends_at AS entitlement_ends_at
            FROM buyer b, ent e
        ),
        updated AS (
            UPDATE {wallets} w SET balance = p.after, updated_at = %(now)s
            FROM planned p, go WHERE go.ok AND w.id = p.id
            RETURNING w.id
        ),
        inserted AS (
            INSERT INTO {entries}
                (wallet_id, kind, amount, balance_after, transfer, order_id, reason, actor_id,
                 created_at)
            SELECT p.id, p.kind, p.amount, p.after, %(transfer)s::uuid, %(order)s::bigint,
                   %(code)s::varchar, %(actor)s::bigint, %(now)s::timestamptz
            FROM planned p, go WHERE go.ok
            RETURNING id
        ),
        paid AS (
            UPDATE {orders} o SET status = %(paid)s, amount_paid = %(amount)s,
                paid_at = %(now)s, entitlement_id = x.entitlement_id,
                project_id = %(project)s::bigint, cluster_id = %(target_cluster)s::bigint
            FROM outcome x WHERE o.id = %(order)s
            RETURNING o.id
        ),
        audited AS (
            INSERT INTO {audits}
                (actor_id, tenant_id, action, content_type_id, object_id, object_repr,
                 from_state, to_state, reason, changes, created_at)
            SELECT %(actor)s::bigint, %(buyer)s::bigint, %(audit_action)s::varchar,
                   %(content_type)s::integer, %(order)s::varchar, %(repr)s::varchar,
                   %(from_state)s::varchar, %(paid)s::varchar, '',
                   %(changes)s::jsonb || jsonb_build_object(
                       'balance_after', x.after::text,
                       'entitlement_ends_at', x.entitlement_ends_at),
                   %(now)s::timestamptz
            FROM outcome x
            RETURNING id
        ),
        keyed AS (
            INSERT INTO {keys} (tenant_id, key, action, fingerprint, order_id, result,
                                created_by_id, created_at)
            SELECT %(buyer)s::bigint, %(key)s::varchar, %(key_action)s::varchar,
                   %(fingerprint)s::varchar, %(order)s::bigint,
                   %(result)s::jsonb || jsonb_build_object(
                       'balance_after', x.after::text,
                       'entitlement_id', x.entitlement_id,
                       'entitlement_ends_at', x.entitlement_ends_at),
                   %(actor)s::bigint, %(now)s::timestamptz
            FROM outcome x WHERE %(key)s::varchar <> ''
            RETURNING id
        )
        SELECT l.id, l.tenant_id, l.is_platform, l.balance, go.ok,
               (SELECT count(*) FROM updated), (SELECT count(*) FROM inserted),
               (SELECT count(*) FROM paid), (SELECT count(*) FROM audited),
               (SELECT count(*) FROM keyed),
               (SELECT jsonb_build_object(
                    'balance_after', after::text,
                    'entitlement_id', entitlement_id,
                    'entitlement_ends_at', entitlement_ends_at) FROM outcome),
               (SELECT count(*) FROM claim),
               e.*
        FROM go LEFT JOIN locked l ON true LEFT JOIN ent e ON true ORDER BY l.id
    """
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    row = fetched[0]
    if not row[11]:
        raise _OrderChanged(order.pk)
    held = [
        _Held(id=r[0], tenant_id=r[1], is_platform=r[2], balance=r[3])
        for r in fetched
        if r[0] is not None
    ]
    if not row[4]:
        return held, None
    wanted = (len(moves), len(moves), 1, 1, 1 if key else 0)
    if tuple(row[5:10]) != wanted:
        raise RuntimeError(f"payment of {order.code} wrote {row[5:10]}, not {wanted}")
    outcome = row[10] if isinstance(row[10], dict) else json.loads(row[10])
    order.entitlement = Entitlement.from_db(connection.alias, _ENTITLEMENT_COLUMNS, row[12:])
    return held, outcome


def transfer_id() -> uuid.UUID:
    """The id the ledger entries of one payment share."""
    return uuid.uuid4()


def _move_money(
    *, actor_id: int | None, order: Order, moves: list[_Move], now: datetime, deadline_hint: bool
) -> Decimal:
    """With the ORM: debit the buyer and credit the others, each change with its ledger
    entry, wallets locked by id. Returns the buyer's balance after."""
    owners = [m.tenant_id for m in moves]
    transfer = transfer_id()
    for _attempt in range(len(moves) + 1):
        query = Wallet.objects.select_for_update().filter(
            Q(tenant_id__in=[o for o in owners if o is not None]) | Q(is_platform=None in owners)
        )
        held = [
            _Held(id=w.pk, tenant_id=w.tenant_id, is_platform=w.is_platform, balance=w.balance)
            for w in query.order_by("pk")
        ]
        try:
            planned = _plan_moves(order=order, moves=moves, held=held, deadline_hint=deadline_hint)
        except _MissingWallet as missing:
            _open_missing_wallet(missing)
            continue
        after = {wallet.id: balance for wallet, _move, balance in planned}
        Wallet.objects.bulk_update(
            [Wallet(pk=pk, balance=balance, updated_at=now) for pk, balance in after.items()],
            ["balance", "updated_at"],
        )
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                wallet_id=wallet.id,
                kind=move.kind,
                amount=move.delta,
                balance_after=balance,
                transfer=transfer,
                order=order,
                actor_id=actor_id,
                reason=order.code,
            )
            for wallet, move, balance in planned
        )
        return next(b for w, _m, b in reversed(planned) if w.tenant_id == order.buyer_id)
    raise RuntimeError(f"no wallets for the payment of {order.code}")


def _open_missing_wallet(missing: _MissingWallet) -> None:
    """Rare: wallets are made with their tenant. Nothing was written yet; make it."""
    if missing.tenant_id is None:
        _platform_wallet()
    else:
        Wallet.objects.get_or_create(tenant_id=missing.tenant_id)


def _settle(
    *,
    actor: User | None,
    order: Order,
    now: datetime,
    deadline_hint: bool = True,
    key: str = "",
    key_action: str = IdempotencyKey.Action.PAY,
    key_fingerprint: str = "",
    retargeted: dict[str, Any] | None = None,
) -> tuple[Decimal, dict[str, Any]]:
    """Inside the caller's transaction, with the order row locked (or just created).

    Grants the entitlement (its row locked), locks the wallets by id, debits the buyer,
    credits the seller minus the commission and the platform with it, writes ledger
    entries that sum to zero, marks the order paid, audits it and stores the result under
    `key`. A target chosen at payment (`retargeted`: what changed, already on `order`) is
    written with the order and said in its audit. `order_paid` goes out on commit. Returns the buyer's balance after and the
    result. On PostgreSQL a paid order takes two statements: the entitlement, then the
    rest, so the buyer's wallet stays locked for one round trip and the commit.
    """
    amount = order.amount_due
    rate = commission_rate()
    commission = (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    moves = []
    if amount > 0:
        moves.append(_Move(order.buyer_id, LedgerEntry.Kind.PAYMENT, -amount))
        if amount - commission > 0:
            moves.append(_Move(order.seller_id, LedgerEntry.Kind.SALE, amount - commission))
        if commission > 0:
            moves.append(_Move(None, LedgerEntry.Kind.COMMISSION, commission))
    order.status = Order.Status.PAID
    order.amount_paid = amount
    order.paid_at = now
    audit = {"amount": str(amount), "commission": str(commission)} | (retargeted or {})
    if connection.vendor == "postgresql" and moves:
        result = _payment_result(order, None)
        for _attempt in range(len(moves) + 1):
            held, outcome = _pay_postgres(
                actor_id=actor_id,
                order=order,
                moves=moves,
                now=now,
                audit=audit,
                result=result,
                key=key,
                key_action=key_action,
                key_fingerprint=key_fingerprint,
            )
            try:
                _plan_moves(order=order, moves=moves, held=held, deadline_hint=deadline_hint)
            except _MissingWallet as missing:
                _open_missing_wallet(missing)
                continue
            if outcome is None:  # the statement and _plan_moves disagree: never guess
                raise RuntimeError(f"payment of {order.code} was refused by the database")
            break
        else:
            raise RuntimeError(f"no wallets for the payment of {order.code}")
        result |= outcome
        balance = Decimal(outcome["balance_after"])
    else:
        order.entitlement = _grant(order=order, now=now)
        audit["entitlement_ends_at"] = order.entitlement.ends_at.isoformat()
        if moves:
            balance = _move_money(
                actor_id=actor_id, order=order, moves=moves, now=now, deadline_hint=deadline_hint
            )
        else:  # free: nothing moves; the result still tells the balance
            balance = (
                Wallet.objects.filter(tenant_id=order.buyer_id)
                .values_list("balance", flat=True)
                .first()
            ) or ZERO
        fields = ["status", "amount_paid", "paid_at", "entitlement"]
        order.save(update_fields=[*fields, "project", "cluster"] if retargeted else fields)
        record_audit(
            actor=actor,
            action="order.paid",
            obj=order,
            tenant=order.buyer,
            from_state=Order.Status.PENDING_PAYMENT,
            to_state=Order.Status.PAID,
            changes=audit | {"balance_after": str(balance)},
        )
        result = _payment_result(order, balance)
        if key:
            idempotency.record(
                scope=_buyer_scope(order.buyer_id, key_action),
                key=key,
                fingerprint=key_fingerprint,
                actor=actor,
                order=order,
                result=result,
            )
    transaction.on_commit(partial(_announce_paid, order))
    return balance, result


# --- placing orders -----------------------------------------------------------------------


def _on_sale_version(asset_id: int) -> AssetVersion | None:
    return AssetVersion.objects.filter(
        asset_id=asset_id, status=AssetVersion.Status.ON_SALE
    ).first()


def _replay_place(*, buyer: Tenant, key: str, fingerprint: str) -> Order | None:
    """The order a key already placed; the same key for a different request is refused."""
    stored = idempotency.find(
        scope=_buyer_scope(buyer.pk, IdempotencyKey.Action.PLACE), key=key, fingerprint=fingerprint
    )
    if stored is None or stored.order is None:
        return None
    order = stored.order
    order.replayed = True
    return order


def _place_fingerprint(*, kind: str, **body: Any) -> str:
    """What a place (or renew) request asked for, as ids and plain values."""
    canonical = {name: getattr(value, "pk", value) for name, value in body.items()}
    return idempotency.fingerprint(
        action=IdempotencyKey.Action.PLACE, body={"kind": kind, **canonical}
    )


def _new_order(
    *,
    actor: User,
    kind: str,
    buyer: Tenant,
    plan: Plan,
    version: AssetVersion | None,
    now: datetime,
    **target: Any,
) -> Order:
    """The unsaved order, with the plan as it is now (later price changes never alter it)."""
    return Order(
        kind=kind,
        buyer=buyer,
        seller=plan.asset.tenant,
        asset=plan.asset,
        plan=plan,
        plan_name=plan.name,
        plan_price=plan.price,
        plan_duration_value=plan.duration_value,
        plan_duration_unit=plan.duration_unit,
        version=version,
        amount_due=plan.price,
        created_by=actor,
        created_at=now,
        payment_deadline=payment_deadline(now),
        **target,
    )


def _save_order(
    *, actor: User, order: Order, key: str, fingerprint: str, pay_now: bool, now: datetime
) -> Order:
    """One transaction: the order, its audit row, the key and — when due now — the payment."""
    while Order.objects.filter(code=order.code).exists():  # ~2^-65 odds, but never a 500
        order.code = generate_order_code()
    try:
        with transaction.atomic():
            order.save()
            record_audit(
                actor=actor,
                action="order.placed",
                obj=order,
                tenant=order.buyer,
                to_state=Order.Status.PENDING_PAYMENT,
                changes={
                    "kind": order.kind,
                    "asset": order.asset.code,
                    "plan": order.plan_name,
                    "price": str(order.plan_price),
                },
            )
            if order.is_free or pay_now:
                _settle(
                    actor=actor,
                    order=order,
                    now=now,
                    deadline_hint=False,
                    key=key,
                    key_action=IdempotencyKey.Action.PLACE,
                    key_fingerprint=fingerprint,
                )
            elif key:
                idempotency.record(
                    scope=_buyer_scope(order.buyer_id, IdempotencyKey.Action.PLACE),
                    key=key,
                    fingerprint=fingerprint,
                    actor=actor,
                    order=order,
                    result=_payment_result(order, None),
                )
    except (IntegrityError, ValidationError):
        # Lost a race with the same key (a double submit): the winner's order is the answer.
        # Its payment may also be why this one found the wallet short.
        if key:
            replay = _replay_place(buyer=order.buyer, key=key, fingerprint=fingerprint)
            if replay is not None:
                return replay
        raise
    order.replayed = False
    return order


def place_order(
    *,
    actor: User,
    plan: Plan,
    project: Project | None,
    cluster: Cluster | None = None,
    channel: str = "",
    approval: str = Order.Approval.AUTOMATIC,
    pay_now: bool = False,
    idempotency_key: str = "",
) -> Order:
    """新购: the buyer is the project's tenant; the order snapshots the plan as it is now.

    A free plan is paid at once; `pay_now` (直接支付) pays in the same transaction, so a
    short wallet leaves no order behind. The same idempotency key returns the same order.
    """
    if project is None:
        raise invalid(
            _("Choose the project to install into."),
            code=OrdersErrorCode.PROJECT_REQUIRED,
            field="project",
        )
    buyer = project.tenant
    if not is_member(user=actor, tenant=buyer):
        raise invalid(
            _("Choose one of your tenant's projects."),
            code=OrdersErrorCode.PROJECT_NOT_YOURS,
            field="project",
        )
    key = idempotency.clean_key(idempotency_key, required=False)
    fingerprint = _place_fingerprint(
        kind=Order.Kind.NEW,
        plan=plan,
        project=project,
        cluster=cluster,
        channel=(channel or "").strip(),
        approval=approval,
        pay_now=pay_now,
    )
    if key:
        replay = _replay_place(buyer=buyer, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay

    errors = FieldErrors()
    plan = Plan.objects.select_related("asset__tenant").get(pk=plan.pk)  # as it is now
    asset = plan.asset
    version = _on_sale_version(asset.pk)
    if asset.tenant_id == buyer.pk:  # said instead of "not on sale", when both are true
        errors.add("asset", _("A tenant cannot buy its own asset."), code=OrdersErrorCode.OWN_ASSET)
    elif version is None:
        errors.add(
            "asset",
            _(
                "%(asset)s is not on sale, so it cannot be bought. "
                "Tenants that hold it can still renew it in Purchased Assets."
            )
            % {"asset": asset.name},
            code=OrdersErrorCode.NOT_ON_SALE,
        )
    if plan.is_archived:
        errors.add(
            "plan",
            _("The plan “%(plan)s” is no longer sold; choose another.") % {"plan": plan.name},
            code=OrdersErrorCode.PLAN_ARCHIVED,
        )
    if cluster is None:
        cluster = clusters_open_to(project=project).first()
        if cluster is None:
            errors.add(
                "cluster",
                _(
                    "No cluster is open to the project %(project)s; ask a platform admin to link one."
                )
                % {"project": project.name},
                code=OrdersErrorCode.NO_CLUSTER,
            )
    elif not clusters_open_to(project=project).filter(pk=cluster.pk).exists():
        errors.add(
            "cluster",
            _("Choose a cluster linked to the project %(project)s, or the default cluster.")
            % {"project": project.name},
            code=OrdersErrorCode.CLUSTER_NOT_OPEN,
        )
    channel = (channel or "").strip()
    if version is not None:
        channel = channel or version.default_channel
        if channel not in version.channels:
            errors.add(
                "channel",
                _("Choose one of the version's channels: %(channels)s.")
                % {"channels": ", ".join(version.channels)},
                code=OrdersErrorCode.CHANNEL_INVALID,
            )
        else:
            # Said before paying: the install would otherwise fail on the cluster
            # (UnsupportedOperatorGroup) after the money moved.
            for problem in install_problems(version=version, channel=channel, cluster=cluster):
                errors.add("channel", problem, code=OrdersErrorCode.NOT_INSTALLABLE_IN_PROJECT)
    if approval not in Order.Approval.values:
        errors.add(
            "approval", _("Choose Automatic or Manual."), code=OrdersErrorCode.APPROVAL_INVALID
        )
    if "asset" not in errors:
        held = (
            Entitlement.objects.filter(buyer=buyer, asset=asset, ends_at__gt=timezone.now())
            .only("ends_at")
            .first()
        )
        if held is not None:
            errors.add(
                "asset",
                _(
                    "%(tenant)s already holds %(asset)s until %(end)s: install it from "
                    "Purchased Assets, or renew it there."
                )
                % {"tenant": buyer.name, "asset": asset.name, "end": format_when(held.ends_at)},
                code=OrdersErrorCode.ALREADY_HELD,
            )
    if errors:
        # A twin request with the same key may have won meanwhile (its entitlement is
        # what "already holds" saw): then its order is the answer, not an error.
        replay = _replay_place(buyer=buyer, key=key, fingerprint=fingerprint) if key else None
        if replay is not None:
            return replay
        raise errors.error()
    now = timezone.now()
    order = _new_order(
        actor=actor,
        kind=Order.Kind.NEW,
        buyer=buyer,
        plan=plan,
        version=version,
        now=now,
        project=project,
        cluster=cluster,
        channel=channel,
        approval=approval,
    )
    return _save_order(
        actor=actor, order=order, key=key, fingerprint=fingerprint, pay_now=pay_now, now=now
    )


def renew(
    *,
    actor: User,
    entitlement: Entitlement,
    plan: Plan | None = None,
    pay_now: bool = False,
    idempotency_key: str = "",
) -> Order:
    """续费: a renewal order that, once paid, extends the entitlement's end.

    Allowed even after the asset was delisted: holders keep what they bought. Any plan
    on sale may be chosen, and the tenant's own plan even if it was archived since.
    """
    buyer = entitlement.buyer
    require_member(user=actor, tenant=buyer)
    key = idempotency.clean_key(idempotency_key, required=False)
    plan = Plan.objects.select_related("asset__tenant").get(pk=(plan or entitlement.plan).pk)
    fingerprint = _place_fingerprint(
        kind=Order.Kind.RENEWAL, entitlement=entitlement, plan=plan, pay_now=pay_now
    )
    if key:
        replay = _replay_place(buyer=buyer, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay
    if plan.asset_id != entitlement.asset_id:
        raise invalid(
            _("Choose a plan of %(asset)s.") % {"asset": entitlement.asset.name},
            code=OrdersErrorCode.PLAN_OF_ANOTHER_ASSET,
            field="plan",
        )
    if plan.is_archived and plan.pk != entitlement.plan_id:
        raise invalid(
            _("The plan “%(plan)s” is no longer sold; choose another.") % {"plan": plan.name},
            code=OrdersErrorCode.PLAN_ARCHIVED,
            field="plan",
        )
    now = timezone.now()
    version = _on_sale_version(entitlement.asset_id) or (
        AssetVersion.objects.filter(asset_id=entitlement.asset_id)
        .order_by("-created_at", "-id")
        .first()
    )
    order = _new_order(
        actor=actor,
        kind=Order.Kind.RENEWAL,
        buyer=buyer,
        plan=plan,
        version=version,
        now=now,
    )
    return _save_order(
        actor=actor, order=order, key=key, fingerprint=fingerprint, pay_now=pay_now, now=now
    )


def pay_order(
    *,
    actor: User,
    order: Order,
    idempotency_key: str,
    project: Project | None = None,
    cluster: Cluster | None = None,
) -> Payment:
    """支付 / 继续支付: charge once, whatever the number of clicks or retries.

    继续支付 may choose the project and cluster to install into (the seed: "选择需要付款项目
    和使用集群"): given and different from the order's, they become its target in the
    statement that pays it, so a refusal changes nothing.

    Read the order with its key and on-sale state, replay a known key, check the state
    and the deadline, then settle and store the result under the key. On PostgreSQL the
    settling is one statement, its own transaction when the caller has none: it locks
    the order only if still pending payment, so the one wallet every payment of a tenant
    shares is locked while the server runs it and flushes its commit, never while this
    process gets round to sending COMMIT. If another payment changed the order between
    the read and the statement, nothing is written and the order is read again.
    """
    key = idempotency.clean_key(idempotency_key, required=True)
    require_member(user=actor, tenant=order.buyer)
    now = timezone.now()
    one_statement = _settles_in_one_statement()
    fingerprint = pay_fingerprint(
        order_id=order.pk,
        project_id=project.pk if project is not None else None,
        cluster_id=cluster.pk if cluster is not None else None,
    )
    target = _Target(project=project, cluster=cluster)
    for _attempt in range(3):
        try:
            with nullcontext() if one_statement else transaction.atomic():
                return _pay_once(
                    actor=actor,
                    order=order,
                    key=key,
                    fingerprint=fingerprint,
                    target=target,
                    now=now,
                    lock=not one_statement,
                )
        except _OrderChanged:
            continue
        except IntegrityError:
            stored = idempotency.find(
                scope=_buyer_scope(order.buyer_id, IdempotencyKey.Action.PAY),
                key=key,
                fingerprint=fingerprint,
            )
            if stored is None:
                raise
            return Payment(order=_reload(order), result=stored.result, replayed=True)
    raise RuntimeError(f"order {order.code} kept changing while being paid")


def pay_fingerprint(
    *, order_id: int, project_id: int | None = None, cluster_id: int | None = None
) -> str:
    """A payment's request: its order (the URL names it) and the project and cluster the
    body chose, if any (left out, the body is the order alone, as before 继续支付 chose)."""
    body: dict[str, Any] = {"order": order_id}
    if project_id is not None:
        body["project"] = project_id
    if cluster_id is not None:
        body["cluster"] = cluster_id
    return idempotency.fingerprint(action=IdempotencyKey.Action.PAY, body=body)


@dataclass(frozen=True)
class _Target:
    """Where 继续支付 asked to install (None: the order's own)."""

    project: Project | None
    cluster: Cluster | None


def _retarget(*, order: Order, target: _Target) -> dict[str, Any]:
    """Check the project and cluster chosen at payment and put them on `order` (unsaved):
    the buyer's project, a cluster open to it (the default cluster, or linked), where the
    version installs. Returns what changed, for the audit ({}: nothing). No query unless
    the target changes, so the usual payment costs what it did."""
    project, cluster = target.project, target.cluster
    if project is None and cluster is None:
        return {}
    if order.kind != Order.Kind.NEW or order.project_id is None:
        raise invalid(
            _("A renewal installs nothing: it has no project or cluster to choose."),
            code=OrdersErrorCode.TARGET_FIXED,
            field="project" if project is not None else "cluster",
        )
    project = project if project is not None else order.project
    if project is None or project.tenant_id != order.buyer_id:
        raise invalid(
            _("Choose one of your tenant's projects."),
            code=OrdersErrorCode.PROJECT_NOT_YOURS,
            field="project",
        )
    open_clusters = clusters_open_to(project=project)
    if cluster is None:
        cluster = order.cluster if project.pk == order.project_id else open_clusters.first()
        if cluster is None:
            raise invalid(
                _(
                    "No cluster is open to the project %(project)s; ask a platform admin to link one."
                )
                % {"project": project.name},
                code=OrdersErrorCode.NO_CLUSTER,
                field="cluster",
            )
    if project.pk == order.project_id and cluster.pk == order.cluster_id:
        return {}
    if not open_clusters.filter(pk=cluster.pk).exists():
        raise invalid(
            _("Choose a cluster linked to the project %(project)s, or the default cluster.")
            % {"project": project.name},
            code=OrdersErrorCode.CLUSTER_NOT_OPEN,
            field="cluster",
        )
    if order.version is not None:
        problems = install_problems(version=order.version, channel=order.channel, cluster=cluster)
        if problems:
            raise invalid(
                " ".join(problems),
                code=OrdersErrorCode.NOT_INSTALLABLE_IN_PROJECT,
                field="cluster",
            )
    before = order.project, order.cluster
    order.project, order.cluster = project, cluster
    return {
        "target": {
            "project": [before[0].namespace if before[0] else None, project.namespace],
            "cluster": [before[1].name if before[1] else None, cluster.name],
        }
    }


def _settles_in_one_statement() -> bool:
    """PostgreSQL, outside any transaction of the caller's: the statement that settles is
    a transaction by itself. Inside one (a caller's atomic block) the ORM path's
    savepoint keeps a refused key from aborting the caller's transaction."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _pay_once(
    *,
    actor: User,
    order: Order,
    key: str,
    fingerprint: str,
    target: _Target,
    now: datetime,
    lock: bool,
) -> Payment:
    """One try: read (and with `lock`, lock) the order, replay or refuse, settle."""
    current, stored, on_sale, balance = _read_for_payment(order_id=order.pk, key=key, lock=lock)
    if stored is None and lock and current.status != Order.Status.PENDING_PAYMENT:
        # The key was read before the lock was granted: the payment that held it may
        # have stored this very key. Read it again, now. (Unlocked, the order and the
        # key come from one snapshot, written by one transaction.)
        stored = idempotency.find(
            scope=_buyer_scope(current.buyer_id, IdempotencyKey.Action.PAY),
            key=key,
            fingerprint=fingerprint,
        )
    if stored is not None:
        idempotency.check(stored, fingerprint)
        return Payment(order=_reload(current), result=stored.result, replayed=True)
    _check_payable(current, now=now, on_sale=on_sale)
    retargeted = _retarget(order=current, target=target)
    if balance is not None and balance < current.amount_due:
        # Short already as read: only payments lower a balance, so the wallet was short
        # at that moment. Refused without queueing on the wallet's lock behind every
        # other payment from it.
        raise _short(order=current, balance=balance, deadline_hint=True)
    _balance, result = _settle(
        actor=actor,
        order=current,
        now=now,
        key=key,
        key_fingerprint=fingerprint,
        retargeted=retargeted,
    )
    return Payment(order=current, result=result, replayed=False)


def _read_for_payment(
    *, order_id: int, key: str, lock: bool
) -> tuple[Order, IdempotencyKey | None, bool, Decimal | None]:
    """One statement: the order, what the key stored (unsaved, or None), whether the
    asset is still on sale and the buyer's balance (None: no wallet yet), not locked.

    Raw SQL because every payment runs it: the ORM builds this query in ~1 ms of CPU,
    which on a busy web worker delays every other request, the payments' included.
    """
    orders, keys = Order._meta.db_table, IdempotencyKey._meta.db_table
    versions, wallets = AssetVersion._meta.db_table, Wallet._meta.db_table
    lock_clause = (
        " FOR UPDATE OF o" if lock and connection.features.has_select_for_update_of else ""
    )
    found = list(
        Order.objects.raw(
            f"""
            SELECT o.*, k.id AS key_id, k.fingerprint AS key_fingerprint,
                   k.order_id AS key_order_id, k.result AS key_result,
                   EXISTS (SELECT 1 FROM {versions} v
                           WHERE v.asset_id = o.asset_id AND v.status = %s) AS asset_on_sale,
                   (SELECT w.balance FROM {wallets} w
                    WHERE w.tenant_id = o.buyer_id) AS buyer_balance
            FROM {orders} o LEFT JOIN {keys} k
                ON k.tenant_id = o.buyer_id AND k.action = %s AND k.key = %s
            WHERE o.id = %s{lock_clause}
            """,
            [AssetVersion.Status.ON_SALE, IdempotencyKey.Action.PAY, key, order_id],
        )
    )
    if not found:
        raise Order.DoesNotExist(f"no order {order_id}")
    current = found[0]
    extra = current.__dict__
    stored = None
    if extra["key_id"] is not None:
        result = extra["key_result"]
        stored = IdempotencyKey(
            id=extra["key_id"],
            tenant_id=current.buyer_id,
            key=key,
            action=IdempotencyKey.Action.PAY,
            fingerprint=extra["key_fingerprint"],
            order_id=extra["key_order_id"],
            result=json.loads(result) if isinstance(result, (str, bytes)) else result,
        )
    balance = extra["buyer_balance"]
    return (
        current,
        stored,
        bool(extra["asset_on_sale"]),
        None if balance is None else Decimal(balance),
    )


class _OrderChanged(Exception):
    """The order was no longer pending payment when the settling statement locked it."""


def _reload(order: Order) -> Order:
    return Order.objects.select_related("entitlement").get(pk=order.pk)


def _check_payable(order: Order, *, now: datetime, on_sale: bool | None = None) -> None:
    """Only an order pending payment, before its deadline, of an asset still on sale."""
    if order.status == Order.Status.PAID:
        raise invalid(
            _("Order %(code)s was already paid at %(when)s; it was not charged again.")
            % {"code": order.code, "when": format_when(order.paid_at or now)},
            code=OrdersErrorCode.ALREADY_PAID,
            field="status",
        )
    if order.status != Order.Status.PENDING_PAYMENT:
        raise invalid(
            _("Order %(code)s is %(status)s; only an order pending payment can be paid.")
            % {"code": order.code, "status": order.get_status_display()},
            code=OrdersErrorCode.NOT_PAYABLE,
            field="status",
        )
    if now >= order.payment_deadline:
        raise invalid(
            _("The payment deadline of %(code)s passed at %(when)s; place a new order.")
            % {"code": order.code, "when": format_when(order.payment_deadline)},
            code=OrdersErrorCode.DEADLINE_PASSED,
            field="status",
        )
    if on_sale is None:
        on_sale = _on_sale_version(order.asset_id) is not None
    if order.kind == Order.Kind.NEW and not on_sale:
        raise invalid(
            _("%(asset)s is no longer on sale, so this order cannot be paid; cancel it.")
            % {"asset": order.asset.name},
            code=OrdersErrorCode.NOT_ON_SALE,
            field="asset",
        )


def cancel_order(*, actor: User, order: Order, reason: str = "") -> Order:
    """取消: only an unpaid order; a second click finds it cancelled and changes nothing."""
    require_member(user=actor, tenant=order.buyer)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status == Order.Status.CANCELLED:
            return locked
        if locked.status != Order.Status.PENDING_PAYMENT:
            raise invalid(
                _("Order %(code)s is %(status)s; only an order pending payment can be cancelled.")
                % {"code": locked.code, "status": locked.get_status_display()},
                code=OrdersErrorCode.NOT_CANCELLABLE,
                field="status",
            )
        locked.status = Order.Status.CANCELLED
        locked.cancelled_at = timezone.now()
        locked.save(update_fields=["status", "cancelled_at"])
        record_audit(
            actor=actor,
            action="order.cancelled",
            obj=locked,
            tenant=order.buyer,
            from_state=Order.Status.PENDING_PAYMENT,
            to_state=Order.Status.CANCELLED,
            reason=reason,
        )
    return locked


def expire_overdue_orders(*, now: datetime | None = None, batch_size: int = EXPIRY_BATCH) -> int:
    """Unpaid past the deadline → expired. Run by beat; orders being paid are skipped."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=Order.Status.PENDING_PAYMENT, payment_deadline__lte=now)
            .order_by("pk")[:batch_size]
        )
        if not overdue:
            return 0
        tenants = Tenant.objects.in_bulk({o.buyer_id for o in overdue})
        for order in overdue:
            order.status = Order.Status.EXPIRED
            order.expired_at = now
        Order.objects.bulk_update(overdue, ["status", "expired_at"])
        for order in overdue:
            record_audit(
                actor=None,
                action="order.expired",
                obj=order,
                tenant=tenants.get(order.buyer_id),
                from_state=Order.Status.PENDING_PAYMENT,
                to_state=Order.Status.EXPIRED,
                reason=_("Not paid before %(deadline)s.")
                % {"deadline": format_when(order.payment_deadline)},
            )
    return len(overdue)


# --- wallets ------------------------------------------------------------------------------


def top_up_wallet(
    *,
    actor: User,
    tenant: Tenant,
    amount: Decimal | str | int,
    reason: str,
    idempotency_key: str = "",
) -> LedgerEntry:
    """充值 (platform admins): credits a tenant's wallet; the reason stays in the ledger.

    With a key, a retry credits once: the same key and body return the entry written
    first (`replayed`), another body under it is refused. The key is the admin's (no
    tenant sends a top-up), so the same key for another tenant is another body.
    """
    require_platform_admin(
        user=actor, message=_("Only platform administrators may top up wallets.")
    )
    key = idempotency.clean_key(idempotency_key, required=False)
    errors = FieldErrors()
    credit = ZERO
    try:
        credit = to_money(amount)
    except ValidationError as exc:
        errors.merge(exc)
    else:
        if credit <= 0:
            errors.add(
                "amount",
                _("Top up a positive amount."),
                code=OrdersErrorCode.AMOUNT_NOT_POSITIVE,
            )
        elif credit > MAX_TOP_UP:
            errors.add(
                "amount",
                _("At most %(max)s per top-up.") % {"max": format_t(MAX_TOP_UP)},
                code=OrdersErrorCode.TOP_UP_LIMIT,
            )
    reason = (reason or "").strip()
    if not reason:
        errors.add(
            "reason",
            _("Give a reason: it is kept in the ledger."),
            code=OrdersErrorCode.REASON_REQUIRED,
        )
    elif len(reason) > 300:
        errors.add(
            "reason",
            _("Keep the reason under 300 characters."),
            code=OrdersErrorCode.REASON_TOO_LONG,
        )
    errors.raise_if_any()
    scope = Scope(action=IdempotencyKey.Action.TOP_UP, user_id=actor.pk)
    fingerprint = idempotency.fingerprint(
        action=IdempotencyKey.Action.TOP_UP,
        body={"tenant": tenant.pk, "amount": str(credit), "reason": reason},
    )
    replay = _replay_top_up(scope=scope, key=key, fingerprint=fingerprint)
    if replay is not None:
        return replay
    try:
        with transaction.atomic():
            wallet = ensure_wallet(tenant=tenant)
            wallet = Wallet.objects.select_for_update().get(pk=wallet.pk)
            # A twin with this key may have credited while this waited for the lock.
            replay = _replay_top_up(scope=scope, key=key, fingerprint=fingerprint)
            if replay is not None:
                return replay
            entry = _credit(actor=actor, tenant=tenant, wallet=wallet, credit=credit, reason=reason)
            if key:
                idempotency.record(
                    scope=scope,
                    key=key,
                    fingerprint=fingerprint,
                    actor=actor,
                    ledger_entry=entry,
                    result={
                        "ledger_entry_id": entry.pk,
                        "tenant_id": tenant.pk,
                        "amount": str(entry.amount),
                        "balance_after": str(entry.balance_after),
                    },
                )
    except IntegrityError:
        # A twin with this key committed first (another tenant's wallet, so no shared
        # lock): its entry is the answer, or its other body the refusal.
        replay = _replay_top_up(scope=scope, key=key, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay
    entry.replayed = False
    return entry


def _replay_top_up(*, scope: Scope, key: str, fingerprint: str) -> LedgerEntry | None:
    stored = idempotency.find(scope=scope, key=key, fingerprint=fingerprint)
    if stored is None or stored.ledger_entry is None:
        return None
    entry = stored.ledger_entry
    entry.replayed = True
    return entry


def _credit(
    *, actor: User, tenant: Tenant, wallet: Wallet, credit: Decimal, reason: str
) -> LedgerEntry:
    """With the wallet locked: the balance, its ledger entry and the audit row."""
    if wallet.balance + credit > MAX_BALANCE:
        raise invalid(
            _("A wallet cannot hold more than %(max)s.") % {"max": format_t(MAX_BALANCE)},
            code=OrdersErrorCode.BALANCE_LIMIT,
            field="amount",
        )
    wallet.balance += credit
    wallet.save(update_fields=["balance", "updated_at"])
    entry = LedgerEntry.objects.create(
        wallet=wallet,
        kind=LedgerEntry.Kind.TOP_UP,
        amount=credit,
        balance_after=wallet.balance,
        transfer=uuid.uuid4(),
        reason=reason,
        actor=actor,
    )
    record_audit(
        actor=actor,
        action="wallet.topped_up",
        obj=wallet,
        tenant=tenant,
        reason=reason,
        changes={"amount": str(credit), "balance_after": str(wallet.balance)},
    )
    return entry

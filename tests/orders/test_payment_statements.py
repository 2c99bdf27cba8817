"""What a payment costs the database: the buyer's wallet is shared by every payment of the
tenant, so whatever runs while it is locked is waited for by every other payment from it.
On PostgreSQL the payment settles in one statement that is its own transaction: the wallet
is locked while the server runs it and flushes the commit, never across a round trip to
the client (which, in a busy web worker, waits for a CPU and the GIL before sending
COMMIT)."""

import contextlib
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.db.models import Sum

from accounts.models import Tenant
from orders import services
from orders.models import LedgerEntry, Order, Wallet
from orders.signals import order_paid

from .fixtures import plan_named

MAX_STATEMENTS = 6


@contextlib.contextmanager
def without_order_paid_receivers():
    """The installer's work on commit is not the payment's (as in bench/payments.py)."""
    with order_paid.lock:
        saved = order_paid.receivers[:]
        order_paid.receivers.clear()
        order_paid.sender_receivers_cache.clear()
    try:
        yield
    finally:
        with order_paid.lock:
            order_paid.receivers[:] = saved
            order_paid.sender_receivers_cache.clear()


def payment_statements(call, *, before_settling=None):
    """(call's result, [(sql, inside a client transaction?)] of every statement the
    payment runs); `before_settling()` runs just before the statement that settles."""
    statements = []

    def record(execute, sql, params, many, context):
        if before_settling is not None and sql.lstrip().startswith("WITH moves"):
            before_settling()
        statements.append((sql, connection.in_atomic_block))
        return execute(sql, params, many, context)

    with without_order_paid_receivers(), connection.execute_wrapper(record):
        result = call()
    return result, statements


def in_another_connection(call):
    """Run `call` to its end in a thread of its own: another client, another connection."""
    outcome = []

    def run():
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert outcome, "the other client did not finish"
    return outcome[0]


def assert_books_balance():
    for wallet in Wallet.objects.all():
        total = wallet.entries.aggregate(t=Sum("amount"))["t"] or Decimal("0")
        assert wallet.balance == total >= 0, wallet


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_runs_at_most_six_statements_none_in_a_client_transaction(
    buyer, mem1, place, fund
):
    fund(buyer, "5.00")
    order = place(buyer, mem1)
    payment, statements = payment_statements(
        lambda: services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
    )
    assert payment.order.status == "paid" and not payment.replayed
    assert len(statements) <= MAX_STATEMENTS, "\n\n".join(sql for sql, _txn in statements)
    assert not any(txn for _sql, txn in statements), "a client transaction holds the wallet"
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("4.00")
    assert Wallet.objects.get(tenant=mem1.tenant).balance == Decimal("1.00")
    assert payment.result["balance_after"] == "4.00"
    assert_books_balance()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_with_a_commission_runs_at_most_six_statements_none_in_a_transaction(
    buyer, mem1, place, fund, settings
):
    settings.PLATFORM_COMMISSION_RATE = "0.05"
    fund(buyer, "300.00")
    plan = plan_named(mem1, "100¥/年")
    first, second = place(buyer, mem1, plan), place(buyer, mem1, plan)
    services.pay_order(actor=buyer.owner, order=first, idempotency_key="one")  # opens the
    payment, statements = payment_statements(  # platform's wallet: its first commission
        lambda: services.pay_order(actor=buyer.owner, order=second, idempotency_key="two")
    )
    assert payment.order.status == "paid"
    assert len(statements) <= MAX_STATEMENTS, "\n\n".join(sql for sql, _txn in statements)
    assert not any(txn for _sql, txn in statements), "a client transaction holds the wallet"
    assert Wallet.objects.get(is_platform=True).balance == Decimal("10.00")
    assert Wallet.objects.get(tenant=mem1.tenant).balance == Decimal("190.00")
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("100.00")
    entries = LedgerEntry.objects.filter(order=second)
    assert sorted(entries.values_list("kind", "amount", "balance_after")) == [
        ("commission", Decimal("5.00"), Decimal("10.00")),
        ("payment", Decimal("-100.00"), Decimal("100.00")),
        ("sale", Decimal("95.00"), Decimal("190.00")),
    ]
    assert_books_balance()


@pytest.mark.django_db
def test_a_tenant_has_an_empty_wallet_from_the_start():
    tenant = Tenant.objects.create(name="acme", slug="acme")
    assert Wallet.objects.get(tenant=tenant).balance == 0


@pytest.mark.django_db
def test_a_seller_without_a_wallet_gets_one_with_its_first_sale(buyer, mem1, place, fund):
    fund(buyer, "5.00")
    order = place(buyer, mem1)
    Wallet.objects.filter(tenant=mem1.tenant).delete()  # a tenant from before wallets
    services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
    assert Wallet.objects.get(tenant=mem1.tenant).balance == Decimal("1.00")
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("4.00")
    assert_books_balance()


@pytest.mark.django_db
def test_a_short_wallet_moves_nothing(buyer, mem1, place, fund):
    fund(buyer, "50.00")
    order = place(buyer, mem1, plan_named(mem1, "100¥/年"))
    with pytest.raises(Exception, match="50.00 T short"):
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("50.00")
    assert Wallet.objects.get(tenant=mem1.tenant).balance == 0
    assert not LedgerEntry.objects.exclude(kind="top_up").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_click_paid_elsewhere_meanwhile_answers_its_result(buyer, mem1, place, fund):
    """Another request with the same key pays the order after this one read it: this one
    charges nothing and answers the first result."""
    fund(buyer, "5.00")
    order = place(buyer, mem1)
    other = []

    def pay_elsewhere():
        if not other:
            other.append(
                in_another_connection(
                    lambda: services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
                )
            )

    payment, _statements = payment_statements(
        lambda: services.pay_order(actor=buyer.owner, order=order, idempotency_key="k"),
        before_settling=pay_elsewhere,
    )
    first = other[0]
    assert isinstance(first, services.Payment) and not first.replayed
    assert payment.replayed and payment.result == first.result
    assert LedgerEntry.objects.filter(order=order, kind="payment").count() == 1
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("4.00")
    assert_books_balance()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_order_cancelled_after_the_read_is_not_charged(buyer, mem1, place, fund):
    fund(buyer, "5.00")
    order = place(buyer, mem1)
    cancelled = []

    def cancel_elsewhere():
        if not cancelled:
            cancelled.append(
                in_another_connection(
                    lambda: services.cancel_order(actor=buyer.owner, order=order, reason="no")
                )
            )

    with pytest.raises(ValidationError) as refused:
        payment_statements(
            lambda: services.pay_order(actor=buyer.owner, order=order, idempotency_key="k"),
            before_settling=cancel_elsewhere,
        )
    assert "status" in refused.value.message_dict
    assert cancelled[0].status == "cancelled"
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("5.00")
    assert not LedgerEntry.objects.exclude(kind="top_up").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_wallet_already_short_is_refused_without_waiting_for_its_lock(buyer, mem1, place, fund):
    """Every payment from the wallet holds its lock in turn: a click that cannot be paid
    answers from the read instead of queueing behind them."""
    fund(buyer, "0.50")
    order = place(buyer, mem1)
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record), pytest.raises(ValidationError) as refused:
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
    assert "0.50 T short" in refused.value.message_dict["wallet"][0]
    assert len(statements) <= 2, statements
    assert not any("FOR UPDATE" in sql for sql in statements), "it waited for the wallet"
    assert Order.objects.get(pk=order.pk).status == "pending_payment"
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("0.50")

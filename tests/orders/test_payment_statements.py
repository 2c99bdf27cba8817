"""What a payment costs the database: its statements run while the buyer's wallet is
locked, so every one of them is waited for by every other payment from that wallet."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from accounts.models import Tenant
from orders import services
from orders.models import LedgerEntry, Wallet

from .fixtures import plan_named

MAX_STATEMENTS = 6


def in_transaction(call):
    """(call's result, the SQL it ran inside its first transaction: not what the
    `order_paid` receivers do on commit, in transactions of their own)."""
    statements = []
    first = []

    def record(execute, sql, params, many, context):
        if connection.in_atomic_block:
            first[:] = first or connection.atomic_blocks[:1]
            if connection.atomic_blocks[0] is first[0]:
                statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        result = call()
    return result, statements


def assert_books_balance():
    for wallet in Wallet.objects.all():
        total = wallet.entries.aggregate(t=Sum("amount"))["t"] or Decimal("0")
        assert wallet.balance == total >= 0, wallet


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_runs_at_most_six_statements(buyer, mem1, place, fund):
    fund(buyer, "5.00")
    order = place(buyer, mem1)
    payment, statements = in_transaction(
        lambda: services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
    )
    assert payment.order.status == "paid" and not payment.replayed
    assert len(statements) <= MAX_STATEMENTS, "\n\n".join(statements)
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("4.00")
    assert Wallet.objects.get(tenant=mem1.tenant).balance == Decimal("1.00")
    assert payment.result["balance_after"] == "4.00"
    assert_books_balance()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_with_a_commission_runs_at_most_six_statements(
    buyer, mem1, place, fund, settings
):
    settings.PLATFORM_COMMISSION_RATE = "0.05"
    fund(buyer, "300.00")
    plan = plan_named(mem1, "100¥/年")
    first, second = place(buyer, mem1, plan), place(buyer, mem1, plan)
    services.pay_order(actor=buyer.owner, order=first, idempotency_key="one")  # opens the
    payment, statements = in_transaction(  # platform's wallet: its first commission
        lambda: services.pay_order(actor=buyer.owner, order=second, idempotency_key="two")
    )
    assert payment.order.status == "paid"
    assert len(statements) <= MAX_STATEMENTS, "\n\n".join(statements)
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

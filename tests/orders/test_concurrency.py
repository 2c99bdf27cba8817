"""Races on PostgreSQL: concurrent payments from one wallet, double clicks, retries.

Each thread has its own connection and transaction, as concurrent requests would.
"""

import contextlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Sum

from orders import services
from orders.models import LedgerEntry, Order, Wallet

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(calls, *, workers=12):
    """Start all calls at once (a barrier per batch); returns their results or exceptions."""
    barrier = threading.Barrier(min(workers, len(calls)))

    def run(call):
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            return call()
        except Exception as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, calls))


def assert_books_balance():
    for wallet in Wallet.objects.all():
        total = wallet.entries.aggregate(t=Sum("amount"))["t"] or Decimal("0")
        assert wallet.balance == total >= 0
    assert not LedgerEntry.objects.filter(balance_after__lt=0).exists()
    payments = LedgerEntry.objects.exclude(kind="top_up")
    for transfer in payments.values_list("transfer", flat=True).distinct():
        assert payments.filter(transfer=transfer).aggregate(t=Sum("amount"))["t"] == 0


def test_concurrent_payments_never_overdraw_nor_charge_twice(buyer, mem1, place, fund):
    fund(buyer, "15.00")
    orders = [place(buyer, mem1) for _ in range(20)]  # 1.00 T each; the wallet pays 15
    calls = []
    for order in orders:
        for key in (f"{order.code}-a", f"{order.code}-a", f"{order.code}-b"):
            calls.append(
                lambda order=order, key=key: services.pay_order(
                    actor=buyer.owner, order=order, idempotency_key=key
                )
            )
    outcomes = run_concurrently(calls)

    unexpected = [o for o in outcomes if not isinstance(o, (services.Payment, ValidationError))]
    assert unexpected == []
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert statuses == {"paid": 15, "pending_payment": 5}
    assert Wallet.objects.get(tenant=buyer).balance == 0
    assert Wallet.objects.get(tenant=mem1.tenant).balance == Decimal("15.00")
    per_order = Counter(
        LedgerEntry.objects.filter(kind="payment").values_list("order_id", flat=True)
    )
    assert set(per_order.values()) == {1} and len(per_order) == 15
    fresh = [o for o in outcomes if isinstance(o, services.Payment) and not o.replayed]
    assert len(fresh) == 15
    for payment in (o for o in outcomes if isinstance(o, services.Payment) and o.replayed):
        first = next(f for f in fresh if f.order.pk == payment.order.pk)
        assert payment.result == first.result
    short = [o for o in outcomes if isinstance(o, ValidationError) and "wallet" in o.message_dict]
    assert short and all("short" in o.message_dict["wallet"][0] for o in short)
    assert_books_balance()


def test_a_burst_of_retries_with_one_key_charges_once(buyer, mem1, place, fund):
    fund(buyer, "5.00")
    order = place(buyer, mem1)
    outcomes = run_concurrently(
        [
            lambda: services.pay_order(actor=buyer.owner, order=order, idempotency_key="retry")
            for _ in range(10)
        ]
    )
    assert all(isinstance(o, services.Payment) for o in outcomes), outcomes
    assert sum(not o.replayed for o in outcomes) == 1
    assert all(o.result == outcomes[0].result for o in outcomes)
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("4.00")
    assert_books_balance()


def test_concurrent_double_submit_of_the_buy_form_places_one_order(buyer, mem1, place, fund):
    fund(buyer, "5.00")
    plan = mem1.plans.order_by("price").first()
    outcomes = run_concurrently(
        [
            lambda: services.place_order(
                actor=buyer.owner,
                plan=plan,
                project=buyer.project,
                pay_now=True,
                idempotency_key="buy-form-token",
            )
            for _ in range(6)
        ]
    )
    assert all(isinstance(o, Order) for o in outcomes), outcomes
    assert len({o.pk for o in outcomes}) == 1 and Order.objects.count() == 1
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("4.00")
    assert_books_balance()


def test_concurrent_renewals_of_one_entitlement_each_extend_it(buyer, mem1, place, fund):
    fund(buyer, "10.00")
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    end = entitlement.ends_at
    renewals = [services.renew(actor=buyer.owner, entitlement=entitlement) for _ in range(6)]
    outcomes = run_concurrently(
        [
            lambda order=order: services.pay_order(
                actor=buyer.owner, order=order, idempotency_key=order.code
            )
            for order in renewals
        ]
    )
    assert all(isinstance(o, services.Payment) and not o.replayed for o in outcomes), outcomes
    entitlement.refresh_from_db()
    assert entitlement.ends_at == end.replace(year=end.year + 6)
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("3.00")
    assert_books_balance()

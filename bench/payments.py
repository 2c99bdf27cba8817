"""Payments benchmark: 200 concurrent pay attempts from one wallet, with duplicates.

    .venv/bin/python bench/payments.py [--orders 50] [--attempts 4] [--threads 16] [--keep]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust). Creates the database
`bench_payments` (dropped at the end unless --keep) and migrates it. One buyer tenant
places 50 orders of 1.00 T each (pending payment); its wallet is topped up with 40.00 T,
so 10 payments must be refused. Then 200 pay attempts (4 per order, shuffled: a retry
and a double click with the same Idempotency-Key, and one from "another tab" with its
own key) run on 16 threads, each with its own connection and transaction, through
`orders.services.pay_order` — the function the screen and the API call.

`order_paid` receivers (the provisioning app's installer) are disconnected: the figure
is the payment path alone. Prints payments/s and attempts/s, then proves: the ledger
balances (every wallet's balance equals the sum of its entries, every payment's entries
sum to zero), no order was charged twice, and no balance ever went below zero.
"""

import argparse
import os
import random
import sys
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_payments"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
os.environ["TEST_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ["TEST_CELERY_EAGER"] = "0"
os.environ.setdefault("LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed here


def recreate_database():
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database():
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def setup_market(orders, price, credit):
    """A provider with one asset on sale, a buyer with `orders` unpaid orders, a wallet."""
    from django.utils import timezone

    from accounts.models import Membership, Project, Tenant, User
    from accounts.services import grant_platform_admin
    from assets.models import Asset, AssetVersion, Category, Plan
    from clusters.models import CatalogSource, Cluster
    from orders import services

    admin = User.objects.create_user("bench-admin", password="x")
    grant_platform_admin(user=admin)
    admin = User.objects.get(pk=admin.pk)
    seller = Tenant.objects.create(name="seller", slug="seller", is_provider=True)
    buyer = Tenant.objects.create(name="buyer", slug="buyer")
    buyer_user = User.objects.create_user("bench-buyer", password="x")
    seller_user = User.objects.create_user("bench-seller", password="x")
    Membership.objects.create(user=buyer_user, tenant=buyer, role="owner")
    Membership.objects.create(user=seller_user, tenant=seller, role="owner")
    seller_project = Project.objects.create(tenant=seller, name="one", namespace="bench-one")
    project = Project.objects.create(tenant=buyer, name="app", namespace="bench-app")
    cluster = Cluster.objects.create(
        name="bench", api_url="https://bench.invalid", auth_method="token",
        credentials={"token": "t"}, is_default=True,
    )  # fmt: skip
    catalog = CatalogSource.objects.create(
        cluster=cluster, tenant=seller, name="reg", namespace="olm", display_name="reg",
        image="registry.invalid/catalog:v1", state="ready",
    )  # fmt: skip
    asset = Asset.objects.create(
        tenant=seller, category=Category.objects.first(), name="mem1", summary="memcached",
        description="bench", icon="assets/bench/icon.png",
    )  # fmt: skip
    plan = Plan.objects.create(asset=asset, name="1T", price=price, duration_value=1)
    AssetVersion.objects.create(
        asset=asset, project=seller_project, cluster=cluster, catalog_source=catalog,
        package_name="memcached-operator", channels=["stable"], default_channel="stable",
        version="0.0.2", csv_name="memcached-operator.v0.0.2", status="on_sale",
        listed_at=timezone.now(),
    )  # fmt: skip
    placed = [
        services.place_order(actor=buyer_user, plan=plan, project=project) for _ in range(orders)
    ]
    services.top_up_wallet(actor=admin, tenant=buyer, amount=credit, reason="bench credit")
    return buyer, buyer_user, seller, placed


def attempts_for(orders, per_order, rng):
    """Per order: a first click, its retry and a double click (one key), then a stray tab."""
    calls = []
    for order in orders:
        for n in range(per_order):
            key = f"{order.code}-{'tab' if n == per_order - 1 and per_order > 2 else 'click'}"
            calls.append((order, key))
    rng.shuffle(calls)
    return calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--attempts", type=int, default=4, help="pay attempts per order")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    recreate_database()
    import django

    django.setup()
    from django.core.exceptions import ValidationError
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Min, Sum

    from orders import services
    from orders.models import LedgerEntry, Order, Wallet
    from orders.signals import order_paid

    price, credit = Decimal("1.00"), Decimal("40.00")
    print(f"PostgreSQL database {DB_NAME}: migrating…", flush=True)
    call_command("migrate", verbosity=0)
    try:
        with order_paid.lock:  # the payment path alone, without the installer
            order_paid.receivers.clear()
            order_paid.sender_receivers_cache.clear()
        buyer, buyer_user, seller, orders = setup_market(args.orders, price, credit)
        calls = attempts_for(orders, args.attempts, random.Random(6))
        go = threading.Event()

        def attempt(call):
            order, key = call
            go.wait()  # every thread starts at once
            try:
                return services.pay_order(actor=buyer_user, order=order, idempotency_key=key)
            except ValidationError as exc:
                return exc

        print(
            f"{len(orders)} orders of {price} T, wallet {credit} T; {len(calls)} pay attempts "
            f"on {args.threads} threads…",
            flush=True,
        )
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            futures = [pool.submit(attempt, call) for call in calls]
            time.sleep(0.2)  # let the threads start and block on the event
            started = time.perf_counter()
            go.set()
            outcomes = [future.result() for future in futures]
            elapsed = time.perf_counter() - started
            # Each worker thread keeps its connection (as a web worker would); close them.
            pool.map(lambda _n: connections.close_all(), range(args.threads * 4))

        fresh = [o for o in outcomes if isinstance(o, services.Payment) and not o.replayed]
        replays = [o for o in outcomes if isinstance(o, services.Payment) and o.replayed]
        refusals = Counter(
            next(iter(o.message_dict)) for o in outcomes if isinstance(o, ValidationError)
        )
        others = [o for o in outcomes if not isinstance(o, (services.Payment, ValidationError))]
        print(f"\n{elapsed:.2f} s: {len(fresh) / elapsed:.1f} payments/s, "
              f"{len(calls) / elapsed:.1f} attempts/s")  # fmt: skip
        print(f"  charged: {len(fresh)}; replayed (same key, first result): {len(replays)}; "
              f"refused: {dict(refusals)}; unexpected: {len(others)}")  # fmt: skip

        checks = []
        wallets = list(Wallet.objects.all())
        for wallet in wallets:
            total = wallet.entries.aggregate(t=Sum("amount"))["t"] or Decimal("0")
            checks.append(
                (f"wallet {wallet} = sum of its entries ({total})", wallet.balance == total)
            )
        payments = LedgerEntry.objects.exclude(kind="top_up")
        unbalanced = [
            t
            for t in payments.values_list("transfer", flat=True).distinct()
            if payments.filter(transfer=t).aggregate(s=Sum("amount"))["s"] != 0
        ]
        checks.append(("every payment's entries sum to zero", not unbalanced))
        debits = Counter(
            LedgerEntry.objects.filter(kind="payment").values_list("order_id", flat=True)
        )
        paid = set(Order.objects.filter(status="paid").values_list("pk", flat=True))
        checks.append(("no order charged twice", all(n == 1 for n in debits.values())))
        checks.append(("every paid order charged exactly once", set(debits) == paid))
        checks.append((f"paid orders = credit / price = {int(credit / price)}",
                       len(paid) == int(credit / price) == len(fresh)))  # fmt: skip
        for replay in replays:
            first = next(f for f in fresh if f.order.pk == replay.order.pk)
            if replay.result != first.result:
                checks.append((f"replay of {replay.order.code} equals its first result", False))
        lowest = LedgerEntry.objects.aggregate(low=Min("balance_after"))["low"]
        checks.append((f"no balance ever below zero (lowest balance after: {lowest})", lowest >= 0))
        checks.append(("no unexpected error", not others))
        buyer_wallet = Wallet.objects.get(tenant=buyer)
        seller_wallet = Wallet.objects.get(tenant=seller)
        print(f"  buyer wallet {buyer_wallet.balance} T, seller wallet {seller_wallet.balance} T\n")
        for label, ok in checks:
            print(f"  [{'ok' if ok else 'FAIL'}] {label}")
        if not all(ok for _label, ok in checks):
            sys.exit(1)
    finally:
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()

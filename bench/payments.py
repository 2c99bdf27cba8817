"""Payments benchmark: concurrent pay attempts from one wallet, with duplicates, against
pgbench's one-hot-row transaction on the same PostgreSQL in the same run.

    .venv/bin/python bench/payments.py [--orders 1000] [--attempts 4] [--procs 4]
        [--threads 10] [--pgbench-seconds 10] [--keep]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Debian's `pgbench`
(package postgresql-client: `apt-get install postgresql-client`). Creates the database
`bench_payments` (or $BENCH_PAYMENTS_DB; dropped at the end unless --keep) and migrates it.

The product: one buyer tenant has `--orders` orders of 1.00 T each, pending payment; its
wallet holds 80 % of their total, so a fifth of them must be refused. Every order gets
`--attempts` pay attempts (shuffled: the first click, its retry and a double click with the
same Idempotency-Key, and one from "another tab" with its own key). They run on
`--procs` processes × `--threads` threads, each thread with its own connection (40
clients by default, as 4 gthread web workers of 10 threads: two processes per core on this
2-core machine; more processes only add runnable work that competes for the two cores with
the database backend holding the wallet's lock: 8 × 5 and 40 × 1 measured a little
slower), through
`orders.services.pay_order` — the function the screen and the API call. `order_paid`
receivers (the provisioning app's installer) are disconnected: the figure is the
payment path alone. A connection `execute_wrapper` counts the SQL statements each
payment runs (all of them: the membership guard, the read, the settling) and times from
the last one's end to the return, the commit included: the hot wallet stays locked until
the commit.

The reference: pgbench with the same number of clients runs, for `--pgbench-seconds`,
the transaction a payment cannot do without — lock one wallet row (SELECT … FOR UPDATE),
UPDATE its balance, INSERT a ledger row — on tables of the bench database. It runs
before and after the product (interleaved); the mean of the two is the reference.

Prints payments/s, attempts/s, pgbench TPS, the ratio and statements per payment, then
proves: the ledger balances (every wallet's balance equals the sum of its entries, every
payment's entries sum to zero), no order was charged twice, a replay answers the first
result, and no balance ever went below zero.
"""

import argparse
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from decimal import Decimal
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/http.py would hide
# the standard library's `http`: take the folder out, put the project root in.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_PAYMENTS_DB", "bench_payments")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
os.environ["TEST_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ["TEST_CELERY_EAGER"] = "0"
os.environ.setdefault("LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed here

# The reference transaction, as a payment must at least do it: lock, update, insert.
PGBENCH_SETUP = """
DROP TABLE IF EXISTS ref_ledger, ref_wallet;
CREATE TABLE ref_wallet (id int PRIMARY KEY, balance numeric(12, 2) NOT NULL CHECK (balance >= 0));
CREATE TABLE ref_ledger (
    id bigserial PRIMARY KEY, wallet_id int NOT NULL REFERENCES ref_wallet,
    amount numeric(12, 2) NOT NULL, balance_after numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ref_wallet VALUES (1, 9000000000.00);
"""
PGBENCH_SCRIPT = """BEGIN;
SELECT balance FROM ref_wallet WHERE id = 1 FOR UPDATE;
UPDATE ref_wallet SET balance = balance - 0.01 WHERE id = 1;
INSERT INTO ref_ledger (wallet_id, amount, balance_after) VALUES (1, -0.01, 0);
END;
"""


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


def run_pgbench(*, clients, seconds):
    """pgbench's TPS (without connection time) for the one-hot-row transaction."""
    import psycopg

    with psycopg.connect(BENCH_URL, autocommit=True) as conn:
        conn.execute(PGBENCH_SETUP)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    try:
        out = subprocess.run(
            ["pgbench", "-n", "-h", "127.0.0.1", "-U", "postgres", "-c", str(clients),
             "-j", "2", "-T", str(seconds), "-f", script.name, DB_NAME],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if match is None:
        raise RuntimeError(f"no TPS in pgbench's output:\n{out}")
    return float(match.group(1))


def setup_market(orders, price, credit):
    """A provider with one asset on sale, a buyer with `orders` unpaid orders, a wallet."""
    from django.utils import timezone

    from accounts.models import Membership, Project, Tenant, User
    from accounts.services import grant_platform_admin
    from assets.models import Asset, AssetVersion, Category, Plan
    from clusters.models import CatalogSource, Cluster
    from orders import services
    from orders.models import Order, generate_order_code

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
    # One order through the service; the rest are its copies (placing is not measured).
    first = services.place_order(actor=buyer_user, plan=plan, project=project)
    fields = {
        f.attname: getattr(first, f.attname)
        for f in Order._meta.concrete_fields
        if f.attname not in ("id", "code")
    }
    Order.objects.bulk_create(
        [Order(code=generate_order_code(), **fields) for _ in range(orders - 1)], batch_size=1000
    )
    services.top_up_wallet(actor=admin, tenant=buyer, amount=credit, reason="bench credit")
    return buyer, buyer_user, seller


def attempts_for(order_ids, per_order, rng):
    """Per order: a first click, its retry and a double click (one key), then a stray tab."""
    calls = []
    for order_id in order_ids:
        for n in range(per_order):
            key = f"{order_id}-{'tab' if n == per_order - 1 and per_order > 2 else 'click'}"
            calls.append((order_id, key))
    rng.shuffle(calls)
    return calls


def client_process(calls, user_id, threads, ready, go, results):
    """One worker process: `threads` clients, each with its own connection, paying."""
    import django

    django.setup()
    from django.contrib.contenttypes.models import ContentType
    from django.core.exceptions import ValidationError
    from django.db import connection, connections

    from accounts.models import User
    from orders import services
    from orders.models import Order
    from orders.signals import order_paid

    with order_paid.lock:  # the payment path alone, without the installer
        order_paid.receivers.clear()
        order_paid.sender_receivers_cache.clear()
    user = User.objects.get(pk=user_id)
    ContentType.objects.get_for_model(Order)  # a warm cache, as in a running web worker
    orders = Order.objects.select_related("buyer", "seller", "asset").in_bulk(
        {order_id for order_id, _key in calls}
    )
    connections.close_all()
    outcomes = []
    started = threading.Barrier(threads + 1)

    def client(mine):
        connection.ensure_connection()
        started.wait()
        go.wait()
        for order_id, key in mine:
            statements, began, last = 0, 0.0, 0.0

            def count(execute, sql, params, many, context):
                nonlocal statements, began, last
                statements += 1
                began = began or time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    last = time.perf_counter()

            with connection.execute_wrapper(count):
                try:
                    payment = services.pay_order(
                        actor=user, order=orders[order_id], idempotency_key=key
                    )
                except ValidationError as exc:
                    outcomes.append(("refused", order_id, next(iter(exc.message_dict)), 0))
                    continue
                except Exception as exc:  # reported as unexpected
                    outcomes.append(("unexpected", order_id, repr(exc), 0))
                    continue
            kind = "replay" if payment.replayed else "fresh"
            done = time.perf_counter()
            outcomes.append((kind, order_id, payment.result, statements, done - began, done - last))
        connections.close_all()

    workers = [threading.Thread(target=client, args=(calls[n::threads],)) for n in range(threads)]
    for worker in workers:
        worker.start()
    started.wait()
    ready.release()
    for worker in workers:
        worker.join()
    results.put((time.time(), outcomes))


def run_product(calls, *, user_id, procs, threads):
    """(elapsed seconds, outcomes) of every call, on procs × threads clients."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(
            target=client_process, args=(calls[n::procs], user_id, threads, ready, go, results)
        )
        for n in range(procs)
    ]
    for worker in workers:
        worker.start()
    for _worker in workers:
        ready.acquire()
    started = time.time()
    go.set()
    ends, outcomes = [], []
    for _worker in workers:
        end, part = results.get()
        ends.append(end)
        outcomes.extend(part)
    for worker in workers:
        worker.join()
    return max(ends) - started, outcomes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--attempts", type=int, default=4, help="pay attempts per order")
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--threads", type=int, default=10, help="client threads per process")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    clients = args.procs * args.threads

    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Min, Sum

    from orders.models import LedgerEntry, Order, Wallet

    price = Decimal("1.00")
    payable = args.orders * 4 // 5
    credit = price * payable
    print(f"PostgreSQL database {DB_NAME}: migrating…", flush=True)
    call_command("migrate", verbosity=0)
    try:
        buyer, buyer_user, seller = setup_market(args.orders, price, credit)
        order_ids = list(Order.objects.values_list("pk", flat=True))
        calls = attempts_for(order_ids, args.attempts, random.Random(6))
        connections.close_all()

        print(f"pgbench reference, {clients} clients, {args.pgbench_seconds} s…", flush=True)
        tps_before = run_pgbench(clients=clients, seconds=args.pgbench_seconds)
        print(
            f"{len(order_ids)} orders of {price} T, wallet {credit} T; {len(calls)} pay "
            f"attempts on {args.procs} processes × {args.threads} threads…",
            flush=True,
        )
        elapsed, outcomes = run_product(
            calls, user_id=buyer_user.pk, procs=args.procs, threads=args.threads
        )
        print("pgbench reference again…", flush=True)
        tps_after = run_pgbench(clients=clients, seconds=args.pgbench_seconds)
        tps = (tps_before + tps_after) / 2

        fresh = [o for o in outcomes if o[0] == "fresh"]
        replays = [o for o in outcomes if o[0] == "replay"]
        refusals = Counter(o[2] for o in outcomes if o[0] == "refused")
        others = [o for o in outcomes if o[0] == "unexpected"]
        statements = [o[3] for o in fresh]
        rate = len(fresh) / elapsed
        print(f"\n{elapsed:.2f} s: {rate:.1f} payments/s, {len(calls) / elapsed:.1f} attempts/s")
        print(f"  charged: {len(fresh)}; replayed (same key, first result): {len(replays)}; "
              f"refused: {dict(refusals)}; unexpected: {len(others)}")  # fmt: skip
        for other in others[:5]:
            print(f"  unexpected: {other[2]}")
        print(f"\n  {'what':<44} {'figure':>12}")
        print(f"  {'product: payments/s, ' + str(clients) + ' clients, one wallet':<44} "
              f"{rate:>12.1f}")  # fmt: skip
        print(f"  {'pgbench one hot row (lock+update+insert) TPS':<44} {tps:>12.1f}"
              f"   ({tps_before:.0f} before, {tps_after:.0f} after)")  # fmt: skip
        print(f"  {'ratio product / pgbench':<44} {rate / tps:>12.3f}   (1/{tps / rate:.1f})")
        if fresh:
            in_txn = sorted(o[4] * 1000 for o in fresh)
            print(f"  {'first statement → returned, ms (p50 / p90)':<44} "
                  f"{in_txn[len(in_txn) // 2]:>12.1f}   ({in_txn[len(in_txn) * 9 // 10]:.1f})")  # fmt: skip
            tail = sorted(o[5] * 1000 for o in fresh)
            print(f"  {'last statement done → committed, ms (p50 / p90)':<44} "
                  f"{tail[len(tail) // 2]:>12.1f}   ({tail[len(tail) * 9 // 10]:.1f})")  # fmt: skip
        if statements:
            print(f"  {'SQL statements per payment (whole call)':<44} "
                  f"{statistics.mean(statements):>12.1f}   "
                  f"(min {min(statements)}, max {max(statements)})")  # fmt: skip
        print()

        checks = []
        for wallet in Wallet.objects.all():
            total = wallet.entries.aggregate(t=Sum("amount"))["t"] or Decimal("0")
            checks.append(
                (f"wallet {wallet} = sum of its entries ({total})", wallet.balance == total)
            )
        payments = LedgerEntry.objects.exclude(kind="top_up")
        unbalanced = payments.values("transfer").annotate(s=Sum("amount")).exclude(s=0)
        checks.append(("every payment's entries sum to zero", not unbalanced.exists()))
        debits = Counter(
            LedgerEntry.objects.filter(kind="payment").values_list("order_id", flat=True)
        )
        paid = set(Order.objects.filter(status="paid").values_list("pk", flat=True))
        checks.append(("no order charged twice", all(n == 1 for n in debits.values())))
        checks.append(("every paid order charged exactly once", set(debits) == paid))
        checks.append((f"paid orders = credit / price = {payable}",
                       len(paid) == payable == len(fresh)))  # fmt: skip
        first_results = {o[1]: o[2] for o in fresh}
        mismatched = [o for o in replays if o[2] != first_results.get(o[1])]
        checks.append(("every replay answered its first result", not mismatched))
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

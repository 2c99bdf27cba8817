"""Storefront throughput under gunicorn, against a bare Django JSON view of the same rows.

    .venv/bin/python bench/http.py [--assets 50000] [--workers 2] [--clients 8] [--seconds 10]

Builds the bench database as bench/storefront.py does (`--db`, default
`bench_storefront_http`, dropped at the end unless --keep), starts gunicorn (sync workers;
2 by default on this 2-core machine, say --workers 4 elsewhere) on bench.wsgi, signs a
buyer in, and drives it with a bounded Python load generator (threads, one keep-alive
http.client connection each; wrk is not needed) for the same time against, in turn and
twice interleaved: GET /api/v1/storefront/, the HTML storefront /market/, and the
reference /bench/bare/json/ (one `.values()` of the same 20 rows in a JsonResponse,
behind the same middleware; bench/reference.py). Prints req/s of each, the reference and
the ratio (target: >= 50% of the reference).
"""

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# standard library's `http`: take the folder out, put the project root in.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import http.client  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import bench.storefront as shelf  # noqa: E402


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load(port, path, cookie, clients, seconds):
    """req/s of `clients` threads, each on its own keep-alive connection, for `seconds`."""
    done, errors = [0] * clients, [0] * clients
    deadline = time.perf_counter() + seconds

    def worker(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            try:
                conn.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    done[index] += 1
                else:
                    errors[index] += 1
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return sum(done) / elapsed, sum(errors)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--db", default="bench_storefront_http")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    shelf.DB_NAME = args.db
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["TEST_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.db}"
    shelf.recreate_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    server = None
    try:
        world = shelf.World()
        shelf.add_assets(world, 0, args.assets, random.Random(6))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        client = Client()
        client.force_login(world.buyer_user)
        cookie = (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
        connection.close()
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "bench.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", str(args.workers), "--keep-alive", "30", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        targets = {
            "GET /api/v1/storefront/": "/api/v1/storefront/",
            "GET /market/ (HTML)": "/market/",
            "reference: bare JSON view": "/bench/bare/json/?n=20",
        }
        for path in targets.values():  # warm every worker
            load(port, path, cookie, args.clients, 2)
        rates = {name: [] for name in targets}
        for _round in range(2):
            for name, path in targets.items():
                rate, errors = load(port, path, cookie, args.clients, args.seconds / 2)
                if errors:
                    print(f"  {name}: {errors} failed requests")
                rates[name].append(rate)
        reference = sum(rates["reference: bare JSON view"]) / 2
        print(
            f"\ngunicorn {args.workers} sync workers, {args.clients} keep-alive clients, "
            f"{args.assets} on-sale assets, {args.seconds:.0f} s per target (2 interleaved rounds)"
        )
        print(f"  {'target':30} {'req/s':>8} {'reference':>10} {'ratio':>7}")
        failed = False
        for name in targets:
            rate = sum(rates[name]) / 2
            ratio = rate / reference
            failed |= ratio < 0.5 and not name.startswith("reference")
            print(f"  {name:30} {rate:8.1f} {reference:10.1f} {ratio:6.0%}")
        print("  target: product >= 50% of the reference")
        if failed:
            sys.exit(1)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep:
            shelf.drop_database()


if __name__ == "__main__":
    main()

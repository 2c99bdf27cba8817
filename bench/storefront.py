"""Storefront (云市场) benchmark: page cost at two catalogue sizes, against the limit.

    .venv/bin/python bench/storefront.py [--sizes 1000 50000] [--repeat 15] [--db PREFIX] [--keep]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust). Creates one database per size
(`PREFIX_SIZE`, default prefix `bench_storefront`; dropped at the end unless --keep),
migrates each and fills it with bulk_create: on-sale assets with 3 plans each across the
price bands, categories and 20 provider tenants (their stored `min_price` / `listed_at`
set as the services would), and a buyer tenant holding every 10th. Requests go through
Django's test Client (the whole stack) with bench.settings (the test settings, DEBUG off,
plus the reference views of bench/reference.py), signed in as the buyer.

It measures every filter and sort: page 1 and the deepest page (the last one, reached by
its cursor when the count is capped) of the HTML storefront and of GET
/api/v1/storefront/, and an asset's page; each against its reference: the same rows
through the same middleware, read with one `.values()` and rendered with a bare template
(HTML) or a bare JsonResponse (API). The sizes and the references are interleaved
request by request (each size has its own connection), so a change in the machine's load
falls on all of them alike. It prints the SQL queries per page (equal at both sizes, at
most 10), then medians with the reference and the ratio, and last the growth (largest
size / smallest size, target <= 1.5) and product / reference (target HTML <= 3, API <= 2).
"""

import argparse
import math
import os
import random
import statistics
import sys
import time
import warnings
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/http.py would hide
# the standard library's `http`: take the folder out, put the project root in.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_DB", "bench_storefront")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

os.environ.setdefault("LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed here

WORDS = [
    "cache", "memcached", "redis", "queue", "stream", "database", "search", "metrics",
    "gateway", "backup", "mesh", "logging", "graph", "vault", "registry", "scheduler",
]  # fmt: skip
ZH_WORDS = ["高性能缓存", "分布式数据库", "消息队列", "监控告警", "服务网关"]
# The cheapest plan of each asset lands in one of the seed's price bands.
BAND_BASES = [Decimal("0"), Decimal("9.90"), Decimal("199"), Decimal("1999"), Decimal("12000")]


def recreate_database(name=None):
    import psycopg

    name = name or DB_NAME
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def drop_database(name=None):
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name or DB_NAME} WITH (FORCE)")


class World:
    """The fixed part: providers, their projects and catalogs, a cluster, the buyer."""

    def __init__(self):
        from accounts.models import Membership, Project, Tenant, User
        from assets.models import Category
        from clusters.models import CatalogSource, Cluster

        self.categories = list(Category.objects.order_by("position"))
        self.cluster = Cluster.objects.create(
            name="bench",
            api_url="https://bench.invalid",
            auth_method="token",
            credentials={"token": "t"},
            is_default=True,
            is_sandbox=True,
        )
        self.providers = Tenant.objects.bulk_create(
            [
                Tenant(name=f"provider-{i:02}", slug=f"provider-{i:02}", is_provider=True,
                       is_certified=i % 3 == 0)
                for i in range(20)
            ]
        )  # fmt: skip
        owner = User.objects.create_user("bench-provider", password="x")
        Membership.objects.bulk_create(
            [Membership(user=owner, tenant=t, role="owner") for t in self.providers]
        )
        self.projects = Project.objects.bulk_create(
            [Project(tenant=t, name="p", namespace=f"bench-{t.slug}") for t in self.providers]
        )
        self.catalogs = CatalogSource.objects.bulk_create(
            [
                CatalogSource(
                    cluster=self.cluster, tenant=t, name=f"reg-{t.slug}", namespace="olm",
                    display_name="registry", image="registry.invalid/catalog:v1", state="ready",
                )
                for t in self.providers
            ]
        )  # fmt: skip
        self.buyer_user = User.objects.create_user("bench-buyer", password="x")
        self.buyer = Tenant.objects.create(name="buyer", slug="buyer")
        Membership.objects.create(user=self.buyer_user, tenant=self.buyer, role="owner")
        Project.objects.create(tenant=self.buyer, name="app", namespace="bench-buyer-app")


def add_assets(world, start, count, rng):
    """`count` on-sale assets with 3 plans each, in bulk (a few statements per 2,000)."""
    from django.utils import timezone

    from assets.models import Asset, AssetVersion, Plan
    from orders.models import Entitlement

    now = timezone.now()
    batch = 2000
    for offset in range(start, start + count, batch):
        size = min(batch, start + count - offset)
        assets = []
        for i in range(offset, offset + size):
            provider = world.providers[i % len(world.providers)]
            word = WORDS[i % len(WORDS)]
            zh = ZH_WORDS[i % len(ZH_WORDS)]
            assets.append(
                Asset(
                    tenant=provider,
                    category=world.categories[i % len(world.categories)],
                    name=f"{word}-operator-{i}",
                    summary=f"{word} {WORDS[(i * 7) % len(WORDS)]} cluster · {zh}",
                    description=f"# {word}\n\nBenchmark asset {i}.",
                    icon="assets/bench/icon.png",
                    view_count=rng.randint(0, 5000),
                    # What assets.shelf keeps: the cheapest plan (base below) and listing.
                    min_price=BAND_BASES[i % len(BAND_BASES)],
                    listed_at=now - timedelta(minutes=i),
                )
            )
        assets = Asset.objects.bulk_create(assets)
        plans, versions = [], []
        for index, asset in enumerate(assets):
            i = offset + index
            base = BAND_BASES[i % len(BAND_BASES)]
            for position, price in enumerate((base, base * 2 + 1, base * 5 + 3)):
                plans.append(
                    Plan(asset=asset, name=f"plan-{position}", price=price, position=position,
                         duration_value=1, duration_unit="year")
                )  # fmt: skip
            provider_index = i % len(world.providers)
            versions.append(
                AssetVersion(
                    asset=asset,
                    project=world.projects[provider_index],
                    cluster=world.cluster,
                    catalog_source=world.catalogs[provider_index],
                    package_name=f"{asset.name}",
                    channels=["stable", "alpha"],
                    default_channel="stable",
                    version="1.0.0",
                    csv_name=f"{asset.name}.v1.0.0",
                    status=AssetVersion.Status.ON_SALE,
                    listed_at=now - timedelta(minutes=i),
                )
            )
        Plan.objects.bulk_create(plans)
        AssetVersion.objects.bulk_create(versions)
        # Asset.updated_at is auto_now: spread it so 更新时间 has something to sort.
        for asset in assets:
            asset.updated_at = now - timedelta(seconds=rng.randint(0, 86400 * 90))
        Asset.objects.bulk_update(assets, ["updated_at"], batch_size=batch)
        # The buyer holds every 10th asset (its card says 安装).
        first_plan = {p.asset_id: p for p in reversed(plans)}
        Entitlement.objects.bulk_create(
            [
                Entitlement(buyer=world.buyer, asset=a, plan=first_plan[a.pk], starts_at=now,
                            ends_at=now + timedelta(days=365))
                for a in assets[::10]
            ]
        )  # fmt: skip


def clients(world):
    from django.test import Client
    from rest_framework.test import APIClient

    page = Client()
    page.force_login(world.buyer_user)
    api = APIClient()
    api.force_login(world.buyer_user)
    return page, api


class Site:
    """One catalogue size: its own database (and connection), world and signed-in clients.
    `use()` makes it the connection every query goes to, so the sizes can be measured
    interleaved, request by request, in the same minutes."""

    def __init__(self, size, db_name):
        from django.db import connections
        from django.db.utils import load_backend

        self.size, self.db_name = size, db_name
        settings_dict = {**connections.settings["default"], "NAME": db_name}
        backend = load_backend(settings_dict["ENGINE"])
        self.connection = backend.DatabaseWrapper(settings_dict, "default")

    def use(self):
        from django.db import connections

        connections["default"] = self.connection

    def build(self, rng):
        from django.core.management import call_command

        from assets.models import Asset

        recreate_database(self.db_name)
        self.use()
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        self.world = World()
        add_assets(self.world, 0, self.size, rng)
        with self.connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        self.page, self.api = clients(self.world)
        # The asset page: one asset in the middle of the catalogue.
        listed = Asset.objects.filter(listed_at__isnull=False).order_by("-listed_at", "-id")
        self.asset_code = listed.values_list("code", flat=True)[self.size // 2]
        print(
            f"{self.size} on-sale assets, {self.size * 3} plans in {self.db_name} "
            f"({time.perf_counter() - started:.1f} s)",
            flush=True,
        )


def count_queries(client, url, params=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, (url, params, response.status_code)
    return len(captured.captured_queries)


def _once(site, client, url, params):
    site.use()
    started = time.perf_counter()
    response = client.get(url, params)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, params, response.status_code)
    return elapsed


def timed_pairs(requests, repeat):
    """Every size's product and reference interleaved, request by request, after one
    warm-up each: {size: (median ms, median ms)}. `requests`: {size: (site, client,
    url, params, ref_url, ref_params)}."""
    times = {size: ([], []) for size in requests}
    for round_ in range(repeat + 1):
        for size, (site, client, url, params, ref_url, ref_params) in requests.items():
            product = _once(site, client, url, params)
            reference = _once(site, client, ref_url, ref_params)
            if round_:  # the first round warms up
                times[size][0].append(product)
                times[size][1].append(reference)
    return {size: (statistics.median(p), statistics.median(r)) for size, (p, r) in times.items()}


SCENARIOS = [
    ("filter: all", {}),
    ("filter: 免费 free", {"price": "free"}),
    ("filter: 1 - 98", {"price": "1-98"}),
    ("filter: 99 - 998", {"price": "99-998"}),
    ("filter: 999 - 9998", {"price": "999-9998"}),
    ("filter: 9999 以上", {"price": "9999+"}),
    ("filter: category", {"category": "database-middleware"}),
    ("keyword 'redis'", {"q": "redis"}),
    ("keyword '缓存'", {"q": "缓存"}),
    ("keyword '消息队列'", {"q": "消息队列"}),
    ("keyword 'operator-4'", {"q": "operator-4"}),
    ("keyword 'redis' + price ↓", {"q": "redis", "sort": "-price"}),
    ("sort: 价格 price ↑", {"sort": "price"}),
    ("sort: 价格 price ↓", {"sort": "-price"}),
    ("sort: 更新时间 updated", {"sort": "updated"}),
    ("sort: 浏览量 views", {"sort": "views"}),
]
DETAIL = "asset page"


def deepest(params, per_page):
    """The params of the last page, and the ids it shows (for the reference)."""
    from assets.models import Category
    from assets.storefront import selectors as market

    category = Category.objects.filter(slug=params.get("category")).first()
    sort = params.get("sort", "")
    assets = market.search_storefront(
        query=params.get("q", ""), category=category, price=params.get("price", ""), sort=sort
    )
    first = market.storefront_page(assets, sort=sort, per_page=per_page)
    if not first.count_capped:
        last = {**params, "page": str(first.num_pages)}
    else:
        total = assets.count()  # the bench may count; the product never does
        tail = list(market._ordered(assets, sort, reverse=True)[: total % per_page or per_page])
        before_tail = market._ordered(assets, sort, reverse=True)[len(tail) : len(tail) + 1][0]
        field = market.KEYSETS[sort][0]
        cursor = market._encode_cursor(before_tail, field)
        last = {**params, "after": cursor, "page": str(math.ceil(total / per_page))}
    page = market.storefront_page(
        assets, sort=sort, page=last.get("page"), after=last.get("after", ""), per_page=per_page
    )
    return (
        last,
        ",".join(str(a.pk) for a in page.items),
        ",".join(str(a.pk) for a in first.items),
        first,
    )


URL, API_URL = "/market/", "/api/v1/storefront/"
REF_HTML, REF_JSON = "/bench/bare/html/", "/bench/bare/json/"


def measure(sites, repeat):
    """{label: {size: {figure: (product ms, reference ms)}}}, the sizes interleaved."""
    results = {}
    for label, params in SCENARIOS:
        plans = {}
        for site in sites:
            site.use()
            deep, deep_ids, first_ids, first = deepest(params, 12)
            api_deep, api_deep_ids, api_first_ids, _api_first = deepest(params, 20)
            plans[site.size] = {
                "rows": f"{first.count}{'+' if first.count_capped else ''}",
                "deep page": deep.get("page", "1"),
                "html p1": (site.page, URL, params, REF_HTML, {"ids": first_ids}),
                "html deep": (site.page, URL, deep, REF_HTML, {"ids": deep_ids}),
                "api p1": (site.api, API_URL, params, REF_JSON, {"ids": api_first_ids}),
                "api deep": (site.api, API_URL, api_deep, REF_JSON, {"ids": api_deep_ids}),
            }
        by_size = {site.size: dict(plans[site.size]) for site in sites}
        for figure in FIGURES:
            timed = timed_pairs({site.size: (site, *plans[site.size][figure]) for site in sites},
                                repeat)  # fmt: skip
            for size, pair in timed.items():
                by_size[size][figure] = pair
        results[label] = by_size
        print(f"  measured {label}", flush=True)
    timed = timed_pairs(
        {
            site.size: (site, site.page, f"/market/{site.asset_code}/", {},
                        f"/bench/bare/asset/{site.asset_code}/", {})
            for site in sites
        },
        repeat,
    )  # fmt: skip
    results[DETAIL] = {
        size: {"html": pair, "rows": "1", "deep page": "1"} for size, pair in timed.items()
    }
    return results


def query_counts(site):
    site.use()
    counts = {}
    for label, params in SCENARIOS:
        deep, *_rest = deepest(params, 12)
        api_deep, *_rest = deepest(params, 20)
        counts[label] = (
            count_queries(site.page, URL, params),
            count_queries(site.page, URL, deep),
            count_queries(site.api, API_URL, params),
            count_queries(site.api, API_URL, api_deep),
        )
    site.page.get(f"/market/{site.asset_code}/")  # the view is counted once, then not
    counts[DETAIL] = (count_queries(site.page, f"/market/{site.asset_code}/"),)
    return counts


FIGURES = ["html p1", "html deep", "api p1", "api deep"]
LIMITS = {"html p1": 3.0, "html deep": 3.0, "api p1": 2.0, "api deep": 2.0, "html": 3.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 50_000])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--db", default="", help="the bench databases' prefix (dropped first)")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    args = parser.parse_args()
    prefix = args.db or DB_NAME
    sizes = sorted(args.sizes)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["TEST_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{prefix}_{sizes[0]}"

    import django

    django.setup()
    from assets.models import Category

    rng = random.Random(6)
    sites = [Site(size, f"{prefix}_{size}") for size in sizes]
    try:
        for site in sites:
            print(f"PostgreSQL database {site.db_name}: migrating and filling…", flush=True)
            site.build(rng)
        if not Category.objects.filter(slug="database-middleware").exists():
            SCENARIOS[6] = ("filter: category", {"category": sites[0].world.categories[0].slug})
        counts = {site.size: query_counts(site) for site in sites}
        results = measure(sites, args.repeat)

        small, large = sizes[0], sizes[-1]
        print("\nSQL queries per page (HTML p1 / HTML deep / API p1 / API deep; asset page)")
        print(f"  {'scenario':30} {small:>8} assets          {large:>8} assets")
        for label in [*(label for label, _params in SCENARIOS), DETAIL]:
            a, b = counts[small][label], counts[large][label]
            print(f"  {label:30} {' / '.join(map(str, a)):>20}   {' / '.join(map(str, b)):>20}")
        flat = [n for size in sizes for row in counts[size].values() for n in row]
        constant = all(counts[small][k] == counts[large][k] for k in counts[small])
        print(f"  constant: {'yes' if constant else 'NO'}; at most 10: "
              f"{'yes' if max(flat) <= 10 else 'NO'} (max {max(flat)})\n")  # fmt: skip

        print(
            f"median ms of {args.repeat}, product | reference (same rows, bare) | ratio; "
            "the sizes measured interleaved, request by request"
        )
        worst_growth, worst_limit, failures = 0.0, {}, []
        tables = [(figure, [label for label, _params in SCENARIOS]) for figure in FIGURES]
        for figure, labels in [*tables, ("html", [DETAIL])]:
            print(f"\n{figure if figure != 'html' else 'asset page (HTML)'}  (limit: product <= "
                  f"{LIMITS[figure]}x reference; growth <= 1.5x)")  # fmt: skip
            print(f"  {'scenario':30} {'rows':>6} {'page':>6}" + "".join(
                f"  {f'{size} assets: product | ref | ratio':>36}" for size in sizes
            ) + f"  {'growth':>7}")  # fmt: skip
            for label in labels:
                cells, base = "", None
                for size in sizes:
                    product, reference = results[label][size][figure]
                    ratio = product / reference
                    worst_limit[figure] = max(worst_limit.get(figure, 0), ratio)
                    if ratio > LIMITS[figure]:
                        failures.append(f"{figure} {label} at {size}: {ratio:.2f}x reference")
                    cells += f"  {product:11.2f} | {reference:7.2f} | {ratio:5.2f}x        "
                    base = base or product
                growth = results[label][large][figure][0] / base
                worst_growth = max(worst_growth, growth)
                if growth > 1.5:
                    failures.append(f"{figure} {label}: grows {growth:.2f}x")
                rows = results[label][large]["rows"]
                page = results[label][large]["deep page"] if "deep" in figure else "1"
                print(f"  {label:30} {rows:>6} {page:>6}{cells}  {growth:6.2f}x")
        print("\nsummary")
        print(f"  worst growth {small} -> {large} assets: {worst_growth:.2f}x (target <= 1.5x)")
        for figure in [*FIGURES, "html"]:
            name = figure if figure != "html" else "asset page"
            print(f"  worst {name} / reference: {worst_limit[figure]:.2f}x "
                  f"(target <= {LIMITS[figure]}x)")  # fmt: skip
        for failure in failures:
            print(f"  MISSED: {failure}")
        if failures or not constant or max(flat) > 10:
            sys.exit(1)
    finally:
        if not args.keep:
            for site in sites:
                site.connection.close()
                drop_database(site.db_name)


if __name__ == "__main__":
    main()

"""Storefront (云市场) benchmark: SQL queries per page and server time, 10 vs 10,000 assets.

    .venv/bin/python bench/storefront.py [--assets 10000] [--repeat 15] [--keep]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust). Creates the database
`bench_marketplace` (dropped at the end unless --keep), migrates it, and fills it fast
with bulk_create: on-sale assets with 3 plans each across the price bands, categories
and 20 provider tenants, and a buyer tenant holding a few of them. Requests go through
Django's test Client (the whole stack: middleware, selectors, templates / serializers)
with the test settings (DEBUG off), signed in as the buyer.

Prints:
- SQL queries for the storefront page and for the API page, with 10 assets and with
  all of them (they must be equal, and at most 10);
- median and p95 server time of page 1 and of the deepest page for each filter
  (all, each price band, a category, a keyword) and each sort (默认, 价格 ↑/↓, 更新时间,
  浏览量), for the HTML page and for GET /api/v1/storefront/.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_marketplace"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
os.environ["TEST_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ.setdefault("LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed here

WORDS = [
    "cache", "memcached", "redis", "queue", "stream", "database", "search", "metrics",
    "gateway", "backup", "mesh", "logging", "graph", "vault", "registry", "scheduler",
]  # fmt: skip
ZH_WORDS = ["高性能缓存", "分布式数据库", "消息队列", "监控告警", "服务网关"]
# The cheapest plan of each asset lands in one of the seed's price bands.
BAND_BASES = [Decimal("0"), Decimal("9.90"), Decimal("199"), Decimal("1999"), Decimal("12000")]


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


def count_queries(client, url, params=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, (url, params, response.status_code)
    return len(captured.captured_queries)


def timed(client, url, params, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
    samples.sort()
    p95 = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95


SCENARIOS = [
    ("filter: all", {}),
    ("filter: 免费 free", {"price": "free"}),
    ("filter: 1 - 98", {"price": "1-98"}),
    ("filter: 99 - 998", {"price": "99-998"}),
    ("filter: 999 - 9998", {"price": "999-9998"}),
    ("filter: 9999 以上", {"price": "9999+"}),
    ("filter: category", {"category": "database-middleware"}),
    ("filter: keyword 'redis'", {"q": "redis"}),
    ("filter: keyword '缓存'", {"q": "缓存"}),
    ("sort: 默认 default", {"sort": ""}),
    ("sort: 价格 price ↑", {"sort": "price"}),
    ("sort: 价格 price ↓", {"sort": "-price"}),
    ("sort: 更新时间 updated", {"sort": "updated"}),
    ("sort: 浏览量 views", {"sort": "views"}),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from assets.models import Asset, Category
    from assets.storefront import selectors as market

    print(f"PostgreSQL database {DB_NAME}: migrating…", flush=True)
    call_command("migrate", verbosity=0)
    rng = random.Random(6)
    try:
        world = World()
        category = Category.objects.filter(slug="database-middleware").first()
        if category is None:
            SCENARIOS[6] = ("filter: category", {"category": world.categories[0].slug})
        page_client, api_client = clients(world)
        url, api_url = "/market/", "/api/v1/storefront/"

        add_assets(world, 0, 10, rng)
        small = (count_queries(page_client, url), count_queries(api_client, api_url))
        small_filtered = (
            count_queries(page_client, url, {"q": "redis", "sort": "-price"}),
            count_queries(api_client, api_url, {"q": "redis", "sort": "-price"}),
        )
        started = time.perf_counter()
        add_assets(world, 10, args.assets - 10, rng)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        built = time.perf_counter() - started
        total = Asset.objects.count()
        print(f"{total} on-sale assets, {total * 3} plans (bulk_create: {built:.1f} s)\n")
        large = (count_queries(page_client, url), count_queries(api_client, api_url))
        large_filtered = (
            count_queries(page_client, url, {"q": "redis", "sort": "-price"}),
            count_queries(api_client, api_url, {"q": "redis", "sort": "-price"}),
        )
        print(f"SQL queries per page          10 assets   {total:6d} assets")
        print(f"  storefront page (/market/)     {small[0]:>4}        {large[0]:>4}")
        print(f"  API page (/api/v1/storefront/) {small[1]:>4}        {large[1]:>4}")
        print(
            f"  page, keyword + price sort     {small_filtered[0]:>4}        {large_filtered[0]:>4}"
        )
        print(
            f"  API, keyword + price sort      {small_filtered[1]:>4}        {large_filtered[1]:>4}"
        )
        same = small == large and small_filtered == large_filtered
        at_most_10 = max(*large, *large_filtered) <= 10
        print(
            f"  constant: {'yes' if same else 'NO'}; at most 10: {'yes' if at_most_10 else 'NO'}\n"
        )

        print(f"server time, ms (median / p95 of {args.repeat} requests)")
        header = f"  {'scenario':28} {'rows':>6}  {'page 1':>15}  {'deep page':>22}  {'API page 1':>15}  {'API deep':>22}"
        print(header)
        for label, params in SCENARIOS:
            rows = market.search_storefront(
                query=params.get("q", ""),
                category=Category.objects.filter(slug=params.get("category")).first(),
                price=params.get("price", ""),
                sort=params.get("sort", ""),
            ).count()
            deep = max(1, math.ceil(rows / market.PAGE_SIZE))
            api_deep = max(1, math.ceil(rows / 20))
            first = timed(page_client, url, params, args.repeat)
            last = timed(page_client, url, {**params, "page": deep}, args.repeat)
            api_first = timed(api_client, api_url, params, args.repeat)
            api_last = timed(api_client, api_url, {**params, "page": api_deep}, args.repeat)
            print(
                f"  {label:28} {rows:>6}  {first[0]:6.1f} / {first[1]:6.1f}  "
                f"p{deep:<5} {last[0]:6.1f} / {last[1]:6.1f}  "
                f"{api_first[0]:6.1f} / {api_first[1]:6.1f}  "
                f"p{api_deep:<5} {api_last[0]:6.1f} / {api_last[1]:6.1f}",
                flush=True,
            )
        if not (same and at_most_10):
            sys.exit(1)
    finally:
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()

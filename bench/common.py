"""What the provisioning and sync-tick benchmarks share: environment, database, the seller's
catalog and an operator version on sale on a sandbox cluster."""

import os
import socket
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

# Run as a script (`python bench/provisioning.py`), bench/ is first on sys.path and its
# http.py would hide the standard library's http (Django imports http.cookies).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]

FERNET_KEY = "oWQdFIlN0c2vE2ZxQj1V6lm7vO7yH7tWbVQ0rj0cM8Y="
TOKEN = "bench-token"
REGISTRY_IMAGE = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def environment(data_dir: Path, *, redis_db: int, db_name: str, **extra: str) -> tuple[dict, bool]:
    """Settings for a bench run (set in os.environ too) and whether PostgreSQL answers
    (else a SQLite file in `data_dir`)."""
    use_postgres = postgres_answers()
    env = {
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_DEBUG": "1",
        "DATA_DIR": str(data_dir),
        "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": (
            f"postgres://postgres@127.0.0.1:5432/{db_name}"
            if use_postgres
            else f"sqlite:///{data_dir / 'bench.sqlite3'}"
        ),
        **extra,
    }
    os.environ.update(env)
    return env, use_postgres


def _postgres(sql: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(sql)


def recreate_database(db_name: str) -> None:
    _postgres(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
    _postgres(f"CREATE DATABASE {db_name}")


def drop_database(db_name: str) -> None:
    _postgres(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def operator_on_sale(sandbox_url: str, *, step: Callable[[], None] | None = None):
    """A platform admin, a provider's tenant, the sandbox cluster registered, the provider's
    catalog deployed and READY (`step` runs the sandbox's controllers, when they are driven
    from here) and the memcached operator's version on sale. Returns (admin, provider,
    cluster, version)."""
    from accounts import services as accounts
    from accounts.models import User
    from assets import services as assets
    from assets.demo import demo_icon
    from assets.lifecycle import transition_version
    from assets.models import Category
    from clusters import services as clusters
    from clusters import tasks as cluster_tasks
    from clusters.models import CatalogSource, Cluster

    admin = User.objects.create_user("bench-admin", password="x")
    accounts.grant_platform_admin(user=admin)
    admin = User.objects.get(pk=admin.pk)
    provider = User.objects.create_user("bench-provider", password="x")
    seller = accounts.create_tenant(name="bench-seller", owner=provider, is_provider=True)
    cluster = clusters.register_cluster(
        actor=admin,
        name="sandbox",
        auth_method=Cluster.AuthMethod.TOKEN,
        api_url=sandbox_url,
        token=TOKEN,
        is_default=True,
        is_sandbox=True,
    )
    catalog = clusters.submit_catalog_source(
        actor=provider,
        tenant=seller,
        cluster=cluster,
        name="mem-registry",
        display_name="mem-01",
        image=REGISTRY_IMAGE,
    )
    cluster_tasks.deploy_catalog_source.apply(args=[catalog.pk])  # no worker yet
    deadline = time.monotonic() + 60
    while not (catalog.state == CatalogSource.State.READY and catalog.packages.exists()):
        if time.monotonic() > deadline:
            raise SystemExit(f"catalog never became READY: {catalog.state} {catalog.message}")
        if step is not None:
            step()
        cluster_tasks.sync_cluster_catalogs(cluster.pk)  # inline: no worker yet
        time.sleep(0.1)
        catalog.refresh_from_db()
    category, _ = Category.objects.get_or_create(
        slug="basic-apps", defaults={"name_en": "Basic applications", "name_zh": "基础应用"}
    )
    asset = assets.register_asset(
        actor=provider,
        tenant=seller,
        icon=demo_icon(),
        delivery_type="operator",
        category=category,
        name="mem1",
        summary="memcached cluster",
        description="Memcached",
        plans=[
            {"name": "year", "price": Decimal("1.00"), "duration_value": 1, "duration_unit": "year"}
        ],
    )
    version = assets.create_version(
        actor=provider,
        asset=asset,
        project=accounts.create_project(actor=provider, tenant=seller, name="one", namespace="one"),
        cluster=cluster,
        catalog_source=catalog,
        package_name="memcached-cluster-operator",
        channels=["stable"],
        default_channel="stable",
    )
    transition_version(version=version, to="listing_review", actor=provider)
    transition_version(version=version, to="on_sale", actor=admin)
    return admin, provider, cluster, version

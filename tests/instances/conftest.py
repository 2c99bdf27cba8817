"""Fixtures for operand instances: an installed memcached operator and a real memcached."""

import os
import shutil
import socket
import subprocess
import time

import pytest

from instances import services as instance_services
from instances import tasks as instance_tasks
from instances.memcached import manifest as build_manifest
from provisioning import services, tasks
from tests.conftest import free_port, wait_until
from tests.provisioning.conftest import buyer, list_operator, on_sale_version  # noqa: F401 - fixtures

MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"


def spec(**overrides):
    base = {
        "replicas": 2,
        "version": "v1.5",
        "setup": "sharded",
        "resources": {
            "requests": {"cpu": "1", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
    }
    base.update(overrides)
    return base


def cr(name="mem1", namespace="my-mem", **overrides):
    """A MemcachedCluster as a user would write it (the platform fills the namespace)."""
    return build_manifest(name=name, namespace=namespace, spec=spec(**overrides))


def drop_namespace(cluster, namespace):
    """The sandbox lives for the whole session: dropping a test's namespace keeps its
    controllers from reconciling every earlier test's clusters (and later tests fast)."""
    from clusters import kube

    kube.gateway_for(cluster).delete("v1", "Namespace", namespace)


@pytest.fixture
def clean_namespace(buyer, sandbox_cluster):  # noqa: F811
    """For tests that create objects in the buyer's namespace without `installed`."""
    yield buyer.project.namespace
    drop_namespace(sandbox_cluster, buyer.project.namespace)


@pytest.fixture
def installed(buyer, on_sale_version, sandbox_cluster, django_capture_on_commit_callbacks):  # noqa: F811
    """mem1's operator installed (Automatic) into the buyer's project on the sandbox."""
    with django_capture_on_commit_callbacks(execute=True):
        installation = services.request_installation(
            actor=buyer.owner,
            tenant=buyer,
            project=buyer.project,
            cluster=sandbox_cluster,
            version=on_sale_version,
        )

    def done():
        tasks.sync_cluster(sandbox_cluster.pk, force=True)
        installation.refresh_from_db()
        return installation.status == "installed"

    wait_until(done, timeout=20, message="the operator to be installed")
    yield installation
    drop_namespace(sandbox_cluster, installation.namespace)


def follow(instance, until, timeout=20):
    """Runs the instance sync (beat does not run in tests) until the status is reached."""

    def reached():
        instance_tasks.sync_instances(instance.cluster_id, force=True)
        instance.refresh_from_db()
        return instance.status in until and (instance.settled or "settled" not in until)

    wait_until(reached, timeout=timeout, message=f"instance to reach {until}")
    return instance


def create(installation, capture, *, name="mem1", actor=None, **overrides):
    with capture(execute=True):
        return instance_services.request_instance(
            actor=actor or installation.created_by,
            installation=installation,
            manifest=cr(name=name, namespace=installation.namespace, **overrides),
        )


@pytest.fixture
def running(installed, django_capture_on_commit_callbacks):
    instance = create(installed, django_capture_on_commit_callbacks)
    follow(instance, {"running"})

    def settled():
        instance_tasks.sync_instances(instance.cluster_id, force=True)
        instance.refresh_from_db()
        return instance.settled and instance.ready_replicas == 2

    wait_until(settled, timeout=20, message="all replicas ready")
    return instance


@pytest.fixture
def memcached_server():
    """Debian's real memcached on a free loopback port (`make test` installs it)."""
    port = free_port()
    # As root (CI), memcached insists on a user to run as.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [MEMCACHED, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "16", *user],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"memcached did not start on port {port}")
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    return f"127.0.0.1:{free_port()}"


def synced_until(instance, predicate, message, timeout=20):
    """Syncs the instance from the cluster until `predicate(instance)` holds (deadline)."""
    from instances import tasks as instance_tasks
    from tests.conftest import wait_until

    def check():
        instance_tasks.sync_instances(instance.cluster_id, force=True)
        instance.refresh_from_db()
        return predicate(instance)

    wait_until(check, timeout=timeout, message=message)
    return instance

"""Fixtures for the sandbox cluster tests: real `kubernetes` client against a SandboxCluster.

No Django here: run with `python -m pytest sandbox/tests -p no:django`.
"""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from sandbox.server import SandboxCluster

TOKEN = "secret"
TICK = 0.05
REGISTRY_IMAGE = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"
PACKAGE = "memcached-cluster-operator"


def api_client(sb: SandboxCluster, *, token: str | None = TOKEN) -> client.ApiClient:
    config = client.Configuration(host=sb.url)
    if token is not None:
        config.api_key = {"authorization": token}
        config.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(config)


def make_dynamic_client(sb: SandboxCluster, tmp_path_factory=None, **kwargs) -> DynamicClient:
    """A DynamicClient with its own discovery cache (so no state leaks between clusters)."""
    cache_dir = tmp_path_factory.mktemp("discovery") if tmp_path_factory else None
    cache_file = str(cache_dir / "cache.json") if cache_dir else f"/tmp/sandbox-{uuid.uuid4()}.json"
    return DynamicClient(api_client(sb, **kwargs), cache_file=cache_file)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02, message: str = ""):
    """Poll until `predicate()` is truthy (NotFound counts as not yet); return its value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except NotFoundError:
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}: {last!r}")


class Kube:
    """Small conveniences over a DynamicClient used by the tests."""

    def __init__(self, sb: SandboxCluster, dyn: DynamicClient):
        self.sb = sb
        self.dyn = dyn

    def r(self, api_version: str, kind: str):
        return self.dyn.resources.get(api_version=api_version, kind=kind)

    def get(self, api_version, kind, name, namespace=None):
        return self.r(api_version, kind).get(name=name, namespace=namespace)

    def status(self, api_version, kind, name, namespace=None) -> dict:
        obj = self.get(api_version, kind, name, namespace)
        return (obj.to_dict().get("status")) or {}

    def namespace(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.r("v1", "Namespace").create(body={"metadata": {"name": name}})
        return name

    def catalog(self, name: str = "tenxcloud", namespace: str = "olm", image=REGISTRY_IMAGE):
        cs = self.r("operators.coreos.com/v1alpha1", "CatalogSource")
        try:
            cs.get(name=name, namespace=namespace)
        except NotFoundError:
            cs.create(
                namespace=namespace,
                body={
                    "metadata": {"name": name},
                    "spec": {
                        "sourceType": "grpc",
                        "image": image,
                        "displayName": "TenxCloud Operators",
                        "publisher": "TenxCloud",
                    },
                },
            )
        wait_for(
            lambda: self.catalog_state(name, namespace) in ("READY", "TRANSIENT_FAILURE"),
            message=f"catalog {name}",
        )
        return self.catalog_state(name, namespace)

    def catalog_state(self, name, namespace="olm"):
        status = self.status("operators.coreos.com/v1alpha1", "CatalogSource", name, namespace)
        return (status.get("connectionState") or {}).get("lastObservedState")

    def operator_group(self, namespace, name="og", targets=None):
        targets = [namespace] if targets is None else targets
        spec = {"targetNamespaces": targets} if targets else {}
        self.r("operators.coreos.com/v1", "OperatorGroup").create(
            namespace=namespace, body={"metadata": {"name": name}, "spec": spec}
        )

    def subscribe(
        self,
        namespace,
        *,
        name="memcached",
        channel="stable",
        package=PACKAGE,
        approval="Automatic",
        source="tenxcloud",
        source_namespace="olm",
        **extra,
    ):
        spec = {
            "channel": channel,
            "name": package,
            "source": source,
            "sourceNamespace": source_namespace,
            "installPlanApproval": approval,
            **extra,
        }
        return self.r("operators.coreos.com/v1alpha1", "Subscription").create(
            namespace=namespace, body={"metadata": {"name": name}, "spec": spec}
        )

    def sub_status(self, namespace, name="memcached") -> dict:
        return self.status("operators.coreos.com/v1alpha1", "Subscription", name, namespace)

    def csv_phase(self, namespace, name) -> str | None:
        return self.status(
            "operators.coreos.com/v1alpha1", "ClusterServiceVersion", name, namespace
        ).get("phase")

    def install_operator(self, namespace, *, channel="stable") -> str:
        """OperatorGroup + Subscription, then wait for the CSV to succeed; returns its name."""
        self.catalog()
        self.operator_group(namespace)
        self.subscribe(namespace, channel=channel)
        csv = wait_for(
            lambda: self.sub_status(namespace).get("installedCSV"), message="installedCSV"
        )
        wait_for(lambda: self.csv_phase(namespace, csv) == "Succeeded", message=f"{csv} Succeeded")
        return csv

    def events(self, namespace, **selectors) -> list[dict]:
        field = ",".join(f"{k}={v}" for k, v in selectors.items()) or None
        return [
            e.to_dict()
            for e in self.r("v1", "Event").get(namespace=namespace, field_selector=field).items
        ]


@pytest.fixture(scope="session")
def sandbox():
    sb = SandboxCluster(host="127.0.0.1", port=0, token=TOKEN, tick_interval=TICK)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def dyn(sandbox, tmp_path_factory) -> DynamicClient:
    return make_dynamic_client(sandbox, tmp_path_factory)


@pytest.fixture(scope="session")
def kube(sandbox, dyn) -> Kube:
    return Kube(sandbox, dyn)


@pytest.fixture
def ns(kube) -> str:
    """A fresh namespace per test, so tests never see each other's objects."""
    return kube.namespace()


@pytest.fixture(autouse=True)
def _reset_faults(sandbox):
    yield
    sandbox.faults.reset()


@pytest.fixture
def fresh(tmp_path_factory):
    """A private SandboxCluster (for faults, catalog publishing, persistence)."""
    clusters = []

    def make(**kwargs) -> Kube:
        kwargs.setdefault("tick_interval", TICK)
        sb = SandboxCluster(port=0, token=TOKEN, **kwargs).start()
        clusters.append(sb)
        return Kube(sb, make_dynamic_client(sb, tmp_path_factory))

    yield make
    for sb in clusters:
        sb.stop()

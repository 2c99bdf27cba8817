"""Factories behind the orders fixtures: buyer tenants made as the product makes them, the
default cluster and a provider's READY memcached catalog.

They build on the shared factories of tests.assets.factories (providers, assets, plain
cluster and catalog rows); whatever has rules (tenants, projects, assets) goes through its
service, so it is checked and audited as in real life.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import factory

from accounts import services as account_services
from accounts.models import Tenant, User
from tests.assets.factories import PASSWORD, CatalogSourceFactory, ClusterFactory


class BuyerFactory(factory.Factory):
    """A buyer tenant: its owner (`tenant.owner`, with `raw_password` to log in), then one
    project per namespace (`tenant.project` is the first, `tenant.projects_list` all)."""

    class Meta:
        model = Tenant

    name = "zs2-corp"
    namespaces: Sequence[str] = ("my-mem", "two")

    @classmethod
    def _create(cls, model_class: Any, *, name: str, namespaces: Sequence[str]) -> Tenant:
        owner = User.objects.create_user(f"{name}-owner", password=PASSWORD)
        owner.raw_password = PASSWORD  # type: ignore[attr-defined]
        tenant = account_services.create_tenant(name=name, owner=owner)
        projects = [
            account_services.create_project(actor=owner, tenant=tenant, name=ns, namespace=ns)
            for ns in namespaces
        ]
        tenant.owner, tenant.project, tenant.projects_list = owner, projects[0], projects  # type: ignore[attr-defined]
        return tenant


class DefaultClusterFactory(ClusterFactory):
    """默认集群: the sandbox-flagged default cluster every project may deploy to."""

    # Any: factory_boy declarations may override one another whatever their kind.
    name: Any = "默认集群"
    api_url: Any = "https://sandbox.invalid"
    is_default = True
    is_sandbox = True


class ProviderCatalogFactory(CatalogSourceFactory):
    """A provider's READY memcached registry with its memcached-operator package; named
    after the tenant, so several providers share one cluster."""

    name: Any = factory.LazyAttribute(lambda source: f"mem-registry-{source.tenant.pk}")

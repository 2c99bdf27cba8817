"""Demo data of the clusters app: the sandbox cluster and the seed's catalog on it."""

import os
from pathlib import Path

from accounts.models import Project, Tenant

from . import services
from .models import CatalogSource, Cluster

SANDBOX_NAME = "sandbox"
SEED_CATALOG_IMAGE = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"
# What earlier demo data set; nothing of the sandbox listens there (its nodes are 127.N.0.x).
OLD_DEMO_EXTERNAL_HOST = "127.0.0.1"


def seed_demo_clusters(*, admin, provider):
    """Registers the sandbox cluster `make run` serves, links the demo projects and
    submits the seed document's memcached catalog for the provider. Idempotent.

    Returns the cluster and the catalog."""
    port = os.environ.get("SANDBOX_PORT", "8701")
    token = os.environ.get("SANDBOX_TOKEN", "sandbox-token")
    # `make run` serves the sandbox over HTTPS with its own CA (SANDBOX_CA_FILE): the demo
    # cluster trusts that CA, as a real cluster's registration would, never "skip verify".
    ca_file = os.environ.get("SANDBOX_CA_FILE", "")
    ca_data = Path(ca_file).read_text(encoding="utf-8") if ca_file else ""
    api_url = f"{'https' if ca_data else 'http'}://127.0.0.1:{port}"
    projects = list(Project.objects.all())
    cluster = Cluster.objects.filter(name=SANDBOX_NAME).first()
    if cluster is None:
        cluster = services.register_cluster(
            actor=admin,
            name=SANDBOX_NAME,
            auth_method=Cluster.AuthMethod.TOKEN,
            api_url=api_url,
            token=token,
            ca_data=ca_data,
            is_default=True,
            is_sandbox=True,
            # No external host: an exit is shown at a node's InternalIP (127.N.0.11:<nodePort>
            # of the sandbox's network), where the sandbox's kube-proxy really listens.
            external_host="",
            projects=projects,
        )
    elif (
        cluster.api_url != api_url
        or (cluster.credentials or {}).get("token") != token
        or (cluster.credentials or {}).get("ca_data", "") != ca_data
        or cluster.external_host == OLD_DEMO_EXTERNAL_HOST
    ):
        services.update_cluster(
            actor=admin,
            cluster=cluster,
            name=cluster.name,
            api_url=api_url,
            token=token,
            ca_data=ca_data,
            auth_method=Cluster.AuthMethod.TOKEN,
            skip_tls_verify=False,
            is_default=cluster.is_default,
            catalog_namespace=cluster.catalog_namespace,
            external_access=cluster.external_access,
            external_host=""
            if cluster.external_host == OLD_DEMO_EXTERNAL_HOST
            else cluster.external_host,
            projects=projects,
        )
    provider_tenant = Tenant.objects.get(slug="zs-olm")
    catalog = CatalogSource.objects.filter(cluster=cluster, name="mem-registry").first()
    if catalog is None:
        catalog = services.submit_catalog_source(
            actor=provider,
            tenant=provider_tenant,
            cluster=cluster,
            name="mem-registry",
            display_name="mem-01",
            image=SEED_CATALOG_IMAGE,
            publisher="TenxCloud",
        )
    return cluster, catalog

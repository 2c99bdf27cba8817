"""Submitting a CatalogSource as its YAML (the seed's memcached.yaml), pasted or uploaded."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.models import Project
from clusters import services, tasks
from clusters.errors import ClustersErrorCode as Code
from clusters.manifests import MANIFEST_MAX_BYTES
from clusters.models import CatalogSource
from tests.conftest import sandbox_object, wait_until

from .test_catalog_sources import SEED_IMAGE

# The seed's memcached.yaml, comments and all, as a provider would paste it.
SEED_YAML = f"""apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
metadata:
  name: mem-registry
  namespace: love-story # 部署到某个namespace下，这里需要更改
spec:
  sourceType: grpc
  # memcached registry镜像，根据自己需求进行更换
  image: {SEED_IMAGE}
  displayName: mem-01
"""


@pytest.fixture
def provider(tenant_with_owner):
    tenant, owner = tenant_with_owner("zs-olm", is_provider=True)
    Project.objects.create(tenant=tenant, name="love-story", namespace="love-story")
    return tenant, owner


def _problems(exc):
    return exc.message_dict["manifest"]


def test_the_seed_yaml_is_deployed_like_the_form(
    provider, sandbox_cluster, sandbox, django_capture_on_commit_callbacks
):
    tenant, owner = provider
    with django_capture_on_commit_callbacks(execute=True):
        catalog = services.submit_catalog_source_manifest(
            actor=owner, tenant=tenant, cluster=sandbox_cluster, manifest=SEED_YAML
        )
    assert (catalog.name, catalog.display_name, catalog.image) == (
        "mem-registry",
        "mem-01",
        SEED_IMAGE,
    )
    # Deployed where every project's Subscriptions can use it, and it becomes READY.
    assert catalog.namespace == sandbox_cluster.catalog_namespace
    applied = sandbox_object(
        sandbox, "operators.coreos.com/v1alpha1", "CatalogSource", "olm", "mem-registry"
    )
    assert applied["spec"]["image"] == SEED_IMAGE

    def ready():
        tasks.sync_catalog_sources()
        catalog.refresh_from_db()
        return catalog.state == CatalogSource.State.READY

    wait_until(ready, timeout=15, message="the YAML's catalog to become READY")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("kind: [unclosed", "Not valid YAML (line 1"),
        (SEED_YAML + "---\n" + SEED_YAML, "found 2 documents"),
        ("- a\n- b\n", "Expected a mapping"),
        (SEED_YAML.replace("kind: CatalogSource", "kind: Subscription"), "kind: must be"),
        (SEED_YAML.replace("v1alpha1", "v1"), "apiVersion: must be operators.coreos.com/v1alpha1"),
        (
            SEED_YAML.replace("sourceType: grpc", "sourceType: configmap"),
            "spec.sourceType: the platform deploys grpc",
        ),
        (
            SEED_YAML.replace("sourceType: grpc", "sourceType: helm"),
            "spec.sourceType: must be one of grpc, configmap, internal",
        ),
        (
            SEED_YAML.replace(f"image: {SEED_IMAGE}", "address: 10.0.0.1:50051"),
            "spec.image: required",
        ),
        (
            SEED_YAML.replace(
                "  namespace: love-story # 部署到某个namespace下，这里需要更改\n", ""
            ),
            "metadata.namespace: required",
        ),
        (SEED_YAML.replace("name: mem-registry", "name: Mem_Registry"), "metadata.name: "),
        (SEED_YAML.replace(SEED_IMAGE, "not an image!"), "spec.image: Enter an image reference"),
    ],
)
def test_bad_yaml_is_refused_naming_the_path_and_nothing_is_stored(
    provider, sandbox_cluster, text, fragment
):
    tenant, owner = provider
    with pytest.raises(ValidationError) as caught:
        services.submit_catalog_source_manifest(
            actor=owner, tenant=tenant, cluster=sandbox_cluster, manifest=text
        )
    assert any(fragment in problem for problem in _problems(caught.value)), _problems(caught.value)
    assert not CatalogSource.objects.exists()


def test_a_namespace_that_is_not_the_providers_is_refused(
    provider, sandbox_cluster, tenant_with_owner
):
    tenant, owner = provider
    other, _owner = tenant_with_owner("globex", is_provider=True)
    Project.objects.create(tenant=other, name="theirs", namespace="theirs")
    for namespace in ("theirs", "kube-system"):
        with pytest.raises(ValidationError) as caught:
            services.submit_catalog_source_manifest(
                actor=owner,
                tenant=tenant,
                cluster=sandbox_cluster,
                manifest=SEED_YAML.replace("namespace: love-story", f"namespace: {namespace}"),
            )
        assert caught.value.error_dict["manifest"][0].code == Code.MANIFEST_NAMESPACE_NOT_YOURS
        assert (
            f"“{namespace}” is neither a namespace of your projects" in _problems(caught.value)[0]
        )
    # The global catalog namespace is always allowed.
    catalog = services.submit_catalog_source_manifest(
        actor=owner,
        tenant=tenant,
        cluster=sandbox_cluster,
        manifest=SEED_YAML.replace("namespace: love-story", "namespace: olm"),
    )
    assert catalog.namespace == "olm"


def test_oversized_yaml_is_refused(provider, sandbox_cluster):
    tenant, owner = provider
    with pytest.raises(ValidationError) as caught:
        services.submit_catalog_source_manifest(
            actor=owner,
            tenant=tenant,
            cluster=sandbox_cluster,
            manifest=SEED_YAML + "#" * MANIFEST_MAX_BYTES,
        )
    assert caught.value.error_dict["manifest"][0].code == Code.MANIFEST_TOO_LARGE


def test_page_takes_the_yaml_pasted_or_uploaded(
    provider, sandbox_cluster, client, django_capture_on_commit_callbacks
):
    tenant, owner = provider
    client.force_login(owner)
    page = client.get("/clusters/catalog-sources/new/").content.decode()
    assert 'data-testid="catalog-by-yaml"' in page and 'enctype="multipart/form-data"' in page
    bad = client.post(
        "/clusters/catalog-sources/new/",
        {
            "submit_as": "yaml",
            "yaml-cluster": sandbox_cluster.pk,
            "yaml-manifest": SEED_YAML.replace("kind: CatalogSource", "kind: Secret"),
        },
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'data-field="manifest"' in html and "kind: must be CatalogSource." in html
    # What was pasted is still there to fix.
    assert "kind: Secret" in html
    assert not CatalogSource.objects.exists()
    upload = SimpleUploadedFile(
        "memcached.yaml", SEED_YAML.encode(), content_type="application/yaml"
    )
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            "/clusters/catalog-sources/new/",
            {"submit_as": "yaml", "yaml-cluster": sandbox_cluster.pk, "yaml-manifest_file": upload},
            follow=True,
        )
    assert "the platform is deploying it" in done.content.decode()
    assert CatalogSource.objects.get().image == SEED_IMAGE


def test_api_takes_the_yaml_and_names_the_path_in_errors(provider, sandbox_cluster):
    tenant, owner = provider
    api = APIClient()
    api.force_authenticate(owner)
    bad = api.post(
        "/api/v1/catalog-sources/yaml/",
        {
            "tenant": tenant.pk,
            "cluster": sandbox_cluster.pk,
            "manifest": SEED_YAML.replace(f"image: {SEED_IMAGE}", ""),
        },
        format="json",
    )
    assert bad.status_code == 400
    assert any("spec.image: required" in m for m in bad.json()["fields"]["manifest"]), bad.json()
    created = api.post(
        "/api/v1/catalog-sources/yaml/",
        # The tenant is inferred, as on every create endpoint: the caller's only provider one.
        {"cluster": sandbox_cluster.pk, "manifest": SEED_YAML},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["tenant"] == tenant.pk
    assert created.json()["name"] == "mem-registry" and created.json()["namespace"] == "olm"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"#" * (MANIFEST_MAX_BYTES + 1), "larger than 64 KiB"), (b"\xff\xfe kind", "not UTF-8")],
)
def test_an_uploaded_file_too_large_or_not_text_is_refused_on_its_field(
    provider, sandbox_cluster, content, fragment
):
    from clusters.forms import CatalogSourceYamlForm, ClusterForm

    upload = SimpleUploadedFile("memcached.yaml", content)
    form = CatalogSourceYamlForm(
        {"yaml-cluster": sandbox_cluster.pk},
        {"yaml-manifest_file": upload},
        clusters=sandbox_cluster.__class__.objects.all(),
    )
    assert not form.is_valid()
    assert fragment in form.errors["manifest_file"][0]
    # The kubeconfig upload reads the same way, with its own limit and words.
    big = b"#" * (256 * 1024 + 1)
    for data, words in ((big, "at most 256 KB"), (b"\xff\xfe", "not a text kubeconfig")):
        cluster_form = ClusterForm(
            {"name": "edge", "auth_method": "kubeconfig"},
            {"kubeconfig_file": SimpleUploadedFile("config", data)},
            projects=Project.objects.none(),
        )
        cluster_form.is_valid()
        assert words in cluster_form.errors["kubeconfig_file"][0]

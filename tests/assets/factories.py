"""Test data shared by the asset tests and the browser test.

Images are real (encoded by Pillow); the memcached catalog is what the clusters app caches
from the seed's PackageManifest. The factories make the rows a test needs in one line:
those the product makes through a service (provider tenants, assets) are made through that
service, so they are checked and audited as in real life; the rest (categories, clusters,
CatalogSources and their packages) are plain rows.
"""

from __future__ import annotations

import copy
import io
from decimal import Decimal
from typing import Any

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from factory.django import DjangoModelFactory
from PIL import Image

from accounts import services as account_services
from accounts.models import Tenant, User
from assets.models import Asset

PASSWORD = "pw-Secret-123"


def make_image_bytes(width=96, height=96, fmt="PNG", color=(200, 60, 40), **save_options):
    """A real image, encoded by Pillow, as a provider would upload it."""
    mode = "RGB" if fmt in ("JPEG", "GIF", "BMP") else "RGBA"
    image = Image.new(mode, (width, height), color)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_options)
    return buffer.getvalue()


def image_upload(width=96, height=96, fmt="PNG", name=None, **save_options):
    """`image_upload(120, 80, "GIF")` → an upload as a browser would send it."""
    extension = {"JPEG": "jpg"}.get(fmt, fmt.lower())
    return SimpleUploadedFile(
        name or f"image.{extension}",
        make_image_bytes(width, height, fmt, **save_options),
        content_type=f"image/{extension}",
    )


# What the clusters app caches from the memcached catalog's PackageManifest.
MEMCACHED_CHANNELS = [
    {
        "name": "stable",
        "current_csv": "memcached-operator.v0.0.2",
        "version": "0.0.2",
        "provided_apis": [
            {
                "group": "daas.tenxcloud.com",
                "version": "v1",
                "kind": "MemcachedCluster",
                "name": "memcachedclusters.daas.tenxcloud.com",
                "display_name": "Memcached Cluster",
                "description": "",
            }
        ],
    },
    {
        "name": "alpha",
        "current_csv": "memcached-operator.v0.1.0",
        "version": "",
        "provided_apis": [],
    },
]


class ProviderFactory(factory.Factory):
    """A provider tenant as the product makes one: an owner, then a project of the owner's;
    the test reads them back as `tenant.owner` and `tenant.project`."""

    class Meta:
        model = Tenant

    name = "zs-olm"
    project_name = "one"
    namespace = factory.LazyAttribute(lambda o: o.project_name)
    is_certified = False

    @classmethod
    def _create(cls, model_class: Any, **kwargs: Any) -> Tenant:
        # Any: the test reads attributes the models do not have (raw_password, owner, project).
        owner: Any = User.objects.create_user(f"{kwargs['name']}-owner", password=PASSWORD)
        owner.raw_password = PASSWORD
        tenant: Any = account_services.create_tenant(
            name=kwargs["name"],
            owner=owner,
            is_provider=True,
            is_certified=kwargs["is_certified"],
        )
        tenant.owner = owner
        tenant.project = account_services.create_project(
            actor=owner, tenant=tenant, name=kwargs["project_name"], namespace=kwargs["namespace"]
        )
        return tenant


class CategoryFactory(DjangoModelFactory):
    """A storefront shelf; basic-apps by default (get-or-create: the data migration seeds it,
    but a transactional test elsewhere may have flushed it)."""

    class Meta:
        model = "assets.Category"
        django_get_or_create = ("slug",)

    slug = "basic-apps"
    name_en = "Basic applications"
    name_zh = "基础应用"


class AssetFactory(factory.Factory):
    """An asset registered through `register_asset`, as a provider would: checked, audited,
    its images re-encoded. `tenant` is a provider tenant with `.owner` (ProviderFactory)."""

    class Meta:
        model = Asset

    tenant = None
    actor = factory.LazyAttribute(lambda o: o.tenant.owner)
    icon = factory.LazyFunction(image_upload)
    category = factory.SubFactory(CategoryFactory)
    delivery_type = "operator"
    name = "mem1"
    summary = "memcached cluster"
    description = "# Memcached\n\nA **fast** cache."
    plans: Any = ()
    screenshots: Any = ()

    @classmethod
    def _create(cls, model_class: Any, **kwargs: Any) -> Asset:
        from assets import services

        return services.register_asset(**kwargs)


class ClusterFactory(DjangoModelFactory):
    """A registered cluster nobody dials (its address is `.invalid`); `projects=[...]` links
    it to projects, so they may deploy to it."""

    class Meta:
        model = "clusters.Cluster"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"cluster-{n}")
    api_url = factory.Sequence(lambda n: f"https://cluster-{n}.invalid")
    auth_method = "token"
    credentials = factory.LazyFunction(lambda: {"token": "t"})

    @factory.post_generation
    def projects(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.projects.add(*extracted)


class CatalogSourceFactory(DjangoModelFactory):
    """A provider's READY CatalogSource serving memcached-operator (`package__channels=`
    changes what the package offers). `tenant` is required: whose catalog it is."""

    class Meta:
        model = "clusters.CatalogSource"
        skip_postgeneration_save = True

    cluster = factory.SubFactory(ClusterFactory)
    tenant = None
    name = "mem-registry"
    namespace = "olm"
    display_name = "mem-01"
    image = "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"
    state = "ready"
    package = factory.RelatedFactory(
        "tests.assets.factories.CatalogPackageFactory", factory_related_name="catalog_source"
    )


class CatalogPackageFactory(DjangoModelFactory):
    class Meta:
        model = "clusters.CatalogPackage"

    catalog_source = factory.SubFactory(CatalogSourceFactory, package=None)
    name = "memcached-operator"
    display_name = "Memcached Operator"
    provider = "tenxcloud"
    default_channel = "stable"
    channels = factory.LazyFunction(lambda: copy.deepcopy(MEMCACHED_CHANNELS))


# A plan as the portal's form or the API sends it.
PLAN_100 = {
    "name": "100¥/年",
    "price": Decimal("100.00"),
    "duration_value": 1,
    "duration_unit": "year",
}

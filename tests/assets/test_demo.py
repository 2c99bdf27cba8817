from django.core.management import call_command

from assets.models import Asset, AssetVersion, Plan


def test_seed_demo_registers_mem1_for_zs_olm_once(db):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    asset = Asset.objects.get()
    assert (asset.name, asset.tenant.slug, asset.delivery_type) == ("mem1", "zs-olm", "operator")
    assert asset.icon.width == 96 and "LiveJournal" in asset.description
    plans = {p.name: (str(p.price), p.duration_display) for p in Plan.objects.all()}
    assert plans == {"100¥/年": ("100.00", "1 year"), "免费试用": ("0.00", "30 days")}
    # The demo lists mem1 through 审批 from the sandbox's seed catalog: one version, on sale.
    version = AssetVersion.objects.get()
    assert (version.status, version.package_name) == ("on_sale", "memcached-cluster-operator")
    assert version.catalog_source.image.endswith("memcached-registry:v1")
    assert asset.screenshots.count() == 2

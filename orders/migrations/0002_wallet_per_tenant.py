"""Every tenant gets its wallet now (new tenants get one when created), so paying never
creates the seller's wallet while the buyer's is locked."""

from django.db import migrations


def open_wallets(apps, schema_editor):
    Tenant = apps.get_model("accounts", "Tenant")
    Wallet = apps.get_model("orders", "Wallet")
    Wallet.objects.bulk_create(
        [Wallet(tenant_id=pk) for pk in Tenant.objects.filter(wallet__isnull=True).values_list("pk", flat=True)],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(open_wallets, migrations.RunPython.noop)]

"""The installation references its order by key (it kept the order's code as text), and a
paid order that could not be installed keeps why."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def link_orders(apps, schema_editor):
    Installation = apps.get_model("provisioning", "Installation")
    Order = apps.get_model("orders", "Order")
    linked = set()
    for installation in Installation.objects.exclude(order_code="").order_by("pk"):
        order = Order.objects.filter(
            code=installation.order_code, buyer_id=installation.tenant_id
        ).first()
        if order is not None and order.pk not in linked:
            linked.add(order.pk)
            Installation.objects.filter(pk=installation.pk).update(order=order)


def unlink_orders(apps, schema_editor):
    Installation = apps.get_model("provisioning", "Installation")
    for installation in Installation.objects.exclude(order=None).select_related("order"):
        Installation.objects.filter(pk=installation.pk).update(order_code=installation.order.code)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_notification'),
        ('assets', '0003_asset_view_count'),
        ('clusters', '0001_initial'),
        ('orders', '0001_initial'),
        ('provisioning', '0003_operand_instances_move_out'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='OrderInstallRefusal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=40)),
                ('reason', models.TextField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'verbose_name': 'order not installed',
                'verbose_name_plural': 'orders not installed',
            },
        ),
        migrations.AddField(
            model_name='installation',
            name='order',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='installations', to='orders.order', verbose_name='order'),
        ),
        migrations.RunPython(link_orders, unlink_orders),
        migrations.RemoveField(
            model_name='installation',
            name='order_code',
        ),
        migrations.AddConstraint(
            model_name='installation',
            constraint=models.UniqueConstraint(condition=models.Q(('order__isnull', False)), fields=('order',), name='installation_one_per_order'),
        ),
        migrations.AddField(
            model_name='orderinstallrefusal',
            name='order',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='install_refusal', to='orders.order'),
        ),
    ]

# The price sorts on a stand-in for "no plan" (assets.models.shelf_price), key and id both
# descending: every page one index range, the last page too.

import django.db.models.expressions
import django.db.models.functions.comparison
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('assets', '0006_storefront_search'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='asset',
            name='asset_shelf_price_asc',
        ),
        migrations.RemoveIndex(
            model_name='asset',
            name='asset_shelf_price_desc',
        ),
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(models.OrderBy(models.ExpressionWrapper(django.db.models.expressions.CombinedExpression(django.db.models.functions.comparison.Coalesce(models.F('min_price'), models.Value(Decimal('10000000000')), output_field=models.DecimalField(decimal_places=2, max_digits=12)), '*', models.Value(Decimal('-1'))), output_field=models.DecimalField(decimal_places=2, max_digits=13)), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('listed_at__isnull', False)), name='asset_shelf_price_up'),
        ),
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(models.OrderBy(django.db.models.functions.comparison.Coalesce(models.F('min_price'), models.Value(Decimal('-1')), output_field=models.DecimalField(decimal_places=2, max_digits=12)), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('listed_at__isnull', False)), name='asset_shelf_price_down'),
        ),
    ]

"""Operand instances now live in the instances app (its 0001 took over the tables)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('provisioning', '0002_operandinstance_instancemetric_instancelog_and_more'),
        ('instances', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='InstanceEvent'),
                migrations.DeleteModel(name='InstanceLog'),
                migrations.DeleteModel(name='InstanceMetric'),
                migrations.DeleteModel(name='OperandInstance'),
            ],
        ),
    ]

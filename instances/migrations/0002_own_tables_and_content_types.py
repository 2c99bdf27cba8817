"""The instance tables take the app's own names, and their content types move with them,
so audit entries and permissions keep pointing at the same rows."""

from django.db import migrations

MODELS = ["operandinstance", "instanceevent", "instancelog", "instancemetric"]


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(
        ContentType.objects.filter(app_label="instances", model__in=MODELS).values_list(
            "model", flat=True
        )
    )
    ContentType.objects.filter(app_label="provisioning", model__in=MODELS).exclude(
        model__in=taken
    ).update(app_label="instances")


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="instances", model__in=MODELS).update(
        app_label="provisioning"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('instances', '0001_initial'),
        ('provisioning', '0003_operand_instances_move_out'),
    ]

    operations = [
        migrations.RenameIndex(
            model_name='instancemetric',
            new_name='instances_i_instanc_4db52f_idx',
            old_name='provisionin_instanc_23a48b_idx',
        ),
        migrations.RenameIndex(
            model_name='instancemetric',
            new_name='instances_i_time_703207_idx',
            old_name='provisionin_time_69d37b_idx',
        ),
        migrations.RenameIndex(
            model_name='operandinstance',
            new_name='instances_o_cluster_3dac5b_idx',
            old_name='provisionin_cluster_176c03_idx',
        ),
        migrations.AlterModelTable(name='instanceevent', table=None),
        migrations.AlterModelTable(name='instancelog', table=None),
        migrations.AlterModelTable(name='instancemetric', table=None),
        migrations.AlterModelTable(name='operandinstance', table=None),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]

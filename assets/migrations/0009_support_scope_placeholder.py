"""平台支持范围 starts empty; the seed's example (a made-up phone and e-mail) is a placeholder.

Until now every asset got the example as its stored support scope, so a provider who never
edited it published a hotline and an address that are not theirs. Stored values equal to
the example exactly (as saved by the API, or with the CRLF line ends a browser's textarea
sends) are blanked; anything a provider changed is kept.
"""

from django.db import migrations, models

OLD_EXAMPLE = (
    "服务时间: 7*24 小时\n\n"
    "服务热线: 400-400-4400\n\n"
    "服务邮箱: xxx@ss.cc\n\n"
    "服务内容: 产品售后、技术咨询、商用配置等"
)


def blank_the_example(apps, schema_editor):
    Asset = apps.get_model("assets", "Asset")
    variants = [OLD_EXAMPLE, OLD_EXAMPLE.replace("\n", "\r\n")]
    Asset.objects.filter(support_scope_markdown__in=variants).update(support_scope_markdown="")


class Migration(migrations.Migration):
    dependencies = [("assets", "0008_version_images_and_scans")]

    operations = [
        migrations.AlterField(
            model_name="asset",
            name="support_scope_markdown",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(blank_the_example, migrations.RunPython.noop),
    ]

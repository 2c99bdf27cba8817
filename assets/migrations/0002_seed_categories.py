"""The seven categories of the seed document (资产分类); admins manage them afterwards."""

from django.db import migrations

CATEGORIES = [
    # slug, English, Chinese
    ("basic-apps", "Basic applications", "基础应用"),
    ("website-building", "Website building", "网站建设"),
    ("enterprise-apps", "Enterprise applications", "企业应用"),
    ("database-middleware", "Database & middleware clusters", "数据库中间件集群"),
    ("api-services", "API services", "API 服务"),
    ("iot", "Internet of Things", "物联网"),
    ("ai", "Artificial intelligence", "人工智能"),
]


def seed(apps, schema_editor):
    Category = apps.get_model("assets", "Category")
    for position, (slug, name_en, name_zh) in enumerate(CATEGORIES):
        Category.objects.get_or_create(
            slug=slug, defaults={"name_en": name_en, "name_zh": name_zh, "position": position}
        )


def unseed(apps, schema_editor):
    Category = apps.get_model("assets", "Category")
    Category.objects.filter(slug__in=[c[0] for c in CATEGORIES], assets__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("assets", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]

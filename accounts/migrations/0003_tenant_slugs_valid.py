"""Tenant slugs that are not slugs (the demo seeded "Platform Ops") become slugs: the API
documents the slug pattern and every tenant must match it."""

import re

from django.db import migrations
from django.utils.text import slugify

SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


def fix_slugs(apps, schema_editor):
    Tenant = apps.get_model("accounts", "Tenant")
    taken = set(Tenant.objects.values_list("slug", flat=True))
    for tenant in Tenant.objects.all():
        if SLUG.match(tenant.slug):
            continue
        base = slugify(tenant.slug)[:55] or "tenant"
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        tenant.slug = slug
        tenant.save(update_fields=["slug"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_notification")]

    operations = [migrations.RunPython(fix_slugs, migrations.RunPython.noop)]

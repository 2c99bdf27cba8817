"""Fill the storefront keys, and on PostgreSQL a stored search document with its indexes.

`min_price` / `listed_at` are computed once for every asset (the services keep them from
now on). On PostgreSQL the asset also gets `search_document`, a generated tsvector (name
weighted A, summary B, English stemming, plus single CJK characters and CJK bigrams in the
`simple` configuration, so a two-character Chinese word is found through the index), a
GIN index on it and a pg_trgm GIN index on lower(name || ' ' || summary) for substrings.
SQLite has none of these; its storefront search matches substrings (see the selectors).
"""

from django.db import migrations
from django.db.models import OuterRef, Subquery

CJK_CLASS = r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]"

FORWARD_SQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"""
    CREATE OR REPLACE FUNCTION storefront_cjk_grams(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT coalesce(string_agg(g, ' '), '') FROM (
        SELECT substr(t, i, 1) AS g FROM generate_series(1, char_length(t)) AS i
         WHERE substr(t, i, 1) ~ '^{CJK_CLASS}$'
        UNION ALL
        SELECT substr(t, i, 2) FROM generate_series(1, char_length(t) - 1) AS i
         WHERE substr(t, i, 2) ~ '^{CJK_CLASS}{{2}}$'
      ) AS grams
    $$
    """,
    """
    ALTER TABLE assets_asset ADD COLUMN search_document tsvector GENERATED ALWAYS AS (
      setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A')
      || setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B')
      || to_tsvector('simple'::regconfig,
                     storefront_cjk_grams(coalesce(name, '') || ' ' || coalesce(summary, '')))
    ) STORED
    """,
    "CREATE INDEX asset_search_document ON assets_asset USING gin (search_document)"
    " WHERE listed_at IS NOT NULL",
    "CREATE INDEX asset_search_trigram ON assets_asset"
    " USING gin ((lower(name::text || ' ' || summary::text)) gin_trgm_ops)"
    " WHERE listed_at IS NOT NULL",
]
BACKWARD_SQL = [
    "DROP INDEX IF EXISTS asset_search_trigram",
    "DROP INDEX IF EXISTS asset_search_document",
    "ALTER TABLE assets_asset DROP COLUMN IF EXISTS search_document",
    "DROP FUNCTION IF EXISTS storefront_cjk_grams(text)",
]


def fill_keys(apps, schema_editor):
    Asset = apps.get_model("assets", "Asset")
    Plan = apps.get_model("assets", "Plan")
    AssetVersion = apps.get_model("assets", "AssetVersion")
    cheapest = (
        Plan.objects.filter(asset=OuterRef("pk"), is_archived=False)
        .order_by("price", "id")
        .values("price")[:1]
    )
    listed = AssetVersion.objects.filter(asset=OuterRef("pk"), status="on_sale").values(
        "listed_at"
    )[:1]
    Asset.objects.update(min_price=Subquery(cheapest), listed_at=Subquery(listed))


def search_forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD_SQL:
            schema_editor.execute(statement)


def search_backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD_SQL:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("assets", "0005_storefront_keys")]

    operations = [
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.RunPython(search_forward, search_backward),
    ]

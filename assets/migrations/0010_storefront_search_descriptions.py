"""The storefront search reads descriptions too (`?q=缓存` finds a description's 缓存).

0006 indexed name and summary only. The stored `search_document` now adds the description
(weight C, English stemming) and its CJK single characters and bigrams (PostgreSQL's
parser does not segment Chinese), over the description's first 20,000 characters so a
huge description can never overflow a tsvector; the pg_trgm index covers
lower(name || ' ' || summary || ' ' || description) whole, for substrings of 3+
characters. SQLite has none of this (its search matches substrings; see the selectors).
"""

from django.db import migrations

DESCRIPTION_INDEXED = 20000


def _document(description: bool) -> str:
    text = "coalesce(name, '') || ' ' || coalesce(summary, '')"
    english = [
        "setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A')",
        "setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B')",
    ]
    if description:
        excerpt = f"left(coalesce(description, ''), {DESCRIPTION_INDEXED})"
        english.append(f"setweight(to_tsvector('english'::regconfig, {excerpt}), 'C')")
        text += f" || ' ' || {excerpt}"
    return f"""
    ALTER TABLE assets_asset ADD COLUMN search_document tsvector GENERATED ALWAYS AS (
      {" || ".join(english)}
      || to_tsvector('simple'::regconfig, storefront_cjk_grams({text}))
    ) STORED
    """


def _trigram(description: bool) -> str:
    text = "name::text || ' ' || summary::text"
    if description:
        text += " || ' ' || description"
    return (
        f"CREATE INDEX asset_search_trigram ON assets_asset USING gin ((lower({text}))"
        " gin_trgm_ops) WHERE listed_at IS NOT NULL"
    )


def _statements(description: bool) -> list[str]:
    return [
        "DROP INDEX IF EXISTS asset_search_trigram",
        "ALTER TABLE assets_asset DROP COLUMN IF EXISTS search_document",
        _document(description),
        "CREATE INDEX asset_search_document ON assets_asset USING gin (search_document)"
        " WHERE listed_at IS NOT NULL",
        _trigram(description),
    ]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _statements(True):
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _statements(False):
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("assets", "0009_support_scope_placeholder")]

    operations = [migrations.RunPython(forward, backward)]

"""平台支持范围: an example placeholder, never stored for a provider who did not write one."""

import importlib

from django.apps import apps

from assets.models import SUPPORT_SCOPE_EXAMPLE, Asset
from assets.services import register_asset

migration = importlib.import_module("assets.migrations.0009_support_scope_placeholder")


def test_a_new_asset_has_no_support_scope(provider, category, image_file):
    asset = register_asset(
        actor=provider.owner,
        tenant=provider,
        icon=image_file(96, 96, "PNG"),
        delivery_type="operator",
        category=category,
        name="mem1",
        summary="s",
        description="d",
    )
    assert asset.support_scope_markdown == ""
    assert Asset._meta.get_field("support_scope_markdown").get_default() == ""


def test_the_migration_blanks_the_stored_example_only(make_asset, provider):
    untouched = make_asset(provider, name="a1", support_scope_markdown=SUPPORT_SCOPE_EXAMPLE)
    from_browser = make_asset(
        provider, name="a2", support_scope_markdown=SUPPORT_SCOPE_EXAMPLE.replace("\n", "\r\n")
    )
    edited_text = SUPPORT_SCOPE_EXAMPLE.replace("400-400-4400", "010-8888-0000")
    edited = make_asset(provider, name="a3", support_scope_markdown=edited_text)
    assert migration.OLD_EXAMPLE == SUPPORT_SCOPE_EXAMPLE  # the text the seed used to store
    migration.blank_the_example(apps, None)
    scopes = dict(Asset.objects.values_list("name", "support_scope_markdown"))
    assert scopes == {untouched.name: "", from_browser.name: "", edited.name: edited_text}


def test_the_api_documents_the_example_without_storing_it():
    from assets.api import AssetSerializer

    field = AssetSerializer().fields["support_scope_markdown"]
    assert "服务热线" in field.help_text and "empty unless given" in field.help_text
    assert not field.required and field.default is not SUPPORT_SCOPE_EXAMPLE

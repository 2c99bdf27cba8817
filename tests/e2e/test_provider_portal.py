"""A provider registers an operator asset end to end, in a real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.assets.factories import (
    MEMCACHED_CHANNELS,
    CatalogSourceFactory,
    ClusterFactory,
    make_image_bytes,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def provider(tenant_with_owner, settings, tmp_path):
    """zs-olm with project `one`, the default cluster and a READY catalog serving memcached."""
    from accounts import services as account_services
    from assets.models import Category

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SERVE_MEDIA = True
    # A transactional test flushes the data migration's rows; put the seed's category back.
    Category.objects.get_or_create(
        slug="basic-apps", defaults={"name_en": "Basic applications", "name_zh": "基础应用"}
    )
    tenant, owner = tenant_with_owner("zs-olm", is_provider=True)
    account_services.create_project(actor=owner, tenant=tenant, name="one", namespace="one")
    CatalogSourceFactory(
        tenant=tenant,
        cluster=ClusterFactory(name="默认集群", is_default=True, is_sandbox=True),
        package__channels=MEMCACHED_CHANNELS,
    )
    return owner


def _file(name, width, height, fmt):
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    return {"name": name, "mimeType": mime, "buffer": make_image_bytes(width, height, fmt)}


def test_provider_registers_an_asset_with_plans_and_a_version(page, login, provider):
    login(provider.username, provider.raw_password)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Asset Management").click()
    expect(page.get_by_test_id("assets-empty")).to_be_visible()
    page.get_by_role("link", name="Add the first asset").click()

    # 添加资产: basic information, with a live Markdown preview.
    form = page.get_by_test_id("asset-form")
    expect(form.get_by_role("radio", name=re.compile("^Operator"))).to_be_checked()
    form.get_by_text("Basic applications").click()
    page.locator("#id_name").fill("mem1")
    page.locator("#id_summary").fill("memcached cluster")
    page.locator("#id_description").fill(
        "# Memcached\n\n- **sharded** or replset\n\n<script>window.pwned = 1</script>"
    )
    preview = page.locator(".markdownx-preview")
    expect(preview.locator("h1")).to_have_text("Memcached")
    expect(preview.locator("strong")).to_have_text("sharded")
    expect(preview).to_contain_text("<script>")  # shown as text, never run
    page.locator("#id_icon").set_input_files(_file("icon.png", 96, 96, "PNG"))

    # 规格与定价: the first row is there, "+ Add plan" adds the second.
    page.locator("[name=plans-0-name]").fill("100¥/年")
    page.locator("[name=plans-0-price]").fill("100.00")
    page.get_by_role("button", name="+ Add plan").click()
    page.locator("[name=plans-1-name]").fill("Free trial")
    page.locator("[name=plans-1-price]").fill("0")
    page.locator("[name=plans-1-duration_value]").fill("30")
    page.locator("[name=plans-1-duration_unit]").select_option("day")

    # 其他信息: one field as an external link; the support scope empty, its example a placeholder.
    terms = page.locator("[data-other-info=terms]")
    terms.get_by_label("External link").check()
    expect(terms.locator("[name=terms_markdown]")).to_be_hidden()
    terms.locator("[name=terms_url]").fill("https://tenxcloud.com/terms")
    scope = page.locator("[name=support_scope_markdown]")
    expect(scope).to_have_value("")
    expect(scope).to_have_attribute("placeholder", re.compile("服务热线"))

    page.locator("#id_screenshots").set_input_files(
        [_file("one.png", 264, 146, "PNG"), _file("two.jpg", 264, 146, "JPEG")]
    )
    # A first submit with two mistakes: both show at once, and the chosen images are kept
    # (a browser cannot send a file input again), previewed from the server.
    page.locator("[name=plans-0-price]").fill("-1")
    terms.locator("[name=terms_url]").fill("")
    page.get_by_role("button", name="Register asset").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.locator('[data-field="plans-0-price"]')).to_contain_text("greater than or equal")
    expect(page.locator('[data-field="terms_url"]')).to_contain_text("enter its address")
    kept_icon = page.get_by_test_id("kept-icon")
    expect(kept_icon).to_contain_text("icon.png kept — choose another to replace it.")
    expect(kept_icon.locator("img")).to_have_js_property("naturalWidth", 96)
    expect(page.get_by_test_id("kept-screenshots")).to_contain_text("two.jpg kept")
    page.locator("[name=plans-0-price]").fill("100.00")
    page.locator("[data-other-info=terms] [name=terms_url]").fill("https://tenxcloud.com/terms")
    page.get_by_role("button", name="Register asset").click()  # no file chosen again

    expect(page.get_by_role("status")).to_contain_text("registered as ASID-")
    code = re.search(r"ASID-[0-9A-Za-z]{11}", page.get_by_role("status").inner_text()).group(0)
    expect(page.get_by_test_id("asset-head")).to_contain_text(code)
    expect(page.get_by_test_id("versions-empty")).to_be_visible()

    # Operator 定义: sole choices are preselected; htmx refreshes the version number.
    page.get_by_role("link", name="Create the first version").click()
    fields = page.get_by_test_id("version-fields")
    expect(page.locator("#id_tenant")).to_contain_text("zs-olm")
    expect(page.locator("#id_project option:checked")).to_contain_text("one")
    expect(page.locator("#id_cluster option:checked")).to_contain_text("默认集群")
    expect(page.locator("#id_catalog_source option:checked")).to_contain_text("mem-01")
    expect(page.get_by_test_id("version-preview")).to_contain_text("0.0.2")
    fields.get_by_role("checkbox", name=re.compile("alpha")).check()
    page.locator("#id_default_channel").select_option("alpha")
    expect(page.get_by_test_id("version-preview")).to_contain_text("0.1.0")
    expect(
        fields.get_by_role("checkbox", name=re.compile("alpha"))
    ).to_be_checked()  # kept across the swap
    page.get_by_role("button", name="Create version").click()

    expect(page.get_by_role("status")).to_contain_text("Version 0.1.0 created as a draft.")
    card = page.get_by_test_id("version-card")
    lifecycle = card.get_by_test_id("lifecycle")
    expect(lifecycle).to_contain_text("Create version")
    expect(lifecycle).to_contain_text("Delisted")
    expect(lifecycle.locator(".step.current")).to_contain_text(re.compile(r"minutes? ago"))
    expect(card).to_contain_text("memcached-operator")

    # 规格与定价 and 资产信息 show what was registered.
    page.get_by_role("link", name="Specs & pricing").click()
    table = page.get_by_test_id("plan-table")
    expect(table).to_contain_text("100.00 T")
    expect(table).to_contain_text("Free trial")
    expect(table).to_contain_text("30 days")
    page.get_by_role("link", name="Asset information").click()
    expect(page.get_by_test_id("description").locator("h1")).to_have_text("Memcached")
    expect(page.get_by_test_id("screenshots").locator("img")).to_have_count(2)
    assert page.evaluate("window.pwned") is None

    # 资产管理 lists it with the seed's columns, and its icon loads.
    nav.get_by_role("link", name="Asset Management").click()
    row = page.get_by_test_id("asset-table").locator("tbody tr")
    expect(row).to_have_count(1)
    for text in ["mem1", code, "0.1.0", "Operator", "Basic applications", "Draft"]:
        expect(row).to_contain_text(text)
    icon = row.locator("img.asset-icon-sm")
    expect(icon).to_have_js_property("naturalWidth", 96)

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def buyer(tenant_with_owner):
    from accounts import services

    tenant, owner = tenant_with_owner("zs2-corp")
    services.create_project(actor=owner, tenant=tenant, name="my-mem", namespace="my-mem")
    return owner


def test_login_then_switch_to_chinese_shows_translated_navigation(page, login, buyer):
    login(buyer.username, buyer.raw_password)
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav).to_contain_text("Cloud Market")
    expect(nav).to_contain_text("Purchased Assets")

    page.get_by_role("button", name="简体中文").click()

    nav = page.get_by_role("navigation", name="主导航")
    for label in ["云市场", "已购资产", "订单管理", "容器应用", "Operator 应用"]:
        expect(nav).to_contain_text(label)
    expect(page.get_by_role("heading", level=1)).to_contain_text("欢迎")
    # The choice sticks on the next page.
    nav.get_by_role("link", name="项目").click()
    expect(page.locator("code", has_text="my-mem")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("项目")


@pytest.mark.parametrize("browser_locale", ["zh-CN"])
def test_a_chinese_browser_gets_chinese_without_choosing(page, login, buyer, browser_locale):
    login(buyer.username, buyer.raw_password)
    expect(page.get_by_role("navigation", name="主导航")).to_contain_text("云市场")


def test_bad_login_is_refused_with_a_message(page, buyer):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(buyer.username)
    page.get_by_label("Password").fill("wrong-password")
    page.locator("form.stacked button[type=submit]").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_project_form_shows_the_namespace_error_then_creates(page, login, buyer):
    login(buyer.username, buyer.raw_password)
    page.goto("/accounts/projects/new/")
    page.locator("#id_name").fill("Cache")
    page.locator("#id_namespace").fill("Cache_NS")
    page.get_by_role("button", name="Create").click()
    expect(page.locator('[data-field="namespace"]')).to_contain_text("RFC 1123")
    page.locator("#id_namespace").fill("cache")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_contain_text("Project “Cache” created.")
    expect(page.locator("table.data")).to_contain_text("cache")

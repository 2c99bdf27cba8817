"""The seed's memcached.yaml (Chinese comments and all) submitted as a CatalogSource in a real
Chromium: pasted with a mistake, fixed, READY; then uploaded as a file. Screenshots in English
and 中文 at 1366 and 390 px are kept under test-artifacts/issue16/."""

import re

import pytest
from playwright.sync_api import expect

from tests.clusters.test_catalog_yaml import SEED_YAML
from tests.conftest import wait_until
from tests.e2e.test_route_rule import shoot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The YAML form posts to #by-yaml; the browser keeps that fragment through the redirect.
DETAIL = re.compile(r"/clusters/catalog-sources/\d+/(#by-yaml)?$")


def _until_ready(name):
    from clusters import tasks
    from clusters.models import CatalogSource

    def ready():  # the beat's periodic sync, run here
        tasks.sync_catalog_sources()
        return CatalogSource.objects.filter(
            name=name, state="ready", packages__isnull=False
        ).exists()

    wait_until(ready, timeout=20, message=f"{name} to be READY")


@pytest.mark.parametrize("browser_locale", ["en-US", "zh-CN"])
def test_the_seed_yaml_pasted_then_uploaded_becomes_ready(
    page, login, tenant_with_owner, sandbox_cluster, browser_locale
):
    from accounts.models import Project

    tenant, provider = tenant_with_owner("zs-olm", is_provider=True)
    Project.objects.create(tenant=tenant, name="love-story", namespace="love-story")
    login(provider.username, provider.raw_password)
    page.goto("/clusters/catalog-sources/new/")
    panel = page.get_by_test_id("catalog-by-yaml")
    expect(panel.locator("select[name=yaml-cluster]")).to_have_value(str(sandbox_cluster.pk))
    shoot(page, "catalog-yaml-form", browser_locale)

    # A wrong kind: named on the YAML field, the text kept for fixing.
    wrong = SEED_YAML.replace("kind: CatalogSource", "kind: Subscription")
    panel.locator("textarea[name=yaml-manifest]").fill(wrong)
    panel.locator("button[type=submit]").click()
    panel = page.get_by_test_id("catalog-by-yaml")
    error = panel.locator("ul.errorlist[data-field=manifest]")
    expect(error).to_contain_text(re.compile(r"kind[:：].*CatalogSource"))
    box = panel.locator("textarea[name=yaml-manifest]")
    expect(box).to_have_value(re.compile("部署到某个namespace下"))
    shoot(page, "catalog-yaml-error", browser_locale)

    box.fill(SEED_YAML)
    panel.locator("button[type=submit]").click()
    expect(page).to_have_url(DETAIL)
    expect(page.locator("h1 code")).to_have_text("mem-registry")
    _until_ready("mem-registry")
    expect(page.get_by_test_id("packages")).to_contain_text("memcached-cluster-operator")
    expect(page.locator("#catalog-state [data-state]")).to_have_attribute("data-state", "ready")
    shoot(page, "catalog-yaml-ready", browser_locale)

    # The same file uploaded (under another name: mem-registry is taken now).
    page.goto("/clusters/catalog-sources/new/")
    panel = page.get_by_test_id("catalog-by-yaml")
    panel.locator("input[name=yaml-manifest_file]").set_input_files(
        {
            "name": "memcached.yaml",
            "mimeType": "application/yaml",
            "buffer": SEED_YAML.replace("name: mem-registry", "name: mem-file").encode(),
        }
    )
    panel.locator("button[type=submit]").click()
    expect(page).to_have_url(DETAIL)
    expect(page.locator("h1 code")).to_have_text("mem-file")
    _until_ready("mem-file")
    expect(page.get_by_test_id("packages")).to_contain_text("memcached-cluster-operator")
    shoot(page, "catalog-yaml-uploaded", browser_locale)

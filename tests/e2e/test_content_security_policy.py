"""The Content-Security-Policy in a real Chromium: every page type, as the role that uses it,
raises no violation and its script still works (htmx swaps, charts, auto-submitting
filters); an injected inline script, handler, style or foreign image is refused, which
proves the policy is live and that the watch below would see a violation."""

import re
import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.conftest import wait_until
from tests.instances.conftest import installed, memcached_server, running  # noqa: F401
from tests.provisioning.conftest import buyer, list_operator, on_sale_version  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"  # tests/conftest.py's make_user default
TRACKER = "https://tracker.example.net/pixel.gif"

# Runs in every document before its own scripts: the document keeps its violations.
LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__csp.push({
    directive: event.violatedDirective, blocked: event.blockedURI,
    source: event.sourceFile, line: event.lineNumber, sample: event.sample,
    url: document.location.pathname + document.location.search,
  });
}, true);
"""


class Watch:
    """Violations (the DOM event, read from each document before leaving it, and Chromium's
    console report of every refusal) and script errors."""

    def __init__(self, page):
        self.page = page
        self.violations: list[dict] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        page.context.add_init_script(LISTENER)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))

    def _console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(f"{self.page.url}: {message.text}")

    def harvest(self):
        self.violations += self.page.evaluate("() => (window.__csp || []).splice(0)")

    def visit(self, path):
        self.harvest()
        response = self.page.goto(path)
        assert response is not None and "script-src 'self'" in response.headers.get(
            "content-security-policy", ""
        ), path
        return response

    def clean(self):
        self.harvest()
        return {"violations": self.violations, "console": self.console, "errors": self.errors}


def _login(page, username, password):
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label(re.compile("Username|用户名")).fill(username)
    page.get_by_label(re.compile("Password|密码")).fill(password)
    page.locator("form.stacked button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def _chart_drawn(page, selector):
    """Chart.js attached a chart to the canvas and gave it a size (it rendered)."""
    page.wait_for_function(
        """(selector) => {
          const canvas = document.querySelector(selector);
          return !!(canvas && window.Chart && window.Chart.getChart(canvas) && canvas.width > 0);
        }""",
        arg=selector,
    )


@pytest.fixture
def shop(
    tenant_with_owner,
    platform_admin,
    on_sale_version,  # noqa: F811
    running,  # noqa: F811
    settings,
    memcached_server,  # noqa: F811
):
    """Everything the pages show: mem1 on sale (its description with a foreign and an own
    image), a shopper with a pending and a paid order, the buyer's running instance with
    statistics."""
    from accounts import services as account_services
    from assets.models import Asset
    from instances import tasks as instance_tasks
    from instances.models import InstanceMetric
    from orders import services as order_services

    settings.SERVE_MEDIA = True
    settings.MEMCACHED_ACCESS_OVERRIDES = {f"{running.namespace}/{running.name}": memcached_server}
    asset = on_sale_version.asset
    Asset.objects.filter(pk=asset.pk).update(
        description=(
            "# Memcached\n\nA **fast** cache.\n\n"
            f"![tracking pixel]({TRACKER})\n\n![our icon]({asset.icon.url})"
        )
    )
    plan = asset.plans.get()
    shoppers = []
    for name in ("shop", "payer"):  # one with an unpaid order (may still buy), one paid
        tenant, owner = tenant_with_owner(f"{name}-{uuid.uuid4().hex[:4]}")
        project = account_services.create_project(
            actor=owner, tenant=tenant, name="my-mem", namespace=f"{name}-{uuid.uuid4().hex[:6]}"
        )
        order_services.top_up_wallet(
            actor=platform_admin, tenant=tenant, amount=Decimal("10.00"), reason="test credit"
        )
        order = order_services.place_order(
            actor=owner, plan=plan, project=project, pay_now=name == "payer"
        )
        shoppers.append((owner, order))
    (owner, pending), _paid = shoppers
    provider = type(owner).objects.get(username="zs-olm-owner")  # list_operator's
    type(platform_admin).objects.filter(pk=platform_admin.pk).update(
        is_staff=True, is_superuser=True
    )

    def stats():
        instance_tasks.poll_stats()
        return InstanceMetric.objects.filter(instance=running).exists()

    wait_until(stats, timeout=15, message="a statistics point")
    return {
        "asset": asset,
        "shopper": owner,
        "pending": pending,
        "provider": provider,
        "version": on_sale_version,
        "instance": running,
        "admin": platform_admin,
    }


def test_every_page_type_runs_under_the_policy_without_a_violation(page, shop):
    watch = Watch(page)
    asset, instance = shop["asset"], shop["instance"]
    installation = instance.installation

    # Anyone: the sign-in page and the 404.
    watch.visit("/accounts/login/")
    missing = page.goto("/no-such-page/")
    assert missing is not None and missing.status == 404
    assert "script-src 'self'" in missing.headers["content-security-policy"]

    # A buyer shopping: the storefront, the buy dialog (htmx, twice), the asset page
    # (Markdown), the buy page, orders, wallet, purchased assets, projects, notifications.
    _login(page, shop["shopper"].username, PASSWORD)
    watch.visit("/market/")
    card = page.get_by_test_id("asset-card").filter(has_text="mem1")
    card.get_by_role("link", name="Buy").click()
    dialog = page.get_by_test_id("buy-dialog")
    expect(dialog).to_be_visible()  # htmx put the dialog into #modal
    with page.expect_response(lambda response: "fields=1" in response.url):
        dialog.get_by_role("radio", name="Manual").check()  # htmx redraws the fields
    expect(dialog.get_by_test_id("amount")).to_contain_text("1.00 T")
    page.keyboard.press("Escape")  # static/js/orders.js closes it
    expect(dialog).to_have_count(0)

    watch.visit(f"/market/{asset.code}/")
    description = page.locator(".markdown-body")
    expect(description).to_contain_text("A fast cache.")
    # The foreign pixel is not in the page at all; the asset's own image is, and loaded.
    expect(page.locator(f'img[src="{TRACKER}"]')).to_have_count(0)
    own = description.locator(f'img[src="{asset.icon.url}"]')
    expect(own).to_have_count(1)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=own.element_handle()
    )
    for path in (
        f"/orders/buy/{asset.code}/",
        "/orders/",
        f"/orders/{shop['pending'].code}/",
        "/orders/wallet/",
        "/orders/purchased/",
        "/accounts/projects/",
        "/accounts/projects/new/",
        "/accounts/notifications/",
    ):
        watch.visit(path)

    # The buyer running an operator: installations (the status filter submits itself),
    # an installation's tabs, instances, an instance's tabs with the monitoring charts and
    # 验证访问 (htmx post), the create and edit forms, the service catalog.
    _login(page, instance.created_by.username, PASSWORD)
    watch.visit("/operators/")
    page.locator("select[name=status]").select_option("installed")
    page.wait_for_url(re.compile(r"status=installed"))
    for tab in ("details", "subscription", "events", "instances"):
        watch.visit(f"/operators/{installation.pk}/{tab}/")
    watch.visit("/instances/")
    page.locator("select[name=status]").select_option("running")
    page.wait_for_url(re.compile(r"status=running"))
    for tab in ("overview", "logs", "events", "yaml"):
        watch.visit(f"/instances/{instance.pk}/{tab}/")
    watch.visit(f"/instances/{instance.pk}/monitoring/")
    for chart in ("lookups", "ratio", "items", "bytes", "connections", "evictions"):
        _chart_drawn(page, f'canvas[data-chart="{chart}"]')
    watch.visit(f"/instances/{instance.pk}/access/")
    with page.expect_response(lambda r: r.url.endswith(f"/instances/{instance.pk}/verify/")):
        page.get_by_test_id("verify").click()
    expect(page.locator("#instance-access")).to_contain_text("STORED", timeout=20_000)
    for path in (
        f"/instances/new/{installation.pk}/",
        f"/instances/new/{installation.pk}/?tab=yaml",
        f"/instances/{instance.pk}/edit/",
        "/instances/catalog/memcached/",
    ):
        watch.visit(path)

    # The provider: the portal's forms (htmx version fields), sales with its chart,
    # catalogs.
    _login(page, shop["provider"].username, PASSWORD)
    for path in (
        "/provider/assets/",
        "/provider/assets/new/",
        f"/provider/assets/{asset.code}/",
        f"/provider/assets/{asset.code}/info/",
        f"/provider/assets/{asset.code}/edit/",
        f"/provider/assets/{asset.code}/plans/",
        f"/provider/assets/{asset.code}/plans/new/",
        f"/provider/assets/{asset.code}/users/",
        f"/provider/assets/{asset.code}/versions/new/",
        "/clusters/catalog-sources/",
    ):
        watch.visit(path)
    watch.visit("/orders/sales/")
    _chart_drawn(page, "#revenue-chart")

    # The platform admin: the review queue (reject opens its form in the row, htmx, and
    # Cancel puts the row back), clusters, wallets, the Django admin, the API docs.
    from approvals import services as approval_services

    approval = approval_services.submit_request(
        actor=shop["provider"], version=shop["version"], kind="delisting"
    )
    _login(page, shop["admin"].username, PASSWORD)
    watch.visit("/approvals/")
    row = page.get_by_test_id("approval-row").filter(has_text="mem1")
    row.get_by_role("button", name="Reject").click()
    expect(row.get_by_test_id("reject-form")).to_be_visible()  # htmx swapped the row
    row.get_by_role("button", name="Cancel").click()
    expect(row.get_by_test_id("reject-form")).to_have_count(0)
    expect(row.get_by_role("button", name="Approve")).to_be_visible()
    for path in (
        f"/approvals/{approval.pk}/",
        "/clusters/",
        f"/clusters/{instance.cluster_id}/",
        "/clusters/new/",
        "/operators/cluster-wide/",
        "/orders/wallet/top-up/",
        "/django-admin/",
        "/django-admin/orders/order/",
        f"/django-admin/assets/asset/{asset.pk}/change/",
    ):
        watch.visit(path)
    watch.visit("/api/docs/")  # the schema takes seconds to build on a busy machine
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Operator Marketplace API", timeout=60_000
    )
    found = watch.clean()
    assert found["violations"] == [] and found["console"] == [], found
    assert found["errors"] == []


def test_an_injected_inline_script_handler_style_or_foreign_image_is_refused(page, db):
    watch = Watch(page)
    watch.visit("/accounts/login/")
    page.evaluate(
        """(tracker) => {
          const script = document.createElement("script");
          script.textContent = "window.__injected = 'script ran'";
          document.body.appendChild(script);
          const button = document.createElement("button");
          button.setAttribute("onclick", "window.__injected = 'handler ran'");
          button.id = "injected-button";
          document.body.appendChild(button);
          const box = document.createElement("div");
          box.innerHTML = '<p id="injected-style" style="color: rgb(255, 0, 0)">x</p>';
          document.body.appendChild(box);
          const img = document.createElement("img");
          img.src = tracker;
          document.body.appendChild(img);
        }""",
        TRACKER,
    )
    page.click("#injected-button")
    page.wait_for_function(
        "() => new Set(window.__csp.map((v) => v.directive)).size >= 4", timeout=10_000
    )
    watch.harvest()
    assert page.evaluate("() => window.__injected") is None
    # htmx read its <meta> config: it evaluates nothing (hx-vals="js:…", event filters),
    # writes no <style> of its own and runs no <script> it swaps in. (Eval itself cannot be
    # probed from here: Playwright's own evaluation is exempt; the header has no
    # 'unsafe-eval', tests/test_health_and_deploy.py.)
    assert page.evaluate(
        "() => [htmx.config.allowEval, htmx.config.includeIndicatorStyles,"
        " htmx.config.allowScriptTags, document.querySelectorAll('style').length]"
    ) == [False, False, False, 0]
    assert (
        page.evaluate("() => getComputedStyle(document.getElementById('injected-style')).color")
        != "rgb(255, 0, 0)"
    )
    directives = {v["directive"] for v in watch.violations}
    assert {"script-src-elem", "script-src-attr", "style-src-attr", "img-src"} <= directives
    assert any(v["blocked"] == TRACKER for v in watch.violations)
    # Chromium's console says so too (the second watch the page test relies on).
    assert any("inline script violates" in line for line in watch.console), watch.console
    assert any(TRACKER in line for line in watch.console), watch.console

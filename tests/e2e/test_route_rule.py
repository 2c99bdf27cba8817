"""添加路由规则 in a real Chromium: an admin adds a NodePort exit on the cluster page; the
buyer opens a chosen port on it from the Access tab and the test reaches the instance through
that port with a raw TCP client speaking memcached's text protocol (the seed's telnet).
Screenshots in English and 中文 at 1366 and 390 px are kept under test-artifacts/issue16/."""

import re
import socket

import pytest
from playwright.sync_api import expect

from instances import memcached
from tests.conftest import wait_until
from tests.e2e.conftest import ARTIFACTS
from tests.instances.conftest import installed, running  # noqa: F401 - fixtures
from tests.instances.test_route_rules import _free_node_port
from tests.provisioning.conftest import buyer, list_operator, on_sale_version  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "issue16"
WIDTHS = {1366: 768, 390: 844}


def shoot(page, name, locale):
    """The screen at both widths, whole page; back at laptop width afterwards."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{width}-{locale}.png"), full_page=True)
        width_used = page.evaluate("document.documentElement.scrollWidth")
        assert width_used <= width, (name, width, width_used)  # never scrolls sideways
    page.set_viewport_size({"width": 1366, "height": 768})


def telnet(address):
    """`telnet host port`, then `set` and `get` typed by hand: the raw replies, or None
    while nothing answers there yet (the cluster's proxy opens the port on its next pass)."""
    host, port = memcached.split_address(address)
    try:
        with socket.create_connection((host, port), timeout=3) as conn:
            conn.sendall(b"set k 0 0 5\r\nhello\r\n")
            stored = _read_until(conn, b"\r\n")
            conn.sendall(b"get k\r\n")
            value = _read_until(conn, b"END\r\n")
            conn.sendall(b"quit\r\n")
            return stored + value
    except OSError:
        return None


def _read_until(conn, end):
    data = b""
    while not data.endswith(end):
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionResetError("closed before the reply ended")
        data += chunk
    return data


@pytest.mark.parametrize("browser_locale", ["en-US", "zh-CN"])
def test_a_route_rule_with_a_chosen_port_is_reached_with_a_tcp_client(
    page,
    login,
    platform_admin,
    running,  # noqa: F811
    sandbox,
    browser_locale,
):
    cluster = running.cluster
    # The admin adds a NodePort exit named "router" on the cluster page.
    login(platform_admin.username, "pw-Secret-123")
    page.goto(f"/clusters/{cluster.pk}/")
    exit_form = page.get_by_test_id("exit-form")
    exit_form.locator("input[name=name]").fill("router")
    exit_form.locator("select[name=kind]").select_option("NodePort")
    exit_form.locator("button[type=submit]").click()
    row = page.get_by_test_id("exits").locator('tr[data-exit="router"]')
    expect(row).to_contain_text("NodePort")
    shoot(page, "cluster-exits", browser_locale)
    router_exit = cluster.exits.get(name="router")

    # The buyer: the Access tab of the running MemcachedCluster.
    page.context.clear_cookies()
    login(running.created_by.username, "pw-Secret-123")
    page.goto(f"/instances/{running.pk}/access/")
    form = page.get_by_test_id("route-form")
    expect(form.locator("select[name=service]")).to_have_value(f"{running.name}-mcrouter-service")
    expect(form.locator("select[name=protocol]")).to_have_value("TCP")
    expect(page.get_by_test_id("service-exit")).to_have_attribute("data-address", "")
    shoot(page, "access-none", browser_locale)

    # Out of range: said on the port field, nothing opened.
    form.locator("select[name=exit]").select_option(str(router_exit.pk))
    form.locator("input[name=port]").fill("8080")
    form.get_by_test_id("expose").click()
    error = page.get_by_test_id("route-form").locator("ul.errorlist[data-field=port]")
    expect(error).to_contain_text(re.compile(r"30000.*32767"))
    shoot(page, "access-port-error", browser_locale)
    running.refresh_from_db()
    assert not running.expose_requested

    # A free port in the NodePort range, on the router exit, TCP to the mcrouter Service.
    port = _free_node_port(cluster)
    form = page.get_by_test_id("route-form")
    expect(form.locator("select[name=exit]")).to_have_value(str(router_exit.pk))
    form.locator("input[name=port]").fill(str(port))
    form.get_by_test_id("expose").click()
    exit_address = page.get_by_test_id("service-exit")
    expect(exit_address).to_contain_text(re.compile(rf"^[\d.]+:{port}$"), timeout=20_000)
    address = exit_address.get_attribute("data-address")
    assert address.endswith(f":{port}")
    shoot(page, "access-exposed", browser_locale)

    # The seed's telnet: set then get through the exit's port.
    replies = wait_until(lambda: telnet(address), timeout=15, message=f"{address} to answer")
    assert replies.startswith(b"STORED\r\n"), replies
    assert b"VALUE k 0 5\r\nhello\r\nEND\r\n" in replies, replies

    # 仅在集群内访问: the rule goes, and the exit shows none.
    page.get_by_test_id("unexpose").click()
    expect(page.get_by_test_id("service-exit")).to_have_attribute(
        "data-address", "", timeout=20_000
    )
    expect(page.get_by_test_id("service-exit").locator(".muted")).to_be_visible(timeout=20_000)
    shoot(page, "access-removed", browser_locale)
    assert wait_until(lambda: telnet(address) is None, timeout=15, message="the port to close")

"""平台服务目录创建 memcached: a buyer fills one form; the platform installs the operator,
creates the MemcachedCluster, opens its service exit, and 验证访问 succeeds.

Beat does not run in tests: the test drives the installation and instance syncs itself,
the way the worker's periodic jobs would. Nothing answers on the sandbox's node ports, so
MEMCACHED_ACCESS_OVERRIDES points the instance at Debian's real memcached.
"""

import re

import pytest
from playwright.sync_api import expect

from instances import tasks as instance_tasks
from instances.models import OperandInstance
from provisioning import tasks
from tests.conftest import wait_until
from tests.instances.conftest import clean_namespace, memcached_server  # noqa: F401 - fixtures
from tests.provisioning.conftest import buyer, list_operator, on_sale_version  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-Secret-123"  # tests/conftest.py's make_user default


def test_service_catalog_creates_an_exposed_memcached_and_verifies_access(
    page,
    login,
    buyer,  # noqa: F811
    on_sale_version,  # noqa: F811
    sandbox_cluster,
    settings,
    memcached_server,  # noqa: F811
    clean_namespace,  # noqa: F811
):
    settings.SERVE_MEDIA = True
    sandbox_cluster.external_host = "192.168.2.65"
    sandbox_cluster.save()
    namespace = buyer.project.namespace
    settings.MEMCACHED_ACCESS_OVERRIDES = {f"{namespace}/mm2": memcached_server}

    login(buyer.owner.username, PASSWORD)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Service catalog").click()
    page.get_by_test_id(f"offering-{on_sale_version.asset.code}").click()

    form = page.get_by_test_id("catalog-form")
    form.locator("select[name=project]").select_option(str(buyer.project.pk))
    form.locator("select[name=cluster]").select_option(str(sandbox_cluster.pk))
    form.locator("input[name=name]").fill("mm2")
    form.get_by_label("Replicas").fill("3")
    form.locator("input[name=setup][value=replset]").check()
    form.get_by_label("Accessible from outside the cluster").check()

    # The YAML tab shows exactly that custom resource; back on the form nothing is lost.
    form.get_by_test_id("tab-yaml").click()
    yaml_box = page.get_by_test_id("catalog-form").locator("textarea[name=yaml]")
    expect(yaml_box).to_have_value(re.compile(r"kind: MemcachedCluster"))
    expect(yaml_box).to_have_value(re.compile(r"replicas: 3"))
    expect(yaml_box).to_have_value(re.compile(r"setup: replset"))
    expect(yaml_box).to_have_value(re.compile(rf"namespace: {namespace}"))
    page.get_by_test_id("catalog-form").get_by_test_id("tab-form").click()
    form = page.get_by_test_id("catalog-form")
    expect(form.get_by_label("Replicas")).to_have_value("3")
    expect(form.get_by_label("Accessible from outside the cluster")).to_be_checked()

    # A mistake is named on its field.
    form.get_by_label("Memory limit").fill("128Mi")
    form.get_by_test_id("submit").click()
    form = page.get_by_test_id("catalog-form")
    expect(form.locator("[data-field=limits_memory]")).to_contain_text("below the request")
    form.get_by_label("Memory limit").fill("512Mi")
    form.get_by_test_id("submit").click()

    # Each step's progress, live, while the worker's periodic jobs run.
    page.wait_for_url(re.compile(r"/instances/catalog/memcached/progress/\d+/"))
    steps = page.get_by_test_id("catalog-steps")
    expect(steps.locator("[data-step=operator]")).to_be_visible()
    instance = OperandInstance.objects.get(name="mm2")
    assert instance.origin == "catalog" and instance.expose_requested

    def finished():
        tasks.sync_cluster(sandbox_cluster.pk, force=True)
        instance_tasks.sync_instances(sandbox_cluster.pk)
        instance.refresh_from_db()
        return instance.status == "running" and instance.access_state == "exposed"

    wait_until(finished, timeout=60, interval=0.5, message="the catalog flow to finish")

    # The page polls its steps and, all done, goes on to the instance page's service exit.
    page.wait_for_url(re.compile(rf"/instances/{instance.pk}/access/"))
    instance.refresh_from_db()
    assert instance.status == "running" and instance.ready_replicas == 3
    exit_address = page.get_by_test_id("service-exit")
    expect(exit_address).to_contain_text(re.compile(r"192\.168\.2\.65:\d{5}"))
    expect(page.get_by_test_id("router-address")).to_have_text(
        f"mm2-mcrouter-service.{namespace}.svc:11211"
    )

    # 验证访问: set then get through the access address, with the round-trip time.
    page.get_by_test_id("verify").click()
    result = page.get_by_test_id("verify-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text("Access works")
    expect(result).to_contain_text(re.compile(r"round trip [\d.]+ ms"))
    expect(result).to_contain_text("STORED")

    # The pods, as `kubectl get pod -o wide` shows them.
    page.get_by_role("main").get_by_role("link", name="Overview").click()
    expect(page.get_by_test_id("pods").locator("tbody tr")).to_have_count(5)
    expect(page.get_by_test_id("replicas")).to_have_text("3/3")

"""The operand editor in a real Chromium: the form view and the YAML view follow each other
(static/js/operand-editor.js asks the server for the other side; no inline script)."""

import re

import pytest
from playwright.sync_api import expect

from provisioning.models import Installation
from tests.instances.conftest import clean_namespace  # noqa: F401 - fixtures
from tests.instances.operand_fixtures import ETCD
from tests.provisioning.conftest import buyer, list_operator, on_sale_version  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-Secret-123"  # tests/conftest.py's make_user default


def test_editing_the_form_updates_the_yaml_and_the_yaml_updates_the_form(
    page,
    login,
    buyer,  # noqa: F811
    on_sale_version,  # noqa: F811
    sandbox_cluster,
    clean_namespace,  # noqa: F811
):
    installation = Installation.objects.create(
        tenant=buyer,
        project=buyer.project,
        cluster=sandbox_cluster,
        asset=on_sale_version.asset,
        version=on_sale_version,
        namespace=buyer.project.namespace,
        package="etcdoperator",
        channel="stable",
        catalog_source="mem-registry",
        catalog_namespace="olm",
        status="installed",
        csv_info=ETCD,
        created_by=buyer.owner,
    )
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(buyer.owner.username, PASSWORD)
    page.goto(f"/instances/new/{installation.pk}/?kind=EtcdCluster")
    editor = page.locator("[data-operand-editor]")
    yaml_box = page.get_by_test_id("operand-yaml")
    expect(yaml_box).to_have_value(re.compile(r"size: 3"))

    # Form → YAML.
    editor.locator('input[name="f:spec.size"]').fill("5")
    expect(yaml_box).to_have_value(re.compile(r"size: 5"))
    editor.locator('input[name="f:spec.pod.resources.requests.memory"]').fill("256Mi")
    expect(yaml_box).to_have_value(re.compile(r"memory: 256Mi"))

    # YAML → form.
    text = yaml_box.input_value().replace("size: 5", "size: 7").replace("3.2.13", "3.3.1")
    yaml_box.fill(text)
    expect(editor.locator('input[name="f:spec.size"]')).to_have_value("7")
    expect(editor.locator('input[name="f:spec.version"]')).to_have_value("3.3.1")
    # Broken YAML leaves the form alone and says why.
    yaml_box.fill(text + "\n  bad: [")
    expect(page.locator("[data-operand-yaml-error]")).to_contain_text("Not valid YAML")
    expect(editor.locator('input[name="f:spec.size"]')).to_have_value("7")

    yaml_box.fill(text)
    expect(page.locator("[data-operand-yaml-error]")).to_be_hidden()
    page.get_by_test_id("submit").click()
    page.wait_for_url(
        re.compile(r"/instances/\d+/\?created=1$")
    )  # the new instance says how its creation ends
    from instances.models import OperandInstance

    instance = OperandInstance.objects.get(kind="EtcdCluster")
    assert instance.spec["size"] == 7 and instance.spec["version"] == "3.3.1"
    assert instance.spec["pod"] == {"resources": {"requests": {"memory": "256Mi"}}}
    assert not [e for e in errors if "Content Security Policy" in e]

"""Operand forms for any operator: one entry per kind, the version chosen, its schema checked,
cluster-scoped kinds refused, cleaned examples, schema skeletons, the form view's widgets.

The csv_info of tests/instances/operand_fixtures.py is shaped like real published bundles
(cert-manager, prometheus-operator, etcd, grafana-operator)."""

import html as html_module
import json
import re

import pytest
import yaml
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from instances import manifests, operand_form, schema
from instances import services as instance_services
from instances.forms import OperandForm
from instances.models import OperandInstance
from provisioning.models import Installation

from .operand_fixtures import CERT_MANAGER, ETCD, GRAFANA, PROMETHEUS, without_crds


def _check(csv_info, obj, namespace="team-a"):
    return manifests.check_manifest(csv_info=csv_info, namespace=namespace, obj=obj)


def _obj(api_version, kind, spec, name="x1", **metadata):
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


# --- pure: kinds, versions, scope ---------------------------------------------------------------


def test_a_kind_owned_in_two_versions_is_one_entry_defaulting_to_the_storage_version():
    kinds = schema.owned_kinds(PROMETHEUS)
    assert [k["kind"] for k in kinds] == ["Prometheus", "AlertmanagerConfig"]
    config = kinds[1]
    assert [v["name"] for v in config["versions"]] == ["v1beta1", "v1alpha1"]
    assert config["default_version"] == "v1alpha1"  # storage, though v1beta1 is newer
    assert schema.version_of(config, "monitoring.coreos.com/v1beta1")["name"] == "v1beta1"
    assert schema.version_of(config, "v2") is None


def test_without_a_storage_version_the_newest_served_is_the_default():
    info = without_crds(PROMETHEUS)
    config = schema.find_kind(info, "AlertmanagerConfig")
    assert config["default_version"] == "v1beta1"
    ordered = sorted(
        ["v1alpha1", "v2", "v1", "v1beta2", "v1beta1", "foo"], key=schema.version_priority
    )
    assert ordered == ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]


def test_scope_comes_from_the_crds_and_without_them_is_decided_defensively():
    assert schema.cluster_scoped(schema.find_kind(CERT_MANAGER, "ClusterIssuer"))
    assert not schema.cluster_scoped(schema.find_kind(CERT_MANAGER, "Issuer"))
    old = without_crds(CERT_MANAGER)
    assert schema.find_kind(old, "Issuer")["scope"] == ""
    assert schema.cluster_scoped(schema.find_kind(old, "ClusterIssuer"))
    assert not schema.cluster_scoped(schema.find_kind(old, "Certificate"))


def test_a_cluster_scoped_kind_is_refused_by_the_shared_check():
    check = _check(CERT_MANAGER, _obj("cert-manager.io/v1", "ClusterIssuer", {"selfSigned": {}}))
    assert check.cluster_scoped and check.manifest is None
    assert check.errors["kind"] == [
        "ClusterIssuer is cluster-scoped: it would be shared by every tenant of the cluster, so "
        "it cannot be created from a project."
    ]
    with pytest.raises(ValidationError) as exc:
        manifests.clean_manifest(
            csv_info=CERT_MANAGER,
            namespace="team-a",
            obj=_obj("cert-manager.io/v1", "ClusterIssuer", {"selfSigned": {}}),
        )
    assert exc.value.error_dict["kind"][0].code == "cluster_scoped"


# --- pure: where a form starts -----------------------------------------------------------------


def test_examples_are_cleaned_of_status_finalizers_and_server_metadata():
    issuer = schema.find_kind(CERT_MANAGER, "Issuer")
    start = operand_form.start_object(
        CERT_MANAGER, issuer, schema.version_of(issuer, None), namespace="team-a"
    )
    assert start == {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "selfsigned-issuer", "namespace": "team-a"},
        "spec": {"selfSigned": {}},
    }
    assert _check(CERT_MANAGER, start).errors == {}
    certificate = schema.find_kind(CERT_MANAGER, "Certificate")
    cert_start = operand_form.start_object(
        CERT_MANAGER, certificate, schema.version_of(certificate, None), namespace="team-a"
    )
    assert "status" not in cert_start and cert_start["metadata"]["namespace"] == "team-a"
    assert _check(CERT_MANAGER, cert_start).manifest is not None


def test_status_and_server_fields_pasted_in_yaml_are_dropped_but_finalizers_are_refused():
    pasted = _obj(
        "cert-manager.io/v1",
        "Issuer",
        {"selfSigned": {}},
        uid="1",
        resourceVersion="2",
        creationTimestamp="2023-01-01T00:00:00Z",
        managedFields=[{}],
        generation=3,
    )
    pasted["status"] = {"conditions": []}
    check = _check(CERT_MANAGER, pasted)
    assert check.errors == {}
    assert "status" not in check.manifest and "uid" not in check.manifest["metadata"]
    pasted["metadata"]["finalizers"] = ["cert-manager.io/finalizer"]
    assert "metadata.finalizers" in _check(CERT_MANAGER, pasted).errors


def test_an_api_without_an_example_starts_from_its_schema_required_fields_and_defaults():
    etcd = schema.find_kind(ETCD, "EtcdCluster")
    start = operand_form.start_object(ETCD, etcd, schema.version_of(etcd, None), namespace="team-a")
    assert start["spec"] == {"size": 3, "version": "3.2.13"}
    assert start["metadata"] == {"name": "etcdcluster-sample", "namespace": "team-a"}
    assert _check(ETCD, start).errors == {}
    # Required without a default: an empty value of its type, which the check then names.
    spec = schema.skeleton(
        {
            "type": "object",
            "required": ["secretName", "issuerRef"],
            "properties": {
                "secretName": {"type": "string"},
                "issuerRef": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
                "duration": {"type": "string"},
            },
        }
    )
    assert spec == {"secretName": "", "issuerRef": {"name": ""}}


# --- pure: the chosen version's schema ---------------------------------------------------------


def test_the_version_chosen_is_validated_against_its_own_schema():
    spec = {
        "route": {"receiver": "web"},
        "receivers": [{"name": "web"}],
        "timeIntervals": [{"name": "night"}],
    }
    beta = _check(PROMETHEUS, _obj("monitoring.coreos.com/v1beta1", "AlertmanagerConfig", spec))
    assert beta.errors == {} and beta.pruned == []
    assert beta.manifest["spec"]["timeIntervals"] == [{"name": "night"}]
    alpha = _check(PROMETHEUS, _obj("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig", spec))
    assert alpha.errors == {} and alpha.pruned == ["spec.timeIntervals"]
    assert "timeIntervals" not in alpha.manifest["spec"]
    wrong = _check(PROMETHEUS, _obj("monitoring.coreos.com/v1", "AlertmanagerConfig", spec))
    assert wrong.errors["apiVersion"] == [
        "Must be one of monitoring.coreos.com/v1beta1, monitoring.coreos.com/v1alpha1."
    ]


@pytest.mark.parametrize(
    ("spec", "path", "fragment"),
    [
        ({"size": "three"}, "spec.size", "Must be a whole number."),
        ({"size": 0}, "spec.size", "Must be at least 1."),
        ({"size": 12}, "spec.size", "Must be at most 9."),
        ({}, "spec.size", "Required."),
        ({"size": 3, "repository": "Quay.io/X"}, "spec.repository", "Must match the pattern"),
        ({"size": 3, "paused": "yes"}, "spec.paused", "Must be true or false."),
        ({"size": 3, "pod": {"bogus": 1}}, "spec.pod.bogus", "Unknown field"),
        (
            {"size": 3, "pod": {"resources": {"limits": {"cpu": "lots"}}}},
            "spec.pod.resources.limits.cpu",
            "not a Kubernetes quantity",
        ),
    ],
)
def test_schema_violations_are_named_by_path(spec, path, fragment):
    check = _check(ETCD, _obj("etcd.database.coreos.com/v1beta2", "EtcdCluster", spec))
    assert check.manifest is None
    assert any(fragment in m for m in check.errors[path]), check.errors


def test_enum_and_array_items_are_checked_by_path():
    spec = {
        "secretName": "s",
        "issuerRef": {"name": "i"},
        "privateKey": {"algorithm": "DSA"},
        "dnsNames": ["ok", 5],
    }
    errors = _check(CERT_MANAGER, _obj("cert-manager.io/v1", "Certificate", spec)).errors
    assert errors["spec.privateKey.algorithm"] == [
        "“DSA” is not allowed; choose one of RSA, ECDSA, Ed25519."
    ]
    assert errors["spec.dnsNames[1]"] == ["Must be a string."]
    missing = _check(CERT_MANAGER, _obj("cert-manager.io/v1", "Certificate", {"issuerRef": {}}))
    assert set(missing.errors) == {"spec.secretName", "spec.issuerRef.name"}


def test_unknown_fields_are_pruned_as_the_api_server_does_unless_preserved():
    spec = {
        "replicas": 1,
        "bogus": True,
        "resources": {"requests": {"cpu": "1"}},
        "affinity": {"nodeAffinity": {"anything": ["goes"]}},  # preserve-unknown-fields
        "serviceMonitorSelector": {"matchLabels": {"a": "b"}, "typo": 1},
    }
    check = _check(PROMETHEUS, _obj("monitoring.coreos.com/v1", "Prometheus", spec))
    assert check.errors == {}
    assert sorted(check.pruned) == ["spec.bogus", "spec.serviceMonitorSelector.typo"]
    assert check.manifest["spec"]["affinity"] == {"nodeAffinity": {"anything": ["goes"]}}
    assert "bogus" not in check.manifest["spec"]
    nulls = _check(PROMETHEUS, _obj("monitoring.coreos.com/v1", "Prometheus", {"retention": None}))
    assert nulls.errors == {} and nulls.manifest["spec"] == {}  # a bare `retention:` line
    top = _obj("monitoring.coreos.com/v1", "Prometheus", {"replicas": 1})
    top["extra"] = 1
    assert _check(PROMETHEUS, top).pruned == ["extra"]


# --- pure: the form view -------------------------------------------------------------------------


def _fields(csv_info, kind, version=None):
    kind_api = schema.find_kind(csv_info, kind)
    return {
        leaf.path: leaf
        for top in operand_form.build_fields(schema.version_of(kind_api, version))
        for leaf in top.leaves()
    }


def test_x_descriptors_choose_the_widgets():
    fields = _fields(PROMETHEUS, "Prometheus")
    widgets = {path: f.widget for path, f in fields.items()}
    assert widgets["spec.replicas"] == "integer" and fields["spec.replicas"].minimum == 0
    assert widgets["spec.resources"] == "resources"
    assert widgets["spec.paused"] == "checkbox"
    assert widgets["spec.logLevel"] == "select"
    assert fields["spec.logLevel"].choices == ["debug", "info", "warn", "error"]
    assert widgets["spec.nodeSelector"] == "keyvalue"
    assert widgets["spec.serviceMonitorSelector.matchLabels"] == "keyvalue"
    assert widgets["spec.affinity"] == "yaml"
    assert widgets["spec.remoteWrite"] == "yaml"  # a list of objects
    assert "spec.listenLocal" not in fields  # hidden
    assert fields["spec.externalUrl"].advanced  # advanced
    assert fields["spec.shards"].advanced and fields["spec.shards"].minimum == 1  # not described
    assert not fields["spec.replicas"].advanced
    assert fields["spec.replicas"].label == "Replicas"
    assert fields["spec.retention"].help == "Time duration Prometheus shall retain data for."
    grafana = _fields(GRAFANA, "Grafana")
    assert grafana["spec.config.security.admin_password"].widget == "password"
    assert grafana["spec.ingress.enabled"].widget == "checkbox"
    certificate = _fields(CERT_MANAGER, "Certificate")
    assert certificate["spec.dnsNames"].widget == "lines"
    assert certificate["spec.privateKey.algorithm"].choices == ["RSA", "ECDSA", "Ed25519"]
    assert certificate["spec.secretName"].required
    assert certificate["spec.secretName"].help.startswith("Name of the Secret")  # schema's


def test_a_submit_merges_the_fields_changed_into_the_yaml():
    kind_api = schema.find_kind(ETCD, "EtcdCluster")
    version = schema.version_of(kind_api, None)
    base = operand_form.start_object(ETCD, kind_api, version, namespace="ns")
    base_text = yaml.safe_dump(base)
    edited = yaml.safe_load(base_text)
    edited["spec"]["paused"] = True  # typed in the YAML
    data = {
        "_base": base_text,
        "yaml": yaml.safe_dump(edited),
        "f:metadata.name": "etcdcluster-sample",
        "f:spec.size": "5",  # changed in the form
        "f:spec.version": "3.2.13",
        "f:spec.paused._shown": "1",  # the form's checkbox left as drawn (unchecked)
        "f:spec.pod.resources.requests.cpu": "250m",
    }
    form = OperandForm(
        data, csv_info=ETCD, kind_api=kind_api, version=version, namespace="ns", initial=base
    )
    assert form.obj["spec"]["size"] == 5 and form.obj["spec"]["paused"] is True
    assert form.obj["spec"]["pod"] == {"resources": {"requests": {"cpu": "250m"}}}
    assert form.is_valid(), (form.yaml_errors, form.non_field_errors)
    assert form.manifest["spec"]["size"] == 5


# --- the pages, the API, the service ------------------------------------------------------------


@pytest.fixture
def operator(buyer, on_sale_version, sandbox_cluster):
    """An installed operator whose csv_info the test sets (no cluster call is made)."""

    def make(csv_info):
        return Installation.objects.create(
            tenant=buyer,
            project=buyer.project,
            cluster=sandbox_cluster,
            asset=on_sale_version.asset,
            version=on_sale_version,
            namespace=buyer.project.namespace,
            package=csv_info["name"].partition(".")[0],
            channel="stable",
            catalog_source="mem-registry",
            catalog_namespace="olm",
            status="installed",
            csv_info=csv_info,
            created_by=buyer.owner,
        )

    return make


def _yaml_of(page):
    match = re.search(r'<textarea name="yaml"[^>]*>(.*?)</textarea>', page, re.S)
    return html_module.unescape(match.group(1))


def _errors(page, field):
    match = re.search(
        rf'<ul class="errorlist" data-field="{re.escape(field)}">(.*?)</ul>', page, re.S
    )
    return html_module.unescape(match.group(1)) if match else ""


def _submit(page, **fields):
    """The page's form as a browser without JavaScript would send it, with `fields` typed."""
    data = {"_submit": "1", "_current": "operand"}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        data[name] = html_module.unescape(value)
    for name, value in re.findall(
        r'<input type="(?:text|number)" name="(f:[^"]+)"[^>]*value="([^"]*)"', page
    ):
        data[name] = html_module.unescape(value)
    for name, body in re.findall(r'<select name="(f:[^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        data[name] = chosen.group(1) if chosen else ""
    data["yaml"] = _yaml_of(page)
    data.update(fields)
    return data


def test_the_tab_offers_one_create_per_kind_and_none_for_cluster_scoped(client, buyer, operator):
    client.force_login(buyer.owner)
    prometheus = operator(PROMETHEUS)
    tab = client.get(f"/operators/{prometheus.pk}/instances/").content.decode()
    assert tab.count('data-testid="create-AlertmanagerConfig"') == 1
    certs = operator(CERT_MANAGER)
    tab = client.get(f"/operators/{certs.pk}/instances/").content.decode()
    assert 'data-testid="create-Issuer"' in tab and 'data-testid="create-Certificate"' in tab
    assert 'data-testid="create-ClusterIssuer"' not in tab
    assert 'data-testid="cluster-scoped-ClusterIssuer"' in tab
    assert "it would be shared by every tenant" in html_module.unescape(tab)
    assert "the operator's controller runs it" in html_module.unescape(tab)
    assert "Create a Memcached cluster" not in tab


def test_the_form_view_renders_the_descriptors_widgets(client, buyer, operator):
    client.force_login(buyer.owner)
    installation = operator(PROMETHEUS)
    page = client.get(f"/instances/new/{installation.pk}/?kind=Prometheus").content.decode()
    assert re.search(r'<input type="number" name="f:spec.replicas"[^>]*value="2"[^>]*min="0"', page)
    assert '<select name="f:spec.logLevel"' in page and '<option value="warn">' in page
    assert re.search(r'<input type="checkbox" name="f:spec.paused"', page)
    assert 'name="f:spec.resources.requests.memory" value="400Mi"' in page
    assert 'name="f:spec.resources.limits.cpu"' in page
    assert 'name="f:spec.nodeSelector-key"' in page
    assert 'name="f:spec.serviceMonitorSelector.matchLabels-key" value="team"' in page
    assert '<textarea name="f:spec.affinity"' in page
    assert "f:spec.listenLocal" not in page  # hidden
    advanced = page[page.index('data-testid="advanced"') :]
    assert 'name="f:spec.externalUrl"' in advanced and 'name="f:spec.replicas"' not in advanced
    assert "Number of instances to deploy for a Prometheus deployment." in page
    assert 'data-testid="no-controller-note"' in page
    assert 'src="/static/js/operand-editor.js"' in page and "<script>" not in page
    assert "kind: Prometheus" in _yaml_of(page)


def test_version_choice_shows_one_form_per_version_and_creates_that_version(
    client, buyer, operator
):
    client.force_login(buyer.owner)
    installation = operator(PROMETHEUS)
    url = f"/instances/new/{installation.pk}/?kind=AlertmanagerConfig"
    page = client.get(url).content.decode()
    assert 'data-testid="version-choice"' in page
    assert '<option value="v1alpha1" selected>' in page  # the storage version
    assert "monitoring.coreos.com/v1alpha1" in _yaml_of(page)
    assert 'name="f:spec.muteTimeIntervals"' in page and "timeIntervals" not in page.replace(
        "muteTimeIntervals", ""
    )
    beta_url = f"{url}&version=v1beta1"
    beta = client.get(beta_url).content.decode()
    assert 'name="f:spec.timeIntervals"' in beta and "muteTimeIntervals" not in beta
    assert client.get(f"{url}&version=v9").status_code == 404
    response = client.post(beta_url, _submit(beta, **{"f:metadata.name": "routes"}))
    assert response.status_code == 302, _errors(response.content.decode(), "yaml")
    instance = OperandInstance.objects.get(name="routes")
    assert instance.api_version == "v1beta1" and instance.kind == "AlertmanagerConfig"


def test_a_cleaned_example_with_status_and_finalizers_creates(client, buyer, operator):
    client.force_login(buyer.owner)
    installation = operator(CERT_MANAGER)
    url = f"/instances/new/{installation.pk}/?kind=Issuer"
    page = client.get(url).content.decode()
    text = _yaml_of(page)
    assert "status" not in text and "finalizers" not in text and "uid" not in text
    assert f"namespace: {installation.namespace}" in text and "namespace: cert-manager" not in text
    response = client.post(url, _submit(page))
    assert response.status_code == 302
    instance = OperandInstance.objects.get(kind="Issuer")
    assert instance.spec == {"selfSigned": {}} and instance.namespace == installation.namespace
    detail = client.get(f"/instances/{instance.pk}/").content.decode()
    assert 'data-testid="no-controller-note"' in detail
    assert "status the operator writes" in detail


def test_cluster_scoped_kinds_are_refused_on_the_page_the_api_and_the_service(
    client, buyer, operator
):
    client.force_login(buyer.owner)
    installation = operator(CERT_MANAGER)
    url = f"/instances/new/{installation.pk}/?kind=ClusterIssuer"
    page = client.get(url).content.decode()
    assert 'data-testid="cluster-scoped"' in page
    response = client.post(url, _submit(page))
    body = html_module.unescape(response.content.decode())
    assert response.status_code == 400
    assert "ClusterIssuer is cluster-scoped: it would be shared by every tenant" in body
    api = APIClient()
    api.force_authenticate(buyer.owner)
    answer = api.post(
        "/api/v1/instances/",
        {
            "installation": installation.pk,
            "kind": "ClusterIssuer",
            "name": "mine",
            "spec": {"selfSigned": {}},
        },
        format="json",
    )
    assert answer.status_code == 400 and answer.json()["code"] == "cluster_scoped"
    assert "ClusterIssuer is cluster-scoped" in answer.json()["fields"]["kind"][0]
    manifest = _obj("cert-manager.io/v1", "ClusterIssuer", {"selfSigned": {}}, name="mine")
    as_manifest = api.post(
        "/api/v1/instances/", {"installation": installation.pk, "manifest": manifest}, format="json"
    )
    assert as_manifest.status_code == 400 and as_manifest.json()["code"] == "cluster_scoped"
    with pytest.raises(ValidationError) as exc:
        instance_services.request_instance(
            actor=buyer.owner, installation=installation, manifest=manifest
        )
    assert exc.value.error_dict["kind"][0].code == "cluster_scoped"
    # Without the CRDs recorded, the name decides (defensively).
    installation.csv_info = without_crds(CERT_MANAGER)
    installation.save()
    with pytest.raises(ValidationError):
        instance_services.request_instance(
            actor=buyer.owner, installation=installation, manifest=manifest
        )
    assert not OperandInstance.objects.exists()


def test_the_worker_refuses_a_cluster_scoped_kind_it_finds_queued(buyer, operator):
    """An instance recorded before its CRD was known to be cluster-scoped is never applied."""
    from instances import tasks

    installation = operator(without_crds(CERT_MANAGER))
    instance = instance_services.request_instance(
        actor=buyer.owner,
        installation=installation,
        manifest=_obj("cert-manager.io/v1", "Issuer", {"selfSigned": {}}, name="shared"),
    )
    # The operator's CRDs become known: that kind turns out to be cluster-scoped.
    info = json.loads(json.dumps(CERT_MANAGER))
    info["crds"]["issuers.cert-manager.io"]["scope"] = "Cluster"
    installation.csv_info = info
    installation.save()
    tasks.apply_instance.run(instance.pk)
    instance.refresh_from_db()
    assert instance.status == "failed" and "cluster-scoped" in instance.failure_reason


def test_schema_errors_land_on_their_field(client, buyer, operator):
    client.force_login(buyer.owner)
    installation = operator(ETCD)
    url = f"/instances/new/{installation.pk}/?kind=EtcdCluster"
    page = client.get(url).content.decode()
    assert re.search(r'name="f:spec.size"[^>]*value="3"[^>]*min="1"[^>]*max="9"', page)
    response = client.post(url, _submit(page, **{"f:spec.size": "20"}))
    assert response.status_code == 400
    assert _errors(response.content.decode(), "spec.size") == "<li>Must be at most 9.</li>"
    response = client.post(url, _submit(page, **{"f:spec.size": "many"}))
    assert "Enter a whole number." in _errors(response.content.decode(), "spec.size")
    # From the YAML side, the same error under the YAML, named by its path.
    text = _yaml_of(page).replace("size: 3", "size: 0")
    response = client.post(url, {"_current": "yaml", "_submit": "1", "yaml": text})
    assert "spec.size: Must be at least 1." in _errors(response.content.decode(), "yaml")
    assert not OperandInstance.objects.exists()


def test_a_password_is_never_echoed(client, buyer, operator):
    client.force_login(buyer.owner)
    installation = operator(GRAFANA)
    url = f"/instances/new/{installation.pk}/?kind=Grafana"
    page = client.get(url).content.decode()
    assert "secret" not in _yaml_of(page)  # the example's password is not shown
    assert re.search(
        r'<input type="password" name="f:spec.config.security.admin_password"[^>]*value=""', page
    )
    bad = _submit(
        page,
        **{"f:spec.config.security.admin_password": "s3cr3t-pw", "f:metadata.name": "Bad Name"},
    )
    response = client.post(url, bad)
    assert response.status_code == 400 and "s3cr3t-pw" not in response.content.decode()
    response = client.post(url, {**bad, "f:metadata.name": "graf"})
    assert response.status_code == 302
    instance = OperandInstance.objects.get(name="graf")
    assert instance.spec["config"]["security"] == {
        "admin_user": "root",
        "admin_password": "s3cr3t-pw",
    }
    # Edited without typing it again: the password stays.
    edit_url = f"/instances/{instance.pk}/edit/"
    edit = client.get(edit_url).content.decode()
    assert "s3cr3t-pw" not in edit
    response = client.post(
        edit_url, _submit(edit, **{"f:spec.config.security.admin_user": "admin"})
    )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.spec["config"]["security"] == {
        "admin_user": "admin",
        "admin_password": "s3cr3t-pw",
    }


def test_the_sync_endpoint_turns_the_form_into_yaml_and_back(client, buyer, operator):
    client.force_login(buyer.owner)
    installation = operator(ETCD)
    page = client.get(f"/instances/new/{installation.pk}/?kind=EtcdCluster").content.decode()
    sync = f"/instances/new/{installation.pk}/sync/?kind=EtcdCluster&version=v1beta2"
    answer = client.post(sync, _submit(page, _source="form", **{"f:spec.size": "7"})).json()
    assert "size: 7" in answer["yaml"] and answer["problems"] == {}
    text = _yaml_of(page).replace("size: 3", "size: 5")
    answer = client.post(sync, {"_source": "yaml", "yaml": text}).json()
    assert re.search(r'name="f:spec.size"[^>]*value="5"', answer["fields_html"])
    answer = client.post(sync, {"_source": "yaml", "yaml": "spec: ["}).json()
    assert answer["yaml_error"].startswith("Not valid YAML")


def test_the_api_creates_a_chosen_version_and_names_the_fields(buyer, operator):
    installation = operator(PROMETHEUS)
    api = APIClient()
    api.force_authenticate(buyer.owner)
    created = api.post(
        "/api/v1/instances/",
        {
            "installation": installation.pk,
            "kind": "AlertmanagerConfig",
            "api_version": "v1beta1",
            "name": "routes",
            "spec": {"route": {"receiver": "web"}, "timeIntervals": [{"name": "n"}]},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["api_version"] == "monitoring.coreos.com/v1beta1"
    assert created.json()["spec"]["timeIntervals"] == [{"name": "n"}]
    changed = api.patch(
        f"/api/v1/instances/{created.json()['id']}/",
        {"spec": {"route": {"receiver": "pager"}, "bogus": 1}},
        format="json",
    )
    assert changed.status_code == 202, changed.json()
    assert changed.json()["spec"] == {"route": {"receiver": "pager"}}  # pruned
    etcd = operator(ETCD)
    bad = api.post(
        "/api/v1/instances/",
        {"installation": etcd.pk, "kind": "EtcdCluster", "name": "e1", "spec": {"size": 12}},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["fields"]["spec.size"] == ["Must be at most 9."]
    unknown = api.post(
        "/api/v1/instances/",
        {
            "installation": etcd.pk,
            "kind": "EtcdCluster",
            "api_version": "v1",
            "name": "e1",
            "spec": {},
        },
        format="json",
    )
    assert unknown.status_code == 400 and "api_version" in unknown.json()["fields"]
    schema_answer = api.get(
        "/api/v1/instances/form-schema/",
        {"installation": installation.pk, "kind": "AlertmanagerConfig"},
    ).json()
    assert schema_answer["version"] == "v1alpha1" and schema_answer["creatable"] is True
    assert [v["name"] for v in schema_answer["versions"]] == ["v1beta1", "v1alpha1"]
    assert "spec.muteTimeIntervals" in [f["path"] for f in schema_answer["fields"]]
    certs = operator(CERT_MANAGER)
    refused = api.get(
        "/api/v1/instances/form-schema/", {"installation": certs.pk, "kind": "ClusterIssuer"}
    ).json()
    assert refused["creatable"] is False and refused["scope"] == "Cluster"


def test_fields_the_schema_does_not_know_are_left_out_and_said_so(client, buyer, operator):
    client.force_login(buyer.owner)
    installation = operator(PROMETHEUS)
    url = f"/instances/new/{installation.pk}/?kind=Prometheus"
    page = client.get(url).content.decode()
    text = _yaml_of(page).replace("spec:\n", "spec:\n  retentionSize: 10GB\n", 1)
    response = client.post(url, {"_current": "yaml", "_submit": "1", "yaml": text}, follow=True)
    instance = OperandInstance.objects.get(kind="Prometheus")
    assert "retentionSize" not in instance.spec and instance.spec["replicas"] == 2
    assert "spec.retentionSize" in html_module.unescape(response.content.decode())


def test_without_the_crds_the_form_comes_from_the_descriptors_and_the_example(
    client, buyer, operator
):
    client.force_login(buyer.owner)
    installation = operator(without_crds(PROMETHEUS))
    page = client.get(f"/instances/new/{installation.pk}/?kind=Prometheus").content.decode()
    assert re.search(r'<input type="number" name="f:spec.replicas"[^>]*value="2"[^>]*min="0"', page)
    assert 'name="f:spec.resources.requests.memory" value="400Mi"' in page
    assert "f:spec.listenLocal" not in page
    # The example's fields the form does not show are kept in the YAML.
    assert "serviceAccountName: prometheus-k8s" in _yaml_of(page)
    response = client.post(f"/instances/new/{installation.pk}/?kind=Prometheus", _submit(page))
    assert response.status_code == 302
    assert OperandInstance.objects.get(kind="Prometheus").spec["serviceAccountName"] == (
        "prometheus-k8s"
    )


def test_a_required_field_left_blank_is_refused_on_its_field(client, buyer, operator):
    client.force_login(buyer.owner)
    info = json.loads(json.dumps(CERT_MANAGER))
    info["alm_examples"] = "[]"  # no example: the skeleton has secretName "" and issuerRef.name ""
    installation = operator(info)
    url = f"/instances/new/{installation.pk}/?kind=Certificate"
    page = client.get(url).content.decode()
    assert re.search(r'name="f:spec.secretName"[^>]*value=""', page)
    response = client.post(url, _submit(page, **{"f:spec.issuerRef.name": "ca"}))
    assert response.status_code == 400
    assert _errors(response.content.decode(), "spec.secretName") == "<li>Required.</li>"
    assert not _errors(response.content.decode(), "spec.issuerRef.name")
    response = client.post(
        url, _submit(page, **{"f:spec.issuerRef.name": "ca", "f:spec.secretName": "web-tls"})
    )
    assert response.status_code == 302
    assert OperandInstance.objects.get(kind="Certificate").spec == {
        "secretName": "web-tls",
        "issuerRef": {"name": "ca"},
    }


def test_typed_values_come_back_with_their_type():
    version = {
        "name": "v1",
        "api_version": "example.com/v1",
        "schema": {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "port": {"type": "integer", "enum": [80, 443]},
                        "ratio": {"type": "number"},
                        "tls": {"type": "boolean"},
                        "hosts": {"type": "array", "items": {"type": "string"}},
                        "target": {"x-kubernetes-int-or-string": True},
                    },
                }
            },
        },
        "spec_descriptors": [
            {
                "path": "ratio",
                "display_name": "Ratio",
                "x_descriptors": [f"{operand_form.UI}number"],
            }
        ],
    }
    fields = operand_form.build_fields(version)
    base = {"spec": {"port": 80, "tls": True, "hosts": ["a"], "target": 8080}}
    obj = json.loads(json.dumps(base))
    data = {
        "f:spec.port": "443",
        "f:spec.ratio": "0.5",
        "f:spec.tls._shown": "1",  # unchecked
        "f:spec.hosts": "a\nb\n",
        "f:spec.target": "8080",  # as drawn: unchanged, stays an integer
    }
    assert operand_form.merge(fields, obj, data, base=base) == {}
    assert obj["spec"] == {
        "port": 443,
        "ratio": 0.5,
        "tls": False,
        "hosts": ["a", "b"],
        "target": 8080,
    }

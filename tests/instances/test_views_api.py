"""The instance screens and their REST twins: errors on the field, tenancy, query counts."""

import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from instances import services as instance_services
from instances import tasks as instance_tasks
from instances.models import OperandInstance
from tests.conftest import sandbox_object, wait_until

from .conftest import cr, follow


def _form(**overrides):
    data = {
        "_current": "form",
        "_submit": "1",
        "request_key": "rk-1",
        "name": "web-cache",
        "replicas": "2",
        "version": "v1.5",
        "setup": "replset",
        "node_selector-key": ["kubernetes.io/os", ""],
        "node_selector-value": ["linux", ""],
        "affinity": "",
        "requests_cpu": "1",
        "requests_memory": "512Mi",
        "limits_cpu": "1",
        "limits_memory": "512Mi",
    }
    data.update(overrides)
    return data


def _field_errors(html, field):
    match = re.search(rf'<ul class="errorlist" data-field="{field}">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def test_instances_tab_lists_instances_and_offers_a_create_button(client, buyer, running):
    client.force_login(buyer.owner)
    html = client.get(f"/operators/{running.installation_id}/instances/").content.decode()
    assert 'data-testid="create-MemcachedCluster"' in html
    assert "mem1" in html and "Running" in html and "2/2" in html and "sharded" in html
    fragment = client.get(
        f"/instances/of-installation/{running.installation_id}/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.startswith('<div id="installation-instances"')


def test_name_input_allows_what_its_help_text_says(client, buyer, installed):
    client.force_login(buyer.owner)
    html = client.get(f"/instances/new/{installed.pk}/").content.decode()
    name_input = re.search(r'<input[^>]*name="name"[^>]*>', html).group(0)
    assert 'maxlength="40"' in name_input and "at most 40" in html


def test_create_page_is_prefilled_from_the_csv(client, buyer, installed):
    client.force_login(buyer.owner)
    html = client.get(f"/instances/new/{installed.pk}/").content.decode()
    assert "Create Memcached cluster" in html
    assert 'value="memcached-test"' in html  # alm-examples
    assert "Number of memcached pods in the cluster." in html  # specDescriptors
    assert '<option value="1.6.5">' in html
    assert "Every node holds every key" in html and "Each key lives on one node" in html
    assert 'value="512Mi"' in html


def test_create_from_the_form_tab(
    client, buyer, installed, sandbox, django_capture_on_commit_callbacks
):
    client.force_login(buyer.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/instances/new/{installed.pk}/", _form())
    instance = OperandInstance.objects.get(name="web-cache")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/{instance.pk}/?created=1")
    # The page says "Creating …" in a status line that the live panel replaces by the outcome
    # (a flash message would still say "Creating" once it runs).
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="creation-outcome"' in page and "Creating web-cache…" in page
    assert page.count("Creating web-cache…") == 1
    follow(instance, until={"running"})
    panel = client.get(
        f"/instances/{instance.pk}/overview/?fragment=status&created=1", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "web-cache is running." in panel and "Creating web-cache" not in panel
    assert instance.spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert instance.spec["setup"] == "replset" and instance.request_key == "rk-1"
    assert sandbox_object(
        sandbox, "daas.tenxcloud.com/v1", "MemcachedCluster", installed.namespace, "web-cache"
    )
    # A double submit is the same instance.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/instances/new/{installed.pk}/", _form())
    assert OperandInstance.objects.filter(name="web-cache").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"replicas": "0"}, "replicas", "At least 1 replica."),
        ({"setup": "hybrid"}, "setup", "choose exactly one of sharded or replset"),
        ({"node_selector-key": ["gpu node", ""]}, "node_selector", "not a valid label key"),
        ({"limits_memory": "128Mi"}, "limits_memory", "below the request"),
        ({"affinity": "nodeAffinity: {"}, "affinity", "Not valid YAML"),
        ({"requests_cpu": "lots"}, "requests_cpu", "not a Kubernetes quantity"),
    ],
)
def test_form_errors_are_shown_on_their_field(client, buyer, installed, overrides, field, fragment):
    client.force_login(buyer.owner)
    response = client.post(f"/instances/new/{installed.pk}/", _form(**overrides))
    assert response.status_code == 400
    assert fragment in _field_errors(response.content.decode(), field)
    assert not OperandInstance.objects.exists()


def test_every_field_error_shows_in_one_round(client, buyer, installed):
    """An unreadable affinity no longer hides the other fields' errors until the next submit."""
    client.force_login(buyer.owner)
    response = client.post(
        f"/instances/new/{installed.pk}/",
        _form(affinity="nodeAffinity: {", replicas="0", limits_memory="128Mi", name="Bad_Name"),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Not valid YAML" in _field_errors(html, "affinity")
    assert "At least 1 replica." in _field_errors(html, "replicas")
    assert "below the request" in _field_errors(html, "limits_memory")
    assert _field_errors(html, "name")
    assert not OperandInstance.objects.exists()


def test_tab_switches_keep_the_values_and_yaml_validates_the_same_way(client, buyer, installed):
    client.force_login(buyer.owner)
    url = f"/instances/new/{installed.pk}/"
    to_yaml = client.post(url, {**_form(replicas="3"), "_submit": "", "_switch": "yaml"})
    html = to_yaml.content.decode()
    assert to_yaml.status_code == 200 and 'name="_current" value="yaml"' in html
    text = re.search(r'<textarea name="yaml"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    import html as html_module

    text = html_module.unescape(text)
    assert "kind: MemcachedCluster" in text and "replicas: 3" in text
    assert f"namespace: {installed.namespace}" in text and "kubernetes.io/os: linux" in text
    # Edited in YAML, then back to the form: the change is there.
    edited = text.replace("replicas: 3", "replicas: 4")
    back = client.post(
        url, {"_current": "yaml", "_switch": "form", "yaml": edited}
    ).content.decode()
    assert 'name="_current" value="form"' in back and 'name="replicas" value="4"' in back
    # Invalid YAML content names the path.
    bad = client.post(
        url,
        {"_current": "yaml", "_submit": "1", "yaml": edited.replace("replicas: 4", "replicas: 0")},
    )
    assert bad.status_code == 400
    assert "spec.replicas: At least 1 replica." in _field_errors(bad.content.decode(), "yaml")


def test_detail_page_tabs(client, buyer, running, settings, memcached_server, sandbox):
    client.force_login(buyer.owner)
    settings.MEMCACHED_ACCESS_OVERRIDES = {f"{running.namespace}/mem1": memcached_server}
    html = client.get(f"/instances/{running.pk}/").content.decode()
    assert (
        "mem1-memcached-0" in html
        and "sandbox-node-" in html
        and f"127.{sandbox.network.base}." in html
    )
    assert "mem1-mcrouter-service" in html and "Replicas ready / desired" in html
    access = client.get(f"/instances/{running.pk}/access/").content.decode()
    assert f"mem1-mcrouter-service.{running.namespace}.svc:11211" in access
    assert f"mem1-memcached-0.mem1-memcached.{running.namespace}.svc:11211" in access
    assert "Accessible from outside the cluster" in access and "Only inside the cluster" in access
    assert "test override" in access
    monitoring = client.get(f"/instances/{running.pk}/monitoring/").content.decode()
    assert 'data-testid="metrics-empty"' in monitoring
    events = client.get(f"/instances/{running.pk}/events/").content.decode()
    assert "CreateRequested" in events
    yaml_tab = client.get(f"/instances/{running.pk}/yaml/").content.decode()
    assert "kind: MemcachedCluster" in yaml_tab
    logs = client.get(f"/instances/{running.pk}/logs/").content.decode()
    assert 'data-testid="logs-form"' in logs
    # The pods table has kubectl's AGE column, from each pod's creationTimestamp.
    ages = re.findall(r'data-testid="pod-age"><time datetime="([^"]+)">([^<]+)</time>', html)
    assert ages and all(
        created and re.fullmatch(r"\d+[smhdy]\w*", shown) for created, shown in ages
    )
    # A tab the page does not have is the friendly 404, not the overview again.
    bogus = client.get(f"/instances/{running.pk}/bogus/")
    assert bogus.status_code == 404 and "Page not found" in bogus.content.decode()


def test_verify_scale_access_and_logs_from_the_page(
    client, buyer, running, settings, memcached_server, django_capture_on_commit_callbacks
):
    client.force_login(buyer.owner)
    settings.MEMCACHED_ACCESS_OVERRIDES = {f"{running.namespace}/mem1": memcached_server}
    with django_capture_on_commit_callbacks(execute=True):
        html = client.post(
            f"/instances/{running.pk}/verify/", HTTP_HX_REQUEST="true"
        ).content.decode()
    # Answered at once with the button busy and the panel polling; the worker's result
    # shows on the next poll.
    assert "Verifying…" in html and 'hx-trigger="every 2s"' in html
    html = client.get(
        f"/instances/{running.pk}/access/?fragment=access", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="verify-result" data-ok="true"' in html and "round trip" in html
    assert 'hx-trigger="every 2s"' not in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/instances/{running.pk}/access/change/", {"enabled": "1"})
    running.refresh_from_db()
    assert running.access_state == "exposed"
    access = client.get(f"/instances/{running.pk}/access/").content.decode()
    assert running.access_address in access
    scale = client.post(f"/instances/{running.pk}/scale/", {"replicas": "0"}, follow=True)
    assert "At least 1 replica." in scale.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/instances/{running.pk}/logs/fetch/",
            {"pod": "mem1-memcached-0", "tail": "5"},
        )
    logs = client.get(
        f"/instances/{running.pk}/logs/?pod=mem1-memcached-0&container=memcached"
    ).content.decode()
    assert 'data-testid="log-text"' in logs and "server listening" in logs


def test_delete_asks_for_the_name_first(client, buyer, running, django_capture_on_commit_callbacks):
    client.force_login(buyer.owner)
    page = client.get(f"/instances/{running.pk}/delete/").content.decode()
    assert "cannot be undone" in page
    wrong = client.post(f"/instances/{running.pk}/delete/", {"confirm_name": "x"}, follow=True)
    assert "Type the instance&#x27;s name to confirm." in wrong.content.decode()
    running.refresh_from_db()
    assert running.status == "running"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/instances/{running.pk}/delete/", {"confirm_name": "mem1"})
    running.refresh_from_db()
    assert running.status == "deleted"


def test_expired_entitlement_shows_a_renew_link(client, buyer, running, time_machine):
    entitlement = buyer.entitlements.get()
    time_machine.move_to(entitlement.ends_at + timezone.timedelta(hours=1))
    client.force_login(buyer.owner)
    tab = client.get(f"/operators/{running.installation_id}/instances/").content.decode()
    assert 'data-testid="entitlement-expired"' in tab
    assert f"/orders/purchased/{entitlement.pk}/renew/" in tab
    assert 'data-testid="create-MemcachedCluster"' not in tab
    page = client.get(f"/instances/new/{running.installation_id}/")
    assert (
        page.status_code == 403
        and f"/orders/purchased/{entitlement.pk}/renew/" in page.content.decode()
    )
    # Running instances stay manageable.
    assert client.get(f"/instances/{running.pk}/edit/").status_code == 200


def test_other_tenants_get_404(client, running, tenant_with_owner):
    _tenant, stranger = tenant_with_owner("stranger")
    client.force_login(stranger)
    for url in (
        f"/instances/{running.pk}/",
        f"/instances/{running.pk}/access/",
        f"/instances/{running.pk}/edit/",
        f"/instances/new/{running.installation_id}/",
        f"/instances/catalog/memcached/progress/{running.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/instances/{running.pk}/verify/").status_code == 404
    assert client.post(f"/instances/{running.pk}/delete/").status_code == 404
    api = APIClient()
    api.force_authenticate(stranger)
    assert api.get(f"/api/v1/instances/{running.pk}/").status_code == 404
    assert api.post(f"/api/v1/instances/{running.pk}/verify/").status_code == 404
    assert api.get("/api/v1/instances/").json()["count"] == 0
    assert api.get(f"/api/v1/service-catalog/{running.pk}/").status_code == 404
    other = api.post(
        "/api/v1/instances/",
        {"installation": running.installation_id, **_api_fields()},
        format="json",
    )
    assert other.status_code == 400 and "installation" in other.json()["fields"]


def _api_fields(**overrides):
    body = {
        "name": "api-cache",
        "replicas": 2,
        "version": "v1.5",
        "setup": "sharded",
        "node_selector": {"kubernetes.io/os": "linux"},
        "resources": {
            "requests": {"cpu": "500m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("overrides", "field", "fragment", "code"),
    [
        ({"replicas": 0}, "replicas", "At least 1", "invalid_manifest"),
        ({"setup": "both"}, "setup", "not a setup", "invalid_manifest"),
        (
            {"node_selector": {"no spaces": "x"}},
            "node_selector",
            "not a valid label key",
            "invalid_manifest",
        ),
        (
            {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
            "resources.limits.cpu",
            "below the request",
            "invalid_manifest",
        ),
        # Not even YAML: the serializer refuses it before the manifest rules run.
        ({"affinity": "nodeAffinity: {"}, "affinity", "Not valid YAML", "invalid"),
        (
            {"affinity": {"nodeAffinity": {"bogus": 1}}},
            "affinity",
            "unknown field “bogus”",
            "invalid_manifest",
        ),
        ({"name": "Not_OK"}, "name", "RFC 1123", "invalid_manifest"),
    ],
)
def test_api_errors_name_the_field(buyer, installed, overrides, field, fragment, code):
    api = APIClient()
    api.force_authenticate(buyer.owner)
    response = api.post(
        "/api/v1/instances/",
        {"installation": installed.pk, **_api_fields(**overrides)},
        format="json",
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == code
    assert any(fragment in m for m in body["fields"][field]), body
    assert body["detail"].startswith(f"{field}: ")


def test_api_crud_scale_access_verify_metrics_logs_events(
    buyer, installed, settings, memcached_server, django_capture_on_commit_callbacks, sandbox
):
    api = APIClient()
    api.force_authenticate(buyer.owner)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/instances/",
            {"installation": installed.pk, **_api_fields()},
            format="json",
            HTTP_IDEMPOTENCY_KEY="api-1",
        )
        again = api.post(
            "/api/v1/instances/",
            {"installation": installed.pk, **_api_fields()},
            format="json",
            HTTP_IDEMPOTENCY_KEY="api-1",
        )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert again.json()["id"] == body["id"] and body["origin"] == "api"
    assert body["router_address"] == f"api-cache-mcrouter-service.{installed.namespace}.svc:11211"
    instance = OperandInstance.objects.get(pk=body["id"])
    follow(instance, {"running"})
    url = f"/api/v1/instances/{instance.pk}/"
    detail = api.get(url).json()
    assert detail["status"] == "running" and len(detail["pods"]) == 4
    assert len(detail["pod_addresses"]) == 2

    with django_capture_on_commit_callbacks(execute=True):
        patched = api.patch(url, {"version": "1.6.5"}, format="json")
    assert patched.status_code == 202 and patched.json()["spec"]["version"] == "1.6.5"
    assert patched.json()["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    bad = api.post(f"{url}scale/", {"replicas": 0}, format="json")
    assert bad.status_code == 400 and "replicas" in bad.json()["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        scaled = api.post(f"{url}scale/", {"replicas": 3}, format="json")
    assert scaled.status_code == 202 and scaled.json()["spec"]["replicas"] == 3

    def settled():
        instance_tasks.sync_instances(instance.cluster_id, force=True)
        instance.refresh_from_db()
        return instance.settled and instance.ready_replicas == 3

    wait_until(settled, timeout=20, message="the rolling update and the scale")

    with django_capture_on_commit_callbacks(execute=True):
        exposing = api.post(f"{url}access/")
    assert exposing.status_code == 202
    assert exposing.json()["external_access"] | {"state": "?"} == {
        "enabled": True,
        "state": "?",
        "type": "",
        "service": "",
        "address": "",
        "error": "",
        "error_display": "",
    }
    exposed = api.get(url).json()["external_access"]
    assert exposed["state"] == "exposed" and exposed["address"].startswith(
        f"127.{sandbox.network.base}.0.1"
    )
    assert exposed["service"] == "api-cache-mcrouter-external" and exposed["type"] == "NodePort"

    settings.MEMCACHED_ACCESS_OVERRIDES = {f"{installed.namespace}/api-cache": memcached_server}
    with django_capture_on_commit_callbacks(execute=True):
        verifying = api.post(f"{url}verify/")
    assert verifying.status_code == 202 and verifying.json()["verification"]["running"] is True
    verified = api.get(url).json()["verification"]
    assert verified["ok"] is True and verified["round_trip_ms"] > 0

    instance_tasks.poll_stats()
    metrics = api.get(f"{url}metrics/?range=24h").json()
    assert metrics["range"] == "24h" and metrics["latest"]["limit_maxbytes"] > 0
    assert api.get(f"{url}metrics/?range=1y").json()["fields"]["range"]

    pod = detail["pods"][0]["name"]
    with django_capture_on_commit_callbacks(execute=True):
        asked = api.post(f"{url}logs/", {"pod": pod, "tail": 2}, format="json")
    assert asked.status_code == 202
    logs = api.get(f"{url}logs/?pod={pod}").json()
    assert logs["fetching"] is False and logs["text"]
    assert "pod" in api.post(f"{url}logs/", {"pod": "nope"}, format="json").json()["fields"]
    events = api.get(f"{url}events/").json()
    assert {"CreateRequested", "Exposed", "AccessVerified"} <= {e["reason"] for e in events}

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"{url}access/").json()["external_access"]["state"] == "removing"
    assert api.get(url).json()["external_access"]["state"] == "none"
    with django_capture_on_commit_callbacks(execute=True):
        gone = api.delete(url)
    assert gone.status_code == 202 and gone.json()["status"] == "deleting"
    assert api.get(url).json()["status"] == "deleted"
    assert api.get("/api/v1/instances/").json()["count"] == 0
    assert api.get("/api/v1/instances/?include_deleted=true").json()["count"] == 1


def test_api_accepts_a_whole_manifest_as_yaml(buyer, installed, django_capture_on_commit_callbacks):
    api = APIClient()
    api.force_authenticate(buyer.owner)
    from instances import memcached

    text = memcached.to_yaml(cr(name="from-yaml", namespace=installed.namespace, replicas=1))
    with django_capture_on_commit_callbacks(execute=True):
        ok = api.post(
            "/api/v1/instances/", {"installation": installed.pk, "manifest": text}, format="json"
        )
    assert ok.status_code == 201 and ok.json()["spec"]["replicas"] == 1
    bad = api.post(
        "/api/v1/instances/",
        {"installation": installed.pk, "manifest": text.replace("replicas: 1", "replicas: -1")},
        format="json",
    )
    assert bad.status_code == 400 and "manifest.spec.replicas" in bad.json()["fields"]


def test_service_catalog_api(
    buyer, on_sale_version, sandbox_cluster, clean_namespace, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.force_authenticate(buyer.owner)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/service-catalog/",
            {
                "asset": on_sale_version.asset.code,
                "project": buyer.project.pk,
                "cluster": sandbox_cluster.pk,
                "expose": True,
                **_api_fields(name="mm2"),
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY="cat-1",
        )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert [s["key"] for s in body["steps"]] == ["operator", "create", "ready", "access"]
    assert body["steps"][0]["state"] == "current" and body["done"] is False
    progress = api.get(f"/api/v1/service-catalog/{body['instance']['id']}/").json()
    assert progress["instance"]["name"] == "mm2"
    bad = api.post(
        "/api/v1/service-catalog/",
        {
            "asset": on_sale_version.asset.code,
            "project": buyer.project.pk,
            "cluster": sandbox_cluster.pk,
            **_api_fields(name="mm3", replicas=0),
        },
        format="json",
    )
    assert bad.status_code == 400 and "replicas" in bad.json()["fields"]


def test_list_pages_and_endpoints_keep_a_constant_query_count(
    client, buyer, running, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    client.force_login(buyer.owner)
    api = APIClient()
    api.force_authenticate(buyer.owner)
    urls = ["/instances/", f"/operators/{running.installation_id}/instances/"]
    counts = {}
    for url in urls:
        with django_assert_max_num_queries(40) as captured:
            assert client.get(url).status_code == 200
        counts[url] = len(captured.captured_queries)
    with django_assert_max_num_queries(40) as captured:
        api.get("/api/v1/instances/")
    api_count = len(captured.captured_queries)
    for i in range(4):
        OperandInstance.objects.create(
            tenant=running.tenant,
            installation=running.installation,
            cluster=running.cluster,
            namespace=running.namespace,
            api_group="daas.tenxcloud.com",
            api_version="v1",
            kind="MemcachedCluster",
            name=f"extra{i}",
            spec={"replicas": 1, "version": "v1.5", "setup": "sharded"},
            status="running",
            settled=True,
        )
    for url in urls:
        with django_assert_max_num_queries(counts[url]):
            assert client.get(url).status_code == 200
    with django_assert_max_num_queries(api_count):
        assert api.get("/api/v1/instances/").json()["count"] == 5


def test_catalog_index_lists_entitled_memcached_assets(client, buyer, on_sale_version):
    client.force_login(buyer.owner)
    html = client.get("/instances/catalog/memcached/").content.decode()
    assert f'data-testid="offering-{on_sale_version.asset.code}"' in html


def test_instance_list_empty_state(client, tenant_with_owner):
    _tenant, owner = tenant_with_owner("nobody-yet")
    client.force_login(owner)
    html = client.get("/instances/").content.decode()
    assert 'data-testid="instance-list-empty"' in html


def test_services_refuse_strangers(running, make_user):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        instance_services.request_delete(actor=make_user("outsider"), instance=running)


def test_other_owned_apis_get_a_yaml_editor_prefilled_from_their_example(
    client, buyer, installed, django_capture_on_commit_callbacks
):
    from .test_memcached_rules import CSV_INFO

    backup = {**CSV_INFO["provided_apis"][1]}
    installed.csv_info = {
        **installed.csv_info,
        "provided_apis": [*installed.csv_info["provided_apis"], backup],
        "alm_examples": CSV_INFO["alm_examples"],
    }
    installed.save()
    client.force_login(buyer.owner)
    tab = client.get(f"/operators/{installed.pk}/instances/").content.decode()
    assert 'data-testid="create-MemcachedBackup"' in tab and "Create MemcachedBackup" in tab
    url = f"/instances/new/{installed.pk}/?kind=MemcachedBackup"
    page = client.get(url).content.decode()
    assert 'data-testid="tab-form"' not in page  # YAML only
    assert "kind: MemcachedBackup" in page and "0 3 * * *" in page
    assert f"namespace: {installed.namespace}" in page
    bad = client.post(url, {"_current": "yaml", "_submit": "1", "yaml": "kind: Nope\n"})
    errors = _field_errors(bad.content.decode(), "yaml")
    assert "apiVersion: Must be daas.tenxcloud.com/v1alpha1." in errors
    assert "metadata.name: A name is required." in errors
    text = (
        "apiVersion: daas.tenxcloud.com/v1alpha1\nkind: MemcachedBackup\n"
        "metadata:\n  name: nightly\nspec:\n  schedule: '0 3 * * *'\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(url, {"_current": "yaml", "_submit": "1", "yaml": text})
    assert created.status_code == 302
    instance = OperandInstance.objects.get(kind="MemcachedBackup")
    assert instance.spec == {"schedule": "0 3 * * *"} and instance.api_version == "v1alpha1"
    # The sandbox serves no such API: the instance fails and says why.
    instance.refresh_from_db()
    assert instance.status == "failed" and "not served" in instance.failure_reason
    assert client.get(f"/instances/new/{installed.pk}/?kind=Nope").status_code == 404


def test_service_catalog_refuses_a_package_already_installed_under_another_asset(
    client, buyer, installed, list_operator, sandbox_cluster, django_capture_on_commit_callbacks
):
    from orders.models import Entitlement

    # Another listing of the same operator package (another provider's catalog of it).
    other = list_operator(name="mem-copy", catalog="mem-copy-registry", provider="copycat")
    now = timezone.now()
    Entitlement.objects.create(
        buyer=buyer,
        asset=other.asset,
        plan=other.asset.plans.first(),
        starts_at=now,
        ends_at=now + timezone.timedelta(days=30),
    )
    api = APIClient()
    api.force_authenticate(buyer.owner)
    refused = api.post(
        "/api/v1/service-catalog/",
        {
            "asset": other.asset.code,
            "project": buyer.project.pk,
            "cluster": sandbox_cluster.pk,
            **_api_fields(name="mc-copy"),
        },
        format="json",
    )
    assert refused.status_code == 400, refused.json()
    body = refused.json()
    assert body["code"] == "package_under_other_asset"
    assert "installed from mem1" in body["fields"]["project"][0]
    # Nothing was filed under the other asset's operator.
    assert not OperandInstance.objects.filter(name="mc-copy").exists()
    # The page says the same, on the project field.
    client.force_login(buyer.owner)
    page = client.post(
        f"/instances/catalog/memcached/{other.asset.code}/",
        {
            "project": buyer.project.pk,
            "cluster": sandbox_cluster.pk,
            **_form(name="mc-copy"),
        },
    )
    assert _field_errors(page.content.decode(), "project").count("installed from mem1") == 1

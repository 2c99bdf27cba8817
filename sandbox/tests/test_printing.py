"""Server-side printing over HTTP: the exact Table shapes kubectl receives.

`Accept: application/json;as=Table;v=v1;g=meta.k8s.io` on list, get and watch answers a
meta.k8s.io/v1 Table with Kubernetes' own columns (printers.go) or a CRD's
additionalPrinterColumns; rows carry PartialObjectMetadata unless includeObject says
otherwise.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse

from .conftest import TOKEN, wait_for

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


def request(sb, method, path, *, body=None, accept="application/json", content_type=None):
    host, port = sb.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": accept}
    payload = None
    if body is not None:
        payload = body if isinstance(body, bytes | str) else json.dumps(body)
        headers["Content-Type"] = content_type or "application/json"
    conn.request(method, path, body=payload, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, data.decode()


def watch_events(sb, path, *, accept="application/json", until, timeout=15):
    """Read watch events until `until(events)`, asked after each event, is true."""
    host, port = sb.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}", "Accept": accept})
    resp = conn.getresponse()
    assert resp.status == 200
    events: list[dict] = []
    try:
        while True:
            line = resp.fp.readline()  # chunked: size line, then the event line
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"{"):
                continue
            events.append(json.loads(line))
            if until(events):  # called once per event
                break
    finally:
        conn.close()
    return events


def names(table):
    return [c["name"] for c in table["columnDefinitions"]]


def running_pod(kube, ns, name="web", labels=None):
    kube.r("v1", "Pod").create(
        namespace=ns,
        body={
            "metadata": {"name": name, "labels": labels or {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
        },
    )
    wait_for(
        lambda: kube.status("v1", "Pod", name, ns).get("phase") == "Running",
        message=f"pod {name} Running",
    )
    return kube.get("v1", "Pod", name, ns).to_dict()


def test_pod_list_as_table_has_the_printers_columns_and_cells(sandbox, kube, ns):
    pod = running_pod(kube, ns)
    status, table = request(sandbox, "GET", f"/api/v1/namespaces/{ns}/pods?limit=500", accept=TABLE)
    assert status == 200
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"]["resourceVersion"]
    columns = table["columnDefinitions"]
    assert names(table) == [
        "Name", "Ready", "Status", "Restarts", "Age",
        "IP", "Node", "Nominated Node", "Readiness Gates",
    ]  # fmt: skip
    assert [c["priority"] for c in columns] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert columns[0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": columns[0]["description"],
        "priority": 0,
    }
    assert columns[0]["description"].startswith("Name must be unique within a namespace.")
    [row] = table["rows"]
    name, ready, phase, restarts, age, ip, node, nominated, gates = row["cells"]
    assert (name, ready, phase, restarts) == ("web", "1/1", "Running", "0")
    assert age.endswith("s")
    assert ip == pod["status"]["podIP"] and node == pod["spec"]["nodeName"]
    assert (nominated, gates) == ("<none>", "<none>")
    # includeObject defaults to Metadata: the row's object is PartialObjectMetadata.
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["apiVersion"] == "meta.k8s.io/v1"
    assert row["object"]["metadata"]["uid"] == pod["metadata"]["uid"]
    assert "spec" not in row["object"]


def test_include_object_and_single_get_and_v1beta1(sandbox, kube, ns):
    running_pod(kube, ns)
    base = f"/api/v1/namespaces/{ns}/pods"
    _, table = request(sandbox, "GET", base + "?includeObject=Object", accept=TABLE)
    obj = table["rows"][0]["object"]
    assert obj["kind"] == "Pod" and obj["apiVersion"] == "v1" and obj["spec"]["containers"]
    _, table = request(sandbox, "GET", base + "?includeObject=None", accept=TABLE)
    assert "object" not in table["rows"][0]
    status, body = request(sandbox, "GET", base + "?includeObject=All", accept=TABLE)
    assert status == 400 and body["message"] == 'invalid value for includeObject: "All"'
    # One object: a one-row Table with the object's resourceVersion.
    status, one = request(sandbox, "GET", base + "/web", accept=TABLE)
    assert status == 200 and one["kind"] == "Table" and len(one["rows"]) == 1
    assert (
        one["metadata"]["resourceVersion"]
        == one["rows"][0]["object"]["metadata"]["resourceVersion"]
    )
    # Only v1beta1 asked for: a v1beta1 Table.
    v1beta1 = "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    _, old = request(sandbox, "GET", base, accept=v1beta1)
    assert old["apiVersion"] == "meta.k8s.io/v1beta1"
    # Plain JSON stays plain JSON.
    _, plain = request(sandbox, "GET", base)
    assert plain["kind"] == "PodList"


def test_builtin_kinds_print_kubernetes_columns(sandbox, kube, ns):
    kube.r("apps/v1", "Deployment").create(
        namespace=ns,
        body={
            "metadata": {"name": "api"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [{"name": "api", "image": "busybox:1.36"}]},
                },
            },
        },
    )
    kube.r("v1", "Service").create(
        namespace=ns,
        body={
            "metadata": {"name": "api"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "api"},
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        },
    )
    kube.r("v1", "ConfigMap").create(
        namespace=ns, body={"metadata": {"name": "conf"}, "data": {"a": "1", "b": "2"}}
    )
    wait_for(
        lambda: (kube.status("apps/v1", "Deployment", "api", ns).get("readyReplicas") or 0) == 2,
        message="deployment ready",
    )

    def table(path):
        status, body = request(sandbox, "GET", path, accept=TABLE)
        assert status == 200, body
        return body

    deploy = table(f"/apis/apps/v1/namespaces/{ns}/deployments")
    assert names(deploy) == [
        "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector",
    ]  # fmt: skip
    cells = deploy["rows"][0]["cells"]
    assert cells[:4] == ["api", "2/2", 2, 2] and cells[5:] == ["api", "busybox:1.36", "app=api"]

    rs = table(f"/apis/apps/v1/namespaces/{ns}/replicasets")
    assert names(rs)[:5] == ["Name", "Desired", "Current", "Ready", "Age"]
    assert rs["rows"][0]["cells"][1:4] == [2, 2, 2]

    svc = table(f"/api/v1/namespaces/{ns}/services/api")
    assert names(svc) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    service = kube.get("v1", "Service", "api", ns).to_dict()
    node_port = service["spec"]["ports"][0]["nodePort"]
    name, kind, cluster_ip, external, ports, _age, selector = svc["rows"][0]["cells"]
    assert (name, kind, external, selector) == ("api", "NodePort", "<none>", "app=api")
    assert cluster_ip == service["spec"]["clusterIP"] and ports == f"80:{node_port}/TCP"

    cms = table(f"/api/v1/namespaces/{ns}/configmaps")
    assert names(cms) == ["Name", "Data", "Age"]
    assert ["conf", 2] in [r["cells"][:2] for r in cms["rows"]]

    nodes = table("/api/v1/nodes")
    assert names(nodes)[:5] == ["Name", "Status", "Roles", "Age", "Version"]
    assert {r["cells"][1] for r in nodes["rows"]} == {"Ready"}

    namespaces = table("/api/v1/namespaces")
    assert names(namespaces) == ["Name", "Status", "Age"]
    assert [ns, "Active"] in [r["cells"][:2] for r in namespaces["rows"]]

    events = table(f"/api/v1/namespaces/{ns}/events")
    assert names(events)[:4] == ["Last Seen", "Type", "Reason", "Object"]

    crds = table("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    assert names(crds) == ["Name", "Created At"]
    assert crds["columnDefinitions"][1]["type"] == "date"
    assert crds["rows"][0]["cells"][1].endswith("Z")


def test_custom_resources_print_their_additional_printer_columns(sandbox, kube, ns):
    group = "printing.sandbox.dev"
    kube.r("apiextensions.k8s.io/v1", "CustomResourceDefinition").create(
        body={
            "metadata": {"name": f"widgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "additionalPrinterColumns": [
                            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                            {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                            {
                                "name": "Ready",
                                "type": "string",
                                "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                                "priority": 1,
                            },
                            {
                                "name": "Age",
                                "type": "date",
                                "jsonPath": ".metadata.creationTimestamp",
                            },
                        ],
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    },
                    {
                        "name": "v2",
                        "served": True,
                        "storage": False,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    },
                ],
            },
        }
    )
    wait_for(lambda: request(sandbox, "GET", f"/apis/{group}/v1")[0] == 200, message="CRD served")
    status, _ = request(
        sandbox,
        "POST",
        f"/apis/{group}/v1/namespaces/{ns}/widgets",
        body={
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3},
        },
    )
    assert status == 201
    _, table = request(sandbox, "GET", f"/apis/{group}/v1/namespaces/{ns}/widgets", accept=TABLE)
    assert names(table) == ["Name", "Size", "Color", "Ready", "Age"]
    assert [c["type"] for c in table["columnDefinitions"]] == [
        "string", "integer", "string", "string", "date",
    ]  # fmt: skip
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 1, 0]
    name, size, color, ready, age = table["rows"][0]["cells"]
    assert (name, size, color, ready) == ("w1", 3, None, None)  # missing fields are null
    assert age.endswith("s")
    # A version without columns prints NAME and AGE, as apiextensions does.
    _, table = request(sandbox, "GET", f"/apis/{group}/v2/namespaces/{ns}/widgets", accept=TABLE)
    assert names(table) == ["Name", "Age"]
    assert table["columnDefinitions"][1]["type"] == "date"


def test_watch_as_table_sends_column_definitions_once(sandbox, kube, ns):
    running_pod(kube, ns, "first")
    path = f"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion=0&timeoutSeconds=10"

    def enough(events):
        if len(events) == 1:
            kube.r("v1", "Pod").create(
                namespace=ns,
                body={
                    "metadata": {"name": "second"},
                    "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
                },
            )
        return any(
            e["object"]["rows"][0]["cells"][:3] == ["second", "1/1", "Running"] for e in events
        )

    events = watch_events(sandbox, path, accept=TABLE, until=enough)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["kind"] == "Table"
    assert names(events[0]["object"])[0] == "Name"
    assert all(e["object"]["columnDefinitions"] is None for e in events[1:])
    assert all(len(e["object"]["rows"]) == 1 for e in events)


def test_label_selected_watch_sees_objects_enter_and_leave_the_selection(sandbox, kube, ns):
    cms = kube.r("v1", "ConfigMap")
    cms.create(namespace=ns, body={"metadata": {"name": "c", "labels": {"tier": "gold"}}})
    _, listed = request(sandbox, "GET", f"/api/v1/namespaces/{ns}/configmaps")
    rv = listed["metadata"]["resourceVersion"]
    selector = urllib.parse.quote("tier=gold")
    path = (
        f"/api/v1/namespaces/{ns}/configmaps?watch=true&labelSelector={selector}"
        f"&resourceVersion={rv}&timeoutSeconds=10"
    )
    steps = iter(
        [
            lambda: cms.patch(
                namespace=ns,
                name="c",
                body={"metadata": {"labels": {"tier": "silver"}}},
                content_type="application/merge-patch+json",
            ),
            lambda: cms.patch(
                namespace=ns,
                name="c",
                body={"metadata": {"labels": {"tier": "gold"}}},
                content_type="application/merge-patch+json",
            ),
        ]
    )
    next(steps)()

    def enough(events):
        if len(events) == 1:
            next(steps)()
        return len(events) >= 2

    events = watch_events(sandbox, path, until=enough)
    assert [e["type"] for e in events] == ["DELETED", "ADDED"]
    # DELETED carries the object as it last matched, at the event's resourceVersion.
    gone, back = events[0]["object"], events[1]["object"]
    assert gone["metadata"]["labels"] == {"tier": "gold"}
    assert int(gone["metadata"]["resourceVersion"]) < int(back["metadata"]["resourceVersion"])
    assert back["metadata"]["labels"] == {"tier": "gold"}


def test_send_initial_events_ends_with_a_bookmark(sandbox, kube, ns):
    kube.r("v1", "ConfigMap").create(namespace=ns, body={"metadata": {"name": "x"}})
    path = (
        f"/api/v1/namespaces/{ns}/configmaps?watch=true&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5"
    )
    events = watch_events(sandbox, path, until=lambda ev: any(e["type"] == "BOOKMARK" for e in ev))
    assert [e["type"] for e in events][-1] == "BOOKMARK"
    assert {e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"} >= {"x"}
    annotations = events[-1]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}
    status, body = request(
        sandbox, "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=true&sendInitialEvents=true"
    )
    assert status == 422
    assert body["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
    )

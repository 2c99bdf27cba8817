"""Server-side apply details a real API server enforces (status codes and messages).

managedFields in the body, a missing or wrong apiVersion/kind, unknown dryRun values,
`x-kubernetes-list-type: map` lists merged by key (built-in kinds and CRD schemas), and
`data: {}` releasing the keys under it.
"""

from __future__ import annotations

from .conftest import wait_for
from .test_printing import request

APPLY = "application/apply-patch+yaml"


def apply(sb, path, body, manager, *, query=""):
    return request(
        sb,
        "PATCH",
        f"{path}?fieldManager={manager}{query}",
        body=body,
        content_type=APPLY,
    )


def cm(ns, name, **extra):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        **extra,
    }


def test_managed_fields_in_an_apply_body_are_refused(sandbox, ns):
    body = cm(ns, "c", data={"a": "1"})
    body["metadata"]["managedFields"] = []
    status, answer = apply(sandbox, f"/api/v1/namespaces/{ns}/configmaps/c", body, "me")
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert answer["message"] == "metadata.managedFields must be nil"
    assert request(sandbox, "GET", f"/api/v1/namespaces/{ns}/configmaps/c")[0] == 404


def test_apply_without_kind_or_api_version_is_a_bad_request(sandbox, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps/c"
    no_kind = {"apiVersion": "v1", "metadata": {"name": "c"}, "data": {"a": "1"}}
    status, answer = apply(sandbox, path, no_kind, "me")
    assert (status, answer["message"]) == (400, "invalid object type: /v1, Kind=")
    no_version = {"kind": "ConfigMap", "metadata": {"name": "c"}}
    status, answer = apply(sandbox, path, no_version, "me")
    assert (status, answer["message"]) == (400, "invalid object type: /, Kind=ConfigMap")
    wrong = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "c"}}
    status, answer = apply(sandbox, path, wrong, "me")
    assert (status, answer["message"]) == (400, "invalid object type: apps/v1, Kind=Deployment")


def test_unknown_dry_run_values_are_invalid_and_write_nothing(sandbox, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    status, answer = apply(sandbox, f"{path}/c", cm(ns, "c"), "me", query="&dryRun=Al")
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
        '[]string{"Al"}: supported values: "All"'
    )
    status, answer = request(sandbox, "POST", f"{path}?dryRun=yes", body=cm(ns, "c"))
    assert status == 422 and answer["message"].startswith('CreateOptions.meta.k8s.io "" is invalid')
    assert request(sandbox, "GET", f"{path}/c")[0] == 404
    # dryRun=All answers the object but stores nothing.
    status, answer = apply(sandbox, f"{path}/c", cm(ns, "c"), "me", query="&dryRun=All")
    assert status == 201 and answer["metadata"]["name"] == "c"
    assert request(sandbox, "GET", f"{path}/c")[0] == 404


def test_service_ports_from_two_managers_merge_by_port_and_protocol(sandbox, ns):
    path = f"/api/v1/namespaces/{ns}/services/web"

    def svc(*ports, selector=None):
        spec: dict = {"ports": list(ports)}
        if selector:
            spec["selector"] = selector
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": spec,
        }

    http = {"name": "http", "port": 80, "targetPort": 8080}
    https = {"name": "https", "port": 443, "targetPort": 8443}
    assert apply(sandbox, path, svc(http, selector={"app": "web"}), "team-a")[0] == 201
    status, merged = apply(sandbox, path, svc(https), "team-b")
    assert status == 200, merged
    assert [p["port"] for p in merged["spec"]["ports"]] == [80, 443]
    owners = {m["manager"]: m["fieldsV1"] for m in merged["metadata"]["managedFields"]}
    assert owners["team-b"] == {
        "f:spec": {
            "f:ports": {
                'k:{"port":443,"protocol":"TCP"}': {
                    ".": {},
                    "f:name": {},
                    "f:port": {},
                    "f:targetPort": {},
                }
            }
        }
    }
    # team-a changing its own port does not touch team-b's; dropping it removes only it.
    status, merged = apply(sandbox, path, svc({**http, "targetPort": 9090}), "team-a")
    assert status == 200
    assert {p["port"]: p["targetPort"] for p in merged["spec"]["ports"]} == {80: 9090, 443: 8443}
    assert "selector" not in merged["spec"]  # team-a stopped applying it
    status, merged = apply(sandbox, path, svc(https), "team-a")
    assert [p["port"] for p in merged["spec"]["ports"]] == [443]
    # The same port with another value from another manager conflicts on that field, with
    # both managers that share it (they applied the same value).
    status, answer = apply(sandbox, path, svc({**https, "targetPort": 1}), "team-c")
    assert status == 409
    assert answer["message"] == (
        'Apply failed with 2 conflicts: conflict with "team-a":\n'
        '- .spec.ports[port=443,protocol="TCP"].targetPort\n'
        'conflict with "team-b":\n'
        '- .spec.ports[port=443,protocol="TCP"].targetPort'
    )
    assert {c["field"] for c in answer["details"]["causes"]} == {
        '.spec.ports[port=443,protocol="TCP"].targetPort'
    }
    # A port without its key field `port` (protocol has a default, port has none).
    status, answer = apply(sandbox, path, svc({"name": "x", "targetPort": 1}), "team-d")
    assert status == 500
    assert answer["message"] == (
        f"Internal error occurred: failed to create typed patch object ({ns}/web; /v1, "
        "Kind=Service): .spec.ports: element 0: associative list with keys has an element "
        'that omits key field "port" (and doesn\'t have default value)'
    )


def test_containers_and_env_merge_by_name(sandbox, kube, ns):
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/app"

    def deploy(containers):
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "app"},
            "spec": {
                "selector": {"matchLabels": {"app": "app"}},
                "template": {
                    "metadata": {"labels": {"app": "app"}},
                    "spec": {"containers": containers},
                },
            },
        }

    base = deploy([{"name": "app", "image": "busybox:1.36", "env": [{"name": "A", "value": "1"}]}])
    assert apply(sandbox, path, base, "owner")[0] == 201
    sidecar = deploy(
        [
            {"name": "app", "env": [{"name": "B", "value": "2"}]},
            {"name": "proxy", "image": "envoy:1.30"},
        ]
    )
    status, merged = apply(sandbox, path, sidecar, "mesh")
    assert status == 200, merged
    containers = {c["name"]: c for c in merged["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"app", "proxy"}
    assert containers["app"]["image"] == "busybox:1.36"
    assert {e["name"]: e["value"] for e in containers["app"]["env"]} == {"A": "1", "B": "2"}


def test_applying_an_empty_map_releases_the_keys_under_it(sandbox, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps/c"
    assert apply(sandbox, path, cm(ns, "c", data={"a": "1", "b": "2"}), "me")[0] == 201
    status, answer = apply(sandbox, path, cm(ns, "c", data={}), "me")
    assert status == 200
    assert not answer.get("data")
    fields = {m["manager"]: m["fieldsV1"] for m in answer["metadata"]["managedFields"]}
    assert fields["me"] == {"f:data": {}}
    # Keys another manager set stay.
    assert apply(sandbox, path, cm(ns, "c", data={"x": "9"}), "other")[0] == 200
    status, answer = apply(sandbox, path, cm(ns, "c", data={}), "me")
    assert answer["data"] == {"x": "9"}


def test_crd_list_map_keys_come_from_the_schema(sandbox, kube, ns):
    group = "lists.sandbox.dev"
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "members": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "weight": {"type": "integer"},
                            },
                        },
                    },
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
    }
    kube.r("apiextensions.k8s.io/v1", "CustomResourceDefinition").create(
        body={
            "metadata": {"name": f"teams.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"kind": "Team", "plural": "teams", "singular": "team"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": schema},
                    }
                ],
            },
        }
    )
    wait_for(lambda: request(sandbox, "GET", f"/apis/{group}/v1")[0] == 200, message="served")
    path = f"/apis/{group}/v1/namespaces/{ns}/teams/t"

    def team(members, tags):
        return {
            "apiVersion": f"{group}/v1",
            "kind": "Team",
            "metadata": {"name": "t"},
            "spec": {"members": members, "tags": tags},
        }

    assert apply(sandbox, path, team([{"name": "ann", "weight": 1}], ["a"]), "one")[0] == 201
    status, answer = apply(sandbox, path, team([{"name": "bob", "weight": 2}], ["a"]), "two")
    assert status == 200, answer
    assert [m["name"] for m in answer["spec"]["members"]] == ["ann", "bob"]
    # An atomic list (no list-type) set differently by another manager still conflicts.
    status, answer = apply(sandbox, path, team([{"name": "bob", "weight": 2}], ["b"]), "two")
    assert status == 409 and ".spec.tags" in answer["message"]

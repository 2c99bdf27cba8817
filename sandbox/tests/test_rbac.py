"""ServiceAccount tokens and RBAC: what a namespace-bound token may do, and the exact refusals.

The 403 bodies are the API server's (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
responsewriters/errors.go `forbiddenMessage` + apimachinery `NewForbidden`).
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from sandbox.server import SandboxCluster

from .conftest import TOKEN, api_client, make_dynamic_client, wait_for

OLM = "operators.coreos.com"
RBAC_V1 = "rbac.authorization.k8s.io/v1"


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body or "null")


def meta(name: str) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(name=name)


def forbidden_body(message: str, *, group: str, kind: str, name: str = "") -> dict:
    details = {"group": group, "kind": kind} if group else {"kind": kind}
    if name:
        details["name"] = name
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    }


def refused(call, *args, **kwargs) -> dict:
    with pytest.raises(ApiException) as info:
        call(*args, **kwargs)
    assert info.value.status == 403, info.value.body
    return status_of(info.value)


class Tenant:
    """Namespace `home` with ServiceAccount `market`, a second namespace `other`, and clients."""

    def __init__(self, sb: SandboxCluster, ca: str | None = None):
        self.sb = sb
        self.admin = _client(sb, TOKEN, ca)
        admin_core = client.CoreV1Api(self.admin)
        self.home, self.other = (f"{p}-{uuid.uuid4().hex[:8]}" for p in ("team-a", "team-b"))
        for namespace in (self.home, self.other):
            admin_core.create_namespace(client.V1Namespace(metadata=meta(namespace)))
        account = client.V1ServiceAccount(metadata=meta("market"))
        admin_core.create_namespaced_service_account(self.home, account)
        self.user = f"system:serviceaccount:{self.home}:market"
        self.token = sb.issue_token(self.home, "market")
        self.api = _client(sb, self.token, ca)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def role(self, rules: list[dict], *, name: str = "market", namespace: str | None = None):
        """A Role in `namespace` (default: home) bound to the ServiceAccount."""
        namespace = namespace or self.home
        rbac = client.RbacAuthorizationV1Api(self.admin)
        body: Any = {"metadata": {"name": name}, "rules": rules}  # dicts, as the API takes them
        rbac.create_namespaced_role(namespace, body)
        self.bind(name, namespace=namespace, kind="Role")

    def bind(self, role: str, *, namespace: str | None = None, kind: str = "ClusterRole"):
        namespace = namespace or self.home
        body: Any = {
            "metadata": {"name": f"{role.replace(':', '-')}-{uuid.uuid4().hex[:6]}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "market", "namespace": self.home}],
        }
        client.RbacAuthorizationV1Api(self.admin).create_namespaced_role_binding(namespace, body)

    def subscription(self, namespace: str, name: str = "memcached") -> dict:
        return {
            "apiVersion": f"{OLM}/v1alpha1",
            "kind": "Subscription",
            "metadata": {"name": name},
            "spec": {"name": "no-such-package", "source": "nowhere", "sourceNamespace": "olm"},
        }

    def message(self, verb: str, resource: str, group: str, namespace: str | None) -> str:
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        return (
            f'User "{self.user}" cannot {verb} resource "{resource}" in API group "{group}" {where}'
        )


@pytest.fixture
def tenant(sandbox) -> Tenant:
    return Tenant(sandbox)


SUBSCRIPTIONS_RW = {
    "apiGroups": [OLM],
    "resources": ["subscriptions"],
    "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"],
}


def test_role_allows_its_namespace_and_refuses_elsewhere_with_exact_bodies(tenant):
    tenant.role([SUBSCRIPTIONS_RW])
    custom, home, other = tenant.custom, tenant.home, tenant.other
    args = (OLM, "v1alpha1")

    created = custom.create_namespaced_custom_object(
        *args, home, "subscriptions", tenant.subscription(home)
    )
    assert created["metadata"]["namespace"] == home
    names = [
        s["metadata"]["name"]
        for s in custom.list_namespaced_custom_object(*args, home, "subscriptions")["items"]
    ]
    assert names == ["memcached"]

    # Another namespace: the exact body a real API server sends.
    body = refused(custom.list_namespaced_custom_object, *args, other, "subscriptions")
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"subscriptions.operators.coreos.com is forbidden: User "
        f'"system:serviceaccount:{home}:market" cannot list resource "subscriptions" '
        f'in API group "operators.coreos.com" in the namespace "{other}"',
        "reason": "Forbidden",
        "details": {"group": "operators.coreos.com", "kind": "subscriptions"},
        "code": 403,
    }

    # All namespaces: refused at the cluster scope (a product falls back to per-namespace lists).
    body = refused(custom.list_cluster_custom_object, *args, "subscriptions")
    assert body == forbidden_body(
        "subscriptions.operators.coreos.com is forbidden: "
        + tenant.message("list", "subscriptions", OLM, None),
        group=OLM,
        kind="subscriptions",
    )

    # A named request names the object in the message and in details.
    body = refused(custom.get_namespaced_custom_object, *args, other, "subscriptions", "x")
    assert body == forbidden_body(
        'subscriptions.operators.coreos.com "x" is forbidden: '
        + tenant.message("get", "subscriptions", OLM, other),
        group=OLM,
        kind="subscriptions",
        name="x",
    )

    # Core group: no ".<group>" suffix, `API group ""`, details without a group.
    body = refused(tenant.core.list_namespaced_config_map, home)
    assert body == forbidden_body(
        "configmaps is forbidden: " + tenant.message("list", "configmaps", "", home),
        group="",
        kind="configmaps",
    )
    # Cluster-scoped kinds are at the cluster scope even when named.
    body = refused(tenant.core.read_namespace, other)
    assert body["message"] == (
        f'namespaces "{other}" is forbidden: '
        + tenant.message("get", "namespaces", "", other)  # a Namespace is "in" itself
    )


def test_every_verb_is_checked(tenant):
    core, home = tenant.core, tenant.home
    tenant.role([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}])
    admin_core = client.CoreV1Api(tenant.admin)
    admin_core.create_namespaced_config_map(home, {"metadata": {"name": "cm"}})
    assert core.read_namespaced_config_map("cm", home).metadata.name == "cm"
    assert "cm" in [c.metadata.name for c in core.list_namespaced_config_map(home).items]

    def verb_of(call, *args, **kwargs) -> str:
        return refused(call, *args, **kwargs)["message"].split(" cannot ")[1].split(" ")[0]

    assert verb_of(core.create_namespaced_config_map, home, {"metadata": {"name": "n"}}) == (
        "create"
    )
    assert verb_of(core.patch_namespaced_config_map, "cm", home, {"data": {"a": "1"}}) == "patch"
    replace = core.replace_namespaced_config_map
    assert verb_of(replace, "cm", home, {"metadata": {"name": "cm"}}) == "update"
    assert verb_of(core.delete_namespaced_config_map, "cm", home) == "delete"
    assert verb_of(core.delete_collection_namespaced_config_map, home) == "deletecollection"

    # watch is its own verb, in both spellings (?watch=true and /watch/ paths).
    for path in (
        f"/api/v1/namespaces/{home}/configmaps?watch=true",
        f"/api/v1/watch/namespaces/{home}/configmaps",
    ):
        status, body = _raw(tenant.sb, "GET", path, token=tenant.token)
        assert (status, body["message"]) == (
            403,
            "configmaps is forbidden: " + tenant.message("watch", "configmaps", "", home),
        )


def test_watch_with_the_watch_verb_streams(tenant):
    tenant.role([SUBSCRIPTIONS_RW])
    home = tenant.home
    tenant.custom.create_namespaced_custom_object(
        OLM, "v1alpha1", home, "subscriptions", tenant.subscription(home)
    )
    stream = watch.Watch().stream(
        tenant.custom.list_namespaced_custom_object,
        OLM,
        "v1alpha1",
        home,
        "subscriptions",
        timeout_seconds=2,
    )
    first = next(stream)
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "memcached"
    stream.close()


def test_status_subresource_and_server_side_apply_need_their_own_rules(tenant):
    home, custom = tenant.home, tenant.custom
    tenant.role([SUBSCRIPTIONS_RW])
    args = (OLM, "v1alpha1", home, "subscriptions")
    custom.create_namespaced_custom_object(*args, tenant.subscription(home))

    body = refused(custom.patch_namespaced_custom_object_status, *args, "memcached", {"status": {}})
    assert body["message"] == (
        'subscriptions.operators.coreos.com "memcached" is forbidden: '
        + tenant.message("patch", "subscriptions/status", OLM, home)
    )
    assert body["details"] == {"name": "memcached", "group": OLM, "kind": "subscriptions"}

    # Server-side apply is a patch; one that creates the object must also be allowed to create.
    apply = {**tenant.subscription(home, "applied")}
    status, answer = _raw(
        tenant.sb,
        "PATCH",
        f"/apis/{OLM}/v1alpha1/namespaces/{home}/subscriptions/applied?fieldManager=market",
        token=tenant.token,
        body=apply,
        content_type="application/apply-patch+yaml",
    )
    assert status == 201, answer
    tenant.role(
        [{"apiGroups": [OLM], "resources": ["subscriptions"], "verbs": ["patch"]}],
        name="patch-only",
        namespace=tenant.other,
    )
    status, answer = _raw(
        tenant.sb,
        "PATCH",
        f"/apis/{OLM}/v1alpha1/namespaces/{tenant.other}/subscriptions/applied?fieldManager=market",
        token=tenant.token,
        body=apply,
        content_type="application/apply-patch+yaml",
    )
    # update.go withAuthorization: NewForbidden(gr, name, reason) with RBAC's empty reason.
    assert (status, answer["message"]) == (
        403,
        'subscriptions.operators.coreos.com "applied" is forbidden: ',
    )


def test_cluster_role_binding_grants_cluster_wide(tenant):
    rbac = client.RbacAuthorizationV1Api(tenant.admin)
    name = f"olm-reader-{uuid.uuid4().hex[:6]}"
    rbac.create_cluster_role(
        {
            "metadata": {"name": name},
            "rules": [{"apiGroups": [OLM], "resources": ["*"], "verbs": ["list"]}],
        }
    )
    custom = tenant.custom
    refused(custom.list_cluster_custom_object, OLM, "v1alpha1", "installplans")
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"kind": "Group", "name": f"system:serviceaccounts:{tenant.home}"}],
        }
    )
    try:
        everywhere = custom.list_cluster_custom_object(OLM, "v1alpha1", "installplans")
        assert everywhere["kind"] == "InstallPlanList"
        custom.list_namespaced_custom_object(OLM, "v1alpha1", tenant.other, "subscriptions")
        # Only list: get is still refused.
        refused(custom.get_namespaced_custom_object, OLM, "v1alpha1", "olm", "installplans", "x")
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)
    refused(custom.list_cluster_custom_object, OLM, "v1alpha1", "installplans")


def test_rolebinding_to_aggregated_view_cluster_role(tenant):
    """`view` is aggregated (incl. OLM's aggregate-olm-view); a RoleBinding keeps it local."""
    tenant.bind("view")
    custom = tenant.custom
    assert custom.list_namespaced_custom_object(OLM, "v1alpha1", tenant.home, "installplans")
    assert tenant.core.list_namespaced_pod(tenant.home).items == []
    refused(custom.list_namespaced_custom_object, OLM, "v1alpha1", tenant.other, "installplans")
    body = refused(
        custom.create_namespaced_custom_object,
        OLM,
        "v1alpha1",
        tenant.home,
        "subscriptions",
        tenant.subscription(tenant.home),
    )
    assert tenant.message("create", "subscriptions", OLM, tenant.home) in body["message"]
    view = client.RbacAuthorizationV1Api(tenant.admin).read_cluster_role("view")
    assert view.aggregation_rule.cluster_role_selectors
    assert any("installplans" in (r.resources or []) for r in view.rules)


def test_aggregation_rule_fills_a_cluster_role(tenant: Tenant, sandbox: SandboxCluster) -> None:
    rbac = client.RbacAuthorizationV1Api(tenant.admin)
    suffix = uuid.uuid4().hex[:6]
    label = {f"example.com/aggregate-to-market-{suffix}": "true"}
    body: Any = {
        "metadata": {"name": f"market-{suffix}"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": label}]},
    }
    rbac.create_cluster_role(body)
    part: Any = {
        "metadata": {"name": f"market-part-{suffix}", "labels": label},
        "rules": [{"apiGroups": [OLM], "resources": ["installplans"], "verbs": ["list"]}],
    }
    rbac.create_cluster_role(part)
    sandbox.tick()
    aggregated = rbac.read_cluster_role(f"market-{suffix}")
    assert [(r.resources, r.verbs) for r in aggregated.rules or []] == [
        (["installplans"], ["list"])
    ]
    tenant.bind(f"market-{suffix}")
    custom = tenant.custom
    assert custom.list_namespaced_custom_object(OLM, "v1alpha1", tenant.home, "installplans")
    refused(custom.list_namespaced_custom_object, OLM, "v1alpha1", tenant.other, "installplans")
    rbac.delete_cluster_role(f"market-part-{suffix}")
    sandbox.tick()
    assert not rbac.read_cluster_role(f"market-{suffix}").rules
    refused(custom.list_namespaced_custom_object, OLM, "v1alpha1", tenant.home, "installplans")
    rbac.delete_cluster_role(f"market-{suffix}")


def test_subject_access_review_asks_for_someone_else(tenant: Tenant) -> None:
    tenant.role([{"apiGroups": [OLM], "resources": ["subscriptions"], "verbs": ["create"]}])
    authz = client.AuthorizationV1Api(tenant.admin)

    def allowed(namespace: str) -> bool:
        body: Any = {
            "spec": {
                "user": tenant.user,
                "groups": ["system:serviceaccounts", "system:authenticated"],
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": "create",
                    "group": OLM,
                    "resource": "subscriptions",
                },
            }
        }
        status = authz.create_subject_access_review(body).status
        assert status is not None
        return status.allowed

    assert allowed(tenant.home) is True
    assert allowed(tenant.other) is False
    # The ServiceAccount itself may not ask about others.
    body: Any = {"spec": {"user": "x", "nonResourceAttributes": {"verb": "get", "path": "/"}}}
    message = refused(client.AuthorizationV1Api(tenant.api).create_subject_access_review, body)
    assert (
        tenant.message("create", "subjectaccessreviews", "authorization.k8s.io", None)
        in (message["message"])
    )


def test_resource_names_restrict(tenant):
    home = tenant.home
    admin_core = client.CoreV1Api(tenant.admin)
    for name in ("allowed", "secret-ish"):
        admin_core.create_namespaced_config_map(home, {"metadata": {"name": name}})
    tenant.role(
        [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": ["allowed"],
                "verbs": ["get", "list", "update"],
            }
        ]
    )
    core = tenant.core
    assert core.read_namespaced_config_map("allowed", home).metadata.name == "allowed"
    body = refused(core.read_namespaced_config_map, "secret-ish", home)
    assert body["details"]["name"] == "secret-ish"
    # A list has no name, unless a metadata.name field selector names the one object.
    refused(core.list_namespaced_config_map, home)
    picked = core.list_namespaced_config_map(home, field_selector="metadata.name=allowed")
    assert [c.metadata.name for c in picked.items] == ["allowed"]


def test_pods_log_is_a_subresource(tenant):
    home = tenant.home
    admin_core = client.CoreV1Api(tenant.admin)
    admin_core.create_namespaced_pod(
        home,
        {
            "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
        },
    )
    wait_for(
        lambda: admin_core.read_namespaced_pod("web", home).status.phase == "Running",
        message="pod running",
    )
    tenant.role([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])
    core = tenant.core
    assert core.read_namespaced_pod("web", home).metadata.name == "web"
    body = refused(core.read_namespaced_pod_log, "web", home)
    assert body == forbidden_body(
        'pods "web" is forbidden: ' + tenant.message("get", "pods/log", "", home),
        group="",
        kind="pods",
        name="web",
    )
    tenant.role([{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}], name="logs")
    assert isinstance(core.read_namespaced_pod_log("web", home), str)


def test_discovery_works_for_a_service_account_token(tenant, tmp_path_factory):
    """system:discovery / system:basic-user / system:public-info-viewer are bound by default."""
    version = client.VersionApi(tenant.api).get_code()
    assert version.major == "1"
    groups = client.ApisApi(tenant.api).get_api_versions()
    assert "operators.coreos.com" in [g.name for g in groups.groups]
    tenant.role([SUBSCRIPTIONS_RW])
    dyn = make_dynamic_client(tenant.sb, tmp_path_factory, token=tenant.token)
    subs = dyn.resources.get(api_version=f"{OLM}/v1alpha1", kind="Subscription")
    assert subs.get(namespace=tenant.home).items == []
    for path in ("/api", "/api/v1", "/apis", f"/apis/{OLM}/v1alpha1", "/version", "/healthz"):
        assert _raw(tenant.sb, "GET", path, token=tenant.token)[0] == 200, path
    # Not every path: non-resource refusals say "path".
    status, body = _raw(tenant.sb, "GET", "/metrics", token=tenant.token)
    assert (status, body["message"]) == (
        403,
        f'forbidden: User "{tenant.user}" cannot get path "/metrics"',
    )
    assert body["details"] == {}
    # Default role names hold a colon, which clients escape (clusterroles/system%3Adiscovery).
    discovery = client.RbacAuthorizationV1Api(tenant.admin).read_cluster_role("system:discovery")
    assert "/apis/*" in ((discovery.rules or [])[0].non_resource_urls or [])


def test_token_request_api(tenant):
    admin_core = client.CoreV1Api(tenant.admin)
    issued = admin_core.create_namespaced_service_account_token(
        "market", tenant.home, {"spec": {"expirationSeconds": 600}}
    )
    assert issued.status.token and issued.status.expiration_timestamp
    assert issued.spec.audiences == ["https://kubernetes.default.svc.cluster.local"]
    fresh_api = api_client(tenant.sb, token=issued.status.token)
    review = client.AuthenticationV1Api(fresh_api).create_self_subject_review({})
    assert review.status.user_info.username == tenant.user
    assert review.status.user_info.groups == [
        "system:serviceaccounts",
        f"system:serviceaccounts:{tenant.home}",
        "system:authenticated",
    ]
    # Too short: the API server's validation.
    with pytest.raises(ApiException) as info:
        admin_core.create_namespaced_service_account_token(
            "market", tenant.home, {"spec": {"expirationSeconds": 60}}
        )
    assert info.value.status == 422
    # The token itself needs create on serviceaccounts/token.
    body = refused(tenant.core.create_namespaced_service_account_token, "market", tenant.home, {})
    assert tenant.message("create", "serviceaccounts/token", "", tenant.home) in body["message"]
    with pytest.raises(ApiException) as info:
        admin_core.create_namespaced_service_account_token("nobody", tenant.home, {})
    assert info.value.status == 404


def test_self_subject_access_and_rules_reviews(tenant):
    tenant.role([{"apiGroups": [OLM], "resources": ["installplans"], "verbs": ["list", "get"]}])
    authz = client.AuthorizationV1Api(tenant.api)

    def can(verb, resource, namespace, group=OLM, name=None):
        attrs = {"verb": verb, "group": group, "resource": resource, "namespace": namespace}
        if name:
            attrs["name"] = name
        return authz.create_self_subject_access_review({"spec": {"resourceAttributes": attrs}})

    yes = can("list", "installplans", tenant.home)
    assert yes.status.allowed is True
    assert yes.status.reason.startswith('RBAC: allowed by RoleBinding "market-')
    assert yes.status.reason.endswith(
        f'/{tenant.home}" of Role "market" to ServiceAccount "market/{tenant.home}"'
    )
    no = can("list", "installplans", tenant.other)
    assert no.status.allowed is False and not no.status.reason
    assert can("list", "installplans", "").status.allowed is False  # all namespaces
    assert can("delete", "installplans", tenant.home).status.allowed is False
    non_resource = authz.create_self_subject_access_review(
        {"spec": {"nonResourceAttributes": {"verb": "get", "path": "/version"}}}
    )
    assert non_resource.status.allowed is True

    rules = authz.create_self_subject_rules_review({"spec": {"namespace": tenant.home}})
    assert rules.status.incomplete is False
    mine = [r for r in rules.status.resource_rules if r.resources == ["installplans"]]
    assert [(r.api_groups, r.verbs) for r in mine] == [([OLM], ["list", "get"])]
    elsewhere = authz.create_self_subject_rules_review({"spec": {"namespace": tenant.other}})
    assert not [r for r in elsewhere.status.resource_rules if r.resources == ["installplans"]]

    # The admin may do anything.
    admin = client.AuthorizationV1Api(tenant.admin).create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": "delete", "resource": "nodes"}}}
    )
    assert admin.status.allowed is True


def test_binding_to_a_missing_role_is_reported(tenant):
    tenant.bind("does-not-exist")
    body = refused(tenant.core.list_namespaced_pod, tenant.home)
    assert body["message"] == (
        "pods is forbidden: "
        + tenant.message("list", "pods", "", tenant.home)
        + ': RBAC: clusterrole.rbac.authorization.k8s.io "does-not-exist" not found'
    )


def test_unknown_token_is_401_and_deleted_service_account_ends_its_token(tenant):
    bad = api_client(tenant.sb, token="not-a-token")
    with pytest.raises(ApiException) as info:
        client.CoreV1Api(bad).list_namespace()
    assert info.value.status == 401
    assert status_of(info.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert client.VersionApi(tenant.api).get_code()
    client.CoreV1Api(tenant.admin).delete_namespaced_service_account("market", tenant.home)
    with pytest.raises(ApiException) as info:
        client.VersionApi(tenant.api).get_code()
    assert info.value.status == 401


def test_control_endpoint_issues_tokens_for_the_admin_only(tenant):
    status, issued = _raw(
        tenant.sb,
        "POST",
        "/_sandbox/tokens",
        token=TOKEN,
        body={"namespace": tenant.home, "serviceAccount": "market", "expirationSeconds": 3600},
    )
    assert status == 201 and issued["username"] == tenant.user
    assert issued["expirationTimestamp"]
    assert _raw(tenant.sb, "GET", "/version", token=issued["token"])[0] == 200
    status, body = _raw(
        tenant.sb,
        "POST",
        "/_sandbox/tokens",
        token=tenant.token,
        body={"namespace": tenant.home, "serviceAccount": "market"},
    )
    assert status == 403 and body["reason"] == "Forbidden"
    status, body = _raw(
        tenant.sb,
        "POST",
        "/_sandbox/tokens",
        token=TOKEN,
        body={"namespace": tenant.home, "serviceAccount": "nobody"},
    )
    assert status == 404


def test_rbac_objects_are_validated(tenant):
    """pkg/apis/rbac/validation, sent raw (the typed client would refuse these itself)."""
    base = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{tenant.home}"
    status, body = _raw(
        tenant.sb,
        "POST",
        f"{base}/roles",
        token=TOKEN,
        body={"metadata": {"name": "bad"}, "rules": [{"resources": ["pods"]}]},
    )
    assert status == 422, body
    assert {c["field"] for c in body["details"]["causes"]} == {
        "rules[0].verbs",
        "rules[0].apiGroups",
    }
    status, body = _raw(
        tenant.sb,
        "POST",
        f"{base}/rolebindings",
        token=TOKEN,
        body={
            "metadata": {"name": "bad"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Pod", "name": "x"},
            "subjects": [{"kind": "ServiceAccount", "name": "market"}],
        },
    )
    assert status == 422, body
    assert [c["field"] for c in body["details"]["causes"]] == ["roleRef.kind"]


def test_rbac_and_tokens_survive_a_restart(fresh, tmp_path, tmp_path_factory):
    state = tmp_path / "sandbox-state.json"
    kube = fresh(state_file=state)
    before = Tenant(kube.sb)
    before.role([SUBSCRIPTIONS_RW])
    custom = before.custom
    custom.list_namespaced_custom_object(OLM, "v1alpha1", before.home, "subscriptions")
    wait_for(lambda: state.exists() and not kube.sb.store.dirty, message="state saved")
    port = kube.sb.port
    kube.sb.stop()

    again = SandboxCluster(port=port, token=TOKEN, tick_interval=0.05, state_file=state).start()
    try:
        api = api_client(again, token=before.token)
        custom = client.CustomObjectsApi(api)
        assert (
            custom.list_namespaced_custom_object(OLM, "v1alpha1", before.home, "subscriptions")[
                "items"
            ]
            == []
        )
        refused(
            custom.list_namespaced_custom_object, OLM, "v1alpha1", before.other, "subscriptions"
        )
        roles = client.RbacAuthorizationV1Api(api_client(again)).list_namespaced_role(before.home)
        assert [r.metadata.name for r in roles.items] == ["market"]
    finally:
        again.stop()
    # A different admin token signs differently: the old ServiceAccount token is unknown.
    other = SandboxCluster(port=0, token="another", tick_interval=0.05, state_file=state).start()
    try:
        assert _raw(other, "GET", "/version", token=before.token)[0] == 401
    finally:
        other.stop()


# -- kubectl ------------------------------------------------------------------------------


@pytest.fixture
def tls_sandbox(tmp_path):
    """A sandbox serving HTTPS with a throw-away self-signed certificate (openssl CLI)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make the sandbox's test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    sb = SandboxCluster(
        port=0, token=TOKEN, tick_interval=0.05, tls_cert_file=cert, tls_key_file=key
    )
    sb.start()
    yield sb, cert
    sb.stop()


def test_https_keeps_serving_past_stalled_and_plain_http_clients(tls_sandbox):
    sb, cert = tls_sandbox
    stalled = socket.create_connection((sb.host, sb.port))  # never says hello
    try:
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://{sb.host}:{sb.port}/version", timeout=5)
        api = _client(sb, TOKEN, str(cert))
        assert client.VersionApi(api).get_code().major == "1"
    finally:
        stalled.close()


def test_kubectl_with_a_service_account_token(tls_sandbox, tmp_path):
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not on PATH")
    sb, cert = tls_sandbox
    assert sb.url.startswith("https://")
    tenant = Tenant(sb, str(cert))
    assert client.VersionApi(tenant.api).get_code().major == "1"  # the Python client too
    tenant.role([SUBSCRIPTIONS_RW])

    def kubectl(*args: str, token: str = tenant.token) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["kubectl", "--server", sb.url, "--certificate-authority", str(cert)]
            + ["--token", token, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": _path(), "HOME": str(tmp_path)},
        )

    ok = kubectl("get", "subscriptions.operators.coreos.com", "-n", tenant.home)
    assert ok.returncode == 0, ok.stderr
    assert "No resources found" in ok.stderr
    denied = kubectl("get", "subscriptions.operators.coreos.com", "-n", tenant.other)
    assert denied.returncode == 1
    assert denied.stderr.strip() == (
        "Error from server (Forbidden): subscriptions.operators.coreos.com is forbidden: "
        + tenant.message("list", "subscriptions", OLM, tenant.other)
    )
    everywhere = kubectl("get", "subscriptions.operators.coreos.com", "-A")
    assert tenant.message("list", "subscriptions", OLM, None) in everywhere.stderr
    can = kubectl(
        "auth", "can-i", "create", "subscriptions.operators.coreos.com", "-n", tenant.home
    )
    assert can.stdout.strip() == "yes"
    cannot = kubectl("auth", "can-i", "list", "installplans.operators.coreos.com", "-A")
    assert cannot.stdout.strip() == "no"
    who = kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert who.stdout == tenant.user
    token = kubectl("create", "token", "market", "-n", tenant.home, token=TOKEN)
    assert token.returncode == 0, token.stderr
    assert kubectl("auth", "whoami", token=token.stdout.strip()).returncode == 0
    assert "Unauthorized" in kubectl("get", "pods", token="nope").stderr


# -- helpers ------------------------------------------------------------------------------


def _client(sb: SandboxCluster, token: str, ca: str | None = None) -> client.ApiClient:
    """conftest.api_client, plus the CA to trust when the sandbox serves HTTPS."""
    config = client.Configuration(host=sb.url)
    config.api_key = {"authorization": token}
    config.api_key_prefix = {"authorization": "Bearer"}
    if ca:
        config.ssl_ca_cert = ca
    return client.ApiClient(config)


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")


def _raw(sb, method, path, *, token=None, body=None, content_type="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sb.url + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode()

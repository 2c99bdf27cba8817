"""Identities and RBAC: who a request is, and whether kube-apiserver's authorizer lets it through.

Authentication: the cluster's admin token is a `system:masters` user (the privileged group
kube-apiserver lets through before any authorizer runs); ServiceAccount tokens, JWTs the sandbox
signs, act as `system:serviceaccount:<ns>:<name>` while their ServiceAccount exists.

Authorization follows the Kubernetes source (kubernetes/kubernetes) closely, so a tenant-scoped
token gets exactly the answers a real cluster gives:

* request -> attributes: staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go
  (verbs list/watch/deletecollection, namespace subresources, `fieldSelector=metadata.name=`
  naming a list/watch, non-resource paths such as `/api` and `/version`);
* rule matching: plugin/pkg/auth/authorizer/rbac/rbac.go `RuleAllows` and
  pkg/apis/rbac/v1/evaluation_helpers.go (`*`, `<resource>/<sub>`, `*/<sub>`, resourceNames,
  nonResourceURLs with a trailing `*`);
* which rules apply: pkg/registry/rbac/validation/rule.go `VisitRulesFor` (ClusterRoleBindings,
  then the RoleBindings of the request's namespace; the binding describers in `reason`; missing
  roles become `RBAC: clusterrole.rbac.authorization.k8s.io "x" not found`);
* 403 bodies: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go
  `Forbidden`/`forbiddenMessage` with apimachinery's `NewForbidden` (see `forbidden` below);
* default roles: plugin/pkg/auth/authorizer/rbac/bootstrappolicy (testdata/cluster-roles.yaml,
  cluster-role-bindings.yaml), OLM's manifests/0000_50_olm_09-aggregated.clusterrole.yaml, and
  pkg/controller/clusterroleaggregation for `aggregationRule`;
* reviews: pkg/registry/authorization/{selfsubjectaccessreview,selfsubjectrulesreview,
  subjectaccessreview,localsubjectaccessreview}/rest.go and pkg/apis/authorization/validation.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from . import errors, managed
from .errors import ApiError, FieldError
from .resources import ALL_VERBS, BUILTIN_TYPES, ResourceType, TypeIndex
from .store import Store, now
from .validation import DNS1123_SUBDOMAIN, SUBDOMAIN_MSG

RBAC_GROUP = "rbac.authorization.k8s.io"
AUTHORIZATION_GROUP = "authorization.k8s.io"
AUTHENTICATION_GROUP = "authentication.k8s.io"

# The API server's --api-audiences / --service-account-issuer on a kubeadm cluster.
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
SERVICE_ACCOUNTS = "system:serviceaccounts"


def _type(group: str, kind: str, plural: str, namespaced: bool, verbs=ALL_VERBS) -> ResourceType:
    return ResourceType(group, "v1", kind, plural, kind.lower(), namespaced, verbs=verbs)


CLUSTER_ROLE = _type(RBAC_GROUP, "ClusterRole", "clusterroles", False)
CLUSTER_ROLE_BINDING = _type(RBAC_GROUP, "ClusterRoleBinding", "clusterrolebindings", False)
ROLE = _type(RBAC_GROUP, "Role", "roles", True)
ROLE_BINDING = _type(RBAC_GROUP, "RoleBinding", "rolebindings", True)
RBAC_TYPES = (CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING)

# Create-only "virtual" resources: nothing is stored, the POST answers (see `review`).
REVIEW_TYPES = (
    _type(AUTHENTICATION_GROUP, "SelfSubjectReview", "selfsubjectreviews", False, ("create",)),
    _type(
        AUTHORIZATION_GROUP,
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        True,
        ("create",),
    ),
    _type(
        AUTHORIZATION_GROUP,
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        ("create",),
    ),
    _type(
        AUTHORIZATION_GROUP, "SelfSubjectRulesReview", "selfsubjectrulesreviews", False, ("create",)
    ),
    _type(AUTHORIZATION_GROUP, "SubjectAccessReview", "subjectaccessreviews", False, ("create",)),
)
EXTRA_TYPES: tuple[ResourceType, ...] = RBAC_TYPES + REVIEW_TYPES

SERVICE_ACCOUNT = next(t for t in BUILTIN_TYPES if t.kind == "ServiceAccount")


class RBACStore(Store):
    """The store, also serving rbac.authorization.k8s.io and the review APIs as built-in kinds.

    resources.BUILTIN_TYPES has no registration hook, so the extra kinds join the type index
    here; RBAC's registry strategy (v1 defaults + pkg/apis/rbac/validation) runs in `_admit`.
    """

    def types(self) -> TypeIndex:
        with self.lock:
            index = super().types()
            if index.by_path(RBAC_GROUP, "v1", "clusterroles") is None:
                builtin = [t for t in index.types if not t.crd]
                custom = [t for t in index.types if t.crd]
                index = self._index = TypeIndex(builtin + list(EXTRA_TYPES) + custom)
            return index

    def _admit(self, rt: ResourceType, obj: dict, old: dict | None) -> dict:
        if rt.group == RBAC_GROUP:
            _rbac_defaults(rt.kind, obj)
        obj = super()._admit(rt, obj, old)
        if rt.group == RBAC_GROUP:
            errs = validate_rbac(rt.kind, obj, old)
            if errs:
                raise errors.invalid(
                    kind=rt.kind, group=rt.group, name=obj["metadata"].get("name", ""), errors=errs
                )
        return obj


# -- identities ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserInfo:
    """k8s.io/apiserver/pkg/authentication/user.Info."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict:
        """authentication.k8s.io/v1 UserInfo (every field omitempty)."""
        out: dict = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


# The admin token's identity: a kubeadm admin.conf user.
ADMIN = UserInfo("kubernetes-admin", groups=(MASTERS, AUTHENTICATED))


def service_account_username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def service_account_user(namespace: str, name: str, uid: str = "", extra=None) -> UserInfo:
    """What the ServiceAccount token authenticator returns (serviceaccount.UserInfo)."""
    return UserInfo(
        service_account_username(namespace, name),
        uid=uid,
        groups=(SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{namespace}", AUTHENTICATED),
        extra=extra or {},
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _timestamp(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ServiceAccountTokens:
    """Mints and checks ServiceAccount tokens (JWTs shaped like bound service account tokens).

    The signing key is derived from the admin token, so tokens a product stored survive a
    sandbox restart with the same state file. A token stops working when its ServiceAccount is
    deleted (or recreated: the uid is checked) or when it expires, as on a real cluster.
    """

    def __init__(self, store: Store, secret: str | None):
        self.store = store
        self._key = hashlib.sha256(
            b"sandbox-serviceaccount-token-key\0" + (secret or "").encode()
        ).digest()

    def issue(
        self,
        namespace: str,
        name: str,
        *,
        expiration_seconds: int | None = None,
        audiences: list[str] | None = None,
    ) -> dict:
        """{"token", "username", "expirationTimestamp"} for an existing ServiceAccount."""
        sa = self.store.peek(SERVICE_ACCOUNT, namespace, name)
        if sa is None:
            raise errors.not_found(resource="serviceaccounts", group="", name=name)
        issued = int(time.time())
        claims: dict = {
            "aud": list(audiences or [API_AUDIENCE]),
            "iat": issued,
            "iss": API_AUDIENCE,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]},
            },
            "nbf": issued,
            "sub": service_account_username(namespace, name),
        }
        if expiration_seconds:
            claims["exp"] = issued + int(expiration_seconds)
        header = _b64(b'{"alg":"HS256","kid":"sandbox","typ":"JWT"}')
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return {
            "token": f"{header}.{payload}.{_b64(signature)}",
            "username": claims["sub"],
            "expirationTimestamp": _timestamp(claims["exp"]) if "exp" in claims else None,
        }

    def authenticate(self, token: str) -> UserInfo | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(parts[2]), expected):
                return None
            claims = json.loads(_unb64(parts[1]))
            k8s = claims["kubernetes.io"]
            namespace, name = k8s["namespace"], k8s["serviceaccount"]["name"]
            uid = k8s["serviceaccount"]["uid"]
        except (ValueError, KeyError, TypeError):
            return None
        current = time.time()
        if "exp" in claims and current >= claims["exp"]:
            return None
        if current + 60 < claims.get("nbf", 0) or API_AUDIENCE not in (claims.get("aud") or []):
            return None
        sa = self.store.peek(SERVICE_ACCOUNT, namespace, name)
        if sa is None or sa["metadata"]["uid"] != uid or sa["metadata"].get("deletionTimestamp"):
            return None
        extra = {"authentication.kubernetes.io/credential-id": [f"JTI={claims.get('jti', '')}"]}
        return service_account_user(namespace, name, uid, extra)

    def token_request(self, namespace: str, name: str, body) -> dict:
        """POST .../serviceaccounts/<name>/token (authentication.k8s.io/v1 TokenRequest)."""
        spec = dict((body or {}).get("spec") or {}) if isinstance(body, dict) else {}
        seconds = spec.get("expirationSeconds")
        seconds = 3600 if seconds is None else seconds
        problem = None
        if not isinstance(seconds, int) or seconds < 600:
            problem = "may not specify a duration less than 10 minutes"
        elif seconds > 1 << 32:
            problem = "may not specify a duration larger than 2^32 seconds"
        if problem:
            raise errors.invalid(
                kind="TokenRequest",
                group=AUTHENTICATION_GROUP,
                name=name,
                errors=[FieldError("spec.expirationSeconds", "Invalid", seconds, problem)],
            )
        audiences = spec.get("audiences") or [API_AUDIENCE]
        issued = self.issue(namespace, name, expiration_seconds=seconds, audiences=audiences)
        spec.update(audiences=audiences, expirationSeconds=seconds)
        spec.setdefault("boundObjectRef", None)
        return {
            "kind": "TokenRequest",
            "apiVersion": f"{AUTHENTICATION_GROUP}/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now()},
            "spec": spec,
            "status": {
                "token": issued["token"],
                "expirationTimestamp": issued["expirationTimestamp"],
            },
        }


# -- request attributes (requestinfo.go) -----------------------------------------------------


@dataclass(frozen=True)
class Attributes:
    """authorizer.AttributesRecord: what the authorizer decides on."""

    user: UserInfo
    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


_SPECIAL_VERBS = ("proxy", "watch")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def path_segment_errors(name: str) -> list[str]:
    """apimachinery path.IsValidPathSegmentName: RBAC's name rule (ValidateRBACName)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in name]


def _valid_path_segment(name: str) -> bool:
    return not path_segment_errors(name)


def _exact_name(field_selector: str | None) -> str:
    """fields.Selector.RequiresExactMatch("metadata.name")."""
    for term in (field_selector or "").split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and not key.endswith("!") and key.strip() == "metadata.name":
            return value.strip()
    return ""


def request_attributes(user: UserInfo, method: str, path: str, query: dict) -> Attributes:
    """RequestInfoFactory.NewRequestInfo, then the authorizer attributes built from it."""
    verb = method.lower()
    parts = path.strip("/").split("/") if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return Attributes(user, verb, False, path=path)
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:
            return Attributes(user, verb, False, path=path)
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts[0] in _SPECIAL_VERBS:
        if len(parts) < 2:  # NewRequestInfo fails: "unable to determine kind and namespace"
            raise errors.internal_error(f"failed to create RequestInfo for {path}")
        verb, parts = parts[0], parts[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if parts and parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0] if parts else ""
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        watch = query.get("watch")
        verb = "list" if watch is None or watch.lower() in ("false", "0") else "watch"
        selected = _exact_name(query.get("fieldSelector"))
        if selected and _valid_path_segment(selected):
            name = selected
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(
        user,
        verb,
        True,
        path=path,
        api_group=group,
        api_version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
    )


# -- 403 -----------------------------------------------------------------------------------

# responsewriters: "Avoid emitting errors that look like valid HTML. Quotes are okay."
_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _q(text: str) -> str:
    """Go's %q for the printable strings names are made of."""
    return json.dumps(text, ensure_ascii=False)


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters.forbiddenMessage (k8s.io/apiserver, endpoints/handlers/responsewriters/
    errors.go), verbatim:

        User %q cannot %s path %q                                   (non-resource)
        User %q cannot %s resource %q in API group %q in the namespace %q
        User %q cannot %s resource %q in API group %q at the cluster scope

    where the resource is `<resource>/<subresource>` when there is a subresource.
    """
    user = _q(attrs.user.name)
    if not attrs.resource_request:
        return f"User {user} cannot {attrs.verb} path {_q(attrs.path)}"
    resource = attrs.resource
    if attrs.subresource:
        resource = f"{resource}/{attrs.subresource}"
    where = f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    return (
        f"User {user} cannot {attrs.verb} resource {_q(resource)} "
        f"in API group {_q(attrs.api_group)} {where}"
    )


def forbidden(attrs: Attributes, reason: str = "") -> ApiError:
    """responsewriters.Forbidden: NewForbidden(GroupResource{group, resource}, name, msg[: reason])
    so the message reads `<resource>[.<group>] ["<name>"] is forbidden: User ...` and the details
    carry name/group/kind (kind is the plural resource, without the subresource)."""
    message = forbidden_message(attrs).translate(_SANITIZE)
    if reason:
        message = f"{message}: {reason}"
    return errors.forbidden(
        resource=attrs.resource, group=attrs.api_group, name=attrs.name, message=message
    )


# -- rule evaluation (rbac.go RuleAllows + evaluation_helpers.go) -----------------------------


def _verb_matches(rule: dict, verb: str) -> bool:
    return any(v in ("*", verb) for v in rule.get("verbs") or ())


def _group_matches(rule: dict, group: str) -> bool:
    return any(g in ("*", group) for g in rule.get("apiGroups") or ())


def _resource_matches(rule: dict, combined: str, subresource: str) -> bool:
    for resource in rule.get("resources") or ():
        if resource in ("*", combined):
            return True
        # "*/<subresource>" matches that subresource of every resource
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def _name_matches(rule: dict, name: str) -> bool:
    names = rule.get("resourceNames") or ()
    return not names or name in names


def _url_matches(rule: dict, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or ():
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: dict) -> bool:
    if attrs.resource_request:
        combined = attrs.resource
        if attrs.subresource:
            combined = f"{attrs.resource}/{attrs.subresource}"
        return (
            _verb_matches(rule, attrs.verb)
            and _group_matches(rule, attrs.api_group)
            and _resource_matches(rule, combined, attrs.subresource)
            and _name_matches(rule, attrs.name)
        )
    return _verb_matches(rule, attrs.verb) and _url_matches(rule, attrs.path)


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message bare, several deduplicated in [a, b]."""
    unique = list(dict.fromkeys(messages))
    if len(messages) == 1 or len(unique) == 1:
        return unique[0] if unique else ""
    return "[" + ", ".join(unique) + "]"


def _describe_subject(subject: dict, binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f"{kind} {_q(name + '/' + (subject.get('namespace') or binding_namespace))}"
    return f"{kind} {_q(name)}"


def _applies_to(user: UserInfo, subject: dict, namespace: str) -> bool:
    kind, name = subject.get("kind"), str(subject.get("name") or "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == service_account_username(sa_namespace, name)
    return False


class Authorizer:
    """kube-apiserver's chain: the system:masters privileged group, then RBAC."""

    def __init__(self, store: Store):
        self.store = store

    def _role_rules(self, role_ref: dict, namespace: str) -> list[dict]:
        """DefaultRuleResolver.GetRoleReferenceRules; errors are the listers' NotFound."""
        kind, name = role_ref.get("kind"), role_ref.get("name") or ""
        if kind == "Role":
            role = next(
                (r for r in self.store.scan(ROLE, namespace) if r["metadata"]["name"] == name),
                None,
            )
        elif kind == "ClusterRole":
            role = next(
                (r for r in self.store.scan(CLUSTER_ROLE) if r["metadata"]["name"] == name), None
            )
        else:
            raise ValueError(f"unsupported role reference kind: {_q(str(kind))}")
        if role is None:
            raise ValueError(f"{str(kind).lower()}.{RBAC_GROUP} {_q(name)} not found")
        return list(role.get("rules") or [])

    def visit(self, user: UserInfo, namespace: str) -> Iterator[tuple[str, dict | None, str]]:
        """VisitRulesFor: (source description, rule, resolution error) in the server's order."""
        scopes = [(CLUSTER_ROLE_BINDING, "", "ClusterRoleBinding")]
        if namespace:
            scopes.append((ROLE_BINDING, namespace, "RoleBinding"))
        for rt, binding_ns, label in scopes:
            bindings = sorted(
                self.store.scan(rt, binding_ns or None), key=lambda b: b["metadata"]["name"]
            )
            for binding in bindings:
                subject = next(
                    (s for s in binding.get("subjects") or () if _applies_to(user, s, binding_ns)),
                    None,
                )
                if subject is None:
                    continue
                ref = binding.get("roleRef") or {}
                try:
                    rules = self._role_rules(ref, binding_ns)
                except ValueError as exc:
                    yield "", None, str(exc)
                    continue
                name = binding["metadata"]["name"] + (f"/{binding_ns}" if binding_ns else "")
                source = (
                    f"{label} {_q(name)} of {ref.get('kind')} {_q(ref.get('name') or '')} "
                    f"to {_describe_subject(subject, binding_ns)}"
                )
                for rule in rules:
                    yield source, rule, ""

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason). RBAC never denies: no opinion is a 403 at the handler."""
        if MASTERS in attrs.user.groups:
            return True, ""
        failures: list[str] = []
        with self.store.lock:
            for source, rule, error in self.visit(attrs.user, attrs.namespace):
                if rule is not None and rule_allows(attrs, rule):
                    return True, f"RBAC: allowed by {source}"
                if error:
                    failures.append(error)
        return False, f"RBAC: {_aggregate(failures)}" if failures else ""

    def check(self, attrs: Attributes) -> None:
        """The WithAuthorization filter: raise the API server's 403 unless allowed."""
        allowed, reason = self.authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[dict], list[dict], str]:
        """RBACAuthorizer.RulesFor: (resource rules, non-resource rules, evaluation error)."""
        resource_rules: list[dict] = []
        url_rules: list[dict] = []
        failures: list[str] = []
        with self.store.lock:
            for _source, rule, error in self.visit(user, namespace):
                if error:
                    failures.append(error)
                if rule is None:
                    continue
                if rule.get("resources"):
                    entry = {"verbs": list(rule.get("verbs") or [])}
                    for key in ("apiGroups", "resources", "resourceNames"):
                        if rule.get(key):
                            entry[key] = list(rule[key])
                    resource_rules.append(entry)
                if rule.get("nonResourceURLs"):
                    url_rules.append(
                        {
                            "verbs": list(rule.get("verbs") or []),
                            "nonResourceURLs": list(rule["nonResourceURLs"]),
                        }
                    )
        return resource_rules, url_rules, _aggregate(failures) if failures else ""


# -- reviews (authorization.k8s.io, authentication.k8s.io) ------------------------------------


def _review_attributes(user: UserInfo, spec: dict) -> Attributes:
    """authorizationutil.ResourceAttributesFrom / NonResourceAttributesFrom."""
    res = spec.get("resourceAttributes")
    if res is not None:
        return Attributes(
            user,
            res.get("verb") or "",
            True,
            api_group=res.get("group") or "",
            api_version=res.get("version") or "*",
            namespace=res.get("namespace") or "",
            resource=res.get("resource") or "",
            subresource=res.get("subresource") or "",
            name=res.get("name") or "",
        )
    non = spec.get("nonResourceAttributes") or {}
    return Attributes(user, non.get("verb") or "", False, path=non.get("path") or "")


def _validate_access_review(kind: str, body: dict, namespace: str | None) -> list[FieldError]:
    spec = body.get("spec") or {}
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    errs = []
    if res is not None and non is not None:
        errs.append(
            FieldError(
                "spec.nonResourceAttributes",
                "Invalid",
                non,
                "cannot be specified in combination with resourceAttributes",
            )
        )
    if res is None and non is None:
        errs.append(
            FieldError(
                "spec.resourceAttributes",
                "Invalid",
                None,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if kind != "SelfSubjectAccessReview" and not spec.get("user") and not spec.get("groups"):
        errs.append(
            FieldError(
                "spec.user",
                "Invalid",
                spec.get("user") or "",
                "at least one of user or group must be specified",
            )
        )
    meta = {
        k: v
        for k, v in (body.get("metadata") or {}).items()
        if v
        and k not in ("managedFields", "creationTimestamp")
        and not (k == "namespace" and kind == "LocalSubjectAccessReview")
    }
    if meta:
        detail = (
            "must be empty except for namespace"
            if kind == "LocalSubjectAccessReview"
            else "must be empty"
        )
        errs.append(FieldError("metadata", "Invalid", meta, detail))
    if kind == "LocalSubjectAccessReview":
        if res is not None and (res.get("namespace") or "") != namespace:
            errs.append(
                FieldError(
                    "spec.resourceAttributes.namespace",
                    "Invalid",
                    res.get("namespace") or "",
                    "must match metadata.namespace",
                )
            )
        if non is not None:
            errs.append(
                FieldError(
                    "spec.nonResourceAttributes",
                    "Invalid",
                    non,
                    "disallowed on this kind of request",
                )
            )
    return errs


def review(
    authorizer: Authorizer, user: UserInfo, rt: ResourceType, namespace: str | None, body
) -> dict:
    """The answer to POSTing a review object (201 Created, nothing is stored)."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was in an unknown format")
    kind = body.get("kind") or rt.kind
    if kind != rt.kind:
        raise errors.bad_request(f"Object '{kind}' is not of kind '{rt.kind}'")
    base: dict = {
        "kind": rt.kind,
        "apiVersion": rt.api_version,
        "metadata": {"creationTimestamp": None},
    }
    spec = body.get("spec") or {}
    if rt.kind == "SelfSubjectReview":
        return {**base, "status": {"userInfo": user.as_dict()}}
    if rt.kind == "SelfSubjectRulesReview":
        target = spec.get("namespace") or ""
        if not target:
            raise errors.bad_request("no namespace on request")
        resource_rules, url_rules, failure = authorizer.rules_for(user, target)
        status: dict = {
            "resourceRules": resource_rules,
            "nonResourceRules": url_rules,
            "incomplete": False,
        }
        if failure:
            status["evaluationError"] = failure
        return {**base, "spec": {}, "status": status}
    errs = _validate_access_review(rt.kind, body, namespace)
    if errs:
        raise errors.invalid(kind=rt.kind, group=rt.group, name="", errors=errs)
    subject = user
    if rt.kind != "SelfSubjectAccessReview":
        subject = UserInfo(
            spec.get("user") or "",
            uid=spec.get("uid") or "",
            groups=tuple(spec.get("groups") or ()),
            extra=dict(spec.get("extra") or {}),
        )
    if namespace:
        base["metadata"]["namespace"] = namespace
    allowed, reason = authorizer.authorize(_review_attributes(subject, spec))
    result: dict = {"allowed": allowed}
    if reason:
        result["reason"] = reason
    return {**base, "spec": spec, "status": result}


# -- RBAC registry strategy (v1 defaults + validation) -----------------------------------------


def _rbac_defaults(kind: str, obj: dict) -> None:
    """pkg/apis/rbac/v1/defaults.go: roleRef.apiGroup and User/Group subjects' apiGroup."""
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = obj.get("roleRef")
        if isinstance(ref, dict) and not ref.get("apiGroup"):
            ref["apiGroup"] = RBAC_GROUP
        for subject in obj.get("subjects") or []:
            if (
                isinstance(subject, dict)
                and not subject.get("apiGroup")
                and subject.get("kind") in ("User", "Group")
            ):
                subject["apiGroup"] = RBAC_GROUP


def _validate_rule(rule: dict, namespaced: bool, path: str) -> list[FieldError]:
    errs = []
    if not rule.get("verbs"):
        errs.append(
            FieldError(f"{path}.verbs", "Required", detail="verbs must contain at least one value")
        )
    if rule.get("nonResourceURLs"):
        if namespaced:
            errs.append(
                FieldError(
                    f"{path}.nonResourceURLs",
                    "Invalid",
                    rule["nonResourceURLs"],
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(
                FieldError(
                    f"{path}.nonResourceURLs",
                    "Invalid",
                    rule["nonResourceURLs"],
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not rule.get("apiGroups"):
        errs.append(
            FieldError(
                f"{path}.apiGroups",
                "Required",
                detail="resource rules must supply at least one api group",
            )
        )
    if not rule.get("resources"):
        errs.append(
            FieldError(
                f"{path}.resources",
                "Required",
                detail="resource rules must supply at least one resource",
            )
        )
    if rule.get("resourceNames") and len(rule.get("resources") or []) > 1:
        errs.append(
            FieldError(
                f"{path}.resourceNames",
                "Required",
                detail="resource names cannot apply to multiple resources",
            )
        )
    return errs


def _validate_subject(subject: dict, namespaced: bool, path: str) -> list[FieldError]:
    errs = []
    kind, name, group = (
        subject.get("kind"),
        subject.get("name") or "",
        subject.get("apiGroup") or "",
    )
    if not name:
        errs.append(FieldError(f"{path}.name", "Required"))
    if kind == "ServiceAccount":
        if name and (len(name) > 253 or not DNS1123_SUBDOMAIN.match(name)):
            errs.append(FieldError(f"{path}.name", "Invalid", name, SUBDOMAIN_MSG))
        if group:
            errs.append(FieldError(f"{path}.apiGroup", "NotSupported", group, supported=[""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(FieldError(f"{path}.namespace", "Required"))
    elif kind in ("User", "Group"):
        if not name:
            errs.append(
                FieldError(f"{path}.name", "Invalid", name, f"{kind.lower()} name cannot be empty")
            )
        if group != RBAC_GROUP:
            errs.append(
                FieldError(f"{path}.apiGroup", "NotSupported", group, supported=[RBAC_GROUP])
            )
    else:
        errs.append(
            FieldError(
                f"{path}.kind",
                "NotSupported",
                kind or "",
                supported=["ServiceAccount", "User", "Group"],
            )
        )
    return errs


def validate_rbac(kind: str, obj: dict, old: dict | None) -> list[FieldError]:
    """pkg/apis/rbac/validation/validation.go (ValidateRole ... ValidateClusterRoleBindingUpdate)."""
    errs: list[FieldError] = []
    namespaced = kind in ("Role", "RoleBinding")
    if kind in ("Role", "ClusterRole"):
        for i, rule in enumerate(obj.get("rules") or []):
            errs += _validate_rule(
                rule if isinstance(rule, dict) else {}, namespaced, f"rules[{i}]"
            )
        return errs
    raw_ref = obj.get("roleRef")
    ref: dict = raw_ref if isinstance(raw_ref, dict) else {}
    if ref.get("apiGroup") != RBAC_GROUP:
        errs.append(
            FieldError(
                "roleRef.apiGroup",
                "NotSupported",
                ref.get("apiGroup") or "",
                supported=[RBAC_GROUP],
            )
        )
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        errs.append(
            FieldError("roleRef.kind", "NotSupported", ref.get("kind") or "", supported=kinds)
        )
    ref_name = ref.get("name") or ""
    if not ref_name:
        errs.append(FieldError("roleRef.name", "Required"))
    for message in path_segment_errors(ref_name) if ref_name else ():
        errs.append(FieldError("roleRef.name", "Invalid", ref_name, message))
    for i, subject in enumerate(obj.get("subjects") or []):
        errs += _validate_subject(
            subject if isinstance(subject, dict) else {}, namespaced, f"subjects[{i}]"
        )
    if old is not None and (old.get("roleRef") or {}) != ref:
        errs.append(FieldError("roleRef", "Invalid", ref, "cannot change roleRef"))
    return errs


# -- bootstrap policy ----------------------------------------------------------------------


def _rule(groups, resources, verbs, names=None) -> dict:
    rule = {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}
    if names:
        rule["resourceNames"] = list(names)
    return rule


_RW = ("create", "delete", "deletecollection", "patch", "update")
_READ = ("get", "list", "watch")
_ALL = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

# plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/cluster-roles.yaml (v1.29).
_AGGREGATE_TO_ADMIN = [
    _rule([AUTHORIZATION_GROUP], ["localsubjectaccessreviews"], ["create"]),
    _rule([RBAC_GROUP], ["rolebindings", "roles"], _ALL),
]
_AGGREGATE_TO_EDIT = [
    _rule(
        [""],
        ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
        _READ,
    ),
    _rule([""], ["serviceaccounts"], ["impersonate"]),
    _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], _RW),
    _rule([""], ["pods/eviction"], ["create"]),
    _rule(
        [""],
        [
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
        _RW,
    ),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule(
        ["apps"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
        _RW,
    ),
    _rule(["autoscaling"], ["horizontalpodautoscalers"], _RW),
    _rule(["batch"], ["cronjobs", "jobs"], _RW),
    _rule(
        ["extensions"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "ingresses",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
        ],
        _RW,
    ),
    _rule(["policy"], ["poddisruptionbudgets"], _RW),
    _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _RW),
    _rule(["coordination.k8s.io"], ["leases"], _ALL),
]
_AGGREGATE_TO_VIEW = [
    _rule(
        [""],
        [
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
        ],
        _READ,
    ),
    _rule(
        [""],
        [
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
        ],
        _READ,
    ),
    _rule([""], ["namespaces"], _READ),
    _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
    _rule(
        ["apps"],
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
        _READ,
    ),
    _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], _READ),
    _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], _READ),
    _rule(
        ["extensions"],
        [
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
        ],
        _READ,
    ),
    _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _READ),
    _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], _READ),
]
# operator-framework/operator-lifecycle-manager manifests/0000_50_olm_09-aggregated.clusterrole.yaml
_OLM = "operators.coreos.com"
_OLM_EDIT = [
    _rule([_OLM], ["subscriptions"], ["create", "update", "patch", "delete"]),
    _rule(
        [_OLM],
        ["clusterserviceversions", "catalogsources", "installplans", "subscriptions"],
        ["delete"],
    ),
]
_OLM_VIEW = [
    _rule(
        [_OLM],
        [
            "clusterserviceversions",
            "catalogsources",
            "installplans",
            "subscriptions",
            "operatorgroups",
        ],
        _READ,
    ),
    _rule(["packages.operators.coreos.com"], ["packagemanifests", "packagemanifests/icon"], _READ),
]

_AGGREGATE_LABEL = "rbac.authorization.k8s.io/aggregate-to-"
_BOOTSTRAP_META = {
    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
}


def _cluster_role(
    name: str,
    rules: list[dict] | None,
    *,
    aggregate_to: tuple[str, ...] = (),
    aggregates: str | None = None,
    bootstrap: bool = True,
) -> dict:
    meta: dict = {"name": name, "labels": {}}
    if bootstrap:
        meta["labels"].update(_BOOTSTRAP_META["labels"])
        meta["annotations"] = dict(_BOOTSTRAP_META["annotations"])
    for target in aggregate_to:
        meta["labels"][_AGGREGATE_LABEL + target] = "true"
    role: dict = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": meta}
    if aggregates:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {_AGGREGATE_LABEL + aggregates: "true"}}]
        }
    if rules is not None:
        role["rules"] = rules
    return role


def _binding(name: str, role: str, groups: tuple[str, ...]) -> dict:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": dict(_BOOTSTRAP_META["labels"]),
            "annotations": dict(_BOOTSTRAP_META["annotations"]),
        },
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups],
    }


def bootstrap_policy() -> list[tuple[ResourceType, dict]]:
    """The default ClusterRoles/ClusterRoleBindings a fresh cluster (with OLM) has."""
    everything = [
        _rule(["*"], ["*"], ["*"]),
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]
    discovery_urls = [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
    ]
    public_urls = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
    roles = [
        _cluster_role("cluster-admin", everything),
        _cluster_role("admin", None, aggregates="admin"),
        _cluster_role("edit", None, aggregate_to=("admin",), aggregates="edit"),
        _cluster_role("view", None, aggregate_to=("edit",), aggregates="view"),
        _cluster_role("system:aggregate-to-admin", _AGGREGATE_TO_ADMIN, aggregate_to=("admin",)),
        _cluster_role("system:aggregate-to-edit", _AGGREGATE_TO_EDIT, aggregate_to=("edit",)),
        _cluster_role("system:aggregate-to-view", _AGGREGATE_TO_VIEW, aggregate_to=("view",)),
        _cluster_role(
            "system:basic-user",
            [
                _rule(
                    [AUTHORIZATION_GROUP],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    ["create"],
                ),
                _rule([AUTHENTICATION_GROUP], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        _cluster_role("system:discovery", [{"nonResourceURLs": discovery_urls, "verbs": ["get"]}]),
        _cluster_role(
            "system:public-info-viewer", [{"nonResourceURLs": public_urls, "verbs": ["get"]}]
        ),
        _cluster_role(
            "system:auth-delegator",
            [
                _rule([AUTHENTICATION_GROUP], ["tokenreviews"], ["create"]),
                _rule([AUTHORIZATION_GROUP], ["subjectaccessreviews"], ["create"]),
            ],
        ),
        _cluster_role(
            "aggregate-olm-edit", _OLM_EDIT, aggregate_to=("admin", "edit"), bootstrap=False
        ),
        _cluster_role(
            "aggregate-olm-view",
            _OLM_VIEW,
            aggregate_to=("admin", "edit", "view"),
            bootstrap=False,
        ),
    ]
    bindings = [
        _binding("cluster-admin", "cluster-admin", (MASTERS,)),
        _binding("system:basic-user", "system:basic-user", (AUTHENTICATED,)),
        _binding("system:discovery", "system:discovery", (AUTHENTICATED,)),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            (AUTHENTICATED, UNAUTHENTICATED),
        ),
    ]
    return [(CLUSTER_ROLE, r) for r in roles] + [(CLUSTER_ROLE_BINDING, b) for b in bindings]


def bootstrap(store: Store) -> None:
    """Create the missing default roles and bindings, then aggregate (rbac/bootstrap-roles hook).

    Bootstrap names such as `system:discovery` are valid RBAC names (path segments) but not the
    DNS subdomains Store.create insists on, so missing objects are added through the store's
    persistence format (snapshot + restore) rather than `create`. Existing objects are kept.
    """
    with store.lock:
        missing = [
            (rt, obj)
            for rt, obj in bootstrap_policy()
            if store.peek(rt, None, obj["metadata"]["name"]) is None
        ]
        if missing:
            data = store.snapshot()
            rv = int(data["resourceVersion"])
            stamp = now()
            for rt, obj in missing:
                rv += 1
                meta = obj["metadata"]
                meta.update(uid=str(uuid.uuid4()), creationTimestamp=stamp, resourceVersion=str(rv))
                managed.record_update(
                    None,
                    obj,
                    manager="kube-apiserver",
                    api_version=rt.api_version,
                    now=stamp,
                    has_status=False,
                )
                stored = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
                data["objects"].append({"group": rt.group, "plural": rt.plural, "object": stored})
            data["resourceVersion"] = rv
            store.restore(data)
            store.dirty = True
        ClusterRoleAggregator(store).tick()


# -- aggregation (pkg/controller/clusterroleaggregation) ------------------------------------


def _selector_matches(selector: dict, labels: dict) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels); {} matches everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class ClusterRoleAggregator:
    """Fill `rules` of ClusterRoles with an aggregationRule from the ClusterRoles it selects."""

    MANAGER = "clusterrole-aggregation-controller"

    def __init__(self, store: Store):
        self.store = store
        self._seen: tuple | None = None

    def _fingerprint(self) -> tuple:
        return tuple(
            sorted(
                (r["metadata"]["name"], r["metadata"].get("resourceVersion"))
                for r in self.store.scan(CLUSTER_ROLE)
            )
        )

    def tick(self) -> None:
        with self.store.lock:
            if self._fingerprint() == self._seen:
                return
            for _ in range(10):  # aggregated roles feed others (view -> edit -> admin)
                if not self._sync_all():
                    break
            self._seen = self._fingerprint()

    def _sync_all(self) -> bool:
        roles = sorted(self.store.scan(CLUSTER_ROLE), key=lambda r: r["metadata"]["name"])
        changed = False
        for role in roles:
            rule = role.get("aggregationRule")
            if not rule or role["metadata"].get("deletionTimestamp"):
                continue
            rules: list[dict] = []
            for selector in rule.get("clusterRoleSelectors") or []:
                for other in roles:
                    if other is role:
                        continue
                    if _selector_matches(selector, other["metadata"].get("labels") or {}):
                        for r in other.get("rules") or []:
                            if r not in rules:
                                rules.append(r)
            if rules != (role.get("rules") or []):
                updated = self.store.peek(CLUSTER_ROLE, None, role["metadata"]["name"])
                assert updated is not None  # scanned under the same lock
                updated["rules"] = rules
                self.store.save(CLUSTER_ROLE, updated, manager=self.MANAGER)
                changed = True
        return changed


# -- the cluster's RBAC ----------------------------------------------------------------------


class RBAC:
    """Everything a SandboxCluster needs: tokens, the authorizer, bootstrap, aggregation."""

    def __init__(self, store: Store, secret: str | None):
        self.store = store
        self.tokens = ServiceAccountTokens(store, secret)
        self.authorizer = Authorizer(store)
        self._aggregator = ClusterRoleAggregator(store)

    def bootstrap(self) -> None:
        bootstrap(self.store)

    def tick(self) -> None:
        self._aggregator.tick()

    def check(self, user: UserInfo, method: str, path: str, query: dict) -> None:
        """Authorize one API request; raises the API server's 403 `Status`."""
        self.authorizer.check(request_attributes(user, method, path, query))

    def check_create(self, user: UserInfo, method: str, path: str, query: dict) -> None:
        """A server-side apply that creates its object must also be allowed to `create`.

        staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go builds
        createAuthorizerAttributes (verb "create", same resource/subresource/name) and
        update.go `withAuthorization` answers `NewForbidden(gr, name, fmt.Errorf("%v", reason))`:
        no forbiddenMessage here, so RBAC's empty reason leaves `... "<name>" is forbidden: `.
        """
        attrs = replace(request_attributes(user, method, path, query), verb="create")
        allowed, reason = self.authorizer.authorize(attrs)
        if not allowed:
            raise errors.forbidden(
                resource=attrs.resource, group=attrs.api_group, name=attrs.name, message=reason
            )

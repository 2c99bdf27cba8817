"""The API's OpenAPI document, made from the code by one set of rules so that it says what the
API does: each operation under its resource's tag with a one-line summary, and every error
status it can answer with the one error body `core.api.exception_handler` writes. A view
states only what these rules cannot know (with `extend_schema`)."""

from __future__ import annotations

import re
from typing import Any

import uritemplate
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import permissions, serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every API error (see `core.api.exception_handler`)."""

    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(
        help_text="A stable, lower-case code (`invalid`, `not_found`, `permission_denied`, "
        "`not_authenticated`, `throttled`, or the domain's own, e.g. `insufficient_balance`)."
    )
    detail = serializers.CharField(help_text="A human-readable message (the first one).")
    # The metaclass moves a declared field into `_declared_fields`: `Serializer.fields` stays.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="400 and 422: the messages per input field or header (`non_field_errors` "
        "for the rest), e.g. `Idempotency-Key` when a key is reused with another body.",
    )


ERROR_DESCRIPTIONS = {
    "400": "The input (body or query parameters) was refused; `fields` names each field at fault.",
    "401": "No valid credentials: send `Authorization: Token <token>` (see `WWW-Authenticate`).",
    "403": "Signed in, but not allowed to do this.",
    "404": "Nothing you may see answers to this (missing, another tenant's, or a page past "
    "the last).",
    "429": "Too many requests; retry after `Retry-After` seconds.",
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Summaries of the standard viewset actions, by the resource's name (singular).
ACTION_SUMMARIES = {
    "list": "List {plural}",
    "create": "Create {article} {singular}",
    "retrieve": "One {singular}",
    "update": "Replace {article} {singular}",
    "partial_update": "Change {article} {singular}",
    "destroy": "Delete {article} {singular}",
}


# Examples of the main request bodies, by operation id (a view's own `extend_schema`
# examples win). Ids are the demo's; each value is a valid body.
REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "v1_auth_token_create": {"username": "buyer", "password": "demo"},
    "v1_projects_create": {"tenant": 3, "name": "cache", "namespace": "cache", "description": ""},
    "v1_clusters_create": {
        "name": "prod-east",
        "api_url": "https://k8s.example.com:6443",
        "auth_method": "token",
        "token": "<service account token>",
        "ca_data": "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----",
        "external_access": "NodePort",
    },
    "v1_catalog_sources_create": {
        "tenant": 2,
        "cluster": 1,
        "name": "mem-registry",
        "display_name": "Memcached operators",
        "image": "registry.example.com/catalogs/memcached-registry:v1",
        "publisher": "zs-olm",
    },
    "v1_versions_create": {
        "asset": 1,
        "project": 1,
        "cluster": 1,
        "catalog_source": 1,
        "package_name": "memcached-cluster-operator",
        "channels": ["stable"],
        "default_channel": "stable",
    },
    "v1_plans_create": {
        "asset": 1,
        "name": "Yearly",
        "price": "100.00",
        "duration_value": 1,
        "duration_unit": "year",
    },
    "v1_approval_requests_create": {"version": 1, "kind": "listing", "reason": "Ready to sell"},
    "v1_approval_requests_reject_create": {"reason": "The description names no support contact."},
    "v1_orders_create": {
        "plan": 1,
        "project": 3,
        "cluster": 1,
        "channel": "stable",
        "pay_now": True,
    },
    "v1_installations_create": {
        "tenant": 3,
        "project": 3,
        "cluster": 1,
        "version": 1,
        "channel": "stable",
        "approval": "Automatic",
    },
    "v1_instances_create": {
        "installation": 1,
        "name": "mem-a",
        "replicas": 3,
        "resources": {"cpu": "500m", "memory": "256Mi"},
        "expose": False,
    },
    "v1_instances_scale_create": {"replicas": 5},
    "v1_wallets_top_up_create": {"tenant": 3, "amount": "500.00", "reason": "Bank transfer 0042"},
}


# An undocumented action of one object (`/things/{id}/<action>/`), by HTTP method.
CUSTOM_ACTION_SUMMARIES = {
    "GET": "The {action} of {article} {singular}",
    "POST": "{Action} {article} {singular}",
    "PUT": "Replace the {action} of {article} {singular}",
    "PATCH": "Change the {action} of {article} {singular}",
    "DELETE": "Remove the {action} of {article} {singular}",
}


def _singular(plural: str) -> str:
    if plural.endswith("ies"):
        return plural[:-3] + "y"
    if plural.endswith("s"):
        return plural[:-1]
    return plural


def _first_sentence(doc: str) -> str:
    """A docstring's first sentence, on one line."""
    paragraph = " ".join(doc.split("\n\n")[0].split())
    sentence = re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]
    if len(sentence) > 100:  # one line: up to its first clause
        sentence = sentence.split("; ", 1)[0]
    return sentence.rstrip(".")


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema with the project's tags, summaries and error responses."""

    def _resource(self) -> str:
        tokens = [t for t in self._tokenize_path() if not re.fullmatch(r"v\d+", t)]
        return tokens[0] if tokens else "api"

    def get_tags(self) -> list[str]:
        """One tag per resource (`/api/v1/<resource>/…`); `me` and `auth` are accounts'."""
        resource = self._resource()
        return ["accounts"] if resource in ("me", "auth") else [resource]

    def get_summary(self) -> str | None:
        """The first sentence of the action's docstring; for an action of the view's own, else
        of its description; else one made from the action's name and the resource."""
        action_name = getattr(self.view, "action", None) or self.method.lower()
        method = getattr(self.view, action_name, None)
        doc = (getattr(method, "__doc__", None) or "").strip()
        if doc:
            return _first_sentence(doc)
        plural = self._resource().replace("-", " ")
        singular = _singular(plural)
        article = "an" if singular[:1] in "aeiou" else "a"
        template = ACTION_SUMMARIES.get(action_name)
        if template:
            return template.format(plural=plural, singular=singular, article=article)
        if action_name in ("get", "post", "put", "patch", "delete"):
            return None
        description = self.get_description()
        if description and description != get_doc(self.view.__class__):
            return _first_sentence(description)
        what = action_name.replace("_", " ")
        if not uritemplate.variables(self.path):
            return f"{what.capitalize()} ({plural})"
        return CUSTOM_ACTION_SUMMARIES[self.method].format(
            action=what, Action=what.capitalize(), singular=singular, article=article
        )

    def get_examples(self) -> list[OpenApiExample]:
        examples = super().get_examples()
        value = REQUEST_EXAMPLES.get(self.get_operation_id())
        if examples or value is None:
            return examples
        return [OpenApiExample("Example", value=value, request_only=True)]

    def _error_statuses(self) -> list[str]:
        """Which errors this operation can answer: every rule here follows from the view."""
        statuses = []
        has_query = any(
            p.get("in") == "query" for p in self._get_parameters() if isinstance(p, dict)
        )
        if self.method in WRITE_METHODS or has_query:
            statuses.append("400")
        if self.view.get_authenticators():
            statuses.append("401")
        checks = self.view.get_permissions()
        if any(not isinstance(p, permissions.AllowAny) for p in checks):
            statuses.append("403")
        if uritemplate.variables(self.path) or has_query:
            statuses.append("404")
        if self.view.get_throttles():
            statuses.append("429")
        return statuses

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status_code, response in responses.items():
            if status_code.startswith("4") and "content" not in response:
                # A view's own error response without a body: the body is the one error body.
                documented = self._get_response_for_code(
                    ErrorSerializer, status_code, media_types=["application/json"]
                )
                response["content"] = documented["content"]
        for status_code in self._error_statuses():
            if status_code in responses:
                continue
            responses[status_code] = self._get_response_for_code(
                OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status_code]),
                status_code,
                media_types=["application/json"],
                direction=direction,
            )
        return responses

    def _get_response_headers_for_code(self, status_code: str, direction: Any = "response") -> Any:
        headers = super()._get_response_headers_for_code(status_code, direction)
        if status_code == "401":
            headers["WWW-Authenticate"] = {
                "schema": {"type": "string"},
                "description": "The scheme to authenticate with: `Token`.",
            }
        elif status_code == "429":
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before the next try.",
            }
        return headers


CASE_NOTE = (
    "Case-sensitive: send and expect each value exactly as written here (`{value}`, not `{other}`)."
)


def _case_note(values: list[Any]) -> str | None:
    words = [v for v in values if isinstance(v, str) and v and v.lower() != v.upper()]
    if not words:
        return None
    value = next((v for v in words if v != v.lower()), words[0])
    other = value.lower() if value != value.lower() else value.upper()
    return CASE_NOTE.format(value=value, other=other)


def document_enum_case(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """A postprocessing hook: every enum (a component or a query parameter's) says that its
    values are case-sensitive; most are lower-case, Kubernetes' own (`Automatic`,
    `NodePort`) keep Kubernetes' spelling."""
    for schema in result.get("components", {}).get("schemas", {}).values():
        note = _case_note(schema.get("enum") or [])
        if note:
            schema["description"] = f"{schema.get('description', '')}\n\n{note}".strip()
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                values = (parameter.get("schema") or {}).get("enum") or (
                    (parameter.get("schema") or {}).get("items") or {}
                ).get("enum")
                note = _case_note(values or [])
                if note:
                    parameter["description"] = f"{parameter.get('description', '')}\n\n{note}"
    return result

"""OpenAPI v2 and v3 documents, and the `fieldValidation` query parameter.

What kubectl needs from a real API server, built at run time:

* `/openapi/v3`: the index (`paths` -> `{"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=..."}`)
  and one document per group/version (kube-openapi pkg/handler3: `hash` is the upper-case
  SHA-512 of the JSON, a stale hash is redirected, a matching one is `public, immutable`);
  kubectl explain reads the schemas (found by `x-kubernetes-group-version-kind`), kubectl
  apply/create look for the `fieldValidation` query parameter on the kind's PATCH
  operation (cli-runtime pkg/resource/query_param_verifier_v3.go) and then leave the
  validation to the server;
* `/openapi/v2`: the same as one Swagger 2.0 document, in JSON. client-go asks for it in
  protobuf only (discovery `OpenAPISchema`, Accept
  `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), which the sandbox cannot
  encode: it answers 406 as kube-openapi does for a type it does not offer, and kubectl falls
  back (apply computes its patch from the v3 document, explain uses v3).

Schemas of built-in kinds come from the official `kubernetes` Python client's models
(`openapi_types`, `attribute_map` and the field descriptions), limited to the kinds the
sandbox serves and what they reference; without that package every built-in kind gets a
permissive schema. Custom resources get their CRD version's `openAPIV3Schema`, named and
completed as apiextensions-apiserver does (pkg/controller/openapi/builder): reversed group
(`com.tenxcloud.daas.v1.MemcachedCluster`), `metadata` as ObjectMeta, a `...List` schema.

`fieldValidation` (k8s.io/apiserver pkg/endpoints/handlers create.go, update.go, patch.go;
default `Warn`): unknown fields are rejected (`Strict`), reported in `Warning: 299` headers
(`Warn`) or dropped (`Ignore`), with the API server's messages.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import json
import re
import threading
import typing

from . import errors
from .errors import FieldError
from .patch import json_patch, merge_patch, strategic_merge
from .resources import ResourceType, TypeIndex
from .store import APPLY, JSON_PATCH, STRATEGIC

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
OBJECT_META = f"{META}.ObjectMeta"
LIST_META = f"{META}.ListMeta"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

# Packages of the definitions, as Kubernetes names them (the Go package path).
_PACKAGES = {
    "": "io.k8s.api.core.v1",
    "apps": "io.k8s.api.apps.v1",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac.v1",
    "authorization.k8s.io": "io.k8s.api.authorization.v1",
    "authentication.k8s.io": "io.k8s.api.authentication.v1",
    "batch": "io.k8s.api.batch.v1",
    "networking.k8s.io": "io.k8s.api.networking.v1",
    "policy": "io.k8s.api.policy.v1",
    "autoscaling": "io.k8s.api.autoscaling.v2",  # the sandbox serves autoscaling/v2 only
    "meta": META,
}
# Python client class-name prefixes (CoreV1Event, RbacV1Subject ...) -> group.
_CLASS_PREFIXES = {
    "Core": "",
    "Apiextensions": "apiextensions.k8s.io",
    "Rbac": "rbac.authorization.k8s.io",
    "Authentication": "authentication.k8s.io",
    "Authorization": "authorization.k8s.io",
}
# Unprefixed model names outside core/v1 (the client drops the group from the class name).
_META_TYPES = {
    "ObjectMeta", "ListMeta", "ManagedFieldsEntry", "OwnerReference", "LabelSelector",
    "LabelSelectorRequirement", "Status", "StatusDetails", "StatusCause", "DeleteOptions",
    "Preconditions", "Condition", "FieldSelectorRequirement",
}  # fmt: skip
_GROUP_NAME_PATTERNS = (
    ("apps", re.compile(r"^(Deployment|ReplicaSet|StatefulSet|DaemonSet|ControllerRevision|"
                        r"RollingUpdate(Deployment|StatefulSetStrategy|DaemonSet))")),
    ("apiextensions.k8s.io", re.compile(r"^(CustomResource|JSONSchemaProps|ExternalDocumentation|"
                                        r"ValidationRule|SelectableField|WebhookConversion)")),
    ("rbac.authorization.k8s.io", re.compile(r"^(Cluster)?Role(Binding)?(List)?$|^PolicyRule$|"
                                             r"^AggregationRule$|^RoleRef$")),
    ("authorization.k8s.io", re.compile(r"^(Self|Local)?Subject(Access|Rules)Review|^(Non)?Resource"
                                        r"(Attributes|Rule)$|^(Field|Label)SelectorAttributes$")),
    ("authentication.k8s.io", re.compile(r"^SelfSubjectReview|^UserInfo$|^TokenRequest")),
    ("batch", re.compile(r"^(Cron)?Job|^PodFailurePolicy|^SuccessPolicy|^UncountedTerminatedPods$")),
    ("networking.k8s.io", re.compile(r"^(HTTP)?Ingress|^NetworkPolicy|^IPBlock$|"
                                     r"^ServiceBackendPort$")),
    ("policy", re.compile(r"^PodDisruptionBudget")),
    ("autoscaling", re.compile(r"^HorizontalPodAutoscaler|^HPAScaling|^CrossVersionObjectReference$|"
                               r"^Metric(Spec|Status|Target|ValueStatus|Identifier)$|"
                               r"^(Container)?ResourceMetric|^(Pods|Object|External)Metric")),
)  # fmt: skip
_CLASS_NAME = re.compile(
    r"^(?P<prefix>[A-Z][a-z]+)?(?P<version>V\d+(?:(?:alpha|beta)\d+)?)(?P<name>[A-Z]\w*)$"
)

# Lists Kubernetes' types.go marks as maps/sets (the client's models do not carry these tags):
# (definition, field) -> (list type, map keys, patch merge key, patch strategy).
_LIST_TAGS: dict[tuple[str, str], tuple[str, list[str], str | None, str | None]] = {
    ("PodSpec", "containers"): ("map", ["name"], "name", "merge"),
    ("PodSpec", "initContainers"): ("map", ["name"], "name", "merge"),
    ("PodSpec", "ephemeralContainers"): ("map", ["name"], "name", "merge"),
    ("PodSpec", "volumes"): ("map", ["name"], "name", "merge,retainKeys"),
    ("PodSpec", "imagePullSecrets"): ("map", ["name"], "name", "merge"),
    ("Container", "env"): ("map", ["name"], "name", "merge"),
    ("Container", "ports"): ("map", ["containerPort", "protocol"], "containerPort", "merge"),
    ("Container", "volumeMounts"): ("map", ["mountPath"], "mountPath", "merge"),
    ("ServiceSpec", "ports"): ("map", ["port", "protocol"], "port", "merge"),
    ("ObjectMeta", "finalizers"): ("set", [], None, "merge"),
    ("ObjectMeta", "ownerReferences"): ("map", ["uid"], "uid", "merge"),
    ("PodStatus", "conditions"): ("map", ["type"], "type", "merge"),
    ("DeploymentStatus", "conditions"): ("map", ["type"], "type", "merge"),
    ("JobStatus", "conditions"): ("atomic", [], "type", "merge"),
    ("PodDisruptionBudgetStatus", "conditions"): ("map", ["type"], "type", "merge"),
    ("HorizontalPodAutoscalerStatus", "conditions"): ("map", ["type"], "type", "merge"),
    ("NodeStatus", "conditions"): ("map", ["type"], "type", "merge"),
}

STANDARD_DESCRIPTIONS = {
    "apiVersion": "APIVersion defines the versioned schema of this representation of an object. "
    "Servers should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
    "kind": "Kind is a string value representing the REST resource this object represents. "
    "Servers may infer this from the endpoint the client submits requests to. Cannot be "
    "updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    "metadata": "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    "listMetadata": "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
}


# -- schemas of built-in kinds, from the kubernetes client's models --------------------------


def _models():
    """The official client's models module, or None (the sandbox runs without it)."""
    try:
        return importlib.import_module("kubernetes.client.models")
    except ImportError:
        return None


def _class_group(class_name: str) -> tuple[str, str] | None:
    """(group, definition short name) of a client model class, e.g. V1Deployment -> apps."""
    match = _CLASS_NAME.match(class_name)
    if not match:
        return None
    prefix, name = match["prefix"], match["name"]
    if prefix:
        if prefix not in _CLASS_PREFIXES:
            return None
        return _CLASS_PREFIXES[prefix], name
    if name in _META_TYPES:
        return "meta", name
    for group, pattern in _GROUP_NAME_PATTERNS:
        if pattern.search(name):
            return group, name
    return "", name


def definition_name(class_name: str) -> str | None:
    found = _class_group(class_name)
    if found is None:
        return None
    group, name = found
    return f"{_PACKAGES[group]}.{name}"


def _class_description(cls) -> str:
    text = (cls.__doc__ or "").split("Attributes:")[0]
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _field_description(cls, attr: str) -> str:
    fields = getattr(cls, "model_fields", None)
    if fields and attr in fields:  # pydantic models (kubernetes >= 35)
        return fields[attr].description or ""
    prop = getattr(cls, attr, None)  # older clients: the getter's docstring
    doc = getattr(prop, "__doc__", None) or ""
    lines = [
        line.replace("# noqa: E501", "").strip()
        for line in doc.split(":return:")[0].splitlines()[1:]
    ]
    return " ".join(line for line in lines if line)


def _required(cls) -> list[str]:
    fields = getattr(cls, "model_fields", None) or {}
    return [cls.attribute_map[a] for a, f in fields.items() if f.is_required()]


def _is_int_or_string(cls, attr: str) -> bool:
    """IntOrString fields are `object` in openapi_types, Union[int, str] in pydantic models."""
    fields = getattr(cls, "model_fields", None) or {}
    field = fields.get(attr)
    if field is None:
        return False
    return {int, str} <= _base_types(field.annotation)


def _base_types(annotation) -> set:
    args = typing.get_args(annotation)
    if not args:
        return {annotation}
    if typing.get_origin(annotation) is typing.Annotated:
        return _base_types(args[0])
    found: set = set()
    for arg in args:
        found |= _base_types(arg)
    return found


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


class BuiltinSchemas:
    """components.schemas of the built-in kinds, made once per process from the client."""

    def __init__(self, models):
        self.models = models
        self.schemas: dict[str, dict] = {}
        self.class_of: dict[str, str] = {}

    def add_class(self, class_name: str) -> str | None:
        name = definition_name(class_name)
        cls = getattr(self.models, class_name, None)
        if name is None or cls is None or not hasattr(cls, "openapi_types"):
            return None
        if name in self.schemas:
            return name
        schema: dict = {"description": _class_description(cls), "type": "object"}
        self.schemas[name] = schema  # before the fields: types may refer to themselves
        self.class_of[name] = class_name
        short = name.rsplit(".", 1)[1]
        properties = {}
        for attr, type_name in cls.openapi_types.items():
            json_name = cls.attribute_map[attr]
            if _is_int_or_string(cls, attr):
                self._int_or_string()
                prop: dict = {"allOf": [_ref(INT_OR_STRING)]}
            else:
                prop = self._type(type_name)
            description = _field_description(cls, attr) or STANDARD_DESCRIPTIONS.get(json_name, "")
            if not description and "allOf" in prop:
                ref_class = self.class_of.get(prop["allOf"][0]["$ref"].rsplit("/", 1)[1])
                if ref_class:
                    description = _class_description(getattr(self.models, ref_class))
            if description:
                prop["description"] = description
            tags = _LIST_TAGS.get((short, json_name))
            if tags and prop.get("type") == "array":
                list_type, keys, merge_key, strategy = tags
                prop["x-kubernetes-list-type"] = list_type
                if keys:
                    prop["x-kubernetes-list-map-keys"] = keys
                if merge_key:
                    prop["x-kubernetes-patch-merge-key"] = merge_key
                if strategy:
                    prop["x-kubernetes-patch-strategy"] = strategy
            properties[json_name] = dict(sorted(prop.items()))
        schema["properties"] = dict(sorted(properties.items()))
        required = _required(cls)
        if required:
            schema["required"] = sorted(required)
        return name

    def _int_or_string(self) -> None:
        self.schemas.setdefault(
            INT_OR_STRING,
            {
                "description": "IntOrString is a type that can hold an int32 or a string.  When "
                "used in JSON or YAML marshalling and unmarshalling, it produces or consumes the "
                "inner type.  This allows you to have, for example, a JSON field that can accept "
                "a name or number.",
                "format": "int-or-string",
                "type": "string",
            },
        )

    def _type(self, type_name: str) -> dict:
        type_name = type_name.strip()
        if type_name.startswith("List["):
            items = self._type(type_name[5:-1])
            if "allOf" in items:
                items = {**items, "default": {}}
            return {"type": "array", "items": items}
        if type_name.startswith("Dict[str, "):
            return {"type": "object", "additionalProperties": self._type(type_name[10:-1])}
        simple = {
            "str": {"type": "string"},
            "int": {"type": "integer", "format": "int64"},
            "float": {"type": "number", "format": "double"},
            "bool": {"type": "boolean"},
            "datetime": {"type": "string", "format": "date-time"},
            "date": {"type": "string", "format": "date"},
            "bytes": {"type": "string", "format": "byte"},
            "object": {},  # RawExtension, JSON: anything
        }
        if type_name in simple:
            return dict(simple[type_name])
        name = self.add_class(type_name)
        if name is None:
            return {}
        return {"allOf": [_ref(name)], "default": {}}


@functools.lru_cache(maxsize=1)
def _builtin_schemas(kinds: tuple[tuple[str, str, str], ...]) -> tuple[dict, dict]:
    """({definition: schema}, {(group, version, kind): definition}) for the served kinds."""
    models = _models()
    built = BuiltinSchemas(models) if models is not None else None
    names: dict[tuple[str, str, str], str] = {}
    for group, version, kind in kinds:
        name = None
        if built is not None:
            for candidate in _candidates(group, version, kind):
                name = built.add_class(candidate)
                if name:
                    built.add_class(candidate + "List")  # PodList ... with the client's words
                    break
            for meta in ("V1Status", "V1DeleteOptions", "V1ObjectMeta", "V1ListMeta"):
                built.add_class(meta)
        if name is None and version == "v1" and group in _PACKAGES:
            name = f"{_PACKAGES[group]}.{kind}"
        elif name is None:
            name = f"{_reverse_group(group)}.{version}.{kind}"
        names[(group, version, kind)] = name
    schemas = built.schemas if built is not None else {}
    return schemas, names


def _candidates(group: str, version: str, kind: str) -> list[str]:
    v = version[0].upper() + version[1:]
    prefix = (group.split(".")[0] or "core").capitalize()
    return [f"{v}{kind}", f"{prefix}{v}{kind}"]


def _reverse_group(group: str) -> str:
    return ".".join(reversed(group.split("."))) if group else ""


def permissive_object(description: str = "") -> dict:
    schema: dict = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if description:
        schema["description"] = description
    return schema


# -- documents ---------------------------------------------------------------------------------


def _gvk(rt: ResourceType, kind: str | None = None) -> dict:
    return {"group": rt.group, "kind": kind or rt.kind, "version": rt.version}


class Documents:
    """The OpenAPI documents for one TypeIndex (rebuilt when CRDs come and go)."""

    def __init__(self, index: TypeIndex):
        self.index = index
        served = tuple(sorted((t.group, t.version, t.kind) for t in index.types if not t.crd))
        self.builtin_schemas, self.builtin_names = _builtin_schemas(served)
        self._lock = threading.Lock()
        self._v3: dict[str, bytes] = {}
        self._components: dict[str, dict] = {}

    # names and schemas

    def schema_name(self, rt: ResourceType, *, list_kind: bool = False) -> str:
        if rt.crd:
            base = f"{_reverse_group(rt.group)}.{rt.version}.{rt.kind}"
        else:
            base = self.builtin_names.get((rt.group, rt.version, rt.kind)) or rt.kind
        return base + "List" if list_kind else base

    def group_versions(self) -> list[tuple[str, str]]:
        seen = []
        for t in self.index.types:
            if (t.group, t.version) not in seen:
                seen.append((t.group, t.version))
        return seen

    def components(self, group: str, version: str) -> dict[str, dict]:
        """components.schemas for one group/version: its kinds, their lists, what they use."""
        key = f"{group}/{version}"
        with self._lock:
            if key in self._components:
                return self._components[key]
        out: dict[str, dict] = {}
        for rt in self.index.types:
            if (rt.group, rt.version) != (group, version):
                continue
            name = self.schema_name(rt)
            if rt.crd:
                out[name] = custom_resource_schema(rt)
            elif name in self.builtin_schemas:
                out[name] = {
                    **self.builtin_schemas[name],
                    "x-kubernetes-group-version-kind": [_gvk(rt)],
                }
            else:
                out[name] = {**_typed_permissive(rt), "x-kubernetes-group-version-kind": [_gvk(rt)]}
            list_name = self.schema_name(rt, list_kind=True)
            if list_name in self.builtin_schemas:
                out[list_name] = dict(self.builtin_schemas[list_name])
            else:
                out[list_name] = _list_schema(rt, name)
            out[list_name]["x-kubernetes-group-version-kind"] = [_gvk(rt, rt.list_kind)]
        for meta in (OBJECT_META, LIST_META, f"{META}.Status", f"{META}.DeleteOptions"):
            out.setdefault(meta, self.builtin_schemas.get(meta) or permissive_object())
        # everything the schemas refer to, transitively
        pending = list(out.values())
        while pending:
            for ref in _refs(pending.pop()):
                if ref not in out:
                    out[ref] = self.builtin_schemas.get(ref) or permissive_object()
                    pending.append(out[ref])
        out = dict(sorted(out.items()))
        with self._lock:
            self._components[key] = out
        return out

    def resolver(self, rt: ResourceType) -> tuple[dict, dict]:
        """(schema of rt, components to resolve its $refs) for field validation."""
        comps = self.components(rt.group, rt.version)
        return comps[self.schema_name(rt)], comps

    # v3

    def v3_document(self, group: str, version: str) -> bytes:
        key = f"{group}/{version}"
        with self._lock:
            if key in self._v3:
                return self._v3[key]
        types = [t for t in self.index.types if (t.group, t.version) == (group, version)]
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.29.4"},
            "paths": _paths(self, types),
            "components": {
                "schemas": self.components(group, version),
                "securitySchemes": {
                    "BearerToken": {
                        "type": "apiKey",
                        "description": "Bearer Token authentication",
                        "name": "authorization",
                        "in": "header",
                    }
                },
            },
            "security": [{"BearerToken": []}],
        }
        data = json.dumps(doc, separators=(",", ":")).encode()
        with self._lock:
            self._v3[key] = data
        return data

    def v3_index(self) -> dict:
        paths = {}
        for group, version in self.group_versions():
            path = f"apis/{group}/{version}" if group else f"api/{version}"
            digest = hashlib.sha512(self.v3_document(group, version)).hexdigest().upper()
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        return {"paths": dict(sorted(paths.items()))}

    # v2

    def v2_document(self) -> dict:
        definitions: dict[str, dict] = {}
        paths: dict[str, dict] = {}
        for group, version in self.group_versions():
            doc = json.loads(self.v3_document(group, version))
            for name, schema in doc["components"]["schemas"].items():
                definitions.setdefault(name, _to_v2(schema))
            for path, item in doc["paths"].items():
                paths[path] = _paths_to_v2(item)
        return {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.29.4"},
            "paths": dict(sorted(paths.items())),
            "definitions": dict(sorted(definitions.items())),
            "securityDefinitions": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "type": "apiKey",
                    "name": "authorization",
                    "in": "header",
                }
            },
            "security": [{"BearerToken": []}],
        }


def _typed_permissive(rt: ResourceType) -> dict:
    return {
        "description": f"{rt.kind} (the sandbox has no schema for it: any fields are accepted)",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": STANDARD_DESCRIPTIONS["apiVersion"]},
            "kind": {"type": "string", "description": STANDARD_DESCRIPTIONS["kind"]},
            "metadata": {
                "allOf": [_ref(OBJECT_META)],
                "default": {},
                "description": STANDARD_DESCRIPTIONS["metadata"],
            },
        },
        "x-kubernetes-preserve-unknown-fields": True,
    }


def custom_resource_schema(rt: ResourceType) -> dict:
    """A CRD version's schema as apiextensions-apiserver publishes it."""
    raw = copy.deepcopy(dict(rt.schema)) if rt.schema is not None else None
    if raw is None or getattr(rt.schema, "preserve_unknown_fields", False):
        schema = raw or {"type": "object"}
        schema["x-kubernetes-preserve-unknown-fields"] = True
    else:
        schema = raw
    schema.setdefault("type", "object")
    props = dict(schema.get("properties") or {})
    props["apiVersion"] = {"type": "string", "description": STANDARD_DESCRIPTIONS["apiVersion"]}
    props["kind"] = {"type": "string", "description": STANDARD_DESCRIPTIONS["kind"]}
    props["metadata"] = {
        "allOf": [_ref(OBJECT_META)],
        "description": STANDARD_DESCRIPTIONS["metadata"],
    }
    schema["properties"] = dict(sorted(props.items()))
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def _list_schema(rt: ResourceType, item_name: str) -> dict:
    return {
        "description": f"{rt.list_kind} is a list of {rt.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": STANDARD_DESCRIPTIONS["apiVersion"]},
            "items": {
                "type": "array",
                "description": f"List of {rt.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                "api-conventions.md",
                "items": _ref(item_name),
            },
            "kind": {"type": "string", "description": STANDARD_DESCRIPTIONS["kind"]},
            "metadata": {
                "allOf": [_ref(LIST_META)],
                "default": {},
                "description": STANDARD_DESCRIPTIONS["listMetadata"],
            },
        },
    }


def _refs(schema) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.append(ref.rsplit("/", 1)[1])
        for value in schema.values():
            found.extend(_refs(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(_refs(value))
    return found


# -- paths and their parameters -------------------------------------------------------------

_QUERY_PARAMETERS = {
    "dryRun": "When present, indicates that modifications should not be persisted. An invalid "
    "or unrecognized dryRun directive will result in an error response and no further "
    "processing of the request. Valid values are: - All: all dry run stages will be processed",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making "
    "these changes. The value must be less than or 128 characters long, and only contain "
    "printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the "
    "request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - "
    "Ignore: This will ignore any unknown fields that are silently dropped from the object, "
    "and will ignore all but the last duplicate field that the decoder encounters. This is the "
    "default behavior prior to v1.23. - Warn: This will send a warning via the standard "
    "warning response header for each unknown field that is dropped from the object, and for "
    "each duplicate field that is encountered. The request will still succeed if there are no "
    "other errors, and will only persist the last of any duplicate fields. This is the default "
    "in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown "
    "fields would be dropped from the object, or if any duplicate fields are present. The "
    "error returned from the server will contain all unknown and duplicate fields encountered.",
    "force": 'Force is going to "force" Apply requests. It means user will re-acquire '
    "conflicting fields owned by other people. Force flag must be unset for non-apply patch "
    "requests.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels. "
    "Defaults to everything.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields. "
    "Defaults to everything.",
    "limit": "limit is a maximum number of responses to return for a list call.",
    "continue": "The continue option should be set when retrieving more results from the server.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request "
    "may be served from.",
    "watch": "Watch for changes to the described resources and return them as a stream of add, "
    "update, and remove notifications. Specify resourceVersion.",
    "timeoutSeconds": "Timeout for the list/watch call.",
    "propagationPolicy": "Whether and how garbage collection will be performed. Acceptable "
    "values are: 'Orphan', 'Background', 'Foreground'.",
    "pretty": "If 'true', then the output is pretty printed.",
}
_INTEGER_PARAMS = {"limit", "timeoutSeconds"}
_BOOLEAN_PARAMS = {"force", "watch"}


def _query(name: str) -> dict:
    kind = (
        "integer" if name in _INTEGER_PARAMS else "boolean" if name in _BOOLEAN_PARAMS else "string"
    )
    return {
        "name": name,
        "in": "query",
        "description": _QUERY_PARAMETERS[name],
        "schema": {"type": kind, "uniqueItems": True},
    }


def _path_param(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


_JSON_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")


def _body(ref: str, types=("*/*",)) -> dict:
    return {"content": {t: {"schema": _ref(ref)} for t in types}, "required": True}


def _responses(ref: str, codes=("200",)) -> dict:
    described = {"200": "OK", "201": "Created", "202": "Accepted"}
    return {
        code: {
            "description": described[code],
            "content": {t: {"schema": _ref(ref)} for t in _JSON_TYPES},
        }
        for code in codes
    } | {"401": {"description": "Unauthorized"}}


def _operation(doc, rt, action, op_id, ref, *, params=(), codes=("200",), body=None, kind=None):
    op: dict = {
        "tags": [_tag(rt)],
        "description": f"{action} {rt.kind}",
        "operationId": op_id,
        "parameters": [_query(p) for p in params],
        "responses": _responses(ref, codes),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt, kind),
    }
    if body is not None:
        op["requestBody"] = body
    return op


def _tag(rt: ResourceType) -> str:
    group = (rt.group.split(".")[0] if rt.group else "core").replace("-", "")
    return f"{group}_{rt.version}"


def _op_id(verb: str, rt: ResourceType, suffix: str = "", namespaced: bool = True) -> str:
    gv = (rt.group.split(".")[0].capitalize() if rt.group else "Core") + rt.version.capitalize()
    scope = "Namespaced" if rt.namespaced and namespaced else ""
    return f"{verb}{gv}{scope}{rt.kind}{suffix}"


def _paths(doc: Documents, types: list[ResourceType]) -> dict:
    paths: dict[str, dict] = {}
    ns_param = _path_param(
        "namespace", "object name and auth scope, such as for teams and projects"
    )
    name_param = _path_param("name", "name of the resource")
    pretty = _query("pretty")
    write = ("dryRun", "fieldManager", "fieldValidation")
    for rt in types:
        ref = doc.schema_name(rt)
        list_ref = doc.schema_name(rt, list_kind=True)
        base = rt.prefix + ("/namespaces/{namespace}" if rt.namespaced else "") + f"/{rt.plural}"
        scope_params = [ns_param, pretty] if rt.namespaced else [pretty]
        collection: dict = {"parameters": scope_params}
        listing = ("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion")
        if "list" in rt.verbs:
            collection["get"] = _operation(
                doc, rt, "list", _op_id("list", rt), list_ref,
                params=(*listing, "timeoutSeconds", "watch"), kind=rt.kind,
            )  # fmt: skip
        if "create" in rt.verbs:
            collection["post"] = _operation(
                doc, rt, "post", _op_id("create", rt), ref,
                params=write, codes=("200", "201", "202"), body=_body(ref),
            )  # fmt: skip
        if "deletecollection" in rt.verbs:
            collection["delete"] = _operation(
                doc, rt, "deletecollection", _op_id("deleteCollection", rt), f"{META}.Status",
                params=("dryRun", "propagationPolicy", *listing),
            )  # fmt: skip
        paths[base] = collection
        if rt.namespaced and "list" in rt.verbs:
            paths[f"{rt.prefix}/{rt.plural}"] = {
                "parameters": [pretty],
                "get": _operation(
                    doc, rt, "list", _op_id("list", rt, "ForAllNamespaces", namespaced=False),
                    list_ref, params=(*listing, "timeoutSeconds", "watch"),
                ),
            }  # fmt: skip
        item_params = [name_param, *scope_params]
        for sub in ("", "status", "scale"):
            if sub and sub not in rt.subresources:
                continue
            suffix = sub.capitalize()
            target = (
                "io.k8s.api.autoscaling.v1.Scale" if sub == "scale" else ref
            )  # scale answers autoscaling/v1 Scale
            if sub == "scale":
                continue  # not described: autoscaling/v1 Scale is not a kind the sandbox models
            item: dict = {"parameters": item_params}
            if "get" in rt.verbs:
                item["get"] = _operation(doc, rt, "get", _op_id("read", rt, suffix), target)
            if "update" in rt.verbs:
                item["put"] = _operation(
                    doc, rt, "put", _op_id("replace", rt, suffix), target,
                    params=write, codes=("200", "201"), body=_body(target),
                )  # fmt: skip
            if "patch" in rt.verbs:
                patch_types = ["application/json-patch+json", "application/merge-patch+json"]
                if not rt.crd:
                    patch_types.append("application/strategic-merge-patch+json")
                patch_types.append("application/apply-patch+yaml")
                item["patch"] = _operation(
                    doc, rt, "patch", _op_id("patch", rt, suffix), target,
                    params=(*write, "force"), codes=("200", "201"),
                    body={
                        "content": {t: {"schema": _ref(f"{META}.Patch")} for t in patch_types},
                        "required": True,
                    },
                )  # fmt: skip
            if "delete" in rt.verbs and not sub:
                item["delete"] = _operation(
                    doc, rt, "delete", _op_id("delete", rt), f"{META}.Status",
                    params=("dryRun", "propagationPolicy"), codes=("200", "202"),
                    body={"content": {"*/*": {"schema": _ref(f"{META}.DeleteOptions")}}},
                )  # fmt: skip
            if len(item) > 1:
                paths[f"{base}/{{name}}" + (f"/{sub}" if sub else "")] = item
    return dict(sorted(paths.items()))


# -- v2 (Swagger 2.0) from the v3 shapes ----------------------------------------------------


def _to_v2(schema):
    if isinstance(schema, list):
        return [_to_v2(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/components/schemas/", "#/definitions/")
        elif key in ("nullable", "oneOf", "anyOf", "not"):
            continue  # not in Swagger 2.0 (apiextensions drops them when publishing v2)
        else:
            out[key] = _to_v2(value)
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        rest = {k: v for k, v in out.items() if k not in ("allOf", "default")}
        return {"$ref": all_of[0]["$ref"], **rest}
    return out


def _paths_to_v2(item: dict) -> dict:
    out: dict = {}
    for method, op in item.items():
        if method == "parameters":
            out[method] = [_param_to_v2(p) for p in op]
            continue
        op2 = {k: v for k, v in op.items() if k not in ("requestBody", "responses", "parameters")}
        params = [_param_to_v2(p) for p in op.get("parameters") or []]
        body = op.get("requestBody")
        if body:
            content = body["content"]
            schema = next(iter(content.values()))["schema"]
            params.insert(0, {"name": "body", "in": "body", "required": True,
                              "schema": _to_v2(schema)})  # fmt: skip
            op2["consumes"] = list(content)
        op2["parameters"] = params
        op2["produces"] = list(_JSON_TYPES)
        op2["schemes"] = ["https"]
        responses = {}
        for code, response in op["responses"].items():
            entry = {"description": response["description"]}
            if "content" in response:
                entry["schema"] = _to_v2(next(iter(response["content"].values()))["schema"])
            responses[code] = entry
        op2["responses"] = responses
        out[method] = op2
    return out


def _param_to_v2(param: dict) -> dict:
    schema = param.get("schema") or {}
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(schema)
    return out


# -- serving ---------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[int, tuple[TypeIndex, Documents]] = {}


def documents(store) -> Documents:
    """The documents for the store's current types (one TypeIndex lives until CRDs change)."""
    index = store.types()
    with _cache_lock:
        found = _cache.get(id(index))
        if found is not None and found[0] is index:
            return found[1]
        docs = Documents(index)
        if len(_cache) > 16:
            _cache.clear()
        _cache[id(index)] = (index, docs)
        return docs


class Reply(typing.NamedTuple):
    code: int
    body: object
    content_type: str
    headers: list[tuple[str, str]]


def _accepts(header: str | None, offered: str) -> bool:
    """Whether an Accept header admits `offered` (type/subtype), as goautoneg matches."""
    if not header:
        return True
    kind, _, sub = offered.partition("/")
    for clause in header.split(","):
        media = clause.split(";")[0].strip().lower()
        want_kind, _, want_sub = media.partition("/")
        if want_kind in ("*", kind) and want_sub in ("*", sub, ""):
            return True
    return False


def serve(store, path: str, query: dict, accept: str | None) -> Reply:
    """GET /openapi/v2, /openapi/v3, /openapi/v3/{api/v1 | apis/G/V}."""
    docs = documents(store)
    if path == "/openapi/v2":
        if not _accepts(accept, "application/json"):
            return Reply(406, b"", "text/plain", [])  # protobuf only: not offered here
        return Reply(200, docs.v2_document(), "application/json", [("Vary", "Accept")])
    if path == "/openapi/v3":
        return Reply(200, docs.v3_index(), "application/json", [])
    rest = path[len("/openapi/v3/") :]
    parts = rest.split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[:1] == ["apis"] and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        raise errors.page_not_found()
    if (group, version) not in docs.group_versions():
        raise errors.page_not_found()
    headers = [("Vary", "Accept")]
    if not _accepts(accept, "application/json"):
        return Reply(406, b"", "text/plain", headers)
    data = docs.v3_document(group, version)
    digest = hashlib.sha512(data).hexdigest().upper()
    headers.append(("Etag", f'"{digest}"'))
    wanted = query.get("hash")
    if wanted:
        if wanted != digest:
            location = f"/openapi/v3/{rest}?hash={digest}"
            return Reply(301, b"", "text/html", [*headers, ("Location", location)])
        headers.append(("Cache-Control", "public, immutable"))
    return Reply(200, data, "application/json", headers)


# -- fieldValidation -------------------------------------------------------------------------

DIRECTIVES = ("", "Ignore", "Strict", "Warn")


def directive(query: dict, *, options_kind: str) -> str:
    """The request's fieldValidation (default Warn), or 422 for an unknown value."""
    value = query.get("fieldValidation", "")
    if value not in DIRECTIVES:
        raise errors.invalid(
            kind=options_kind,
            group="meta.k8s.io",
            name="",
            errors=[
                FieldError("fieldValidation", "NotSupported", value, supported=list(DIRECTIVES))
            ],
        )
    return value or "Warn"


def _resolve(schema: dict, comps: dict, depth: int = 0) -> dict:
    if depth > 20:
        return schema
    ref = schema.get("$ref")
    all_of = schema.get("allOf")
    if ref is None and isinstance(all_of, list) and len(all_of) == 1:
        ref = all_of[0].get("$ref")
    if not isinstance(ref, str):
        return schema
    target = comps.get(ref.rsplit("/", 1)[1]) or {}
    rest = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
    return _resolve({**target, **rest}, comps, depth + 1)


def unknown_fields(
    value, schema: dict, comps: dict, *, patch: bool = False, smd: bool = False
) -> tuple[object, list[str]]:
    """(value without unknown fields, their paths as the API server spells them:
    `spec.foo`, `spec.containers[0].bar`; with `smd` as structured-merge-diff does for
    server-side apply: `.spec.containers[name="web"].bar`). With `patch`, `$`-directives
    are kept."""
    found: list[str] = []
    return _walk(value, schema, comps, "", found, patch, smd), found


def _walk(value, schema: dict, comps: dict, path: str, found: list[str], patch: bool, smd: bool):
    schema = _resolve(schema, comps)
    if not schema or schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict):
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        if props is None and additional is None and schema.get("type") != "object":
            return value
        embedded = schema.get("x-kubernetes-embedded-resource")
        out = {}
        for key, sub in value.items():
            child = f"{path}.{key}" if path or smd else key
            if props and key in props:
                out[key] = _walk(sub, props[key], comps, child, found, patch, smd)
            elif isinstance(additional, dict):
                out[key] = _walk(sub, additional, comps, child, found, patch, smd)
            elif (
                additional is True
                or (embedded and key in ("apiVersion", "kind", "metadata"))
                or (patch and key.startswith("$"))
            ):
                out[key] = sub
            else:
                found.append(child)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            _walk(
                item, schema["items"], comps, path + _item(schema, i, item, smd), found, patch, smd
            )
            for i, item in enumerate(value)
        ]
    return value


def _item(schema: dict, index: int, item, smd: bool) -> str:
    """A list element's path: `[0]`, or for server-side apply on a map list `[name="web"]`
    (structured-merge-diff fieldpath.PathElement.String)."""
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if smd and schema.get("x-kubernetes-list-type") == "map" and isinstance(item, dict):
        present = [k for k in keys if k in item]
        if present:
            return "[" + ",".join(f"{k}={json.dumps(item[k])}" for k in present) + "]"
    return f"[{index}]"


def warning_header(text: str) -> tuple[str, str]:
    """`Warning: 299 - "text"` (k8s.io/apiserver pkg/warning, strconv.Quote)."""
    return ("Warning", '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')


def strict_message(paths: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)


def check_body(store, rt: ResourceType, body, query: dict, *, options_kind: str):
    """POST/PUT: (body without unknown fields, Warning headers); Strict raises 400 as
    `transformDecodeError` words it: `Pod in version "v1" cannot be handled as a Pod: ...`."""
    mode = directive(query, options_kind=options_kind)
    if not isinstance(body, dict) or rt.kind == "PackageManifest":
        return body, []
    schema, comps = documents(store).resolver(rt)
    pruned, paths = unknown_fields(body, schema, comps)
    if not paths:
        return body, []
    if mode == "Strict":
        kind = body.get("kind") or rt.kind
        version = (body.get("apiVersion") or rt.api_version).rpartition("/")[2]
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {rt.kind}: '
            + strict_message(paths)
        )
    warnings = [warning_header(f'unknown field "{p}"') for p in paths] if mode == "Warn" else []
    return pruned, warnings


def check_patch(
    store, rt: ResourceType, patched: dict, patch_body, query: dict, *, strategic: bool
):
    """Non-apply PATCH: the patched object is checked (handlers/patch.go); Strict is 422
    `patch: Invalid value: ...: strict decoding error: ...`. Returns (patch without the
    unknown fields, Warning headers)."""
    mode = directive(query, options_kind="PatchOptions")
    if not isinstance(patched, dict):
        return patch_body, []
    schema, comps = documents(store).resolver(rt)
    _, paths = unknown_fields(patched, schema, comps)
    if not paths:
        return patch_body, []
    if mode == "Strict":
        shown = go_format(patch_body) if strategic else json.dumps(patched, separators=(",", ":"))
        raise errors.invalid(
            kind="",
            group="",
            name="",
            errors=[FieldError("patch", "Invalid", shown, strict_message(paths))],
        )
    warnings = [warning_header(f'unknown field "{p}"') for p in paths] if mode == "Warn" else []
    if isinstance(patch_body, dict):
        patch_body, _ = unknown_fields(patch_body, schema, comps, patch=True)
    return patch_body, warnings


def go_format(value) -> str:
    """Go's `fmt.Sprintf("%+v", map[string]interface{})` of a decoded JSON value."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_patch_request(store, req, target) -> tuple[object, list[tuple[str, str]]]:
    """The handler's PATCH hook: (patch body to apply, Warning headers)."""
    body = req.json_body()
    mode_query = req.query
    if req.content_type == APPLY:
        directive(mode_query, options_kind="PatchOptions")
        _check_apply(store, target.rt, body)
        return body, []
    current = store.peek(target.rt, target.namespace, target.name) if target.name else None
    if current is None:
        directive(mode_query, options_kind="PatchOptions")
        return body, []  # the store answers 404
    try:
        if req.content_type == JSON_PATCH:
            patched = json_patch(current, body)
        elif req.content_type == STRATEGIC:
            patched = strategic_merge(current, body)
        else:
            patched = merge_patch(current, body)
    except Exception:  # a malformed patch: the store reports it as the API server does
        directive(mode_query, options_kind="PatchOptions")
        return body, []
    return check_patch(
        store, target.rt, patched, body, mode_query, strategic=req.content_type == STRATEGIC
    )


def _check_apply(store, rt: ResourceType, body) -> None:
    """Server-side apply refuses unknown fields whatever fieldValidation says: the field
    manager cannot make a typed object of the body (managedfields structuredMergeManager.Apply,
    a plain error, so 500 with no reason)."""
    if not isinstance(body, dict) or rt.kind == "PackageManifest":
        return
    meta = body.get("metadata")
    if not body.get("apiVersion") or not body.get("kind") or not isinstance(meta, dict):
        return  # the decoding errors come first (the store's)
    if meta.get("managedFields") is not None:
        return  # "metadata.managedFields must be nil" comes first (the store's)
    schema, comps = documents(store).resolver(rt)
    _, paths = unknown_fields(body, schema, comps, smd=True)
    if not paths:
        return
    errs = [f"{p}: field not declared in schema" for p in paths]
    detail = errs[0] if len(errs) == 1 else "errors:\n" + "\n".join("  " + e for e in errs)
    group, _, version = body["apiVersion"].rpartition("/")
    gvk = f"{group}/{version}, Kind={body['kind']}"
    where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {gvk}"
    raise errors.ApiError(500, "", f"failed to create typed patch object ({where}): {detail}")

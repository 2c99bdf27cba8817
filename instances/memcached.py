"""Pure knowledge of operand instances: the custom resources we apply and how to read them.

A MemcachedCluster (daas.tenxcloud.com/v1) is built from the create form or parsed from
the YAML editor, and both go through the same `validate_memcached`, which names every
error by its path in the custom resource (`spec.replicas`, `spec.affinity`, …). Any other
API a CSV owns is checked by its CRD's schema (manifests.validate_operand). Nothing
here talks to a cluster or the network.
"""

import difflib
import json
import re
from decimal import Decimal, InvalidOperation

import yaml
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from clusters.manifests import MANAGED_BY, MANAGED_BY_LABEL
from core.i18n import Text
from core.timestamps import iso_utc

API_GROUP = "daas.tenxcloud.com"
API_VERSION = "v1"
KIND = "MemcachedCluster"
PORT = 11211
SETUPS = ("sharded", "replset")
# The images the seed's operator ships, when a CSV does not list its versions.
DEFAULT_VERSIONS = ("v1.5", "1.6.5")
RECOMMENDED_RESOURCES = {
    "requests": {"cpu": "1", "memory": "512Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
# `<name>-mcrouter-service` and `<name>-mcrouter-external` must stay 63 characters or less.
MAX_NAME_LENGTH = 40
INSTANCE_LABEL = "marketplace.operators.io/instance-id"
CR_LABEL = "memcached_cr"  # how the operator labels the pods and services it runs
EXTERNAL_SUFFIX = "-mcrouter-external"
SPEC_FIELDS = ("replicas", "version", "setup", "nodeSelector", "affinity", "resources")
METADATA_FIELDS = ("name", "namespace", "labels", "annotations")
SELECT_PREFIX = "urn:alm:descriptor:com.tectonic.ui:select:"

NODE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_RFC1123 = re.compile(rf"^{_DNS_LABEL}$")
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(\d+\.?\d*|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class ManifestError(ValueError):
    """The YAML editor's text is not a custom resource at all."""


# --- small checks -------------------------------------------------------------------------


def label_key_error(key):
    """Why `key` is not a Kubernetes label key (prefix/name), or "" when it is one."""
    if not isinstance(key, str) or not key:
        return _("A label key is required.")
    prefix, _slash, name = key.rpartition("/")
    if _slash and not prefix:
        return _("“%(key)s”: the prefix before “/” is empty.") % {"key": key}
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return _(
            "“%(key)s”: the prefix before “/” must be a DNS subdomain (lowercase letters, "
            "digits, “-” and “.”, at most 253 characters)."
        ) % {"key": key}
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return _(
            "“%(key)s” is not a valid label key: the name must be 63 characters or less, "
            "start and end with a letter or digit, and contain only letters, digits, “-”, "
            "“_” or “.”."
        ) % {"key": key}
    return ""


def label_value_error(value):
    if not isinstance(value, str):
        return _("“%(value)s” must be a string; quote it.") % {"value": value}
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return _(
            "“%(value)s” is not a valid label value: 63 characters or less, start and end "
            "with a letter or digit, only letters, digits, “-”, “_” or “.” in between."
        ) % {"value": value}
    return ""


def name_error(name, *, max_length=MAX_NAME_LENGTH, letter_first=True):
    if not isinstance(name, str) or not name:
        return _("A name is required.")
    if len(name) > max_length:
        return _("At most %(max)s characters (the operator derives longer names from it).") % {
            "max": max_length
        }
    if not _RFC1123.match(name):
        return _(
            "Use lowercase letters, digits and “-”, starting and ending with a letter or digit "
            "(RFC 1123)."
        )
    if letter_first and not name[0].isalpha():
        return _("Start with a letter: the operator's Service names are derived from it.")
    return ""


def parse_quantity(text):
    """A Kubernetes quantity ("500m", "512Mi", "1.5", "1e3") as a Decimal; ValueError if not."""
    if isinstance(text, bool) or text is None:
        raise ValueError(text)
    if isinstance(text, int | float):
        text = str(text)
    match = _QUANTITY.match(str(text).strip())
    if not match or str(text).strip() != str(text):
        raise ValueError(text)
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * (Decimal(1024) ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    try:
        return number.scaleb(int(suffix[1:]))
    except (InvalidOperation, ValueError):
        raise ValueError(text) from None


def _suggest(key, allowed):
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    return _(" Did you mean “%(field)s”?") % {"field": close[0]} if close else ""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# --- the CSV: owned APIs, examples, descriptors ---------------------------------------------


def owned_apis(csv_info):
    """The APIs the installed CSV owns, with their group, version and kind."""
    apis = []
    for api in (csv_info or {}).get("provided_apis") or []:
        group = (api.get("name") or "").partition(".")[2]
        apis.append({**api, "group": group, "api_version": f"{group}/{api.get('version', '')}"})
    return apis


def find_api(csv_info, kind):
    return next((api for api in owned_apis(csv_info) if api.get("kind") == kind), None)


def alm_examples(csv_info):
    raw = (csv_info or {}).get("alm_examples") or ""
    try:
        examples = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [e for e in examples if isinstance(e, dict)] if isinstance(examples, list) else []


def example_for(csv_info, api):
    """The CSV's alm-example of that API, or a minimal object of its kind."""
    for example in alm_examples(csv_info):
        if example.get("kind") == api["kind"] and example.get("apiVersion", "") in (
            api["api_version"],
            "",
        ):
            return json.loads(json.dumps(example))
    return {
        "apiVersion": api["api_version"],
        "kind": api["kind"],
        "metadata": {"name": f"{api['kind'].lower()}-sample"},
        "spec": {},
    }


def descriptors(api):
    """specDescriptors by path: the form's labels and help come from the operator."""
    return {d.get("path", ""): d for d in (api or {}).get("spec_descriptors") or []}


def offered_values(api, path):
    """The choices a `select:` x-descriptor offers for a spec path, in the CSV's order."""
    descriptor = descriptors(api).get(path) or {}
    return [
        x.removeprefix(SELECT_PREFIX)
        for x in descriptor.get("x_descriptors") or []
        if x.startswith(SELECT_PREFIX)
    ]


def offered_versions(csv_info):
    """Memcached versions the operator offers: its descriptor, else its example's version."""
    api = find_api(csv_info, KIND)
    versions = offered_values(api, "version") if api else []
    if not versions and api:
        example = example_for(csv_info, api).get("spec") or {}
        versions = [example["version"]] if isinstance(example.get("version"), str) else []
    return versions or list(DEFAULT_VERSIONS)


def initial_spec(csv_info):
    """The form's starting point: the CSV's example, the recommended 1C/512Mi resources."""
    api = find_api(csv_info, KIND) or {
        "kind": KIND,
        "api_version": f"{API_GROUP}/{API_VERSION}",
    }
    example = example_for(csv_info, api)
    spec = example.get("spec") if isinstance(example.get("spec"), dict) else {}
    versions = offered_versions(csv_info)
    return {
        "name": (example.get("metadata") or {}).get("name") or "memcached",
        "replicas": spec.get("replicas") if _is_int(spec.get("replicas")) else 2,
        "version": spec.get("version") if spec.get("version") in versions else versions[0],
        "setup": spec.get("setup") if spec.get("setup") in SETUPS else "sharded",
        "nodeSelector": spec.get("nodeSelector") or {},
        "affinity": spec.get("affinity") or None,
        "resources": spec.get("resources") or json.loads(json.dumps(RECOMMENDED_RESOURCES)),
    }


# --- building and parsing the custom resource -------------------------------------------------


def manifest(
    *, name, namespace, spec, kind=KIND, api_version=f"{API_GROUP}/{API_VERSION}", labels=None
):
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**(labels or {}), MANAGED_BY_LABEL: MANAGED_BY},
        },
        "spec": spec,
    }


def spec_from_fields(
    *, replicas, version, setup, node_selector=None, affinity=None, resources=None
):
    """The form's fields → `spec`, leaving out what was not given (the operator defaults)."""
    spec = {"replicas": replicas, "version": version, "setup": setup}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if affinity:
        spec["affinity"] = affinity
    resources = {
        part: {k: v for k, v in (values or {}).items() if v not in (None, "")}
        for part, values in (resources or {}).items()
    }
    resources = {part: values for part, values in resources.items() if values}
    if resources:
        spec["resources"] = resources
    return spec


def parse_yaml(text):
    """YAML text → a mapping; ManifestError says why not."""
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            _(" (line %(line)s, column %(column)s)")
            % {"line": mark.line + 1, "column": mark.column + 1}
            if mark
            else ""
        )
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(
            _("Not valid YAML%(where)s: %(problem)s") % {"where": where, "problem": problem}
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(_("The YAML must describe one object (a mapping), not a list or text."))
    return data


def parse_affinity_yaml(text):
    """The form's affinity textarea: empty, or YAML of an Affinity (errors under spec.affinity)."""
    if not (text or "").strip():
        return None, []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            _(" (line %(line)s, column %(column)s)")
            % {"line": mark.line + 1, "column": mark.column + 1}
            if mark
            else ""
        )
        problem = getattr(exc, "problem", None) or str(exc)
        return text, [
            _("Not valid YAML%(where)s: %(problem)s") % {"where": where, "problem": problem}
        ]
    return data, []


def to_yaml(obj):
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, default_flow_style=False)


# --- validation -------------------------------------------------------------------------------


class _Errors(dict):
    def add(self, path, message):
        self.setdefault(path, []).append(message)


def _mapping(value, path, errors, allowed, *, required=()):
    """A mapping with only `allowed` keys (and the `required` ones); False if not a mapping."""
    if not isinstance(value, dict):
        errors.append(_("%(path)s: must be a mapping.") % {"path": path})
        return False
    for key in value:
        if key not in allowed:
            errors.append(
                _("%(path)s: unknown field “%(field)s”.") % {"path": path, "field": key}
                + _suggest(str(key), allowed)
            )
    for key in required:
        if key not in value or value[key] in (None, "", [], {}):
            errors.append(_("%(path)s.%(field)s: required.") % {"path": path, "field": key})
    return True


def _list(value, path, errors, *, non_empty=False):
    if not isinstance(value, list):
        errors.append(_("%(path)s: must be a list.") % {"path": path})
        return []
    if non_empty and not value:
        errors.append(_("%(path)s: must not be empty.") % {"path": path})
    return value


def _requirement(req, path, errors, *, operators, fields=False):
    if not _mapping(req, path, errors, ("key", "operator", "values"), required=("key", "operator")):
        return
    key, operator, values = req.get("key"), req.get("operator"), req.get("values")
    if fields:
        if key and key != "metadata.name":
            errors.append(
                _("%(path)s.key: matchFields supports only “metadata.name”.") % {"path": path}
            )
    elif key:
        problem = label_key_error(key)
        if problem:
            errors.append(f"{path}.key: {problem}")
    allowed = ("In", "NotIn") if fields else operators
    if operator and operator not in allowed:
        errors.append(
            _("%(path)s.operator: “%(operator)s” is not an operator; use %(allowed)s.")
            % {"path": path, "operator": operator, "allowed": ", ".join(allowed)}
        )
        return
    if values is not None and not isinstance(values, list):
        errors.append(_("%(path)s.values: must be a list.") % {"path": path})
        return
    values = values or []
    if operator in ("In", "NotIn"):
        if not values:
            errors.append(
                _("%(path)s.values: must not be empty when the operator is %(operator)s.")
                % {"path": path, "operator": operator}
            )
        if fields and len(values) != 1:
            errors.append(
                _("%(path)s.values: matchFields needs exactly one value.") % {"path": path}
            )
        for index, value in enumerate(values):
            problem = label_value_error(value)
            if problem:
                errors.append(f"{path}.values[{index}]: {problem}")
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errors.append(
                _("%(path)s.values: must be empty when the operator is %(operator)s.")
                % {"path": path, "operator": operator}
            )
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            errors.append(
                _("%(path)s.values: needs exactly one value when the operator is %(operator)s.")
                % {"path": path, "operator": operator}
            )
        elif not re.match(r"^[+-]?\d+$", str(values[0])) or isinstance(values[0], bool):
            errors.append(
                _("%(path)s.values[0]: must be an integer when the operator is %(operator)s.")
                % {"path": path, "operator": operator}
            )


def _node_selector_term(term, path, errors):
    if not _mapping(term, path, errors, ("matchExpressions", "matchFields")):
        return
    for index, req in enumerate(
        _list(term.get("matchExpressions", []), f"{path}.matchExpressions", errors)
    ):
        _requirement(req, f"{path}.matchExpressions[{index}]", errors, operators=NODE_OPERATORS)
    for index, req in enumerate(_list(term.get("matchFields", []), f"{path}.matchFields", errors)):
        _requirement(
            req, f"{path}.matchFields[{index}]", errors, operators=NODE_OPERATORS, fields=True
        )


def _weight(value, path, errors):
    if not _is_int(value) or not 1 <= value <= 100:
        errors.append(_("%(path)s.weight: an integer from 1 to 100.") % {"path": path})


def _label_selector(selector, path, errors):
    if not _mapping(selector, path, errors, ("matchLabels", "matchExpressions")):
        return
    labels = selector.get("matchLabels", {})
    if isinstance(labels, dict):
        for key, value in labels.items():
            problem = label_key_error(key) or label_value_error(value)
            if problem:
                errors.append(f"{path}.matchLabels: {problem}")
    else:
        errors.append(_("%(path)s.matchLabels: must be a mapping.") % {"path": path})
    for index, req in enumerate(
        _list(selector.get("matchExpressions", []), f"{path}.matchExpressions", errors)
    ):
        _requirement(req, f"{path}.matchExpressions[{index}]", errors, operators=LABEL_OPERATORS)


def _pod_affinity_term(term, path, errors):
    allowed = (
        "labelSelector",
        "namespaces",
        "topologyKey",
        "namespaceSelector",
        "matchLabelKeys",
        "mismatchLabelKeys",
    )
    if not _mapping(term, path, errors, allowed, required=("topologyKey",)):
        return
    if term.get("topologyKey"):
        problem = label_key_error(term["topologyKey"])
        if problem:
            errors.append(f"{path}.topologyKey: {problem}")
    for key in ("labelSelector", "namespaceSelector"):
        if term.get(key) is not None:
            _label_selector(term[key], f"{path}.{key}", errors)
    for index, namespace in enumerate(
        _list(term.get("namespaces", []), f"{path}.namespaces", errors)
    ):
        if not isinstance(namespace, str) or not _RFC1123.match(namespace):
            errors.append(
                _("%(path)s.namespaces[%(index)s]: not a namespace name.")
                % {"path": path, "index": index}
            )
    for key in ("matchLabelKeys", "mismatchLabelKeys"):
        for index, label in enumerate(_list(term.get(key, []), f"{path}.{key}", errors)):
            problem = label_key_error(label)
            if problem:
                errors.append(f"{path}.{key}[{index}]: {problem}")


def _pod_affinity(value, path, errors):
    required_key = "requiredDuringSchedulingIgnoredDuringExecution"
    preferred_key = "preferredDuringSchedulingIgnoredDuringExecution"
    if not _mapping(value, path, errors, (required_key, preferred_key)):
        return
    for index, term in enumerate(
        _list(value.get(required_key, []), f"{path}.{required_key}", errors)
    ):
        _pod_affinity_term(term, f"{path}.{required_key}[{index}]", errors)
    for index, weighted in enumerate(
        _list(value.get(preferred_key, []), f"{path}.{preferred_key}", errors)
    ):
        where = f"{path}.{preferred_key}[{index}]"
        if _mapping(
            weighted,
            where,
            errors,
            ("weight", "podAffinityTerm"),
            required=("weight", "podAffinityTerm"),
        ):
            if "weight" in weighted:
                _weight(weighted["weight"], where, errors)
            if weighted.get("podAffinityTerm"):
                _pod_affinity_term(weighted["podAffinityTerm"], f"{where}.podAffinityTerm", errors)


def _node_affinity(value, path, errors):
    required_key = "requiredDuringSchedulingIgnoredDuringExecution"
    preferred_key = "preferredDuringSchedulingIgnoredDuringExecution"
    if not _mapping(value, path, errors, (required_key, preferred_key)):
        return
    if value.get(required_key) is not None:
        where = f"{path}.{required_key}"
        selector = value[required_key]
        if _mapping(
            selector, where, errors, ("nodeSelectorTerms",), required=("nodeSelectorTerms",)
        ):
            terms = selector.get("nodeSelectorTerms")
            if terms is not None:
                for index, term in enumerate(
                    _list(terms, f"{where}.nodeSelectorTerms", errors, non_empty=True)
                ):
                    _node_selector_term(term, f"{where}.nodeSelectorTerms[{index}]", errors)
    for index, preferred in enumerate(
        _list(value.get(preferred_key, []), f"{path}.{preferred_key}", errors)
    ):
        where = f"{path}.{preferred_key}[{index}]"
        if _mapping(
            preferred, where, errors, ("weight", "preference"), required=("weight", "preference")
        ):
            if "weight" in preferred:
                _weight(preferred["weight"], where, errors)
            if preferred.get("preference") is not None:
                _node_selector_term(preferred["preference"], f"{where}.preference", errors)


def affinity_errors(affinity):
    """Messages (each naming its path inside the Affinity) for a Kubernetes core/v1 Affinity."""
    errors = []
    if affinity in (None, {}):
        return errors
    if not _mapping(
        affinity, "affinity", errors, ("nodeAffinity", "podAffinity", "podAntiAffinity")
    ):
        return errors
    if affinity.get("nodeAffinity") is not None:
        _node_affinity(affinity["nodeAffinity"], "affinity.nodeAffinity", errors)
    for key in ("podAffinity", "podAntiAffinity"):
        if affinity.get(key) is not None:
            _pod_affinity(affinity[key], f"affinity.{key}", errors)
    return errors


def _resources(resources, errors):
    base = "spec.resources"
    if not isinstance(resources, dict):
        errors.add(base, _("Must be a mapping with requests and limits."))
        return
    parsed = {}
    for part in resources:
        if part not in ("requests", "limits"):
            errors.add(
                base,
                _("Unknown field “%(field)s”; use requests and limits.") % {"field": part}
                + _suggest(str(part), ("requests", "limits")),
            )
    for part in ("requests", "limits"):
        values = resources.get(part)
        if values is None:
            continue
        if not isinstance(values, dict):
            errors.add(f"{base}.{part}", _("Must be a mapping of cpu and memory."))
            continue
        for resource, raw in values.items():
            path = f"{base}.{part}.{resource}"
            if resource not in ("cpu", "memory"):
                errors.add(f"{base}.{part}", _("Only cpu and memory can be set here."))
                continue
            try:
                amount = parse_quantity(raw)
            except ValueError:
                errors.add(
                    path,
                    _("“%(value)s” is not a Kubernetes quantity; write e.g. %(example)s.")
                    % {"value": raw, "example": "500m, 1" if resource == "cpu" else "512Mi, 1Gi"},
                )
                continue
            if amount < 0:
                errors.add(path, _("Must not be negative."))
                continue
            if resource == "memory" and str(raw).endswith("m"):
                errors.add(
                    path,
                    _("“%(value)s” means %(value)s millibytes; did you mean %(fix)sMi?")
                    % {"value": raw, "fix": str(raw)[:-1]},
                )
                continue
            try:
                too_fine = resource == "cpu" and amount != amount.quantize(Decimal("0.001"))
            except InvalidOperation:
                errors.add(path, _("Far too large."))
                continue
            if too_fine:
                errors.add(path, _("CPU cannot be finer than 1m (0.001)."))
                continue
            parsed[(part, resource)] = (amount, raw)
    for resource in ("cpu", "memory"):
        request, limit = parsed.get(("requests", resource)), parsed.get(("limits", resource))
        if request and limit and limit[0] < request[0]:
            errors.add(
                f"{base}.limits.{resource}",
                _(
                    "The limit (%(limit)s) is below the request (%(request)s); a limit must be "
                    "at least the request."
                )
                % {"limit": limit[1], "request": request[1]},
            )


def _metadata(obj, errors, *, namespace, name_rule):
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        errors.add("metadata.name", _("A name is required."))
        return
    for key in metadata:
        if key not in METADATA_FIELDS:
            errors.add(
                "metadata",
                _(
                    "Unknown field “%(field)s”; the platform sets only name, namespace, labels and "
                    "annotations."
                )
                % {"field": key},
            )
    problem = name_rule(metadata.get("name"))
    if problem:
        errors.add("metadata.name", problem)
    if metadata.get("namespace") not in (None, "", namespace):
        errors.add(
            "metadata.namespace",
            _("The instance goes into the project's namespace “%(namespace)s”.")
            % {"namespace": namespace},
        )
    for key in ("labels", "annotations"):
        values = metadata.get(key)
        if values is None:
            continue
        if not isinstance(values, dict):
            errors.add(f"metadata.{key}", _("Must be a mapping."))
            continue
        for label, value in values.items():
            problem = label_key_error(label) or (
                label_value_error(value) if key == "labels" else ""
            )
            if problem:
                errors.add(f"metadata.{key}", problem)


def _type_and_kind(obj, errors, *, api_version, kind):
    if obj.get("apiVersion") != api_version:
        errors.add("apiVersion", _("Must be %(value)s.") % {"value": api_version})
    if obj.get("kind") != kind:
        errors.add("kind", _("Must be %(value)s.") % {"value": kind})


def _normalised(obj, *, namespace):
    """The object as it will be applied: namespace set, our managed-by label added."""
    result = json.loads(json.dumps(obj))
    metadata = result.setdefault("metadata", {})
    metadata["namespace"] = namespace
    metadata["labels"] = {**(metadata.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY}
    return result


def validate_memcached(obj, *, namespace, versions, max_replicas):
    """(the custom resource to apply, errors by path); the form and the YAML editor share it."""
    errors = _Errors()
    if not isinstance(obj, dict):
        errors.add("non_field_errors", _("The YAML must describe one object (a mapping)."))
        return None, dict(errors)
    _type_and_kind(obj, errors, api_version=f"{API_GROUP}/{API_VERSION}", kind=KIND)
    _metadata(obj, errors, namespace=namespace, name_rule=name_error)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errors.add("spec", _("A spec with replicas, version and setup is required."))
        return None, dict(errors)
    for key in spec:
        if key not in SPEC_FIELDS:
            errors.add(
                "spec",
                _(
                    "Unknown field “%(field)s”; a MemcachedCluster has replicas, version, setup, "
                    "nodeSelector, affinity and resources."
                )
                % {"field": key}
                + _suggest(str(key), SPEC_FIELDS),
            )

    replicas = spec.get("replicas")
    if replicas is None:
        errors.add("spec.replicas", _("How many memcached pods? At least 1."))
    elif not _is_int(replicas):
        errors.add("spec.replicas", _("Must be a whole number."))
    elif replicas < 1:
        errors.add("spec.replicas", _("At least 1 replica."))
    elif replicas > max_replicas:
        errors.add(
            "spec.replicas",
            _("At most %(max)s replicas on this platform.") % {"max": max_replicas},
        )

    version = spec.get("version")
    if version in (None, ""):
        errors.add("spec.version", _("Choose a memcached version."))
    elif not isinstance(version, str) or not _IMAGE_TAG.match(version):
        errors.add("spec.version", _("Not a version the operator can run."))
    elif versions and version not in versions:
        errors.add(
            "spec.version",
            _("The operator offers %(versions)s.") % {"versions": ", ".join(versions)},
        )

    setup = spec.get("setup")
    if setup in (None, ""):
        errors.add("spec.setup", _("Choose sharded or replset."))
    elif setup not in SETUPS:
        errors.add(
            "spec.setup",
            _("“%(value)s” is not a setup; choose exactly one of sharded or replset.")
            % {"value": setup},
        )

    node_selector = spec.get("nodeSelector")
    if node_selector is not None:
        if not isinstance(node_selector, dict):
            errors.add("spec.nodeSelector", _("Must be a mapping of label keys to values."))
        else:
            for key, value in node_selector.items():
                problem = label_key_error(key) or label_value_error(value)
                if problem:
                    errors.add("spec.nodeSelector", problem)

    for problem in affinity_errors(spec.get("affinity")):
        errors.add("spec.affinity", problem)

    if spec.get("resources") is not None:
        _resources(spec["resources"], errors)

    if errors:
        return None, dict(errors)
    return _normalised(obj, namespace=namespace), {}


# --- reading the cluster back -----------------------------------------------------------------


def read_status(cr):
    """phase, ready and desired replicas, and the Ready condition's message of a CR."""
    status = (cr or {}).get("status") or {}
    spec = (cr or {}).get("spec") or {}
    ready = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"),
        {},
    )
    desired = spec.get("replicas")
    return {
        "phase": str(status.get("phase") or "")[:32],
        "ready_replicas": status.get("readyReplicas")
        if _is_int(status.get("readyReplicas"))
        else None,
        "desired_replicas": desired if _is_int(desired) else None,
        "message": ready.get("message", "") if ready.get("status") != "True" else "",
    }


def assess(cr, *, current):
    """The instance status a custom resource means, given ours (`current`)."""
    if cr is None:
        if current in ("deleting", "deleted"):
            return "deleted"
        return "failed"
    if cr["metadata"].get("deletionTimestamp") or current == "deleting":
        return "deleting"
    phase = read_status(cr)["phase"]
    if phase in ("Running", "Ready", "Succeeded"):
        return "running"
    if phase in ("Degraded", "Failed", "Error"):
        return "degraded"
    if current in ("pending", "creating", "failed"):
        return "creating"
    return current  # Scaling / Updating: still running (or degraded) while it moves


def _age_source(obj):
    return parse_datetime((obj.get("metadata") or {}).get("creationTimestamp") or "")


def _pod_status(pod):
    """What `kubectl get pod` prints in its STATUS column."""
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        for key in ("waiting", "terminated"):
            reason = (state.get(key) or {}).get("reason")
            if reason:
                return reason
    return (pod.get("status") or {}).get("phase") or "Pending"


def _container_port(pod):
    """The port the pod serves memcached on, from its spec (the first container's port that
    says so, else its first TCP port); PORT when the spec declares none."""
    containers = (pod.get("spec") or {}).get("containers") or []
    ports = [
        p
        for c in containers
        for p in c.get("ports") or []
        if p.get("containerPort") and p.get("protocol", "TCP") == "TCP"
    ]
    named = next((p for p in ports if p.get("name") in ("memcached", "mcrouter")), None)
    chosen = named or next(iter(ports), None)
    return int(chosen["containerPort"]) if chosen else PORT


def join_address(host, port):
    """host and port as "host:port", an IPv6 host in brackets ("[fd00::1]:11211")."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def pod_rows(pods):
    """Pods as `kubectl get pod -o wide` shows them, memcached first, then mcrouter; with the
    port the pod serves on and its StatefulSet revision (to read each pod directly)."""
    rows = []
    for pod in pods:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
        labels = pod["metadata"].get("labels") or {}
        created = _age_source(pod)
        rows.append(
            {
                "name": pod["metadata"]["name"],
                "role": labels.get("app", ""),
                "ready": f"{sum(1 for s in statuses if s.get('ready'))}/{len(containers) or len(statuses)}",
                "status": _pod_status(pod),
                "restarts": sum(int(s.get("restartCount") or 0) for s in statuses),
                "node": (pod.get("spec") or {}).get("nodeName") or "",
                "ip": (pod.get("status") or {}).get("podIP") or "",
                "port": _container_port(pod),
                "revision": labels.get("controller-revision-hash", ""),
                "containers": containers,
                "created": iso_utc(created) if created else "",
            }
        )
    rows.sort(key=lambda r: (r["role"] != "memcached", r["name"]))
    return rows


def service_rows(services, *, external_name=""):
    rows = []
    for service in services:
        spec = service.get("spec") or {}
        ports = []
        for port in spec.get("ports") or []:
            text = str(port.get("port", ""))
            if port.get("nodePort"):
                text += f":{port['nodePort']}"
            ports.append(f"{text}/{port.get('protocol', 'TCP')}")
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        rows.append(
            {
                "name": service["metadata"]["name"],
                "type": spec.get("type", "ClusterIP"),
                "cluster_ip": spec.get("clusterIP", ""),
                "external_ip": ", ".join(i.get("ip") or i.get("hostname", "") for i in ingress),
                "ports": ", ".join(ports),
                "external": service["metadata"]["name"] == external_name,
            }
        )
    rows.sort(key=lambda r: r["name"])
    return rows


def router_service_name(name):
    return f"{name}-mcrouter-service"


def router_ip_address(services, *, name):
    """The router Service's `spec.clusterIP:port` as the cluster reports it, or "" (none yet,
    or headless): reachable from a worker in the cluster network, with no cluster DNS."""
    router = next((s for s in services if s["metadata"]["name"] == router_service_name(name)), None)
    spec = (router or {}).get("spec") or {}
    ip = spec.get("clusterIP") or ""
    ports = spec.get("ports") or []
    port = next((p for p in ports if p.get("port") == PORT), None) or next(iter(ports), None)
    if not ip or ip == "None" or not port or not port.get("port"):
        return ""
    return join_address(ip, port["port"])


def _pending_reason(pod):
    """Why a Pending pod does not run: the scheduler's message, or a container's waiting one."""
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return condition.get("reason") or "Unschedulable", condition.get("message", "")
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return waiting["reason"], waiting.get("message", "")
    return "Pending", ""


def _pending_since(pod):
    status = pod.get("status") or {}
    scheduled = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {}
    )
    return parse_datetime(scheduled.get("lastTransitionTime") or "") or _age_source(pod)


def stuck_rollout(statefulset, pods, *, now, after_seconds):
    """A StatefulSet rollout that will not go on by itself, or {}.

    The StatefulSet controller replaces old-revision pods only once every pod is Running and
    Ready, so a pod of the old revision left Pending (e.g. a nodeSelector no node matches,
    an image that does not pull) blocks the new revision for good, even once the spec is
    fixed; the way out is to delete that pod (Kubernetes docs, StatefulSet "Forced
    rollback"). Stuck means: updateRevision != currentRevision and an old-revision pod
    Pending for at least `after_seconds`.
    """
    status = (statefulset or {}).get("status") or {}
    update, current = status.get("updateRevision"), status.get("currentRevision")
    if not statefulset or not update or not current or update == current:
        return {}
    stuck = []
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        revision = labels.get("controller-revision-hash")
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        if not revision or revision == update or phase != "Pending":
            continue
        if pod["metadata"].get("deletionTimestamp"):
            continue
        since = _pending_since(pod)
        if since is None or (now - since).total_seconds() < after_seconds:
            continue
        reason, message = _pending_reason(pod)
        stuck.append(
            {
                "name": pod["metadata"]["name"],
                "revision": revision,
                "reason": reason,
                "message": message,
                "since": iso_utc(since),
            }
        )
    if not stuck:
        return {}
    stuck.sort(key=lambda p: p["name"])
    return {
        "statefulset": statefulset["metadata"]["name"],
        "current_revision": current,
        "update_revision": update,
        "pods": stuck,
    }


def external_service_name(name):
    return f"{name}{EXTERNAL_SUFFIX}"


def external_service_manifest(
    *,
    name,
    namespace,
    service_type,
    instance_id,
    selector=None,
    port=None,
    target_port=None,
):
    """可集群外访问: a NodePort or LoadBalancer Service in front of the mcrouter pods (or of
    the pods of the Service the route rule names). `port` is the route rule's chosen port:
    the node port of a NodePort Service, the listening port of a LoadBalancer one; None lets
    the cluster pick (NodePort) or keeps 11211 (LoadBalancer)."""
    service_port = {"name": "memcache", "port": PORT, "targetPort": target_port or PORT}
    if port and service_type == "NodePort":
        service_port["nodePort"] = port
    elif port:
        service_port["port"] = port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": external_service_name(name),
            "namespace": namespace,
            "labels": {
                MANAGED_BY_LABEL: MANAGED_BY,
                CR_LABEL: name,
                INSTANCE_LABEL: str(instance_id),
            },
        },
        "spec": {
            "type": service_type,
            "selector": selector or {"app": "mcrouter", CR_LABEL: name},
            "ports": [{**service_port, "protocol": "TCP"}],
        },
    }


def node_address(nodes):
    """The first Ready node's InternalIP (where a NodePort answers when no host is set)."""

    def ready(node):
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (node.get("status") or {}).get("conditions") or []
        )

    for node in sorted(nodes, key=lambda n: (not ready(n), n["metadata"]["name"])):
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP" and address.get("address"):
                return address["address"]
    return ""


def access_address(service, *, host):
    """服务出口 `host:port` of the external Service, or "" while it has none yet."""
    if service is None:
        return ""
    spec = service.get("spec") or {}
    port = next(iter(spec.get("ports") or []), None)
    if spec.get("type") == "LoadBalancer":
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        target = host or next((i.get("ip") or i.get("hostname") for i in ingress if i), "")
        return f"{target}:{port['port']}" if target and port else ""
    if spec.get("type") == "NodePort" and port and port.get("nodePort") and host:
        return f"{host}:{port['nodePort']}"
    return ""


def split_address(address):
    """ "host:port" (or "[v6]:port") → (host, port); ValueError when it is not one."""
    host, _colon, port = (address or "").rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(address)
    return host, int(port)


STAT_FIELDS = {
    "hits": "get_hits",
    "misses": "get_misses",
    "items": "curr_items",
    "bytes": "bytes",
    "limit_maxbytes": "limit_maxbytes",
    "curr_connections": "curr_connections",
    "evictions": "evictions",
    "uptime": "uptime",
}


def parse_stats(raw):
    """memcached `stats` (bytes or str keys) → our metric fields; missing ones are 0."""
    values = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in (raw or {}).items()}
    result = {}
    for field, stat in STAT_FIELDS.items():
        value = values.get(stat, 0)
        try:
            result[field] = int(value.decode() if isinstance(value, bytes) else value)
        except (TypeError, ValueError):
            result[field] = 0
    return result


def distribution_verdict(setup, rows):
    """验证访问, per pod: (expectation, ok, message) for the key read straight from each pod.

    `rows` are {pod, address, holds, error} with `holds` True, False or None (unreachable).
    replset: every memcached holds every key; sharded: each key lives on exactly one pod.
    An unreachable pod proves nothing, so it is a problem too. The message is a Text (the
    worker writes it, each reader reads it in their language).
    """
    expectation = "all" if setup == "replset" else "one"
    if not rows:
        return (
            expectation,
            None,
            Text(gettext_noop("No memcached pods were recorded yet: nothing to compare.")),
        )
    holding = [r["pod"] for r in rows if r["holds"] is True]
    lacking = [r["pod"] for r in rows if r["holds"] is False]
    unreachable = [r["pod"] for r in rows if r["holds"] is None]
    if expectation == "all":
        expected = Text(gettext_noop("replset: every memcached pod must hold the key"))
        ok = not lacking and not unreachable
    else:
        expected = Text(gettext_noop("sharded: exactly one memcached pod must hold the key"))
        ok = len(holding) == 1 and not unreachable
    found = [
        Text(
            gettext_noop("%(count)s of %(total)s pods hold it"),
            count=len(holding),
            total=len(rows),
        )
    ]
    if expectation == "all" and lacking:
        found.append(Text(gettext_noop("missing on %(pods)s"), pods=", ".join(lacking)))
    if expectation == "one" and len(holding) > 1:
        found.append(Text(gettext_noop("held by %(pods)s"), pods=", ".join(holding)))
    if unreachable:
        found.append(
            Text(gettext_noop("%(pods)s could not be reached"), pods=", ".join(unreachable))
        )
    if ok:
        return (
            expectation,
            True,
            Text(
                gettext_noop("As expected (%(expected)s): %(found)s."),
                expected=expected,
                found=found,
            ),
        )
    return (
        expectation,
        False,
        Text(gettext_noop("Expected %(expected)s, but %(found)s."), expected=expected, found=found),
    )


def combine_stats(per_pod: list[dict[str, int]], *, setup: str) -> dict[str, int]:
    """监控 of the whole cluster from each memcached pod's `stats` (a router's own `stats`
    are not memcached's: mcrouter reports its routing, twemproxy none over the protocol).

    Lookups, connections and evictions happen on one pod each, so they add up. What is
    stored depends on the setup: `sharded` pods hold disjoint keys (items, bytes and
    capacity add up); `replset` pods each hold every key, so the set holds what its fullest
    pod holds within what its smallest one can. Uptime is the youngest pod's."""
    if not per_pod:
        return {}
    total = {field: sum(stats.get(field, 0) for stats in per_pod) for field in STAT_FIELDS}
    if setup == "replset":
        total["items"] = max(stats.get("items", 0) for stats in per_pod)
        total["bytes"] = max(stats.get("bytes", 0) for stats in per_pod)
        total["limit_maxbytes"] = min(stats.get("limit_maxbytes", 0) for stats in per_pod)
    total["uptime"] = min(stats.get("uptime", 0) for stats in per_pod)
    return total

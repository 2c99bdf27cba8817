"""The create form of a MemcachedCluster (Form and YAML tabs), and the small instance forms.

Both tabs end in the same `manifests.validate_manifest`, so a value is refused
the same way whichever tab it was typed in; the errors come back named by their path in
the custom resource and land on the form field that edits that path.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import Project
from clusters.models import Cluster
from core.errors import NON_FIELD

from . import memcached, operand_form
from .manifests import check_manifest, validate_manifest
from .services import MAX_LOG_LINES

# Where an error of a custom-resource path is shown on the Form tab.
FIELD_FOR_PATH = {
    "metadata.name": "name",
    "spec.replicas": "replicas",
    "spec.version": "version",
    "spec.setup": "setup",
    "spec.nodeSelector": "node_selector",
    "spec.affinity": "affinity",
    "spec.resources.requests.cpu": "requests_cpu",
    "spec.resources.requests.memory": "requests_memory",
    "spec.resources.limits.cpu": "limits_cpu",
    "spec.resources.limits.memory": "limits_memory",
}
# The same paths as the REST API's field names (`resources.limits.cpu`, `node_selector`).
API_FIELD_FOR_PATH = {
    "metadata.name": "name",
    "spec.replicas": "replicas",
    "spec.version": "version",
    "spec.setup": "setup",
    "spec.nodeSelector": "node_selector",
    "spec.affinity": "affinity",
    "spec.resources": "resources",
    "spec.resources.requests": "resources.requests",
    "spec.resources.limits": "resources.limits",
    "spec.resources.requests.cpu": "resources.requests.cpu",
    "spec.resources.requests.memory": "resources.requests.memory",
    "spec.resources.limits.cpu": "resources.limits.cpu",
    "spec.resources.limits.memory": "resources.limits.memory",
}
DESCRIPTOR_FOR_FIELD = {
    "replicas": "replicas",
    "version": "version",
    "setup": "setup",
    "node_selector": "nodeSelector",
    "affinity": "affinity",
}
# Our own help for the MemcachedCluster fields we know, by field: a reader of another
# language than English reads these (and our labels) instead of the operator's English
# specDescriptors. Fields we do not know keep the operator's words.
OWN_HELP = {
    "replicas": _("Number of memcached pods in the cluster."),
    "version": _("The memcached version the cluster's pods run."),
    "node_selector": _("Schedule the memcached pods only on nodes with these labels."),
    "affinity": _("A Kubernetes Affinity: nodeAffinity, podAffinity or podAntiAffinity."),
}
OWN_RESOURCES_HELP = _("CPU and memory of each memcached pod; recommended 1 CPU / 512Mi.")


def reads_english() -> bool:
    """Whether the reader's language is English, the language operators write their CSVs in."""
    return (get_language() or "en").split("-")[0] == "en"


SETUP_CHOICES = [("sharded", _("Sharded")), ("replset", _("Replica set"))]
SETUP_HELP = {
    "sharded": _(
        "Each key lives on one node: the nodes' memory adds up; a lost node loses its keys."
    ),
    "replset": _("Every node holds every key: reads survive a lost node; capacity is one node's."),
}


class KeyValueWidget(forms.Widget):
    """nodeSelector as rows of label key and value; one empty row to add another."""

    template_name = "instances/widgets/key_value.html"

    def value_from_datadict(self, data, files, name):
        keys = data.getlist(f"{name}-key") if hasattr(data, "getlist") else []
        values = data.getlist(f"{name}-value") if hasattr(data, "getlist") else []
        return list(zip(keys, values + [""] * (len(keys) - len(values)), strict=False))

    def render(self, name, value, attrs=None, renderer=None):
        # Our templates live in the project's templates/, which Django's default form
        # renderer does not search.
        from django.template.loader import render_to_string

        return render_to_string(self.template_name, self.get_context(name, value, attrs))

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if isinstance(value, dict):
            value = list(value.items())
        rows = [(k, v) for k, v in value or [] if k or v]
        context["widget"]["rows"] = [*rows, ("", "")]
        return context


class KeyValueField(forms.Field):
    widget = KeyValueWidget

    def to_python(self, value):
        if isinstance(value, dict):
            value = list(value.items())
        rows = [(str(k).strip(), str(v).strip()) for k, v in value or []]
        rows = [(k, v) for k, v in rows if k or v]
        seen, problems = set(), []
        for key, value_ in rows:
            if not key:
                problems.append(_("The value “%(value)s” has no label key.") % {"value": value_})
            elif key in seen:
                problems.append(_("The label key “%(key)s” appears twice.") % {"key": key})
            seen.add(key)
        if problems:
            raise ValidationError(problems)
        return dict(rows)


def _yaml_or_blank(value):
    return memcached.to_yaml(value).strip() if value else ""


def initial_from_manifest(obj):
    """A custom resource → the Form tab's fields (what the YAML tab hands back)."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    resources = spec.get("resources") if isinstance(spec.get("resources"), dict) else {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
    limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
    node_selector = spec.get("nodeSelector")
    return {
        "name": (obj.get("metadata") or {}).get("name", ""),
        "replicas": spec.get("replicas"),
        "version": spec.get("version", ""),
        "setup": spec.get("setup", ""),
        "node_selector": node_selector if isinstance(node_selector, dict) else {},
        "affinity": _yaml_or_blank(spec.get("affinity")),
        "requests_cpu": requests.get("cpu", ""),
        "requests_memory": requests.get("memory", ""),
        "limits_cpu": limits.get("cpu", ""),
        "limits_memory": limits.get("memory", ""),
    }


class EditorMixin:
    """What both tabs share: where the instance goes and which rules apply."""

    def setup_editor(self, *, csv_info, namespace, fixed_name="", kind=memcached.KIND):
        self.kind = kind
        self.csv_info = csv_info or {}
        self.namespace = namespace
        self.fixed_name = fixed_name
        self.manifest = None
        self.path_errors = {}

    def target_namespace(self):
        return self.namespace

    def check(self, obj):
        namespace = self.target_namespace()
        if namespace is None:
            return None
        manifest, errors = validate_manifest(
            csv_info=self.csv_info, namespace=namespace, obj=obj, kind=self.kind
        )
        if self.fixed_name and isinstance(obj, dict):
            name = (obj.get("metadata") or {}).get("name")
            if name != self.fixed_name:
                errors = {
                    **errors,
                    "metadata.name": [_("The name cannot change; create a new instance instead.")],
                }
                manifest = None
        self.path_errors = errors
        return manifest


class MemcachedForm(EditorMixin, forms.Form):
    """The Form tab of 创建 Memcached 集群; labels and help come from the CSV's specDescriptors
    for an English reader, ours (translated) for the others."""

    tab = "form"
    request_key = forms.CharField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(
        label=_("Name"),
        # The input stops where the help text says: the Services' names add a suffix.
        max_length=memcached.MAX_NAME_LENGTH,
        help_text=format_lazy(
            _("Lowercase letters, digits and “-”, starting with a letter; at most {length}."),
            length=memcached.MAX_NAME_LENGTH,
        ),
    )
    replicas = forms.IntegerField(label=_("Replicas"), help_text=OWN_HELP["replicas"])
    version = forms.CharField(
        label=_("Memcached version"), required=False, help_text=OWN_HELP["version"]
    )
    setup = forms.CharField(label=_("Setup"), required=False)
    node_selector = KeyValueField(
        label=_("Node selector"), required=False, help_text=OWN_HELP["node_selector"]
    )
    affinity = forms.CharField(
        label=_("Affinity (YAML)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
        help_text=OWN_HELP["affinity"],
    )
    requests_cpu = forms.CharField(label=_("CPU request"), required=False)
    requests_memory = forms.CharField(label=_("Memory request"), required=False)
    limits_cpu = forms.CharField(label=_("CPU limit"), required=False)
    limits_memory = forms.CharField(label=_("Memory limit"), required=False)
    expose = forms.BooleanField(
        label=_("Accessible from outside the cluster"),
        required=False,
        help_text=_("Opens a service exit (host:port) to the mcrouter Service."),
    )

    def __init__(self, *args, csv_info, namespace, fixed_name="", with_expose=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_editor(csv_info=csv_info, namespace=namespace, fixed_name=fixed_name)
        api = memcached.find_api(self.csv_info, memcached.KIND)
        # The operator's labels and help are English: another language's reader gets ours.
        labels = memcached.descriptors(api) if reads_english() else {}
        for field_name, path in DESCRIPTOR_FOR_FIELD.items():
            descriptor = labels.get(path) or {}
            field = self.fields[field_name]
            if descriptor.get("display_name"):
                field.label = descriptor["display_name"]
            if descriptor.get("description") and field_name != "setup":
                field.help_text = descriptor["description"]
        versions = memcached.offered_versions(self.csv_info)
        self.fields["version"].widget = forms.Select(choices=[(v, v) for v in versions])
        self.fields["setup"].widget = forms.RadioSelect(choices=SETUP_CHOICES)
        self.fields["replicas"].widget.attrs.update({"min": 1, "class": "narrow"})
        for name in ("requests_cpu", "limits_cpu"):
            self.fields[name].widget.attrs.update({"placeholder": "1", "class": "narrow"})
        for name in ("requests_memory", "limits_memory"):
            self.fields[name].widget.attrs.update({"placeholder": "512Mi", "class": "narrow"})
        self.resources_help = (labels.get("resources") or {}).get(
            "description"
        ) or OWN_RESOURCES_HELP
        if fixed_name:
            self.fields["name"].disabled = True
            self.fields["name"].initial = fixed_name
        if not with_expose:
            del self.fields["expose"]

    @property
    def setup_options(self):
        """The setup cards: value, title, what it means, chosen."""
        chosen = self["setup"].value()
        return [
            {"value": value, "title": title, "help": SETUP_HELP[value], "checked": value == chosen}
            for value, title in SETUP_CHOICES
        ]

    def _spec_from(self, data, *, lenient=False):
        affinity = data.get("affinity")
        affinity_problems = []
        if isinstance(affinity, str):
            affinity, affinity_problems = memcached.parse_affinity_yaml(affinity)
        spec = memcached.spec_from_fields(
            replicas=data.get("replicas"),
            version=data.get("version") or None,
            setup=data.get("setup") or None,
            node_selector=data.get("node_selector") or None,
            affinity=affinity,
            resources={
                "requests": {
                    "cpu": data.get("requests_cpu"),
                    "memory": data.get("requests_memory"),
                },
                "limits": {"cpu": data.get("limits_cpu"), "memory": data.get("limits_memory")},
            },
        )
        return {k: v for k, v in spec.items() if v is not None or lenient}, affinity_problems

    def clean(self):
        data = super().clean()
        if self.fixed_name:
            data["name"] = self.fixed_name
        spec, affinity_problems = self._spec_from(data)
        if affinity_problems:
            # Every field's errors in one round: the rest is still checked, without the
            # affinity that could not be read.
            self.add_error("affinity", affinity_problems)
            spec.pop("affinity", None)
        obj = memcached.manifest(
            name=data.get("name", ""), namespace=self.target_namespace() or "", spec=spec
        )
        manifest = self.check(obj)
        for path, messages in self.path_errors.items():
            field = FIELD_FOR_PATH.get(path)
            if field == "name" and self.fixed_name:
                field = None
            if field in self.errors:
                continue  # e.g. “Enter a whole number.” already says it
            if field is None and path.startswith("spec.resources"):
                field = "limits_memory" if "limits" in path else "requests_memory"
            self.add_error(
                field if field in self.fields else None,
                [f"{path}: {m}" if field is None else m for m in messages],
            )
        self.manifest = None if affinity_problems else manifest
        return data

    def lenient_manifest(self):
        """The Form tab as YAML even when invalid: the tab switch keeps what was typed."""
        raw = {name: self[name].value() for name in self.fields}
        if isinstance(raw.get("node_selector"), list):
            raw["node_selector"] = {k: v for k, v in raw["node_selector"] if k}
        replicas = raw.get("replicas")
        try:
            raw["replicas"] = int(replicas) if replicas not in (None, "") else None
        except (TypeError, ValueError):
            raw["replicas"] = replicas
        spec, _problems = self._spec_from(raw)
        return memcached.manifest(
            name=self.fixed_name or raw.get("name") or "",
            namespace=self.target_namespace() or "",
            spec=spec,
        )


class ManifestForm(EditorMixin, forms.Form):
    """The YAML tab: the exact custom resource, editable, validated like the Form tab."""

    tab = "yaml"
    request_key = forms.CharField(widget=forms.HiddenInput, required=False)
    yaml = forms.CharField(
        label=_("Custom resource (YAML)"),
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
    )
    expose = forms.BooleanField(
        label=_("Accessible from outside the cluster"),
        required=False,
        help_text=_("Opens a service exit (host:port) to the mcrouter Service."),
    )

    def __init__(
        self,
        *args,
        csv_info,
        namespace,
        fixed_name="",
        with_expose=True,
        kind=memcached.KIND,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.setup_editor(csv_info=csv_info, namespace=namespace, fixed_name=fixed_name, kind=kind)
        if not with_expose:
            del self.fields["expose"]

    def parsed(self):
        """The YAML as an object, or None with the error on the field."""
        try:
            return memcached.parse_yaml(self.data.get(self.add_prefix("yaml"), ""))
        except memcached.ManifestError as exc:
            self.add_error("yaml", str(exc))
            return None

    def clean(self):
        data = super().clean()
        if "yaml" not in data:
            return data
        try:
            obj = memcached.parse_yaml(data["yaml"])
        except memcached.ManifestError as exc:
            self.add_error("yaml", str(exc))
            return data
        self.manifest = self.check(obj)
        for path, messages in self.path_errors.items():
            self.add_error("yaml", [f"{path}: {m}" for m in messages])
        return data


class ScaleForm(forms.Form):
    replicas = forms.IntegerField(label=_("Replicas"), min_value=0)


class LogsForm(forms.Form):
    """日志: a pod, one of that pod's containers, how many lines.

    The container list follows the pod (htmx swaps it when the pod changes); `containers_of`
    says which pod the list was drawn for, so a container chosen for another pod (no
    script) is not sent: the pod's first container is used instead.
    """

    pod = forms.ChoiceField(label=_("Pod"))
    container = forms.CharField(label=_("Container"), required=False, widget=forms.Select)
    containers_of = forms.CharField(required=False, widget=forms.HiddenInput)
    tail = forms.IntegerField(
        label=_("Last lines"), min_value=1, max_value=MAX_LOG_LINES, initial=100
    )

    def __init__(self, *args, instance, **kwargs):
        super().__init__(*args, **kwargs)
        pods = instance.pods or []
        self.containers = {p["name"]: p.get("containers") or [] for p in pods}
        self.fields["pod"].choices = [(p["name"], p["name"]) for p in pods]
        self.fields["tail"].widget.attrs["class"] = "narrow"
        pod = (self.data.get("pod") if self.is_bound else self.initial.get("pod")) or ""
        self.for_pod = pod if pod in self.containers else (pods[0]["name"] if pods else "")
        self.fields["container"].widget.choices = [
            (c, c) for c in self.containers.get(self.for_pod, [])
        ]
        if not self.is_bound:
            self.initial["containers_of"] = self.for_pod

    def clean(self):
        data = super().clean()
        pod = data.get("pod")
        if not pod:
            return data
        containers = self.containers.get(pod, [])
        container = data.get("container") or ""
        if data.get("containers_of") and data["containers_of"] != pod:
            container = ""  # chosen from another pod's list
        if container and containers and container not in containers:
            self.add_error(
                "container",
                _("Choose one of %(containers)s.") % {"containers": ", ".join(containers)},
            )
        data["container"] = container or (containers[0] if containers else "")
        return data


class CatalogPlacementForm(forms.Form):
    """平台服务目录: where the operator and the instance go."""

    project: forms.ModelChoiceField[Project] = forms.ModelChoiceField(
        label=_("Project"), queryset=Project.objects.none()
    )
    cluster: forms.ModelChoiceField[Cluster] = forms.ModelChoiceField(
        label=_("Cluster"), queryset=Cluster.objects.none()
    )

    def __init__(self, *args, projects, clusters, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects
        self.fields["cluster"].queryset = clusters
        default = clusters.filter(is_default=True).first()
        if default is not None:
            self.fields["cluster"].initial = default.pk


class OperandForm:
    """Form view and YAML side by side, for any owned API but MemcachedCluster.

    Built from the chosen version's schema and specDescriptors (`operand_form`); a submit
    merges the fields changed since the page was drawn into the YAML's object, then the
    result is checked like every other manifest (`manifests.check_manifest`). Errors land on
    the field of their path, else under the YAML.
    """

    tab = "operand"

    def __init__(
        self,
        data: Any = None,
        *,
        csv_info: dict[str, Any],
        kind_api: dict[str, Any],
        version: dict[str, Any],
        namespace: str,
        initial: dict[str, Any] | None = None,
        fixed_name: str = "",
        secrets: dict[str, Any] | None = None,
    ) -> None:
        self.csv_info = csv_info or {}
        self.kind_api, self.version, self.namespace = kind_api, version, namespace
        self.fixed_name = fixed_name
        self.secrets = secrets or {}
        self.data = data
        self.is_bound = data is not None
        self.fields = operand_form.build_fields(version, example=initial)
        self.non_field_errors: list[str] = []
        self.yaml_errors: list[str] = []
        self.pruned: list[str] = []
        self.manifest: dict[str, Any] | None = None
        self.cleaned_data: dict[str, Any] = {}
        self.obj: dict[str, Any] | None = None
        self.yaml_text = ""
        if data is None:
            self.request_key = uuid.uuid4().hex
            self.obj = json.loads(json.dumps(initial or {}))
        else:
            self.request_key = str(data.get("request_key") or "") or uuid.uuid4().hex
            self.yaml_text = str(data.get("yaml") or "")
            try:
                self.obj = memcached.parse_yaml(self.yaml_text)
            except memcached.ManifestError as exc:
                self.yaml_errors.append(str(exc))
            if self.obj is not None:
                try:
                    base = memcached.parse_yaml(str(data.get("_base") or ""))
                except memcached.ManifestError:
                    base = json.loads(json.dumps(self.obj))
                for path, messages in operand_form.merge(
                    self.fields, self.obj, data, base=base
                ).items():
                    self._add(path, messages)
        if fixed_name:
            for f in self.fields:
                if f.path == "metadata.name":
                    f.disabled = True
            if self.obj is not None:
                self.obj.setdefault("metadata", {})["name"] = fixed_name
        if self.obj is not None:
            operand_form.fill(self.fields, self.obj)
            self.yaml_text = memcached.to_yaml(operand_form.without_secrets(self.obj, self.fields))
        self.base_text = self.yaml_text
        self.cleaned_data = {"request_key": self.request_key, "expose": False}

    @property
    def errors(self) -> bool:
        return bool(
            self.non_field_errors
            or self.yaml_errors
            or any(leaf.errors for f in self.fields for leaf in f.leaves())
        )

    @property
    def secret_fields(self) -> list[str]:
        return operand_form.secret_paths(self.fields)

    @property
    def main_fields(self) -> list[operand_form.Field]:
        return [f for f in self.fields if not f.advanced]

    @property
    def advanced_fields(self) -> list[operand_form.Field]:
        return [f for f in self.fields if f.advanced]

    @property
    def yaml_side(self) -> bool:
        """Errors go under the YAML when it was the side edited last (or the only one sent)."""
        data = self.data
        if data is None:
            return False
        return data.get("_current") == "yaml" or not any(
            str(k).startswith(operand_form.PREFIX) for k in data
        )

    def _add(self, path: str, messages: list[str]) -> None:
        if self.yaml_side and path not in (NON_FIELD, "non_field_errors"):
            self.yaml_errors.extend(f"{path}: {m}" for m in messages)
            return
        if path in (NON_FIELD, "non_field_errors", "kind"):
            self.non_field_errors.extend(messages)
            return
        target = operand_form.find(self.fields, path)
        if target is None or target.disabled:
            self.yaml_errors.extend(f"{path}: {m}" for m in messages)
        elif target.path == path:
            target.errors.extend(messages)
        else:
            target.errors.extend(f"{path}: {m}" for m in messages)

    def add_error(self, field: str | None, messages: Any) -> None:
        messages = messages if isinstance(messages, list) else [messages]
        self._add(field or NON_FIELD, [str(m) for m in messages])

    def with_secrets(self, obj: dict[str, Any]) -> dict[str, Any]:
        """On edit: a password not typed again keeps its value."""
        for path in operand_form.secret_paths(self.fields):
            found, _value = operand_form._get(obj, path)
            kept, value = operand_form._get({"spec": self.secrets}, path)
            if not found and kept:
                operand_form._set(obj, path, value)
        return obj

    def is_valid(self) -> bool:
        if not self.is_bound or self.obj is None or self.errors:
            return False
        check = check_manifest(
            csv_info=self.csv_info,
            namespace=self.namespace,
            obj=self.with_secrets(json.loads(json.dumps(self.obj))),
            kind=self.kind_api["kind"],
        )
        self.pruned = check.pruned
        for path, messages in check.errors.items():
            self._add(path, messages)
        for leaf in [leaf for f in self.fields for leaf in f.leaves()]:
            # A required field left blank: the API server takes "" but the operator will not.
            found, value = operand_form._get(self.obj, leaf.path)
            if leaf.required and found and value == "" and not leaf.errors:
                self._add(leaf.path, [str(_("Required."))])
        if self.fixed_name and (self.obj.get("metadata") or {}).get("name") != self.fixed_name:
            self.non_field_errors.append(
                str(_("The name cannot change; create a new instance instead."))
            )
        self.manifest = None if self.errors else check.manifest
        return self.manifest is not None


class RouteRuleForm(forms.Form):
    """添加路由规则: the Service to reach, the exit, TCP, and the port (empty: automatic)."""

    # Every field has the seed's default, so a bare "enabled=1" (the old two-button form, a
    # script) still opens the mcrouter Service on the default exit.
    service = forms.ChoiceField(label=_("Service"), required=False)
    exit = forms.ChoiceField(label=_("Service exit"), required=False)
    protocol = forms.ChoiceField(
        label=_("Protocol"), choices=[("TCP", "TCP")], initial="TCP", required=False
    )
    port = forms.IntegerField(
        label=_("Port"),
        required=False,
        min_value=1,
        max_value=65535,
        help_text=_("Leave empty and the cluster picks a free one."),
    )

    def __init__(self, *args: Any, instance: Any, exits: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        router = memcached.router_service_name(instance.name)
        external = memcached.external_service_name(instance.name)
        names = [row["name"] for row in instance.services or [] if row.get("name") != external]
        if router not in names:
            names.insert(0, router)
        cast(forms.ChoiceField, self.fields["service"]).choices = [(n, n) for n in names]
        self.fields["service"].initial = instance.route_target or router
        cluster = instance.cluster
        self.exits = {str(e.pk): e for e in exits}
        cast(forms.ChoiceField, self.fields["exit"]).choices = [
            ("", _("Default (%(type)s)") % {"type": cluster.external_access}),
            *[
                (key, f"{e.name} · {e.kind}{f' · {e.address}' if e.address else ''}")
                for key, e in self.exits.items()
            ],
        ]
        self.fields["exit"].initial = str(instance.route_exit_id or "")
        self.fields["port"].initial = instance.route_port
        self.fields["port"].widget.attrs.update({"class": "narrow", "placeholder": _("automatic")})

    def clean_exit(self) -> Any:
        value = self.cleaned_data.get("exit") or ""
        return self.exits.get(value) if value else None

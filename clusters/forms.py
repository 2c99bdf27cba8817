"""Forms of the cluster and CatalogSource pages: shape only, the services validate."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Project

from . import selectors
from .errors import ClustersErrorCode
from .manifests import MANIFEST_MAX_BYTES
from .models import Cluster


def _read_text_upload(
    form: forms.Form,
    field: str,
    upload: Any,
    *,
    max_bytes: int,
    too_large: ValidationError,
    not_text: ValidationError,
) -> str | None:
    """An uploaded text file (a kubeconfig, a CatalogSource YAML) as a string, or None with
    the reason on its field: too large, or not UTF-8 text."""
    if upload.size > max_bytes:
        form.add_error(field, too_large)
        return None
    try:
        return upload.read().decode("utf-8")
    except UnicodeDecodeError:
        form.add_error(field, not_text)
        return None


class ClusterForm(forms.Form):
    """Shape only; the service validates credentials, so the form and the API agree."""

    name = forms.CharField(label=_("Name"), max_length=100)
    auth_method = forms.ChoiceField(
        label=_("Credentials"),
        choices=Cluster.AuthMethod.choices,
        widget=forms.RadioSelect,
        initial=Cluster.AuthMethod.KUBECONFIG,
    )
    kubeconfig = forms.CharField(
        label=_("kubeconfig"),
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 8,
                "spellcheck": "false",
                "autocomplete": "off",
                "data-show-when": "auth_method=kubeconfig",
            }
        ),
        help_text=_("Paste it, or upload the file below. Its current context is used."),
    )
    kubeconfig_file = forms.FileField(
        label=_("kubeconfig file"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"data-show-when": "auth_method=kubeconfig"}),
    )
    api_url = forms.CharField(
        label=_("API server URL"),
        required=False,
        max_length=300,
        widget=forms.TextInput(
            attrs={"placeholder": "https://10.0.0.1:6443", "data-show-when": "auth_method=token"}
        ),
        help_text=_("Needed with a bearer token; a kubeconfig brings its own."),
    )
    token = forms.CharField(
        label=_("Bearer token"),
        required=False,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "off", "data-show-when": "auth_method=token"},
        ),
    )
    ca_data = forms.CharField(
        label=_("CA bundle (PEM)"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "data-show-when": "auth_method=token"}
        ),
    )
    skip_tls_verify = forms.BooleanField(
        label=_("Skip TLS verification (insecure)"),
        required=False,
        help_text=_("Anyone between the platform and the cluster could read the credentials."),
    )
    is_default = forms.BooleanField(label=_("Default cluster"), required=False)
    catalog_namespace = forms.CharField(label=_("Global catalog namespace"), initial="olm")
    external_access = forms.ChoiceField(
        label=_("External access"),
        choices=Cluster.ExternalAccess.choices,
        initial=Cluster.ExternalAccess.NODE_PORT,
    )
    external_host = forms.CharField(label=_("External host"), required=False, max_length=253)
    projects = forms.ModelMultipleChoiceField(
        label=_("Projects that may deploy here"),
        queryset=Project.objects.none(),  # the caller's (see __init__)
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def __init__(
        self, *args: Any, projects: QuerySet[Project], editing: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        cast(forms.ModelMultipleChoiceField, self.fields["projects"]).queryset = projects
        if editing:
            for name in ("kubeconfig", "token"):
                self.fields[name].help_text = _("Leave empty to keep the stored credentials.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        upload = cleaned.get("kubeconfig_file")
        if upload:
            text = _read_text_upload(
                self,
                "kubeconfig_file",
                upload,
                max_bytes=256 * 1024,
                too_large=ValidationError(
                    _("A kubeconfig is at most 256 KB."),
                    code=ClustersErrorCode.KUBECONFIG_TOO_LARGE,
                ),
                not_text=ValidationError(
                    _("The file is not a text kubeconfig."),
                    code=ClustersErrorCode.KUBECONFIG_NOT_TEXT,
                ),
            )
            if text is not None:
                cleaned["kubeconfig"] = text
        return cleaned


class CatalogSourceForm(forms.Form):
    cluster = forms.ModelChoiceField(label=_("Cluster"), queryset=Cluster.objects.none())
    name = forms.CharField(
        label=_("Name"),
        max_length=63,
        widget=forms.TextInput(attrs={"placeholder": "mem-registry"}),
        help_text=_("Kubernetes name: lowercase letters, digits and '-'."),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=100)
    image = forms.CharField(
        label=_("Registry image"),
        max_length=300,
        widget=forms.TextInput(
            attrs={
                "placeholder": "dev-registry.tenxcloud.com/system_containers/memcached-registry:v1"
            }
        ),
        help_text=_("The index image (opm registry) that serves your operator bundles over gRPC."),
    )
    publisher = forms.CharField(label=_("Publisher"), max_length=100, required=False)

    def __init__(self, *args: Any, clusters: QuerySet[Cluster], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["cluster"]).queryset = clusters
        default = selectors.default_cluster_in(clusters)
        if default is not None:
            self.fields["cluster"].initial = default.pk


SEED_MANIFEST_EXAMPLE = """apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
metadata:
  name: mem-registry
  namespace: love-story
spec:
  sourceType: grpc
  image: dev-registry.tenxcloud.com/system_containers/memcached-registry:v1
  displayName: mem-01"""


class CatalogSourceYamlForm(forms.Form):
    """The seed's memcached.yaml, pasted or uploaded: the same submission as the form."""

    cluster = forms.ModelChoiceField(label=_("Cluster"), queryset=Cluster.objects.none())
    manifest = forms.CharField(
        label=_("CatalogSource YAML"),
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 11,
                "spellcheck": "false",
                "class": "code",
                "placeholder": SEED_MANIFEST_EXAMPLE,
            }
        ),
        help_text=_(
            "metadata.namespace: a namespace of one of your projects on this cluster, or the "
            "cluster's global catalog namespace. spec.sourceType: grpc, with spec.image."
        ),
    )
    manifest_file = forms.FileField(
        label=_("Or upload the file"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,application/yaml,text/yaml"}),
    )

    def __init__(self, *args: Any, clusters: QuerySet[Cluster], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "yaml")  # one page holds both forms
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["cluster"]).queryset = clusters
        default = selectors.default_cluster_in(clusters)
        if default is not None:
            self.fields["cluster"].initial = default.pk

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        upload = cleaned.get("manifest_file")
        if not upload:
            return cleaned
        if (cleaned.get("manifest") or "").strip():
            self.add_error(
                "manifest_file",
                ValidationError(
                    _("Paste the YAML or upload a file, not both."),
                    code=ClustersErrorCode.MANIFEST_INVALID,
                ),
            )
        else:
            text = _read_text_upload(
                self,
                "manifest_file",
                upload,
                max_bytes=MANIFEST_MAX_BYTES,
                too_large=ValidationError(
                    _("The YAML is larger than %(size)d KiB; a CatalogSource is a few lines.")
                    % {"size": MANIFEST_MAX_BYTES // 1024},
                    code=ClustersErrorCode.MANIFEST_TOO_LARGE,
                ),
                not_text=ValidationError(
                    _("The file is not UTF-8 text YAML."),
                    code=ClustersErrorCode.MANIFEST_INVALID,
                ),
            )
            if text is not None:
                cleaned["manifest"] = text
        return cleaned


class ClusterExitForm(forms.Form):
    """A named service exit (网络出口) on the cluster detail page."""

    name = forms.CharField(
        label=_("Name"), max_length=63, widget=forms.TextInput(attrs={"placeholder": "router"})
    )
    kind = forms.ChoiceField(label=_("Type"), choices=Cluster.ExternalAccess.choices)
    address = forms.CharField(
        label=_("Public address"),
        max_length=253,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "192.168.2.65"}),
        help_text=_(
            "Where users reach it; empty: a node's address (NodePort) or the one the cluster assigns (LoadBalancer)."
        ),
    )

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Project
from assets.models import AssetVersion
from clusters.models import Cluster

from .models import Installation


class SubscriptionForm(forms.Form):
    channel = forms.ChoiceField(label=_("Update channel"))
    approval = forms.ChoiceField(
        label=_("Update approval"),
        choices=[
            (Installation.Approval.AUTOMATIC, _("Automatic")),
            (Installation.Approval.MANUAL, _("Manual")),
        ],
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, installation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c, c) for c in installation.version.channels]
        self.initial.setdefault("channel", installation.channel)
        self.initial.setdefault("approval", installation.approval)


class UninstallForm(forms.Form):
    delete_instances = forms.BooleanField(
        label=_("Also delete the instances running on this operator"), required=False
    )


class InstallForm(forms.Form):
    """安装 from 已购资产: where to install, and how to follow updates."""

    project: forms.ModelChoiceField[Project] = forms.ModelChoiceField(
        label=_("Project"), queryset=Project.objects.none()
    )
    cluster: forms.ModelChoiceField[Cluster] = forms.ModelChoiceField(
        label=_("Cluster"), queryset=Cluster.objects.none()
    )
    channel = forms.ChoiceField(label=_("Update channel"))
    approval = forms.ChoiceField(
        label=_("Update approval"),
        choices=[
            (Installation.Approval.AUTOMATIC, _("Automatic")),
            (Installation.Approval.MANUAL, _("Manual")),
        ],
        initial=Installation.Approval.AUTOMATIC,
        widget=forms.RadioSelect,
    )
    request_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, projects, clusters, version, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects
        self.fields["cluster"].queryset = clusters
        self.fields["channel"].choices = [(c, c) for c in version.channels]
        self.fields["channel"].initial = version.default_channel
        default = clusters.filter(is_default=True).first()
        if default is not None:
            self.fields["cluster"].initial = default.pk


class ClusterWideInstallForm(forms.Form):
    """A platform admin installs an AllNamespaces operator once on a cluster."""

    version: forms.ModelChoiceField[AssetVersion] = forms.ModelChoiceField(
        label=_("Operator version"), queryset=AssetVersion.objects.none()
    )
    cluster: forms.ModelChoiceField[Cluster] = forms.ModelChoiceField(
        label=_("Cluster"), queryset=Cluster.objects.none()
    )
    channel = forms.CharField(
        label=_("Update channel"),
        required=False,
        help_text=_("Leave empty for the version's default channel."),
    )
    approval = forms.ChoiceField(
        label=_("Update approval"),
        choices=[
            (Installation.Approval.AUTOMATIC, _("Automatic")),
            (Installation.Approval.MANUAL, _("Manual")),
        ],
        initial=Installation.Approval.AUTOMATIC,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, versions, clusters, **kwargs):
        super().__init__(*args, **kwargs)
        version_field = self.fields["version"]
        assert isinstance(version_field, forms.ModelChoiceField)
        version_field.queryset = versions
        version_field.label_from_instance = lambda v: (
            f"{v.asset.name} {v.version} ({v.package_name})"
        )
        cluster_field = self.fields["cluster"]
        assert isinstance(cluster_field, forms.ModelChoiceField)
        cluster_field.queryset = clusters

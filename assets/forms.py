"""Forms of the provider portal: shape only; the services check the rules, so form and API agree."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from markdownx.widgets import MarkdownxWidget

from accounts.models import Project
from clusters.models import CatalogSource, Cluster
from clusters.selectors import clusters_open_to
from core.i18n import interpolate_lazy

from . import selectors
from .images import ICON_SIZE, SCREENSHOT_RECOMMENDED_SIZE
from .models import (
    MAX_DURATION,
    OTHER_INFO_FIELDS,
    SUPPORT_SCOPE_EXAMPLE,
    Asset,
    AssetVersion,
    ContentMode,
    Plan,
    Screenshot,
)
from .uploads import KeptUpload

IMAGE_ACCEPT = "image/png,image/jpeg"

# How each delivery type reaches the buyer; shown on the form and the asset page.
DELIVERY_EXPLANATIONS = {
    Asset.DeliveryType.OPERATOR: _(
        "The platform installs the operator into the buyer's project namespace through OLM, "
        "from the CatalogSource a version points at."
    ),
    Asset.DeliveryType.CONTAINER_IMAGE: _(
        "After purchase the buyer gets the image reference and pull access from you; "
        "the platform does not install it."
    ),
    Asset.DeliveryType.HELM_CHART: _(
        "After purchase the buyer gets the chart repository from you and installs the chart "
        "themselves; the platform does not install it."
    ),
    Asset.DeliveryType.API_SERVICE: _(
        "After purchase the buyer gets the endpoint and credentials from you; "
        "nothing is installed on a cluster."
    ),
}


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several files in one input; each is checked by the service, not here."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": IMAGE_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def _other_info_fields():
    fields = {}
    for prefix, label in OTHER_INFO_FIELDS:
        fields[f"{prefix}_mode"] = forms.ChoiceField(
            label=label,
            choices=ContentMode.choices,
            initial=ContentMode.MARKDOWN,
            widget=forms.RadioSelect(attrs={"class": "mode-switch"}),
        )
        fields[f"{prefix}_markdown"] = forms.CharField(
            label=_("%(field)s (Markdown)") % {"field": label},
            required=False,
            widget=forms.Textarea(attrs={"rows": 5, "data-mode": "markdown"}),
        )
        fields[f"{prefix}_url"] = forms.URLField(
            label=_("%(field)s (link)") % {"field": label},
            required=False,
            max_length=500,
            assume_scheme="https",
            widget=forms.URLInput(attrs={"placeholder": "https://", "data-mode": "link"}),
        )
    return fields


class AssetForm(forms.Form):
    """添加资产 / 编辑资产. The icon is required on registration, optional (a replacement) later."""

    delivery_type = forms.ChoiceField(
        label=_("Delivery type"),
        choices=Asset.DeliveryType.choices,
        initial=Asset.DeliveryType.OPERATOR,
        widget=forms.RadioSelect,
    )
    category = forms.ModelChoiceField(
        label=_("Asset category"),
        queryset=selectors.categories(),
        empty_label=None,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        label=_("Asset name"), max_length=100, widget=forms.TextInput(attrs={"placeholder": "mem1"})
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "memcached cluster"}),
    )
    description = forms.CharField(
        label=_("Description"),
        widget=MarkdownxWidget(attrs={"rows": 10}),
        help_text=_("Markdown; the preview shows what buyers will see."),
    )
    icon = forms.FileField(
        label=_("Asset icon"),
        widget=forms.FileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=interpolate_lazy(
            _("The icon is %(width)s×%(height)s px, JPG or PNG."),
            {"width": ICON_SIZE[0], "height": ICON_SIZE[1]},
        ),
    )
    screenshots = MultipleImageField(
        label=_("Asset screenshots"),
        required=False,
        help_text=interpolate_lazy(
            _(
                "Recommended %(width)s×%(height)s px, JPG or PNG, at most %(max)s. "
                "At least one is needed before listing."
            ),
            {
                "width": SCREENSHOT_RECOMMENDED_SIZE[0],
                "height": SCREENSHOT_RECOMMENDED_SIZE[1],
                "max": Screenshot.MAX_PER_ASSET,
            },
        ),
    )
    website = forms.URLField(
        label=_("Provider website"),
        required=False,
        max_length=300,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://tenxcloud.com"}),
    )

    def __init__(self, *args, editing=False, kept_icon=None, kept_screenshots=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(_other_info_fields())
        # Images a failed submit kept (assets.uploads): sent again as hidden tokens.
        self.kept_icon: KeptUpload | None = kept_icon
        self.kept_screenshots: list[KeptUpload] = list(kept_screenshots)
        if kept_icon is not None:
            self.fields["icon"].required = False
        # An example to follow, not text to keep: its phone and e-mail are not real.
        self.fields["support_scope_markdown"].widget.attrs["placeholder"] = SUPPORT_SCOPE_EXAMPLE
        self.editing = editing
        if editing:
            self.fields["icon"].required = False
            self.fields["icon"].help_text = _(
                "Leave empty to keep the current icon; a new one must be 96×96 px, JPG or PNG."
            )
            del self.fields["screenshots"]

    def other_info_groups(self):
        return [
            {
                "prefix": prefix,
                "label": label,
                "mode": self[f"{prefix}_mode"],
                "markdown": self[f"{prefix}_markdown"],
                "url": self[f"{prefix}_url"],
            }
            for prefix, label in OTHER_INFO_FIELDS
        ]

    def delivery_options(self):
        return [
            (value, label, DELIVERY_EXPLANATIONS[value])
            for value, label in Asset.DeliveryType.choices
        ]

    def service_fields(self, *, partial=False):
        """What the services take, by their names; `partial`: only the fields that parsed
        (the form is invalid, the service checks the rest)."""
        data = self.cleaned_data
        return {
            name: data[name]
            for name in self.fields
            if name not in ("icon", "screenshots") and (not partial or name in data)
        }


class PlanForm(forms.Form):
    """One row of 规格与定价."""

    name = forms.CharField(
        label=_("Plan name"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "100¥/年"}),
    )
    price = forms.DecimalField(
        label=_("Price"),
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text=_("In T; 0 means free."),
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "placeholder": "100.00"}),
    )
    duration_value = forms.IntegerField(
        label=_("Duration"),
        min_value=1,
        max_value=MAX_DURATION,
        initial=1,
        widget=forms.NumberInput(attrs={"min": "1", "class": "narrow"}),
    )
    duration_unit = forms.ChoiceField(
        label=_("Duration unit"), choices=Plan.DurationUnit.choices, initial=Plan.DurationUnit.YEAR
    )


class BasePlanFormSet(forms.BaseFormSet):
    def plans(self):
        """The filled rows, skipping empty and removed ones."""
        return [
            {field: form.cleaned_data[field] for field in PlanForm.base_fields}
            for form in self.forms
            if form.has_changed() and form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    def valid_plans(self):
        """The filled rows that parsed, when others did not: the service checks these."""
        return [
            {field: form.cleaned_data[field] for field in PlanForm.base_fields}
            for form in self.forms
            if form.has_changed() and form.is_valid() and not form.cleaned_data.get("DELETE")
        ]


PlanFormSet = forms.formset_factory(
    PlanForm, formset=BasePlanFormSet, extra=1, can_delete=True, max_num=50, validate_max=True
)


class ScreenshotForm(forms.Form):
    image = forms.FileField(
        label=_("Add a screenshot"),
        widget=forms.FileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=interpolate_lazy(
            _("Recommended %(width)s×%(height)s px, JPG or PNG."),
            {"width": SCREENSHOT_RECOMMENDED_SIZE[0], "height": SCREENSHOT_RECOMMENDED_SIZE[1]},
        ),
    )


class AssetFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Asset name or code"), "type": "search"}),
    )
    status = forms.ChoiceField(
        label=_("Asset version status"),
        required=False,
        choices=[("", _("All statuses")), (selectors.NO_VERSION, _("No version yet"))]
        + list(AssetVersion.Status.choices),
    )


class VersionForm(forms.Form):
    """Operator 定义: project → cluster → READY CatalogSource → package → channels.

    Each choice narrows the next. Rendered unbound (with `initial`) to refresh the
    dependent selects over htmx, and bound to save; the service checks it all again.
    """

    project: forms.ModelChoiceField[Project] = forms.ModelChoiceField(
        label=_("Project"), queryset=None, empty_label=_("Choose…")
    )
    cluster: forms.ModelChoiceField[Cluster] = forms.ModelChoiceField(
        label=_("Cluster"), queryset=None, empty_label=_("Choose…")
    )
    catalog_source: forms.ModelChoiceField[CatalogSource] = forms.ModelChoiceField(
        label=_("Choose CatalogSource"), queryset=None, empty_label=_("Choose…")
    )
    package_name = forms.ChoiceField(label=_("Package"))
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The channels buyers may subscribe to."),
    )
    default_channel = forms.ChoiceField(
        label=_("Default channel"),
        help_text=_("Its current CSV gives the version number."),
    )

    def __init__(self, *args, asset, **kwargs):
        super().__init__(*args, **kwargs)
        self.asset = asset
        tenant = asset.tenant
        self.fields["project"].queryset = selectors.version_projects(tenant=tenant)
        self.project = self._pick("project")
        self.fields["cluster"].queryset = clusters_open_to(project=self.project)
        self.cluster = self._pick("cluster", prefer=lambda c: c.is_default)
        self.fields["catalog_source"].queryset = selectors.version_catalog_sources(
            tenant=tenant, cluster=self.cluster
        )
        self.fields["catalog_source"].label_from_instance = lambda c: f"{c.display_name} ({c.name})"
        self.catalog_source = self._pick("catalog_source")
        self.packages = list(selectors.version_packages(catalog_source=self.catalog_source))
        self.fields["package_name"].choices = [("", _("Choose…"))] + [
            (p.name, f"{p.display_name} ({p.name})" if p.display_name else p.name)
            for p in self.packages
        ]
        self.package = self._pick_package()
        channels = self.package.channels if self.package else []
        self.fields["channels"].choices = [
            (c["name"], f"{c['name']} — {c.get('current_csv', '')}") for c in channels
        ]
        self.fields["default_channel"].choices = [(c["name"], c["name"]) for c in channels]
        if not self.is_bound and self.package is not None:
            chosen = [c for c in self._raw_list("channels") if self.package.channel(c)]
            default = self._raw("default_channel")
            if not self.package.channel(default or ""):
                default = self.package.default_channel
            self.initial["channels"] = chosen or [default]
            self.initial["default_channel"] = default

    def _raw(self, name):
        if self.is_bound:
            return self.data.get(self.add_prefix(name)) or None
        value = self.initial.get(name)
        return getattr(value, "pk", value) or None

    def _raw_list(self, name):
        if self.is_bound:
            return self.data.getlist(self.add_prefix(name))
        value = self.initial.get(name) or []
        return [value] if isinstance(value, str) else list(value)

    def _pick(self, name, prefer=None):
        """The chosen row if still offered; unbound, a sole (or preferred) option is picked."""
        queryset = self.fields[name].queryset
        value = self._raw(name)
        if value:
            try:
                chosen = queryset.filter(pk=value).first()
            except (ValueError, TypeError):
                chosen = None
            if chosen is not None or self.is_bound:
                if chosen is not None and not self.is_bound:
                    self.initial[name] = chosen.pk
                return chosen
        if self.is_bound:
            return None
        options = list(queryset[:20])
        chosen = None
        if len(options) == 1:
            chosen = options[0]
        elif prefer is not None:
            chosen = next((o for o in options if prefer(o)), None)
        self.initial[name] = chosen.pk if chosen else None
        return chosen

    def _pick_package(self):
        value = self._raw("package_name")
        package = next((p for p in self.packages if p.name == value), None)
        if package is None and not self.is_bound and len(self.packages) == 1:
            package = self.packages[0]
        if not self.is_bound:
            self.initial["package_name"] = package.name if package else ""
        return package

    def hints(self):
        """Why a select is empty, in words the provider can act on."""
        hints = {}
        tenant = self.asset.tenant
        if not self.fields["project"].queryset.exists():
            hints["project"] = _("%(tenant)s has no project yet; create one under Projects.") % {
                "tenant": tenant
            }
        if self.project is not None and not self.fields["cluster"].queryset.exists():
            hints["cluster"] = _(
                "No cluster is available to the project %(project)s; ask a platform "
                "administrator to link one."
            ) % {"project": self.project.name}
        if self.cluster is not None and not self.fields["catalog_source"].queryset.exists():
            hints["catalog_source"] = _(
                "%(tenant)s has no READY CatalogSource on %(cluster)s. Submit your operator's "
                "catalog to the platform and wait until it is READY."
            ) % {"tenant": tenant, "cluster": self.cluster}
        if self.catalog_source is not None and not self.packages:
            hints["package_name"] = _(
                "No package was found in this CatalogSource yet; the platform reads its "
                "packages once it is READY."
            )
        return hints

    def preview_version(self):
        """The version number the chosen default channel gives, shown before saving."""
        if self.package is None:
            return None
        default = (
            self._raw("default_channel") if self.is_bound else self.initial.get("default_channel")
        )
        channel = self.package.channel(default or "")
        return channel

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "project": data["project"],
            "cluster": data["cluster"],
            "catalog_source": data["catalog_source"],
            "package_name": data["package_name"],
            "channels": data["channels"],
            "default_channel": data["default_channel"],
        }


class ScanReportForm(forms.Form):
    """上传扫描报告: one Trivy JSON report file; the service reads and checks it."""

    report = forms.FileField(
        label=_("Trivy JSON report"),
        help_text=_("The output of: trivy image --format json IMAGE"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/json,.json"}),
    )

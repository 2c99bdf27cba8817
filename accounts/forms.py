from django import forms
from django.utils.translation import gettext_lazy as _


class ProjectForm(forms.Form):
    """Shape only; the service checks names and namespaces, so form and API agree."""

    name = forms.CharField(label=_("Name"), max_length=100)
    namespace = forms.CharField(
        label=_("Namespace"),
        max_length=63,
        help_text=_(
            "Lowercase letters, digits and '-', at most 63 characters, e.g. my-mem. "
            "It cannot be changed later."
        ),
        widget=forms.TextInput(attrs={"placeholder": "my-mem", "autocomplete": "off"}),
    )
    description = forms.CharField(label=_("Description"), max_length=300, required=False)


class WorkspaceSwitchForm(forms.Form):
    """The header's switcher; where to go next is read by `core.http.safe_next_url`."""

    tenant = forms.IntegerField()
    project = forms.IntegerField(required=False)

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Project


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "namespace", "description"]
        help_texts = {
            "namespace": _(
                "Lowercase letters, digits and '-', at most 63 characters, e.g. my-mem. "
                "It cannot be changed later."
            )
        }
        widgets = {
            "namespace": forms.TextInput(attrs={"placeholder": "my-mem", "autocomplete": "off"})
        }

    def validate_unique(self):
        """Uniqueness is the service's job, so the form and the API say the same thing."""


class WorkspaceSwitchForm(forms.Form):
    tenant = forms.IntegerField()
    project = forms.IntegerField(required=False)
    next = forms.CharField(required=False)

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import lockout


class LockoutAwareMixin:
    """A refused sign-in says why when axes locked the account for this address, instead of
    the usual "wrong username or password" (which would invite more guesses)."""

    def get_invalid_login_error(self) -> ValidationError:
        request = getattr(self, "request", None)
        if lockout.is_locked_out(request):
            username = getattr(self, "cleaned_data", {}).get("username") or ""
            seconds = lockout.retry_after_seconds(request, username)
            return ValidationError(lockout.lockout_message(seconds), code="locked_out")
        return super().get_invalid_login_error()  # type: ignore[misc]


class LoginForm(LockoutAwareMixin, AuthenticationForm):
    pass


class AdminLoginForm(LockoutAwareMixin, AdminAuthenticationForm):
    pass


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

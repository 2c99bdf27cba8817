from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ApprovalRequest

REASON_MAX_LENGTH = 1000


class SubmitForm(forms.Form):
    """申请上架 / 申请下架 on a version card; the reason (申请原因) is optional."""

    kind = forms.ChoiceField(choices=ApprovalRequest.Kind.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason for the request"),
        required=False,
        max_length=REASON_MAX_LENGTH,
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for rejecting"),
        max_length=REASON_MAX_LENGTH,
        error_messages={"required": _("Give a reason: the provider reads it to fix the version.")},
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": _("Why? The provider reads this to fix the version.")}
        ),
    )


class ApproveForm(forms.Form):
    reason = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("Note (optional)")}),
    )


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *ApprovalRequest.Status.choices],
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        required=False,
        choices=[("", _("Listing and delisting")), *ApprovalRequest.Kind.choices],
    )

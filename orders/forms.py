"""Forms of the buyer and seller screens: shape only; orders.services checks the rules."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar, cast

from django import forms
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from accounts.models import Project, Tenant, User
from accounts.selectors import projects_for
from assets.models import Asset, AssetVersion, Plan
from assets.storefront import selectors as market
from clusters.models import Cluster
from clusters.selectors import clusters_open_to

from . import selectors
from .models import MONEY, Entitlement, Order
from .services import CENT, MAX_TOP_UP, format_t

M = TypeVar("M", bound=Model)


def new_token() -> str:
    """The idempotency token a form carries: a double click submits it twice, charges once."""
    return uuid.uuid4().hex


class PlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, plan: Plan) -> str:
        return f"{plan.name} · {format_t(plan.price)} / {plan.duration_display}"


class ClusterChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, cluster: Cluster) -> str:
        label = cluster.name
        if cluster.is_default:
            label += " · " + str(_("default cluster"))
        if cluster.is_sandbox:
            label += " · " + str(_("simulated"))
        return label


class TokenMixin(forms.Form):
    def _add_token(self, *, required: bool = True) -> None:
        self.fields["idempotency_key"] = forms.CharField(
            widget=forms.HiddenInput, max_length=255, initial=new_token, required=required
        )

    def renew_token(self) -> None:
        """A fresh token for the next submit, once this one stands for another request."""
        if self.is_bound:
            data = QueryDict(mutable=True)
            data.update(self.data)  # every value of every field, as posted
            data[self.add_prefix("idempotency_key")] = new_token()
            self.data = data


class BuyForm(TokenMixin):
    """购买: plan, project, cluster, channel and approval, then 直接支付 or 稍后支付."""

    plan = PlanChoiceField(
        queryset=Plan.objects.none(), widget=forms.RadioSelect, empty_label=None, label=_("Plan")
    )
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(),
        empty_label=None,
        label=_("Project"),
        help_text=_("The operator is installed into this project's namespace."),
    )
    cluster = ClusterChoiceField(
        queryset=Cluster.objects.none(),
        empty_label=None,
        label=_("Cluster"),
        help_text=_("Clusters linked to the project, and the default cluster."),
    )
    channel = forms.ChoiceField(
        label=_("Update channel"),
        help_text=_("Each channel keeps its own upgrade path of the operator."),
    )
    approval = forms.ChoiceField(
        label=_("Update approval"),
        choices=Order.Approval.choices,
        initial=Order.Approval.AUTOMATIC,
        widget=forms.RadioSelect,
        help_text=_(
            "Automatic: new versions of the channel install by themselves. "
            "Manual: you approve each upgrade (InstallPlan)."
        ),
    )

    def __init__(
        self,
        *args: Any,
        user: User,
        asset: Asset,
        version: AssetVersion | None,
        tenant: Tenant,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._add_token()
        plans = market.plans_on_sale(asset)
        _model_choices(self, "plan").queryset = plans
        self.projects = projects = projects_for(user=user, tenant=tenant)
        _model_choices(self, "project").queryset = projects
        # What the summary shows (the Python side; templates read the bound fields).
        self.selected_plan: Plan | None = self._chosen("plan", plans)
        self.selected_project: Project | None = self._chosen("project", projects)
        self.clusters = clusters = clusters_open_to(project=self.selected_project)
        _model_choices(self, "cluster").queryset = clusters
        self.selected_cluster: Cluster | None = self._chosen("cluster", clusters)
        channels = list(version.channels) if version else []
        default = version.default_channel if version else ""
        cast(forms.ChoiceField, self.fields["channel"]).choices = [
            (name, f"{name} ({_('default')})" if name == default else name) for name in channels
        ]
        if not self.is_bound:
            # What the dialog shows first: the cheapest plan, the active project, the
            # default cluster, the default channel, automatic approval.
            channel = self.initial.get("channel")
            approval = self.initial.get("approval")
            self.initial.update(
                plan=self.selected_plan.pk if self.selected_plan else None,
                project=self.selected_project.pk if self.selected_project else None,
                cluster=self.selected_cluster.pk if self.selected_cluster else None,
                channel=channel if channel in channels else default,
                approval=approval
                if approval in Order.Approval.values
                else Order.Approval.AUTOMATIC,
            )

    def _chosen(self, name: str, queryset: QuerySet[M]) -> M | None:
        """The value picked (bound data, else initial, else the first choice) as an object."""
        value = self.data.get(name) if self.is_bound else None
        if value in (None, ""):
            value = self.initial.get(name)
        value = getattr(value, "pk", value)  # an initial object, or its pk
        choices = list(queryset)
        chosen = next((item for item in choices if str(item.pk) == str(value)), None)
        if chosen is None and self.is_bound:
            return None  # the form reports the bad choice; the summary shows nothing
        return chosen or (choices[0] if choices else None)


class RenewForm(TokenMixin):
    """续费: a plan of the asset (the current one even if archived since)."""

    plan = PlanChoiceField(
        queryset=Plan.objects.none(), widget=forms.RadioSelect, empty_label=None, label=_("Plan")
    )

    def __init__(self, *args: Any, entitlement: Entitlement, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_token()
        plans = selectors.renewal_plans(entitlement=entitlement)
        field = _model_choices(self, "plan")
        field.queryset = plans
        field.initial = entitlement.plan_id
        value = self.data.get("plan") if self.is_bound else entitlement.plan_id
        # The plan the summary prices (the Python side; templates read the bound field).
        self.selected_plan: Plan = next(
            (p for p in plans if str(p.pk) == str(value)), entitlement.plan
        )


class PayForm(TokenMixin):
    """支付 / 继续支付: the token and, for a purchase, the project and cluster to install
    into (preselected with the order's; the amount is the order's)."""

    def __init__(self, *args: Any, order: Order, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_token()
        self.has_target = order.kind == Order.Kind.NEW and order.project_id is not None
        self.clusters: QuerySet[Cluster] = Cluster.objects.none()
        if not self.has_target:
            return
        projects = projects_for(user=user, tenant=order.buyer)
        # Optional: left out (an API-like post, a page from before), the order's stays.
        self.fields["project"] = forms.ModelChoiceField(
            queryset=projects,
            required=False,
            empty_label=None,
            label=_("Project"),
            help_text=_("The operator is installed into this project's namespace."),
        )
        project = _picked(self, "project", projects, order.project_id)
        # A bad project is its own error: the clusters stay those of the order's project.
        self.clusters = clusters = clusters_open_to(project=project or order.project)
        self.fields["cluster"] = ClusterChoiceField(
            queryset=clusters,
            required=False,
            empty_label=None,
            label=_("Cluster"),
            help_text=_("Clusters linked to the project, and the default cluster."),
        )
        cluster = _picked(self, "cluster", clusters, order.cluster_id)
        if not self.is_bound:
            self.initial.update(
                project=project.pk if project else None, cluster=cluster.pk if cluster else None
            )


def _picked(form: forms.Form, name: str, queryset: QuerySet[M], current: int | None) -> M | None:
    """The choice as posted (or asked for by an htmx refresh), else the order's, else the
    first (the default cluster comes first); None when what was posted is not a choice."""
    choices = list(queryset)
    posted = form.data.get(name) if form.is_bound else None
    wanted = [posted] if posted else [form.initial.get(name), current]
    for value in wanted:
        chosen = next((item for item in choices if str(item.pk) == str(value)), None)
        if chosen is not None:
            return chosen
    if posted:
        return None  # the form reports the bad choice
    return choices[0] if choices else None


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=300, widget=forms.TextInput
    )


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Order status"),
        required=False,
        choices=[("", _("All statuses")), *Order.Status.choices],
    )
    created_from = forms.DateField(
        label=_("Ordered from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        label=_("Ordered until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("The end date is before the start date."))
        return data

    def values(self) -> dict[str, Any]:
        """The filters for selectors.filter_orders: none unless the form is valid."""
        if not self.is_bound or not self.is_valid():
            return {"status": "", "created_from": None, "created_to": None}
        return {
            "status": self.cleaned_data.get("status") or "",
            "created_from": self.cleaned_data.get("created_from"),
            "created_to": self.cleaned_data.get("created_to"),
        }


class EntitlementFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *Entitlement.Status.choices],
    )


class TopUpForm(TokenMixin):
    """充值 (platform admins); the token makes a double submit credit once."""

    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), label=_("Tenant"), empty_label=None
    )
    amount = forms.DecimalField(
        label=_("Amount (T)"),
        min_value=CENT,
        max_value=MAX_TOP_UP,
        **MONEY,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        help_text=_("Kept in the tenant's ledger, e.g. “contract 2026-07, 1000 T”."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Optional: a post without it (a script, a page from before) credits as it did.
        self._add_token(required=False)
        _model_choices(self, "tenant").queryset = selectors.tenants_to_top_up(user=user)


def _model_choices(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    """A form's model choice field, typed as such (`form.fields` holds plain Fields)."""
    return cast(forms.ModelChoiceField, form.fields[name])

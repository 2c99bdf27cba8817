"""HTML views of buying and selling: thin, they call orders.services and read selectors.

购买 (the buy dialog), 订单管理 (the buyer's orders), 出售管理 (the seller's sales),
已购资产 (purchased assets), the wallet and the admins' 充值.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import platform_admin_required
from accounts.models import Tenant
from accounts.permissions import is_platform_admin
from assets.models import Asset, AssetVersion
from assets.storefront import selectors as market
from core.errors import NotFound, apply_to_form, error_text
from core.pagination import paginate
from provisioning.selectors import install_refusal_for_order, installation_for_order

from . import selectors, services
from .forms import (
    BuyForm,
    CancelForm,
    EntitlementFilterForm,
    OrderFilterForm,
    PayForm,
    RenewForm,
    TokenMixin,
    TopUpForm,
)
from .idempotency import is_key_reused
from .models import Order
from .services import format_t
from .signals import install_problems

if TYPE_CHECKING:
    from accounts.workspace import WorkspaceRequest as Request

    class TenantRequest(Request):
        """Behind `tenant_required`: the workspace has an active tenant."""

        tenant: Tenant


def tenant_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Buying needs a tenant to act for; a user without one learns why. The view finds
    the active tenant on `request.tenant`."""

    @login_required
    @wraps(view)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        tenant = request.workspace.tenant
        if tenant is None:
            return render(request, "orders/no_tenant.html", status=403)
        request.tenant = tenant
        return view(request, *args, **kwargs)

    return wrapped


_ORDER_ALREADY_SENT = gettext_lazy(
    "This form was already submitted with other values, and that went through: check "
    "Order Management. Submit again to send these values."
)


def _apply_refusal(
    form: TokenMixin, exc: Exception, *, already_sent: Any = _ORDER_ALREADY_SENT
) -> None:
    """A service's refusal onto a form with a token. A token that already stood for a
    submit with other values (the page edited after a submit that went through) is said
    on top of the form, which gets a fresh token so that its next submit counts."""
    if isinstance(exc, ValidationError) and is_key_reused(exc):
        form.add_error(None, already_sent)
        form.renew_token()
    else:
        apply_to_form(form, exc)


def _redirect(request: Request, to: str, **kwargs: Any) -> HttpResponse:
    """From the htmx dialog, navigate the whole page rather than fill the dialog with it."""
    if request.htmx:
        return HttpResponseClientRedirect(reverse(to, kwargs=kwargs))
    return redirect(to, **kwargs)


# --- 购买 -------------------------------------------------------------------------------


def _buy_context(
    request: TenantRequest, asset: Asset, version: AssetVersion | None, form: BuyForm
) -> dict[str, Any]:
    balance = selectors.balance_of(tenant=request.tenant)
    plan = form.selected_plan
    amount = plan.price if plan is not None else None
    shortfall = amount - balance if amount is not None and balance < amount else None
    channel = (form.data.get("channel") if form.is_bound else "") or (
        version.default_channel if version else ""
    )
    return {
        "install_problem": " ".join(
            install_problems(version=version, channel=channel, cluster=form.selected_cluster)
        )
        if version is not None
        else "",
        "asset": asset,
        "version": version,
        "form": form,
        "plan": plan,
        "amount": amount,
        "balance": balance,
        "shortfall": shortfall,
        "has_projects": form.projects.exists(),
        "has_clusters": form.selected_project is not None and form.clusters.exists(),
        "deadline_hours": settings.ORDER_PAYMENT_DEADLINE_HOURS,
    }


@tenant_required
def buy(request: TenantRequest, code: str) -> HttpResponse:
    """The buy dialog (an htmx modal on the storefront, or a page of its own)."""
    tenant = request.tenant
    try:
        asset = market.get_listed_asset(code=code)
    except NotFound:
        asset = market.get_asset_by_code(code=code)
        # Only a tenant holding it learns its name (to renew); to anyone else an asset
        # that is not on sale (a draft, say) is the same 404 as its page.
        if selectors.entitlement_for_asset(user=request.user, tenant=tenant, asset=asset) is None:
            raise
        messages.error(
            request,
            _(
                "%(asset)s is not on sale, so it cannot be bought. Tenants that hold it can "
                "still renew it in Purchased Assets."
            )
            % {"asset": asset.name},
        )
        return _redirect(request, "orders:purchased-assets")
    if asset.tenant_id == tenant.pk:
        messages.error(request, _("A tenant cannot buy its own asset."))
        return _redirect(request, "storefront:storefront-asset", code=asset.code)
    held = selectors.active_entitlement(tenant, asset)
    if held is not None:
        messages.info(
            request,
            _("%(tenant)s already holds %(asset)s; install it, or renew it in Purchased Assets.")
            % {"tenant": tenant.name, "asset": asset.name},
        )
        return _redirect(request, "storefront:storefront-asset", code=asset.code)
    version = market.on_sale_version(asset)

    def buy_form(*args: Any, **kwargs: Any) -> BuyForm:
        return BuyForm(
            *args, user=request.user, asset=asset, version=version, tenant=tenant, **kwargs
        )

    if request.method == "POST":
        form = buy_form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                order = services.place_order(
                    actor=request.user,
                    plan=data["plan"],
                    project=data["project"],
                    cluster=data["cluster"],
                    channel=data["channel"],
                    approval=data["approval"],
                    pay_now=request.POST.get("pay") == "now",
                    idempotency_key=data["idempotency_key"],
                )
            except (ValidationError, PermissionDenied) as exc:
                _apply_refusal(form, exc)
            else:
                _announce(request, order)
                return redirect("orders:order-detail", code=order.code)
        context = _buy_context(request, asset, version, form)
        return render(request, "orders/buy.html", context, status=400)
    initial = {"project": request.workspace.project, "plan": request.GET.get("plan")}
    if request.GET.get("fields"):  # htmx: the dependent fields after a change
        form = buy_form(initial={**initial, **request.GET.dict()})
        return render(
            request, "orders/_buy_fields.html", _buy_context(request, asset, version, form)
        )
    form = buy_form(initial=initial)
    template = "orders/buy_modal.html" if request.htmx else "orders/buy.html"
    return render(request, template, _buy_context(request, asset, version, form))


def _announce(request: Request, order: Order) -> None:
    """The flash message after placing: already placed (a replay), paid, or to be paid."""
    if order.replayed:
        messages.info(
            request, _("Order %(code)s was already placed; here it is.") % {"code": order.code}
        )
        return
    if order.status == Order.Status.PAID and order.entitlement is not None:
        if order.is_free:
            text = _("%(asset)s (%(plan)s) is free: it is yours until %(end)s.")
        else:
            text = _("Paid %(amount)s for %(asset)s (%(plan)s). It is yours until %(end)s.")
        messages.success(
            request,
            text
            % {
                "amount": format_t(order.amount_paid),
                "asset": order.asset.name,
                "plan": order.plan_name,
                "end": services.format_when(order.entitlement.ends_at),
            },
        )
    else:
        messages.success(
            request,
            _(
                "Order %(code)s placed. Pay %(amount)s before %(deadline)s with Continue "
                "payment in Order Management."
            )
            % {
                "code": order.code,
                "amount": format_t(order.amount_due),
                "deadline": services.format_when(order.payment_deadline),
            },
        )


# --- 订单管理 / 出售管理 -----------------------------------------------------------------------


def _order_page(request: Request, orders: QuerySet[Order]) -> dict[str, Any]:
    """The filter form and one page of the orders it keeps."""
    filters = OrderFilterForm(request.GET or None)
    values = filters.values()
    filtered = any(values.values())
    return {
        "filters": filters,
        "filtered": filtered,
        **paginate(request, selectors.filter_orders(orders, **values)),
    }


@tenant_required
def order_list(request: TenantRequest) -> HttpResponse:
    """订单管理: the active tenant's orders, with 详情, 支付 and 取消."""
    orders = selectors.orders_for(
        user=request.user, tenant=request.tenant, role=selectors.ROLE_BUYER
    )
    context = _order_page(request, orders)
    context.update(
        role=selectors.ROLE_BUYER,
        has_any=context["filtered"] or context["page"].paginator.count > 0 or orders.exists(),
    )
    return render(request, "orders/order_list.html", context)


@tenant_required
def sales(request: TenantRequest) -> HttpResponse:
    """出售管理: orders of the tenant's assets, revenue per asset and per month."""
    tenant = request.tenant
    if not tenant.is_provider:
        return render(request, "orders/not_provider.html", status=403)
    orders = selectors.orders_for(user=request.user, tenant=tenant, role=selectors.ROLE_SELLER)
    context = _order_page(request, orders)
    per_asset = list(selectors.revenue_by_asset(user=request.user, tenant=tenant))
    per_month = list(selectors.revenue_by_month(user=request.user, tenant=tenant))
    total = sum((row["revenue"] for row in per_asset), start=services.ZERO)
    context.update(
        role=selectors.ROLE_SELLER,
        has_any=context["filtered"] or context["page"].paginator.count > 0 or orders.exists(),
        per_asset=per_asset,
        per_month=per_month,
        total=total,
        paid_orders=sum(row["orders"] for row in per_asset),
        income=selectors.sales_income(user=request.user, tenant=tenant),
        chart={
            "labels": [row["month"].strftime("%Y-%m") for row in per_month if row["month"]],
            # Strings: the amounts stay exact; the chart parses them only to draw bars.
            "revenue": [f"{row['revenue']:.2f}" for row in per_month if row["month"]],
            "orders": [row["orders"] for row in per_month if row["month"]],
            "label": _("Revenue (T)"),
        },
    )
    return render(request, "orders/sales.html", context)


@login_required
def order_detail(request: Request, code: str) -> HttpResponse:
    """详情: the plan snapshot, the target, the money and the timeline."""
    order = selectors.get_order_for(user=request.user, code=code)
    role = selectors.order_role(user=request.user, order=order)
    # Views sit on top (DESIGN.md): the order page shows the installation it started, or
    # why the platform could not start one where the buyer asked.
    installation = refusal = None
    if role == selectors.ROLE_BUYER:
        installation = installation_for_order(order=order)
        if installation is None and order.status == Order.Status.PAID:
            refusal = install_refusal_for_order(order=order)
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "role": role,
            "timeline": selectors.order_timeline(order=order),
            "installation": installation,
            "install_refusal": refusal,
            "ledger": selectors.order_ledger(
                order=order, tenant=order.buyer if role == selectors.ROLE_BUYER else order.seller
            ),
        },
    )


def _buyer_order(request: Request, code: str) -> Order:
    """Only the buyer pays or cancels an order: to anyone else it is not found."""
    return selectors.get_order_for(user=request.user, code=code, role=selectors.ROLE_BUYER)


@login_required
def order_pay(request: Request, code: str) -> HttpResponse:
    """支付 / 继续支付: the amount, the wallet, the project and cluster to install into
    (the order's, or others of the buyer's), then one click that charges once."""
    order = _buyer_order(request, code)

    def pay_form(*args: Any, **kwargs: Any) -> PayForm:
        return PayForm(*args, order=order, user=request.user, **kwargs)

    if request.method != "POST" and request.GET.get("fields"):  # htmx: project → clusters
        form = pay_form(initial=request.GET.dict())
        return render(request, "orders/_pay_fields.html", {"order": order, "form": form})
    form = pay_form(request.POST or None)
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            try:
                payment = services.pay_order(
                    actor=request.user,
                    order=order,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    project=form.cleaned_data.get("project"),
                    cluster=form.cleaned_data.get("cluster"),
                )
            except ValidationError as exc:
                _apply_refusal(form, exc)
                status = 400
            except PermissionDenied as exc:
                apply_to_form(form, exc)
                status = 403
            else:
                if payment.replayed:
                    messages.info(
                        request,
                        _("Order %(code)s is paid; it was charged once.") % {"code": order.code},
                    )
                else:
                    _announce(request, payment.order)
                return redirect("orders:order-detail", code=order.code)
        order = _buyer_order(request, code)  # as it is now, after the refusal
    balance = selectors.balance_of(tenant=order.buyer)
    return render(
        request,
        "orders/order_pay.html",
        {
            "order": order,
            "form": form,
            "balance": balance,
            "shortfall": order.amount_due - balance if balance < order.amount_due else None,
        },
        status=status,
    )


@login_required
def order_cancel(request: Request, code: str) -> HttpResponse:
    """取消, after a confirmation."""
    order = _buyer_order(request, code)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_order(
                actor=request.user, order=order, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            messages.error(request, error_text(exc))
            return redirect("orders:order-detail", code=order.code)
        messages.success(request, _("Order %(code)s cancelled.") % {"code": order.code})
        return redirect("orders:orders")
    if not order.is_pending:
        messages.error(
            request,
            _("Order %(code)s is %(status)s; only an order pending payment can be cancelled.")
            % {"code": order.code, "status": order.get_status_display()},
        )
        return redirect("orders:order-detail", code=order.code)
    return render(request, "orders/order_cancel.html", {"order": order, "form": form})


# --- 已购资产 -----------------------------------------------------------------------------


@tenant_required
def purchased(request: TenantRequest) -> HttpResponse:
    """已购资产: what the tenant holds, until when, with 续费 and 安装."""
    tenant = request.tenant
    filters = EntitlementFilterForm(request.GET or None)
    status = filters.cleaned_data.get("status", "") if filters.is_valid() else ""
    everything = selectors.entitlements_for(user=request.user, tenant=tenant)
    entitlements = selectors.entitlements_for(user=request.user, tenant=tenant, status=status)
    context = paginate(request, entitlements)
    return render(
        request,
        "orders/purchased.html",
        {
            "filters": filters,
            "filtered": bool(status),
            "has_any": bool(status) or context["page"].paginator.count > 0 or everything.exists(),
            **context,
        },
    )


@login_required
def renew(request: Request, entitlement_id: int) -> HttpResponse:
    """续费: choose a plan, then pay now or later; a paid renewal extends the end."""
    entitlement = selectors.get_entitlement_for(user=request.user, entitlement_id=entitlement_id)
    form = RenewForm(request.POST or None, entitlement=entitlement)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                order = services.renew(
                    actor=request.user,
                    entitlement=entitlement,
                    plan=form.cleaned_data["plan"],
                    pay_now=request.POST.get("pay") == "now",
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except (ValidationError, PermissionDenied) as exc:
                _apply_refusal(form, exc)
            else:
                _announce(request, order)
                return redirect("orders:order-detail", code=order.code)
    balance = selectors.balance_of(tenant=entitlement.buyer)
    amount = form.selected_plan.price
    return render(
        request,
        "orders/renew.html",
        {
            "entitlement": entitlement,
            "form": form,
            "balance": balance,
            "amount": amount,
            "shortfall": amount - balance if balance < amount else None,
            "on_sale": market.on_sale_version(entitlement.asset) is not None,
        },
        status=status,
    )


# --- wallet and 充值 ---------------------------------------------------------------------


@login_required
def wallet(request: Request) -> HttpResponse:
    """余额 and the ledger of the active tenant (admins: of any tenant, ?tenant=<id>)."""
    tenant = request.workspace.tenant
    admin = is_platform_admin(request.user)
    wanted = request.GET.get("tenant", "")
    if wanted and admin:
        tenant = selectors.get_wallet_tenant_for(user=request.user, tenant_id=wanted)
    if tenant is None:
        return render(request, "orders/no_tenant.html", status=403)
    wallet = selectors.wallet_of(user=request.user, tenant=tenant)
    entries = selectors.ledger_for(wallet=wallet) if wallet is not None else []
    return render(
        request,
        "orders/wallet.html",
        {
            "tenant": tenant,
            "wallet": wallet,
            "balance": wallet.balance if wallet is not None else services.ZERO,
            "is_admin": admin,
            **paginate(request, entries),
        },
    )


_TOP_UP_ALREADY_SENT = gettext_lazy(
    "This form was already submitted with other values, and that top-up went through: "
    "check the balances below. Submit again to top up with these values."
)


@platform_admin_required(gettext_lazy("Only platform administrators may top up wallets."))
def top_up(request: Request) -> HttpResponse:
    """充值 (platform admins): every wallet's balance, and the form with a required reason."""
    initial = {}
    if request.GET.get("tenant", "").isdigit():
        initial["tenant"] = int(request.GET["tenant"])
    form = TopUpForm(request.POST or None, initial=initial, user=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = services.top_up_wallet(
                    actor=request.user,
                    tenant=data["tenant"],
                    amount=data["amount"],
                    reason=data["reason"],
                    idempotency_key=data["idempotency_key"],
                )
            except (ValidationError, PermissionDenied) as exc:
                _apply_refusal(form, exc, already_sent=_TOP_UP_ALREADY_SENT)
            else:
                # A replay (a double submit, a browser re-POST) shows what the first did.
                messages.success(
                    request,
                    _("Topped up %(amount)s for %(tenant)s; the balance is now %(balance)s.")
                    % {
                        "amount": format_t(entry.amount),
                        "tenant": data["tenant"].name,
                        "balance": format_t(entry.balance_after),
                    },
                )
                return redirect("orders:wallet-top-up")
    return render(
        request,
        "orders/top_up.html",
        {
            "form": form,
            "wallets": list(selectors.wallets_for(user=request.user)),
        },
        status=status,
    )

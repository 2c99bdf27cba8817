"""The rules of buying and paying, through orders.services."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum

from accounts.models import AuditEntry
from assets import services as asset_services
from assets.lifecycle import transition_version
from assets.models import AssetVersion
from assets.signals import buyer_tenant_counts
from core.errors import NotFound, NotPermitted
from orders import selectors, services
from orders.models import Entitlement, IdempotencyKey, LedgerEntry, Order, Wallet
from orders.signals import order_paid
from tests.assets.factories import ClusterFactory

from .fixtures import PLAN_100, PLAN_FREE, archive_on_sale, plan_named

NOW = datetime(2026, 7, 13, 5, 45, tzinfo=UTC)


@pytest.fixture
def paid_signals():
    received = []

    def receiver(sender, order, **kwargs):
        received.append((sender, order.code, order.status))

    order_paid.connect(receiver, dispatch_uid="test-order-paid")
    yield received
    order_paid.disconnect(dispatch_uid="test-order-paid")


def wallet_of(tenant):
    return Wallet.objects.get(tenant=tenant)


def codes(exc):
    """{field: [code, ...]} of a service's ValidationError: what the API body's `code` is."""
    return {field: [error.code for error in errors] for field, errors in exc.error_dict.items()}


def assert_ledger_consistent():
    """Every balance equals the sum of its entries; every payment's entries sum to zero."""
    for wallet in Wallet.objects.all():
        total = wallet.entries.aggregate(total=Sum("amount"))["total"] or Decimal("0")
        assert wallet.balance == total, wallet
        assert wallet.balance >= 0
    payments = LedgerEntry.objects.exclude(kind=LedgerEntry.Kind.TOP_UP)
    for transfer in payments.values_list("transfer", flat=True).distinct():
        assert payments.filter(transfer=transfer).aggregate(t=Sum("amount"))["t"] == 0


# --- placing ------------------------------------------------------------------------------


def test_an_order_snapshots_the_plan_and_waits_for_payment(buyer, mem1, place, time_machine):
    time_machine.move_to(NOW, tick=False)
    order = place(buyer, mem1, plan_named(mem1, "100¥/年"))
    assert order.code.startswith("AOID-") and len(order.code) == 16
    assert order.status == Order.Status.PENDING_PAYMENT and order.kind == Order.Kind.NEW
    assert (order.buyer, order.seller, order.asset) == (buyer, mem1.tenant, mem1)
    assert (order.plan_name, order.plan_price, order.plan_duration_value) == (
        "100¥/年",
        Decimal("100.00"),
        1,
    )
    assert order.amount_due == Decimal("100.00") and order.amount_paid == 0
    assert order.payment_deadline == NOW + timedelta(hours=24)
    assert order.channel == "stable" and order.approval == "Automatic"
    assert order.cluster.is_default and order.project == buyer.project
    assert order.version.status == AssetVersion.Status.ON_SALE
    assert AuditEntry.objects.filter(action="order.placed", object_id=str(order.pk)).exists()
    assert not Entitlement.objects.exists() and not LedgerEntry.objects.exists()


def test_the_deadline_follows_the_setting(buyer, mem1, place, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    settings.ORDER_PAYMENT_DEADLINE_HOURS = 2
    assert place(buyer, mem1).payment_deadline == NOW + timedelta(hours=2)


def _approve_held_changes(asset, admin):
    """mem1 is on sale: plan edits wait for review (issue 16) until an admin approves."""
    from approvals import services as approvals
    from approvals.models import ApprovalRequest

    review = ApprovalRequest.objects.get(asset=asset, kind="revision", status="pending")
    approvals.approve_request(actor=admin, approval=review)


def test_a_price_change_never_alters_an_existing_order(
    buyer, mem1, place, fund, provider, platform_admin
):
    plan = plan_named(mem1, "100¥/年")
    order = place(buyer, mem1, plan)
    asset_services.update_plan(actor=provider.owner, plan=plan, price=Decimal("250.00"))
    _approve_held_changes(mem1, platform_admin)
    plan.refresh_from_db()
    assert plan.price == Decimal("250.00")
    order.refresh_from_db()
    assert order.amount_due == Decimal("100.00") and order.plan_price == Decimal("100.00")
    fund(buyer, "100.00")
    services.pay_order(actor=buyer.owner, order=order, idempotency_key="k1")
    assert wallet_of(buyer).balance == 0  # charged the price it was ordered at


@pytest.mark.parametrize(
    ("field", "kwargs", "code"),
    [
        ("channel", {"channel": "beta"}, "channel_invalid"),
        ("approval", {"approval": "Sometimes"}, "approval_invalid"),
    ],
)
def test_bad_choices_are_field_errors(buyer, mem1, place, field, kwargs, code):
    with pytest.raises(ValidationError) as exc:
        place(buyer, mem1, **kwargs)
    assert field in exc.value.message_dict
    assert codes(exc.value) == {field: [code]}
    assert not Order.objects.exists()


def test_the_cluster_must_be_linked_to_the_project_or_the_default(buyer, mem1, place):
    other = ClusterFactory(name="edge", credentials={})
    with pytest.raises(ValidationError) as exc:
        place(buyer, mem1, cluster=other)
    assert "linked to the project my-mem" in exc.value.message_dict["cluster"][0]
    assert codes(exc.value) == {"cluster": ["cluster_not_open"]}
    other.projects.add(buyer.project)
    assert place(buyer, mem1, cluster=other).cluster == other


def test_a_project_of_another_tenant_is_refused(buyer, other_buyer, mem1, place):
    from orders.services import place_order

    with pytest.raises(ValidationError) as exc:
        place_order(actor=buyer.owner, plan=mem1.plans.first(), project=other_buyer.project)
    assert "project" in exc.value.message_dict
    assert codes(exc.value) == {"project": ["project_not_yours"]}
    with pytest.raises(ValidationError) as exc:
        place_order(actor=buyer.owner, plan=mem1.plans.first(), project=None)
    assert codes(exc.value) == {"project": ["project_required"]}


def test_an_archived_plan_is_not_sold(buyer, mem1, place, provider, platform_admin):
    plan = plan_named(mem1, "100¥/年")
    archive_on_sale(plan, actor=provider.owner, admin=platform_admin)
    with pytest.raises(ValidationError) as exc:
        place(buyer, mem1, plan)
    assert "no longer sold" in exc.value.message_dict["plan"][0]
    assert codes(exc.value) == {"plan": ["plan_archived"]}


def test_a_tenant_cannot_buy_its_own_asset(provider, mem1, place):
    with pytest.raises(ValidationError) as exc:
        place(provider, mem1)
    assert "its own asset" in exc.value.message_dict["asset"][0]
    assert codes(exc.value) == {"asset": ["own_asset"]}


def test_its_own_asset_is_the_one_reason_even_when_not_on_sale(provider, make_listed_asset, place):
    draft = make_listed_asset("draft-own", on_sale=False)
    with pytest.raises(ValidationError) as exc:
        place(provider, draft)
    assert exc.value.message_dict["asset"] == ["A tenant cannot buy its own asset."]
    assert codes(exc.value)["asset"] == ["own_asset"]


def test_an_asset_not_on_sale_cannot_be_bought(buyer, make_listed_asset, place):
    draft = make_listed_asset("draft-only", on_sale=False)
    with pytest.raises(ValidationError) as exc:
        place(buyer, draft)
    assert "not on sale" in exc.value.message_dict["asset"][0]
    assert codes(exc.value)["asset"] == ["not_on_sale"]


def test_holding_an_active_entitlement_means_install_or_renew(buyer, mem1, place, fund):
    fund(buyer, 10)
    place(buyer, mem1, pay_now=True)
    with pytest.raises(ValidationError) as exc:
        place(buyer, mem1)
    assert "already holds mem1" in exc.value.message_dict["asset"][0]
    assert codes(exc.value) == {"asset": ["already_held"]}


# --- paying -------------------------------------------------------------------------------


def test_a_free_plan_is_paid_at_once(buyer, make_listed_asset, place, paid_signals, time_machine):
    time_machine.move_to(NOW, tick=False)
    free = make_listed_asset("memfree", plans=(PLAN_FREE,))
    order = place(buyer, free)
    assert order.status == Order.Status.PAID and order.paid_at == NOW
    assert order.amount_paid == 0 and order.amounts_display == "0T/0T"
    assert order.entitlement.ends_at == NOW + timedelta(days=30)
    assert not LedgerEntry.objects.exists()  # nothing moved


def test_pay_now_moves_the_money_in_one_transaction(buyer, provider, mem1, place, fund):
    fund(buyer, "150.00")
    order = place(buyer, mem1, plan_named(mem1, "100¥/年"), pay_now=True)
    assert order.status == Order.Status.PAID and order.amount_paid == Decimal("100.00")
    assert order.amounts_display == "100T/100T"
    assert wallet_of(buyer).balance == Decimal("50.00")
    assert wallet_of(provider).balance == Decimal("100.00")
    debit, credit = LedgerEntry.objects.filter(order=order).order_by("amount")
    assert (debit.kind, debit.amount, debit.balance_after) == ("payment", Decimal("-100.00"), 50)
    assert (credit.kind, credit.amount) == ("sale", Decimal("100.00"))
    assert debit.transfer == credit.transfer
    assert_ledger_consistent()


def test_pay_now_short_leaves_no_order_and_says_the_shortfall(buyer, mem1, place, fund):
    fund(buyer, "1.50")
    with pytest.raises(ValidationError) as exc:
        place(buyer, mem1, plan_named(mem1, "100¥/年"), pay_now=True)
    message = exc.value.message_dict["wallet"][0]
    assert "1.50 T" in message and "100.00 T" in message and "98.50 T short" in message
    assert codes(exc.value) == {"wallet": ["insufficient_balance"]}
    assert not Order.objects.exists() and wallet_of(buyer).balance == Decimal("1.50")


def test_pay_later_then_continue_payment(buyer, provider, mem1, place, fund, paid_signals):
    order = place(buyer, mem1)
    with pytest.raises(ValidationError) as exc:
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="first")
    assert "1.00 T short" in exc.value.message_dict["wallet"][0]
    assert "then pay before" in exc.value.message_dict["wallet"][0]
    assert not IdempotencyKey.objects.exists()  # a failure stores no key: retry after a top-up
    fund(buyer, 5)
    payment = services.pay_order(actor=buyer.owner, order=order, idempotency_key="first")
    assert not payment.replayed and payment.order.status == Order.Status.PAID
    assert payment.result["balance_after"] == "4.00" and payment.result["amount_paid"] == "1.00"
    entitlement = Entitlement.objects.get()
    assert (entitlement.buyer, entitlement.asset, entitlement.plan) == (buyer, mem1, order.plan)
    assert selectors.active_entitlement(buyer, mem1) == entitlement
    assert_ledger_consistent()


def test_order_paid_is_sent_once_on_commit(
    buyer, mem1, place, fund, paid_signals, django_capture_on_commit_callbacks
):
    fund(buyer, 5)
    order = place(buyer, mem1)
    with django_capture_on_commit_callbacks(execute=True):
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
        assert paid_signals == []  # not before the commit
    assert paid_signals == [(Order, order.code, "paid")]
    with django_capture_on_commit_callbacks(execute=True):  # a retry: replayed, not re-sent
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
    assert len(paid_signals) == 1


def test_order_paid_is_not_sent_when_the_payment_rolls_back(
    buyer, mem1, place, fund, paid_signals, django_capture_on_commit_callbacks
):
    fund(buyer, 5)
    order = place(buyer, mem1)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="k")
        raise RuntimeError("the caller's transaction fails")
    assert paid_signals == []
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT and wallet_of(buyer).balance == 5


def test_a_double_click_charges_once_and_returns_the_first_result(buyer, mem1, place, fund):
    fund(buyer, 5)
    order = place(buyer, mem1)
    first = services.pay_order(actor=buyer.owner, order=order, idempotency_key="click")
    second = services.pay_order(actor=buyer.owner, order=order, idempotency_key="click")
    assert second.replayed and second.result == first.result
    assert wallet_of(buyer).balance == 4
    assert LedgerEntry.objects.filter(kind="payment").count() == 1


def test_another_key_for_a_paid_order_is_refused_without_charging(buyer, mem1, place, fund):
    fund(buyer, 5)
    order = place(buyer, mem1)
    services.pay_order(actor=buyer.owner, order=order, idempotency_key="one")
    with pytest.raises(ValidationError) as exc:
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="two")
    assert "already paid" in exc.value.message_dict["status"][0]
    assert codes(exc.value) == {"status": ["already_paid"]}
    assert wallet_of(buyer).balance == 4


def test_a_key_is_one_request(buyer, make_listed_asset, place, fund):
    fund(buyer, 10)
    first = place(buyer, make_listed_asset("a1"))
    second = place(buyer, make_listed_asset("a2"))
    services.pay_order(actor=buyer.owner, order=first, idempotency_key="same")
    with pytest.raises(ValidationError) as exc:
        services.pay_order(actor=buyer.owner, order=second, idempotency_key="same")
    assert "already used" in exc.value.message_dict["idempotency_key"][0]
    assert codes(exc.value) == {"idempotency_key": ["idempotency_key_reused"]}
    with pytest.raises(ValidationError) as exc:
        services.pay_order(actor=buyer.owner, order=second, idempotency_key="  ")
    assert "idempotency_key" in exc.value.message_dict
    assert codes(exc.value) == {"idempotency_key": ["idempotency_key_required"]}
    with pytest.raises(ValidationError) as exc:
        services.pay_order(actor=buyer.owner, order=second, idempotency_key="k" * 256)
    assert codes(exc.value) == {"idempotency_key": ["idempotency_key_too_long"]}


def test_placing_twice_with_one_token_places_one_order(buyer, mem1, place, fund):
    fund(buyer, 10)
    first = place(buyer, mem1, pay_now=True, idempotency_key="form-token")
    again = place(buyer, mem1, pay_now=True, idempotency_key="form-token")
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert Order.objects.count() == 1 and wallet_of(buyer).balance == 9


def test_only_members_of_the_buyer_pay(buyer, other_buyer, mem1, place, fund):
    fund(buyer, 5)
    order = place(buyer, mem1)
    with pytest.raises(PermissionDenied) as exc:
        services.pay_order(actor=other_buyer.owner, order=order, idempotency_key="x")
    assert isinstance(exc.value, NotPermitted) and exc.value.code == "not_a_member"
    assert str(exc.value) == "You are not a member of zs2-corp."
    with pytest.raises(PermissionDenied) as exc:
        services.cancel_order(actor=other_buyer.owner, order=order)
    assert isinstance(exc.value, NotPermitted) and exc.value.code == "not_a_member"
    entitlement = services.pay_order(
        actor=buyer.owner, order=order, idempotency_key="y"
    ).order.entitlement
    with pytest.raises(NotPermitted) as exc:
        services.renew(actor=other_buyer.owner, entitlement=entitlement)
    assert exc.value.code == "not_a_member"


def test_the_platform_takes_its_commission(buyer, provider, mem1, place, fund, settings):
    settings.PLATFORM_COMMISSION_RATE = "0.05"
    fund(buyer, 200)
    order = place(buyer, mem1, plan_named(mem1, "100¥/年"), pay_now=True)
    platform = Wallet.objects.get(is_platform=True)
    assert wallet_of(provider).balance == Decimal("95.00")
    assert platform.balance == Decimal("5.00") and platform.tenant is None
    kinds = dict(LedgerEntry.objects.filter(order=order).values_list("kind", "amount"))
    assert kinds == {
        "payment": Decimal("-100.00"),
        "sale": Decimal("95.00"),
        "commission": Decimal("5.00"),
    }
    assert_ledger_consistent()


def test_the_commission_rounds_half_up_to_the_cent(buyer, provider, mem1, place, fund, settings):
    settings.PLATFORM_COMMISSION_RATE = "0.125"
    fund(buyer, 5)
    place(buyer, mem1, pay_now=True)  # 1.00 T × 0.125 = 0.125 → 0.13
    assert Wallet.objects.get(is_platform=True).balance == Decimal("0.13")
    assert wallet_of(provider).balance == Decimal("0.87")


@pytest.mark.parametrize("rate", ["1", "-0.1", "abc", 0.1])
def test_a_bad_commission_rate_is_a_configuration_error(buyer, mem1, place, fund, settings, rate):
    settings.PLATFORM_COMMISSION_RATE = rate
    fund(buyer, 5)
    with pytest.raises(ImproperlyConfigured):
        place(buyer, mem1, pay_now=True)


# --- cancelling and expiring --------------------------------------------------------------


def test_cancel_only_what_is_unpaid(buyer, mem1, make_listed_asset, place, fund):
    order = place(buyer, mem1)
    cancelled = services.cancel_order(actor=buyer.owner, order=order, reason="changed my mind")
    assert cancelled.status == Order.Status.CANCELLED and cancelled.cancelled_at
    assert services.cancel_order(actor=buyer.owner, order=order).status == "cancelled"  # again
    with pytest.raises(ValidationError) as exc:
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="late")
    assert "Cancelled" in exc.value.message_dict["status"][0]
    assert codes(exc.value) == {"status": ["not_payable"]}
    fund(buyer, 5)
    paid = place(buyer, make_listed_asset("other"), pay_now=True)
    with pytest.raises(ValidationError) as exc:
        services.cancel_order(actor=buyer.owner, order=paid)
    assert codes(exc.value) == {"status": ["not_cancellable"]}


def test_unpaid_orders_expire_after_the_deadline(buyer, mem1, place, fund, time_machine):
    time_machine.move_to(NOW, tick=False)
    order = place(buyer, mem1)
    time_machine.move_to(NOW + timedelta(hours=23, minutes=59), tick=False)
    assert services.expire_overdue_orders() == 0
    fund(buyer, 5)
    time_machine.move_to(NOW + timedelta(hours=24), tick=False)
    with pytest.raises(ValidationError) as exc:  # overdue: refused even before the task runs
        services.pay_order(actor=buyer.owner, order=order, idempotency_key="late")
    assert "deadline" in exc.value.message_dict["status"][0]
    assert codes(exc.value) == {"status": ["deadline_passed"]}
    assert services.expire_overdue_orders() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and order.expired_at == NOW + timedelta(hours=24)
    assert services.expire_overdue_orders() == 0  # idempotent
    assert AuditEntry.objects.filter(action="order.expired", object_id=str(order.pk)).exists()
    assert wallet_of(buyer).balance == 5


def test_the_periodic_task_expires_in_batches(buyer, make_listed_asset, place, time_machine):
    from orders.tasks import expire_overdue_orders

    time_machine.move_to(NOW, tick=False)
    orders = [place(buyer, make_listed_asset(f"a{i}")) for i in range(3)]
    services_paid = place(buyer, make_listed_asset("free", plans=(PLAN_FREE,)))
    time_machine.move_to(NOW + timedelta(days=2), tick=False)
    assert expire_overdue_orders.apply().get() == 3
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in orders])} == {"expired"}
    services_paid.refresh_from_db()
    assert services_paid.status == "paid"


def test_the_beat_schedule_runs_the_expiry(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "orders.tasks.expire_overdue_orders" in tasks


# --- entitlements, renewals, delisting ----------------------------------------------------


def test_status_follows_the_dates(buyer, mem1, place, fund, time_machine):
    time_machine.move_to(NOW, tick=False)
    fund(buyer, 5)
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    assert entitlement.ends_at == datetime(2027, 7, 13, 5, 45, tzinfo=UTC)
    assert entitlement.status == Entitlement.Status.ACTIVE
    time_machine.move_to(entitlement.ends_at - timedelta(days=7), tick=False)
    assert entitlement.status == Entitlement.Status.EXPIRING and entitlement.is_active
    assert selectors.active_entitlement(buyer, mem1) is not None
    time_machine.move_to(entitlement.ends_at, tick=False)
    assert entitlement.status == Entitlement.Status.EXPIRED and not entitlement.is_active
    assert selectors.active_entitlement(buyer, mem1) is None  # no new installations


def test_a_renewal_extends_the_end(buyer, mem1, place, fund, time_machine):
    time_machine.move_to(NOW, tick=False)
    fund(buyer, 10)
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    end = entitlement.ends_at
    time_machine.move_to(NOW + timedelta(days=100), tick=False)
    renewal = services.renew(actor=buyer.owner, entitlement=entitlement)
    assert renewal.kind == Order.Kind.RENEWAL and renewal.status == "pending_payment"
    assert renewal.project is None and renewal.amount_due == Decimal("1.00")
    services.pay_order(actor=buyer.owner, order=renewal, idempotency_key="renew")
    entitlement.refresh_from_db()
    assert entitlement.ends_at == end.replace(year=end.year + 1)
    assert entitlement.starts_at == NOW and Entitlement.objects.count() == 1


def test_a_lapsed_entitlement_starts_again_from_the_renewal(buyer, mem1, place, fund, time_machine):
    time_machine.move_to(NOW, tick=False)
    fund(buyer, 10)
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    later = NOW + timedelta(days=800)
    time_machine.move_to(later, tick=False)
    services.renew(actor=buyer.owner, entitlement=entitlement, pay_now=True)
    entitlement.refresh_from_db()
    assert entitlement.starts_at == later and entitlement.ends_at == later.replace(year=2029)


def test_a_year_bought_on_29_february_ends_on_28_february(buyer, mem1, place, fund, time_machine):
    leap_day = datetime(2028, 2, 29, 12, 30, tzinfo=UTC)
    time_machine.move_to(leap_day, tick=False)
    fund(buyer, 10)
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    assert entitlement.ends_at == datetime(2029, 2, 28, 12, 30, tzinfo=UTC)
    services.renew(actor=buyer.owner, entitlement=entitlement, pay_now=True)
    entitlement.refresh_from_db()
    assert entitlement.ends_at == datetime(2030, 2, 28, 12, 30, tzinfo=UTC)
    assert entitlement.starts_at == leap_day


def test_a_delisted_asset_is_not_sold_but_holders_renew(
    buyer, other_buyer, provider, mem1, place, fund, platform_admin
):
    fund(buyer, 10)
    fund(other_buyer, 10)
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    pending = place(other_buyer, mem1)
    version = AssetVersion.objects.get(asset=mem1)
    transition_version(version=version, to="delisting_review", actor=provider.owner)
    transition_version(version=version, to="delisted", actor=platform_admin)
    with pytest.raises(ValidationError) as exc:
        place(other_buyer, mem1)
    assert "not on sale" in exc.value.message_dict["asset"][0]
    with pytest.raises(ValidationError) as exc:  # placed before, paid after: refused too
        services.pay_order(actor=other_buyer.owner, order=pending, idempotency_key="x")
    assert "no longer on sale" in exc.value.message_dict["asset"][0]
    assert codes(exc.value) == {"asset": ["not_on_sale"]}
    renewal = services.renew(actor=buyer.owner, entitlement=entitlement, pay_now=True)
    assert renewal.status == "paid" and renewal.version == version


def test_a_renewal_may_keep_an_archived_plan_but_not_pick_one(
    buyer, provider, mem1, make_listed_asset, place, fund, platform_admin
):
    fund(buyer, 500)
    entitlement = place(buyer, mem1, plan_named(mem1, "1T/年"), pay_now=True).entitlement
    archive_on_sale(plan_named(mem1, "1T/年"), actor=provider.owner, admin=platform_admin)
    assert services.renew(actor=buyer.owner, entitlement=entitlement).plan.name == "1T/年"
    asset_services.create_plan(actor=provider.owner, asset=mem1, **{**PLAN_100, "name": "old"})
    _approve_held_changes(mem1, platform_admin)
    archived = plan_named(mem1, "old")
    archive_on_sale(archived, actor=provider.owner, admin=platform_admin)
    with pytest.raises(ValidationError) as exc:
        services.renew(actor=buyer.owner, entitlement=entitlement, plan=archived)
    assert "plan" in exc.value.message_dict
    assert codes(exc.value) == {"plan": ["plan_archived"]}
    other_assets_plan = make_listed_asset("other").plans.get()
    with pytest.raises(ValidationError) as exc:
        services.renew(actor=buyer.owner, entitlement=entitlement, plan=other_assets_plan)
    assert exc.value.message_dict["plan"] == ["Choose a plan of mem1."]
    assert codes(exc.value) == {"plan": ["plan_of_another_asset"]}


def test_ordered_plans_cannot_be_deleted(buyer, provider, mem1, place, platform_admin):
    from approvals import services as approvals
    from approvals.models import ApprovalRequest

    plan = plan_named(mem1, "100¥/年")
    unordered = plan_named(mem1, "1T/年")
    place(buyer, mem1, plan)
    with pytest.raises(ValidationError):
        asset_services.delete_plan(actor=provider.owner, plan=plan)
    # mem1 is on sale: the deletion waits for review, and a plan ordered meanwhile stays.
    held = asset_services.delete_plan(actor=provider.owner, plan=unordered)
    assert held is not None and held.plan_actions == [{"plan": unordered.pk, "action": "delete"}]
    place(buyer, mem1, unordered)
    review = ApprovalRequest.objects.get(asset=mem1, kind="revision", status="pending")
    with pytest.raises(ValidationError) as exc:
        approvals.approve_request(actor=platform_admin, approval=review)
    assert "has been ordered" in exc.value.messages[0]
    assert mem1.plans.filter(pk=unordered.pk).exists()


def test_buyer_counts_are_distinct_tenants_holding_an_entitlement(
    buyer, other_buyer, mem1, make_listed_asset, place, fund, time_machine
):
    time_machine.move_to(NOW, tick=False)
    other = make_listed_asset("other")
    fund(buyer, 10)
    fund(other_buyer, 10)
    entitlement = place(buyer, mem1, pay_now=True).entitlement
    services.renew(actor=buyer.owner, entitlement=entitlement, pay_now=True)
    place(other_buyer, mem1, pay_now=True)
    place(other_buyer, other)  # unpaid: not a user
    assert buyer_tenant_counts([mem1.pk, other.pk]) == {mem1.pk: 2}
    time_machine.move_to(NOW + timedelta(days=3 * 365), tick=False)
    assert buyer_tenant_counts([mem1.pk]) == {}


# --- wallets ------------------------------------------------------------------------------


def test_only_admins_top_up_and_a_reason_is_required(buyer, platform_admin):
    with pytest.raises(PermissionDenied) as denied:
        services.top_up_wallet(actor=buyer.owner, tenant=buyer, amount="10", reason="x")
    assert isinstance(denied.value, NotPermitted) and denied.value.code == "not_platform_admin"
    assert str(denied.value) == "Only platform administrators may top up wallets."
    with pytest.raises(ValidationError) as exc:
        services.top_up_wallet(actor=platform_admin, tenant=buyer, amount="0", reason=" ")
    assert set(exc.value.message_dict) == {"amount", "reason"}
    assert codes(exc.value) == {"amount": ["amount_not_positive"], "reason": ["reason_required"]}
    with pytest.raises(ValidationError) as exc:
        services.top_up_wallet(actor=platform_admin, tenant=buyer, amount="1.001", reason="r")
    assert "two decimal places" in exc.value.message_dict["amount"][0]
    assert codes(exc.value) == {"amount": ["amount_precision"]}
    with pytest.raises(ValidationError) as exc:
        services.top_up_wallet(actor=platform_admin, tenant=buyer, amount="ten", reason="r" * 301)
    assert codes(exc.value) == {"amount": ["amount_invalid"], "reason": ["reason_too_long"]}
    with pytest.raises(ValidationError) as exc:
        services.top_up_wallet(actor=platform_admin, tenant=buyer, amount="1000000.01", reason="r")
    assert codes(exc.value) == {"amount": ["top_up_limit"]}
    entry = services.top_up_wallet(
        actor=platform_admin, tenant=buyer, amount="1000", reason="contract 42"
    )
    assert (entry.kind, entry.amount, entry.balance_after, entry.reason) == (
        "top_up",
        Decimal("1000.00"),
        Decimal("1000.00"),
        "contract 42",
    )
    assert entry.actor == platform_admin
    assert AuditEntry.objects.filter(action="wallet.topped_up", reason="contract 42").exists()


def test_money_is_never_a_float(buyer, mem1, place, fund, platform_admin):
    with pytest.raises(TypeError):
        services.top_up_wallet(actor=platform_admin, tenant=buyer, amount=0.1, reason="float")
    with pytest.raises(TypeError):
        services.to_money(1.5)
    fund(buyer, "10.10")
    order = place(buyer, mem1, pay_now=True)
    order.refresh_from_db()
    wallet = wallet_of(buyer)
    for value in (order.amount_due, order.amount_paid, order.plan_price, wallet.balance):
        assert isinstance(value, Decimal)
    assert wallet.balance == Decimal("9.10")  # 10.10 - 1.00, exactly


def test_the_database_refuses_a_negative_balance(buyer, fund):
    from django.db import IntegrityError

    fund(buyer, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(tenant=buyer).update(balance=Decimal("-0.01"))


def test_selectors_hide_other_tenants(buyer, other_buyer, provider, mem1, place):
    order = place(buyer, mem1)
    assert selectors.get_order_for(user=buyer.owner, code=order.code) == order
    with pytest.raises(NotFound):
        selectors.get_order_for(user=other_buyer.owner, code=order.code)
    assert list(selectors.orders_for(user=other_buyer.owner)) == []
    seller_view = selectors.get_order_for(user=provider.owner, code=order.code)
    assert selectors.order_role(user=provider.owner, order=seller_view) == "seller"


def test_no_wallet_holds_more_than_its_column(buyer, platform_admin, fund):
    fund(buyer, 1)
    Wallet.objects.filter(tenant=buyer).update(balance=services.MAX_BALANCE)
    with pytest.raises(ValidationError) as exc:
        services.top_up_wallet(actor=platform_admin, tenant=buyer, amount="0.01", reason="r")
    assert "cannot hold more than" in exc.value.message_dict["amount"][0]
    assert codes(exc.value) == {"amount": ["balance_limit"]}


def test_no_cluster_open_to_the_project_is_said(buyer, mem1, place, default_cluster):
    default_cluster.is_default = False
    default_cluster.save(update_fields=["is_default"])
    with pytest.raises(ValidationError) as exc:
        place(buyer, mem1)
    assert "No cluster is open to the project my-mem" in exc.value.message_dict["cluster"][0]
    assert codes(exc.value) == {"cluster": ["no_cluster"]}


def test_selectors_scope_the_buyers_orders_and_wallet_tenants(
    buyer, other_buyer, provider, platform_admin, mem1, place
):
    order = place(buyer, mem1)
    assert selectors.get_order_for(user=buyer.owner, order_id=order.pk, role="buyer") == order
    with pytest.raises(NotFound):  # the seller sees it, but not as its buyer
        selectors.get_order_for(user=provider.owner, order_id=order.pk, role="buyer")
    assert selectors.get_wallet_tenant_for(user=platform_admin, tenant_id=buyer.pk) == buyer
    assert selectors.get_wallet_tenant_for(user=buyer.owner, tenant_id=buyer.pk) == buyer
    for user, tenant_id in [(buyer.owner, other_buyer.pk), (platform_admin, 0), (buyer.owner, "x")]:
        with pytest.raises(NotFound):
            selectors.get_wallet_tenant_for(user=user, tenant_id=tenant_id)
    assert list(selectors.tenants_to_top_up(user=buyer.owner)) == []
    assert set(selectors.tenants_to_top_up(user=platform_admin)) >= {buyer, other_buyer}

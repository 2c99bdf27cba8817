"""Demo data of the orders app for `manage.py seed_demo`. Idempotent."""

from decimal import Decimal

from accounts.models import Tenant, User

from .models import LedgerEntry
from .services import ensure_wallet, top_up_wallet

DEMO_CREDITS = [
    # tenant slug, amount, reason
    ("zs2-corp", Decimal("1000.00"), "demo credit"),
]


def seed_demo_orders() -> None:
    """Wallets for the demo tenants; the buyer zs2-corp gets 1000 T, once.

    The top-up goes through the service (a ledger entry with the reason), made by the
    demo platform admin; running the seed again finds the entry and adds nothing.
    """
    admin = User.objects.filter(username="admin").first()
    for tenant in Tenant.objects.filter(slug__in=["zs-olm", "zs2-corp"]):
        ensure_wallet(tenant=tenant)
    if admin is None:
        return
    for slug, amount, reason in DEMO_CREDITS:
        credited = Tenant.objects.filter(slug=slug).first()
        if credited is None:
            continue
        wallet = ensure_wallet(tenant=credited)
        if not LedgerEntry.objects.filter(
            wallet=wallet, kind=LedgerEntry.Kind.TOP_UP, reason=reason
        ).exists():
            top_up_wallet(actor=admin, tenant=credited, amount=amount, reason=reason)

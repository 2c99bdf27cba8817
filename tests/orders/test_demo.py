from decimal import Decimal

from django.core.management import call_command

from orders.models import LedgerEntry, Wallet


def test_seed_demo_credits_the_buyer_once(db):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    wallet = Wallet.objects.get(tenant__slug="zs2-corp")
    assert wallet.balance == Decimal("1000.00")
    entry = LedgerEntry.objects.get(wallet=wallet)
    assert (entry.kind, entry.reason, entry.actor.username) == ("top_up", "demo credit", "admin")
    assert Wallet.objects.get(tenant__slug="zs-olm").balance == 0

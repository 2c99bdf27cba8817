from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import Membership, Project, Tenant, User
from accounts.permissions import is_platform_admin


def _counts():
    return (
        User.objects.count(),
        Tenant.objects.count(),
        Membership.objects.count(),
        Project.objects.count(),
    )


def test_seed_demo_is_idempotent_and_gives_working_logins(db):
    call_command("seed_demo", verbosity=0)
    first = _counts()
    call_command("seed_demo", verbosity=0)
    assert _counts() == first
    admin = authenticate(username="admin", password="demo")
    provider = authenticate(username="provider", password="demo")
    buyer = authenticate(username="buyer", password="demo")
    assert admin and provider and buyer
    assert is_platform_admin(admin) and not is_platform_admin(buyer)
    assert provider.memberships.get().tenant.is_provider
    buyer_tenant = buyer.memberships.get().tenant
    assert not buyer_tenant.is_provider
    assert Project.objects.filter(tenant=buyer_tenant, namespace="my-mem").exists()


def test_seed_demo_keeps_a_changed_password(db):
    call_command("seed_demo", verbosity=0)
    buyer = User.objects.get(username="buyer")
    buyer.set_password("changed-Password-9")
    buyer.save()
    call_command("seed_demo", verbosity=0)
    assert authenticate(username="buyer", password="changed-Password-9")

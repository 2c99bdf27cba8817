"""`manage.py unlock_login USERNAME [--ip ADDRESS]`: lift a sign-in lockout, audited."""

from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = (
        "Unlock a username that too many failed sign-ins locked (from every address, or from "
        "--ip only). Written to the audit trail as done from the operator's shell."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--ip", default=None, help="only the lockout from this address")
        parser.add_argument("--reason", default="", help="kept in the audit entry")

    def handle(self, *args, username, ip, reason, **options):
        cleared = services.unlock_login(
            actor=None, username=username, ip_address=ip, reason=reason or "manage.py"
        )
        if cleared:
            self.stdout.write(f"Unlocked {username}: {cleared} failed attempt record(s) cleared.")
        else:
            self.stdout.write(f"{username} was not locked out.")

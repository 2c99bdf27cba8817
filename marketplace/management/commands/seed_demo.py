"""Demo data so every screen has something to show; safe to run again and again."""

from django.core.management.base import BaseCommand

from marketplace.demo import seed_demo


class Command(BaseCommand):
    help = "Create (or refresh) the demo users, tenants, projects and the mem1 story. Idempotent."

    def handle(self, *args, **options):
        seed_demo()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write("Demo logins (password “demo”): admin (platform admin), provider, buyer")

"""Demo data so every screen has something to show; safe to run again and again."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Membership, Project, Tenant, User
from accounts.services import grant_platform_admin

DEMO_PASSWORD = "demo"

DEMO_USERS = [
    # username, display name, tenant, tenant is provider, role
    ("admin", "Platform Admin", "Platform Ops", False),
    ("provider", "zs (provider)", "zs-olm", True),
    ("buyer", "zs2 (buyer)", "zs2-corp", False),
]

DEMO_PROJECTS = [
    # tenant, project name, namespace
    ("zs-olm", "one", "one"),
    ("zs2-corp", "my-mem", "my-mem"),
    ("zs2-corp", "two", "two"),
]


class Command(BaseCommand):
    help = "Create (or refresh) the demo users, tenants and projects. Idempotent."

    @transaction.atomic
    def handle(self, *args, **options):
        for username, display_name, tenant_name, is_provider in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"display_name": display_name}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.email = f"{username}@example.com"
                user.save()
            tenant, _ = Tenant.objects.get_or_create(
                slug=tenant_name,
                defaults={
                    "name": tenant_name,
                    "is_provider": is_provider,
                    "is_certified": is_provider,
                },
            )
            Membership.objects.get_or_create(
                user=user, tenant=tenant, defaults={"role": Membership.Role.OWNER}
            )
        admin = User.objects.get(username="admin")
        grant_platform_admin(user=admin)
        if not admin.is_staff:
            admin.is_staff = True
            admin.is_superuser = True  # may also use the Django admin site
            admin.save(update_fields=["is_staff", "is_superuser"])
        for tenant_slug, name, namespace in DEMO_PROJECTS:
            tenant = Tenant.objects.get(slug=tenant_slug)
            Project.objects.get_or_create(
                namespace=namespace, defaults={"tenant": tenant, "name": name}
            )
        from clusters.demo import seed_demo_clusters

        seed_demo_clusters(admin=admin, provider=User.objects.get(username="provider"))
        from assets.demo import seed_demo_assets

        seed_demo_assets(provider=User.objects.get(username="provider"))
        from orders.demo import seed_demo_orders

        seed_demo_orders()
        from marketplace.demo import seed_demo_story

        seed_demo_story()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write("Demo logins (password “demo”): admin (platform admin), provider, buyer")

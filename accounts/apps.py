from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and tenancy")

    def ready(self):
        from axes.signals import user_locked_out

        from . import lockout, permissions

        post_migrate.connect(permissions.ensure_platform_admin_group, sender=self)
        user_locked_out.connect(lockout.on_user_locked_out, dispatch_uid="accounts-lockout-audit")

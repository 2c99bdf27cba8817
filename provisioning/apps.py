from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = _("Provisioning")

    def ready(self):
        # order_paid installs; the instances answer the uninstall's signals.
        from . import instance_receivers, receivers  # noqa: F401

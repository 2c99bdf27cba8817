from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = _("Provisioning")

    def ready(self):
        # A paid order installs its operator.
        from core.converters import register_choice_converter

        from . import receivers  # noqa: F401
        from .tabs import TABS

        register_choice_converter("installation_tab", TABS)

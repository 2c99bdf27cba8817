from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = _("Operand instances")

    def ready(self) -> None:
        # Uninstalling an operator asks how many instances run on it, and deletes them.
        from core.converters import register_choice_converter

        from . import receivers  # noqa: F401
        from .tabs import TABS

        register_choice_converter("instance_tab", TABS)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = _("Operand instances")

    def ready(self) -> None:
        # Uninstalling an operator asks how many instances run on it, and deletes them.
        from . import receivers  # noqa: F401

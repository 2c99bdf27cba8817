from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel below every app: no models, only shared mechanisms."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks

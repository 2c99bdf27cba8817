from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssetsConfig(AppConfig):
    name = "assets"
    verbose_name = _("Assets and provider portal")

    def ready(self):
        from clusters.signals import catalog_source_usage

        from . import converters
        from .receivers import catalog_source_in_use

        catalog_source_usage.connect(catalog_source_in_use, dispatch_uid="assets.catalog_in_use")
        converters.register()

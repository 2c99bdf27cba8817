"""Answers other apps' questions about assets without those apps importing us."""

from typing import Any

from django.utils.translation import gettext as _

from clusters.models import CatalogSource

from .selectors import versions_on_catalog_source


def catalog_source_in_use(sender: Any, catalog_source: CatalogSource, **kwargs: Any) -> list[str]:
    """clusters asks before deleting a CatalogSource; our versions PROTECT it, so say which."""
    return [
        _("version %(version)s of %(asset)s (%(status)s)")
        % {"version": v.version, "asset": v.asset.name, "status": v.get_status_display()}
        for v in versions_on_catalog_source(catalog_source=catalog_source)
    ]

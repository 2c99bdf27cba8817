"""Answers other apps' questions about assets without those apps importing us."""

from django.utils.translation import gettext as _

from .models import AssetVersion


def catalog_source_in_use(sender, catalog_source, **kwargs):
    """clusters asks before deleting a CatalogSource; our versions PROTECT it, so say which."""
    versions = AssetVersion.objects.filter(catalog_source=catalog_source).select_related("asset")
    return [
        _("version %(version)s of %(asset)s (%(status)s)")
        % {"version": v.version, "asset": v.asset.name, "status": v.get_status_display()}
        for v in versions.order_by("asset__name", "-created_at")
    ]

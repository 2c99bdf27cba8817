from django.contrib import admin

from .models import CatalogPackage, CatalogSource, Cluster, FoundCatalogSource


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "api_url", "is_default", "is_sandbox", "connection_state"]
    # Credentials are encrypted and never shown, not even here.
    exclude = ["credentials"]
    readonly_fields = ["connection_state", "server_version", "olm_available", "last_error"]
    filter_horizontal = ["projects"]


class CatalogPackageInline(admin.TabularInline):
    model = CatalogPackage
    extra = 0
    readonly_fields = ["name", "default_channel", "channels"]


@admin.register(CatalogSource)
class CatalogSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "cluster", "tenant", "image", "state"]
    list_filter = ["state", "cluster"]
    inlines = [CatalogPackageInline]


@admin.register(FoundCatalogSource)
class FoundCatalogSourceAdmin(admin.ModelAdmin):
    """Read-only: the catalog sync writes these from what it finds on the cluster."""

    list_display = ("namespace", "name", "cluster", "image", "last_observed_state", "seen_at")
    list_filter = ("cluster",)
    search_fields = ("namespace", "name", "image")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

"""Django admin: platform admins manage categories; the rest is read-mostly, for support."""

from django.contrib import admin

from .models import Asset, AssetRevision, AssetVersion, Category, Plan, Screenshot


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name_en", "name_zh", "slug", "position"]
    list_editable = ["position"]
    search_fields = ["name_en", "name_zh", "slug"]
    prepopulated_fields = {"slug": ["name_en"]}


class PlanInline(admin.TabularInline):
    model = Plan
    extra = 0
    fields = readonly_fields = ("name", "price", "duration_value", "duration_unit", "is_archived")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ScreenshotInline(admin.TabularInline):
    model = Screenshot
    extra = 0
    fields = readonly_fields = ("image", "width", "height", "position")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    """Providers edit their assets in the portal, where every change is validated and audited."""

    list_display = ["name", "code", "tenant", "delivery_type", "category", "created_at"]
    list_filter = ["delivery_type", "category"]
    search_fields = ["name", "code", "tenant__name"]
    list_select_related = ["tenant", "category"]
    readonly_fields = ["code", "tenant", "created_by", "created_at", "updated_at"]
    inlines = [PlanInline, ScreenshotInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AssetVersion)
class AssetVersionAdmin(admin.ModelAdmin):
    """Status moves only through assets.lifecycle (the approvals screens), never by hand."""

    list_display = ["asset", "version", "status", "package_name", "catalog_source", "created_at"]
    list_filter = ["status"]
    search_fields = ["asset__name", "asset__code", "package_name"]
    list_select_related = ["asset", "catalog_source"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AssetRevision)
class AssetRevisionAdmin(admin.ModelAdmin):
    """Held edits of listed assets: decided in the approvals queue, read here for support."""

    list_display = ["asset", "status", "created_by", "created_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["asset__name", "asset__code"]
    readonly_fields = [f.name for f in AssetRevision._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

from django.contrib import admin

from .models import Installation, InstallationEvent


class InstallationEventInline(admin.TabularInline):
    model = InstallationEvent
    extra = 0
    readonly_fields = ["occurred_at", "source", "type", "reason", "message", "involved_object"]


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    list_display = ["package", "namespace", "cluster", "tenant", "status", "installed_version"]
    list_filter = ["status", "cluster"]
    search_fields = ["package", "namespace", "tenant__name", "order__code"]
    inlines = [InstallationEventInline]

"""Django admin: read-only, for support. Decisions go through the queue, where they are
checked, locked and audited."""

from django.contrib import admin

from .models import ApprovalRequest


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "status",
        "asset",
        "version_number",
        "tenant",
        "requested_by",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["asset__name", "asset__code", "tenant__name", "reason", "decision_reason"]
    list_select_related = ["asset", "tenant", "requested_by", "decided_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

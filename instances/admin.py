from django.contrib import admin

from .models import OperandInstance


@admin.register(OperandInstance)
class OperandInstanceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "namespace", "status", "phase", "ready_replicas"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "namespace"]

"""Read-only admin pages: money moves through orders.services only, never by hand here."""

from django.contrib import admin

from .models import Entitlement, IdempotencyKey, LedgerEntry, Order, Wallet


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "tenant", "is_platform", "balance", "updated_at"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "wallet", "kind", "amount", "balance_after", "order", "reason"]
    list_filter = ["kind"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "code",
        "kind",
        "status",
        "buyer",
        "seller",
        "asset",
        "amount_due",
        "created_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["code"]


@admin.register(Entitlement)
class EntitlementAdmin(ReadOnlyAdmin):
    list_display = ["buyer", "asset", "plan", "starts_at", "ends_at"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "user", "key", "action", "order", "ledger_entry", "created_at"]

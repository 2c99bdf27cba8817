from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .forms import AdminLoginForm
from .models import AuditEntry, Membership, Notification, Project, Tenant, User

# The admin's own login form says so when axes locked the account, as the site's does.
admin.site.login_form = AdminLoginForm

# Axes' attempts, with an audited unlock instead of a bare delete.
if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    actions = ["unlock"]

    def has_delete_permission(self, request, obj=None):
        return False  # unlocking goes through the action, which writes the audit row

    @admin.action(description=_("Unlock the selected sign-ins (audited)"))
    def unlock(self, request, queryset):
        pairs = sorted(set(queryset.values_list("username", "ip_address")))
        try:
            cleared = sum(
                services.unlock_login(
                    actor=request.user,
                    username=username,
                    ip_address=ip,
                    reason="Django admin",
                )
                for username, ip in pairs
                if username
            )
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext(
                "%(count)d failed attempt record cleared.",
                "%(count)d failed attempt records cleared.",
                cleared,
            )
            % {"count": cleared},
            messages.SUCCESS,
        )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Marketplace", {"fields": ("display_name",)}),
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_provider", "is_certified", "created_at"]
    list_filter = ["is_provider", "is_certified"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "namespace", "tenant", "created_at"]
    search_fields = ["name", "namespace", "tenant__name"]
    list_select_related = ["tenant"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "object_repr", "from_state", "to_state"]
    list_filter = ["action"]
    search_fields = ["object_repr", "reason"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "title", "read_at"]
    list_filter = ["read_at"]
    search_fields = ["title", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["user", "title", "body", "url", "created_at"]

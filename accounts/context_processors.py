from .permissions import is_platform_admin


def _unread_count(user):
    """The header's badge: one COUNT query, run only if a template asks, at most once."""
    from functools import cache

    from .models import Notification

    @cache
    def count():
        if user is None or not user.is_authenticated:
            return 0
        return Notification.objects.filter(user=user, read_at__isnull=True).count()

    return count


def workspace(request):
    return {
        "workspace": getattr(request, "workspace", None),
        "is_platform_admin": is_platform_admin(getattr(request, "user", None)),
        "unread_notifications": _unread_count(getattr(request, "user", None)),
    }

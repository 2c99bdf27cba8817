from .permissions import is_platform_admin


def workspace(request):
    return {
        "workspace": getattr(request, "workspace", None),
        "is_platform_admin": is_platform_admin(getattr(request, "user", None)),
    }

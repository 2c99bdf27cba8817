from django.utils.functional import SimpleLazyObject

from .workspace import resolve_workspace


class ActiveTenantMiddleware:
    """Puts `request.workspace` (active tenant, role, project) on every request, lazily."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.workspace = SimpleLazyObject(lambda: resolve_workspace(request))
        return self.get_response(request)

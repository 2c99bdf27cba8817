"""Site-wide pages: the overview and the error pages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _

from core.api import error_body


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "marketplace/home.html")


def _wants_json(request):
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def page_not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(
            error_body(status_code=404, code="not_found", message=_("Not found.")), status=404
        )
    return render(request, "404.html", status=404)


def server_error(request):
    """Rendered without the request context: a broken context must not break the 500 page."""
    if _wants_json(request):
        return JsonResponse(
            error_body(
                status_code=500,
                code="server_error",
                message=_("Something went wrong on our side. It has been logged."),
            ),
            status=500,
        )
    return HttpResponseServerError(loader.get_template("500.html").render())

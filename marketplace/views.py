"""Site-wide pages: the overview and the error pages."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.templatetags.static import static
from django.utils.translation import gettext as _

from accounts.forms import LoginForm
from core.api import error_body

from . import demo


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "marketplace/home.html")


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page links; the icon lives in static/."""
    return redirect(static("favicon.svg"), permanent=True)


class LoginView(auth_views.LoginView):
    """Signing in; with DEBUG on (``make run``) the page names the demo logins, so a first
    visit does not start with a trip to the README."""

    redirect_authenticated_user = True
    authentication_form = LoginForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if settings.DEBUG:
            context["demo_logins"] = demo.demo_logins()
            context["demo_password"] = demo.DEMO_PASSWORD
        return context


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

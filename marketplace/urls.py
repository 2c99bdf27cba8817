from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from accounts import api as accounts_api
from accounts import views as accounts_views

from . import health, views

router = DefaultRouter()
router.register("tenants", accounts_api.TenantViewSet, basename="tenant")
router.register("projects", accounts_api.ProjectViewSet, basename="project")


def soon(route, name, title, issue):
    return path(route, views.coming_soon, {"title": title, "issue": issue}, name=name)


urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("workspace/switch/", accounts_views.switch_workspace, name="switch-workspace"),
    path("projects/", accounts_views.project_list, name="project-list"),
    path("projects/new/", accounts_views.project_create, name="project-create"),
    # Sections that later issues build; until then they say so.
    soon("market/", "storefront", _("Cloud Market"), 6),
    soon("purchased/", "purchased-assets", _("Purchased Assets"), 6),
    soon("orders/", "orders", _("Order Management"), 6),
    soon("provider/assets/", "provider-assets", _("Asset Management"), 4),
    soon("provider/sales/", "provider-sales", _("Sales Management"), 6),
    soon("approvals/", "approvals", _("Approvals"), 5),
    soon("operators/", "installed-operators", _("Operator Apps"), 7),
    soon("clusters/", "clusters", _("Clusters"), 3),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include((router.urls, "api"))),
    path("api/v1/me/", accounts_api.MeView.as_view(), name="api-me"),
    path("api/v1/auth/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("django-admin/", admin.site.urls),
]

handler404 = "marketplace.views.page_not_found"
handler500 = "marketplace.views.server_error"

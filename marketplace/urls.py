from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from accounts import api as accounts_api
from accounts import views as accounts_views
from approvals import api as approvals_api
from assets import api as assets_api
from assets import storefront_api
from clusters import api as clusters_api
from orders import api as orders_api
from provisioning import api as provisioning_api
from provisioning import instance_api

from . import health

router = DefaultRouter()
router.register("tenants", accounts_api.TenantViewSet, basename="tenant")
router.register("projects", accounts_api.ProjectViewSet, basename="project")
router.register("assets", assets_api.AssetViewSet, basename="asset")
router.register("plans", assets_api.PlanViewSet, basename="plan")
router.register("screenshots", assets_api.ScreenshotViewSet, basename="screenshot")
router.register("versions", assets_api.VersionViewSet, basename="assetversion")
router.register("categories", assets_api.CategoryViewSet, basename="category")
router.register("clusters", clusters_api.ClusterViewSet, basename="cluster")
router.register("catalog-sources", clusters_api.CatalogSourceViewSet, basename="catalogsource")
router.register("installations", provisioning_api.InstallationViewSet, basename="installation")
router.register("instances", instance_api.OperandInstanceViewSet, basename="operandinstance")
router.register("service-catalog", instance_api.ServiceCatalogViewSet, basename="servicecatalog")
router.register(
    "approval-requests", approvals_api.ApprovalRequestViewSet, basename="approvalrequest"
)
router.register("notifications", approvals_api.NotificationViewSet, basename="notification")
router.register("storefront", storefront_api.StorefrontViewSet, basename="storefront")
router.register("orders", orders_api.OrderViewSet, basename="order")
router.register("entitlements", orders_api.EntitlementViewSet, basename="entitlement")
router.register("wallets", orders_api.WalletViewSet, basename="wallet")


def serve_media(request, path):
    """Uploads (re-encoded images) when no media server fronts us: DEBUG or SERVE_MEDIA=1."""
    if not settings.SERVE_MEDIA:
        raise Http404("Media is served by the web server.")
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("workspace/switch/", accounts_views.switch_workspace, name="switch-workspace"),
    path("projects/", accounts_views.project_list, name="project-list"),
    path("projects/new/", accounts_views.project_create, name="project-create"),
    path("market/", include("assets.storefront_urls")),  # 云市场
    # market/<code>/buy/, orders/ (订单管理), purchased/ (已购资产), provider/sales/ (出售管理),
    # wallet/
    path("", include("orders.urls")),
    path("provider/assets/", include("assets.urls")),
    path("", include("approvals.urls")),  # approvals/ (审批) and notifications/
    path("operators/", include("provisioning.urls")),
    path("catalog/", include("provisioning.catalog_urls")),  # 平台服务目录
    path("", include("clusters.urls")),
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
    re_path(r"^media/(?P<path>.*)$", serve_media),
]

handler404 = "marketplace.views.page_not_found"
handler500 = "marketplace.views.server_error"

"""The root URLs: one prefix per app (each include has its app_name), the API, health."""

import mimetypes

from csp.constants import NONCE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, Http404
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import DefaultRouter

from accounts import api as accounts_api
from approvals import api as approvals_api
from assets import api as assets_api
from assets.storefront import api as storefront_api
from clusters import api as clusters_api
from core.storage import open_upload
from instances import api as instances_api
from orders import api as orders_api
from provisioning import api as provisioning_api

from . import health, metrics, views

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
router.register("instances", instances_api.OperandInstanceViewSet, basename="operandinstance")
router.register("service-catalog", instances_api.ServiceCatalogViewSet, basename="servicecatalog")
router.register(
    "approval-requests", approvals_api.ApprovalRequestViewSet, basename="approvalrequest"
)
router.register("notifications", accounts_api.NotificationViewSet, basename="notification")
router.register("storefront", storefront_api.StorefrontViewSet, basename="storefront")
router.register("orders", orders_api.OrderViewSet, basename="order")
router.register("entitlements", orders_api.EntitlementViewSet, basename="entitlement")
router.register("wallets", orders_api.WalletViewSet, basename="wallet")


def serve_media(request, path):
    """Uploads (re-encoded images) when no media server fronts us: DEBUG or SERVE_MEDIA=1."""
    if not settings.SERVE_MEDIA:
        raise Http404("Media is served by the web server.")
    if isinstance(default_storage, FileSystemStorage):
        return serve(request, path, document_root=settings.MEDIA_ROOT)
    # Object storage (STORAGE_BACKEND=s3): streamed from the bucket, whichever replica
    # took the upload. Names are ours (upload_to), so one with `..` or a leading slash is
    # no upload.
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise Http404("No such upload.")
    upload = open_upload(path)
    if upload is None:
        raise Http404("No such upload.")
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(upload, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


# The API docs pages relax the Content-Security-Policy for themselves only, never for script:
# Swagger UI (its init script a file: the split view) draws icons from data: URLs and has
# a few page rules under a nonce. There is no ReDoc page: its bundle always loads Redocly's
# logo from their CDN (a third-party image the policy refuses, and air-gapped installs cannot
# reach), and Swagger UI documents the same schema.
api_docs = csp_update({"style-src": [NONCE], "img-src": ["data:"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

urlpatterns = [
    path("", views.home, name="home"),
    # Shadows accounts:login (same path, so reverse() still works): in DEBUG this one names
    # the demo logins, which only the project knows (marketplace.demo).
    path("accounts/login/", views.LoginView.as_view()),
    path("accounts/", include("accounts.urls")),
    path("market/", include("assets.storefront.urls")),  # 云市场
    path("provider/assets/", include("assets.urls")),  # 资产管理
    path("approvals/", include("approvals.urls")),  # 审批
    path("orders/", include("orders.urls")),  # 订单管理, 已购资产, 出售管理, wallet
    path("operators/", include("provisioning.urls")),  # Operator 应用
    path("instances/", include("instances.urls")),  # Operator 实例, 平台服务目录
    path("clusters/", include("clusters.urls")),  # 集群, CatalogSources
    path("i18n/", include("django.conf.urls.i18n")),
    # Browsers ask for /favicon.ico whatever the page links; and /catalog/ is where people look
    # for the service catalog (平台服务目录).
    path("favicon.ico", views.favicon),
    path("catalog/", RedirectView.as_view(pattern_name="instances:service-catalog")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/v1/", include((router.urls, "api"))),
    path("api/v1/me/", accounts_api.MeView.as_view(), name="api-me"),
    path("api/v1/auth/token/", accounts_api.ObtainTokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("django-admin/", admin.site.urls),
    re_path(r"^media/(?P<path>.*)$", serve_media),
]

handler404 = "marketplace.views.page_not_found"
handler500 = "marketplace.views.server_error"

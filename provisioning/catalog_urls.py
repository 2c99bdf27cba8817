"""平台服务目录 (service catalog) URLs, mounted at /catalog/."""

from django.urls import path

from . import instance_views as views

urlpatterns = [
    path("memcached/", views.catalog_index, name="service-catalog"),
    path("memcached/<str:asset_code>/", views.catalog_create, name="service-catalog-create"),
    path(
        "memcached/progress/<int:instance_id>/",
        views.catalog_progress,
        name="service-catalog-progress",
    ),
]

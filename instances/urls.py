"""Operand instances (实例) and the service catalog (平台服务目录), under /instances/."""

from django.urls import path

from . import views

app_name = "instances"

urlpatterns = [
    path("", views.instance_list, name="instance-list"),
    path("<int:instance_id>/", views.instance_detail, name="instance-detail"),
    path("<int:instance_id>/edit/", views.instance_edit, name="instance-edit"),
    path("<int:instance_id>/scale/", views.instance_scale, name="instance-scale"),
    path("<int:instance_id>/delete/", views.instance_delete, name="instance-delete"),
    path("<int:instance_id>/access/change/", views.instance_access, name="instance-access"),
    path("<int:instance_id>/verify/", views.instance_verify, name="instance-verify"),
    path("<int:instance_id>/logs/fetch/", views.instance_logs, name="instance-logs"),
    path(
        "<int:instance_id>/rollout/delete-stuck-pods/",
        views.instance_delete_stuck_pods,
        name="instance-delete-stuck-pods",
    ),
    # Only the known tabs: an unknown one is the friendly 404, not the overview.
    path("<int:instance_id>/<instance_tab:tab>/", views.instance_detail, name="instance-tab"),
    path("new/<int:installation_id>/", views.instance_create, name="instance-create"),
    path("new/<int:installation_id>/sync/", views.operand_sync, name="instance-create-sync"),
    path("<int:instance_id>/edit/sync/", views.operand_sync, name="instance-edit-sync"),
    path(
        "of-installation/<int:installation_id>/",
        views.installation_instances,
        name="installation-instances",
    ),
    path("catalog/memcached/", views.catalog_index, name="service-catalog"),
    path(
        "catalog/memcached/<asset_code:asset_code>/",
        views.catalog_create,
        name="service-catalog-create",
    ),
    path(
        "catalog/memcached/progress/<int:instance_id>/",
        views.catalog_progress,
        name="service-catalog-progress",
    ),
]

"""URLs of operand instances, under /operators/ (instances) and /catalog/ (service catalog)."""

from django.urls import path

from . import instance_views as views

urlpatterns = [
    path("instances/", views.instance_list, name="instance-list"),
    path("instances/<int:instance_id>/", views.instance_detail, name="instance-detail"),
    path("instances/<int:instance_id>/edit/", views.instance_edit, name="instance-edit"),
    path("instances/<int:instance_id>/scale/", views.instance_scale, name="instance-scale"),
    path("instances/<int:instance_id>/delete/", views.instance_delete, name="instance-delete"),
    path(
        "instances/<int:instance_id>/access/change/", views.instance_access, name="instance-access"
    ),
    path("instances/<int:instance_id>/verify/", views.instance_verify, name="instance-verify"),
    path("instances/<int:instance_id>/logs/fetch/", views.instance_logs, name="instance-logs"),
    path("instances/<int:instance_id>/<str:tab>/", views.instance_detail, name="instance-tab"),
    path(
        "<int:installation_id>/instances/new/",
        views.instance_create,
        name="instance-create",
    ),
    path(
        "<int:installation_id>/instances/list/",
        views.installation_instances,
        name="installation-instances",
    ),
]

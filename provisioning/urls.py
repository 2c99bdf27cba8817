"""容器应用 → Operator 应用: installed operators, under /operators/."""

from django.urls import path

from . import views

app_name = "provisioning"

urlpatterns = [
    path("", views.installation_list, name="installed-operators"),
    path("cluster-wide/", views.cluster_wide, name="cluster-wide"),
    path("install/<asset_code:asset_code>/", views.installation_create, name="installation-create"),
    path("<int:installation_id>/", views.installation_detail, name="installation-detail"),
    path("<int:installation_id>/retry/", views.installation_retry, name="installation-retry"),
    path("<int:installation_id>/approve/", views.installation_approve, name="installation-approve"),
    path(
        "<int:installation_id>/subscription/change/",
        views.installation_subscription,
        name="installation-subscription",
    ),
    path(
        "<int:installation_id>/uninstall/",
        views.installation_uninstall,
        name="installation-uninstall",
    ),
    # Only the known tabs: an unknown one is the friendly 404, not the details tab.
    path(
        "<int:installation_id>/<installation_tab:tab>/",
        views.installation_detail,
        name="installation-tab",
    ),
]

"""The provider portal (资产管理), under /provider/assets/."""

from django.urls import path

from . import views

app_name = "assets"

urlpatterns = [
    path("", views.asset_list, name="provider-assets"),
    path("new/", views.asset_create, name="asset-create"),
    path("kept/<str:token>/", views.kept_upload, name="kept-upload"),
    path("markdown/preview/", views.markdown_preview, name="markdown-preview"),
    path("markdown/upload/", views.markdown_upload, name="markdown-upload"),
    path("<asset_code:code>/", views.asset_versions, name="asset-detail"),
    path("<asset_code:code>/info/", views.asset_info, name="asset-info"),
    path("<asset_code:code>/edit/", views.asset_edit, name="asset-edit"),
    path("<asset_code:code>/screenshots/", views.screenshot_add, name="screenshot-add"),
    path(
        "<asset_code:code>/screenshots/<int:screenshot_id>/delete/",
        views.screenshot_delete,
        name="screenshot-delete",
    ),
    path(
        "<asset_code:code>/screenshots/held/<slug:key>/undo/",
        views.screenshot_undo,
        name="screenshot-undo",
    ),
    path("<asset_code:code>/plans/", views.asset_plans, name="asset-plans"),
    path("<asset_code:code>/plans/new/", views.plan_create, name="plan-create"),
    path("<asset_code:code>/plans/<int:plan_id>/edit/", views.plan_edit, name="plan-edit"),
    path("<asset_code:code>/plans/<int:plan_id>/archive/", views.plan_archive, name="plan-archive"),
    path("<asset_code:code>/plans/<int:plan_id>/restore/", views.plan_restore, name="plan-restore"),
    path("<asset_code:code>/plans/<int:plan_id>/delete/", views.plan_delete, name="plan-delete"),
    path("<asset_code:code>/users/", views.asset_users, name="asset-users"),
    path("<asset_code:code>/versions/new/", views.version_create, name="version-create"),
    path("<asset_code:code>/versions/fields/", views.version_fields, name="version-fields"),
    path(
        "<asset_code:code>/versions/<int:version_id>/edit/",
        views.version_edit,
        name="version-edit",
    ),
    path(
        "<asset_code:code>/versions/<int:version_id>/scans/",
        views.version_scans,
        name="version-scans",
    ),
    path(
        "<asset_code:code>/versions/<int:version_id>/delete/",
        views.version_delete,
        name="version-delete",
    ),
]

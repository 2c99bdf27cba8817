"""Clusters (集群) and the CatalogSources deployed on them, under /clusters/."""

from django.urls import path

from . import views

app_name = "clusters"

urlpatterns = [
    path("", views.cluster_list, name="clusters"),
    path("new/", views.cluster_create, name="cluster-create"),
    path("<int:cluster_id>/", views.cluster_detail, name="cluster-detail"),
    path("<int:cluster_id>/edit/", views.cluster_edit, name="cluster-edit"),
    path(
        "<int:cluster_id>/exits/<int:exit_id>/delete/",
        views.cluster_exit_delete,
        name="cluster-exit-delete",
    ),
    path("<int:cluster_id>/delete/", views.cluster_delete, name="cluster-delete"),
    path("<int:cluster_id>/test/", views.cluster_test, name="cluster-test"),
    path("<int:cluster_id>/connection/", views.cluster_connection, name="cluster-connection"),
    path("catalog-sources/", views.catalog_list, name="catalog-list"),
    path("catalog-sources/new/", views.catalog_create, name="catalog-create"),
    path("catalog-sources/<int:catalog_id>/", views.catalog_detail, name="catalog-detail"),
    path("catalog-sources/<int:catalog_id>/delete/", views.catalog_delete, name="catalog-delete"),
    path(
        "catalog-sources/<int:catalog_id>/redeploy/",
        views.catalog_redeploy,
        name="catalog-redeploy",
    ),
]

"""The storefront (云市场), under /market/. Buying is an order: /orders/buy/<code>/."""

from django.urls import path

from . import views

app_name = "storefront"

urlpatterns = [
    path("", views.storefront, name="storefront"),
    path("<asset_code:code>/", views.storefront_asset, name="storefront-asset"),
    path(
        "<asset_code:code>/images/<int:image_id>/",
        views.image_findings,
        name="image-findings",
    ),
]

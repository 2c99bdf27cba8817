"""The storefront (云市场), mounted at market/. Buying lives in orders.urls (market/<code>/buy/)."""

from django.urls import path

from . import storefront
from . import urls as _portal_urls  # noqa: F401 - registers the asset_code converter

urlpatterns = [
    path("", storefront.storefront, name="storefront"),
    path("<asset_code:code>/", storefront.storefront_asset, name="storefront-asset"),
]

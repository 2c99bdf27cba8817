"""Buying and selling screens, mounted at the site root (like clusters.urls)."""

from django.urls import path

import assets.urls  # noqa: F401 - registers the asset_code converter

from . import views

urlpatterns = [
    path("market/<asset_code:code>/buy/", views.buy, name="buy"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<str:code>/", views.order_detail, name="order-detail"),
    path("orders/<str:code>/pay/", views.order_pay, name="order-pay"),
    path("orders/<str:code>/cancel/", views.order_cancel, name="order-cancel"),
    path("provider/sales/", views.sales, name="provider-sales"),
    path("purchased/", views.purchased, name="purchased-assets"),
    path("purchased/<int:entitlement_id>/renew/", views.renew, name="renew"),
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/top-up/", views.top_up, name="wallet-top-up"),
]

"""Buying and selling, under /orders/: buy (购买), 订单管理, 出售管理, 已购资产, the wallet."""

from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="orders"),
    path("buy/<asset_code:code>/", views.buy, name="buy"),
    path("sales/", views.sales, name="provider-sales"),
    path("purchased/", views.purchased, name="purchased-assets"),
    path("purchased/<int:entitlement_id>/renew/", views.renew, name="renew"),
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/top-up/", views.top_up, name="wallet-top-up"),
    path("<order_code:code>/", views.order_detail, name="order-detail"),
    path("<order_code:code>/pay/", views.order_pay, name="order-pay"),
    path("<order_code:code>/cancel/", views.order_cancel, name="order-cancel"),
]

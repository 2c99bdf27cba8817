from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders, wallets and purchased assets")

    def ready(self):
        from django.db.models.signals import post_save

        from accounts.models import Tenant
        from assets.signals import asset_buyer_counts, plan_usage

        from . import converters
        from .receivers import buyer_counts, open_wallet, plan_is_ordered

        plan_usage.connect(plan_is_ordered, dispatch_uid="orders.plan_is_ordered")
        asset_buyer_counts.connect(buyer_counts, dispatch_uid="orders.buyer_counts")
        post_save.connect(open_wallet, sender=Tenant, dispatch_uid="orders.open_wallet")
        converters.register()

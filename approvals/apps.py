from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        from assets.signals import revision_discarded, revision_locking, revision_submitted

        from . import receivers

        revision_submitted.connect(receivers.revision_submitted, dispatch_uid="approvals.revision")
        revision_locking.connect(receivers.revision_locking, dispatch_uid="approvals.revision")
        revision_discarded.connect(receivers.revision_discarded, dispatch_uid="approvals.revision")

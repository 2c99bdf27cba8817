"""Stable error codes of the provisioning app (the API's `code`)."""

from core.errors import ErrorCode


class ProvisioningErrorCode(ErrorCode):
    PROJECT_NOT_OURS = "project_not_ours"
    CLUSTER_NOT_OPEN = "cluster_not_open"
    CHANNEL_UNKNOWN = "channel_unknown"
    APPROVAL_UNKNOWN = "approval_unknown"
    VERSION_NOT_ON_SALE = "version_not_on_sale"
    ENTITLEMENT_EXPIRED = "entitlement_expired"
    ALREADY_INSTALLED = "already_installed"
    INSTALL_IN_PROGRESS = "install_in_progress"
    NOT_FAILED = "not_failed"
    NOTHING_TO_APPROVE = "nothing_to_approve"
    UNINSTALLING = "uninstalling"
    INSTANCES_RUNNING = "instances_running"
    ORDER_NOT_INSTALLABLE = "order_not_installable"
    INSTALL_MODE_UNSUPPORTED = "install_mode_unsupported"
    # A project's use of a cluster-wide operator: the platform manages its Subscription.
    MANAGED_CLUSTER_WIDE = "managed_cluster_wide"
    # A cluster-wide operator still used by projects cannot be uninstalled.
    STILL_USED = "still_used"

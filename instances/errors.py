"""Stable error codes of the instances app (the API's `code`)."""

from core.errors import ErrorCode


class InstancesErrorCode(ErrorCode):
    ENTITLEMENT_EXPIRED = "entitlement_expired"
    NO_ENTITLEMENT = "no_entitlement"
    INVALID_MANIFEST = "invalid_manifest"
    UNKNOWN_KIND = "unknown_kind"
    CLUSTER_SCOPED = "cluster_scoped"
    UNKNOWN_VERSION = "unknown_version"
    NAME_TAKEN = "name_taken"
    NAME_FIXED = "name_fixed"
    OPERATOR_NOT_INSTALLED = "operator_not_installed"
    NOT_MANAGEABLE = "not_manageable"
    NOT_SCALABLE = "not_scalable"
    NO_EXTERNAL_ACCESS = "no_external_access"
    NOT_VERIFIABLE = "not_verifiable"
    UNKNOWN_POD = "unknown_pod"
    UNKNOWN_CONTAINER = "unknown_container"
    TAIL_OUT_OF_RANGE = "tail_out_of_range"
    NO_INSTALLABLE_VERSION = "no_installable_version"
    PROJECT_NOT_OURS = "project_not_ours"
    CLUSTER_NOT_OPEN = "cluster_not_open"
    FOREIGN_OPERATOR = "foreign_operator"
    UNKNOWN_RANGE = "unknown_range"
    NO_LOGS_YET = "no_logs_yet"
    UNKNOWN_ASSET = "unknown_asset"

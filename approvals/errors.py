"""Stable error codes of the approvals app (the API's `code`)."""

from core.errors import ErrorCode


class ApprovalsErrorCode(ErrorCode):
    # Submitting (申请上架 / 申请下架)
    UNKNOWN_KIND = "unknown_kind"
    NOT_READY = "not_ready"
    INVALID_STATE = "invalid_state"
    DUPLICATE = "duplicate"
    # Deciding (通过 / 拒绝) and withdrawing (撤回)
    ALREADY_DECIDED = "already_decided"
    ALREADY_WITHDRAWN = "already_withdrawn"
    REASON_REQUIRED = "reason_required"
    SELF_APPROVAL = "self_approval"
    # LISTING_MAX_SEVERITY: an image of the version has a finding above it
    SCAN_ABOVE_MAX_SEVERITY = "scan_above_max_severity"

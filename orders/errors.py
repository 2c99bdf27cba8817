"""Stable error codes of the orders app (the API's `code`): why a purchase, a payment, a
cancellation or a top-up was refused."""

from core.errors import ErrorCode


class OrdersErrorCode(ErrorCode):
    # Placing an order (新购) or a renewal (续费).
    PROJECT_REQUIRED = "project_required"
    PROJECT_NOT_YOURS = "project_not_yours"
    NOT_ON_SALE = "not_on_sale"
    OWN_ASSET = "own_asset"
    PLAN_ARCHIVED = "plan_archived"
    PLAN_OF_ANOTHER_ASSET = "plan_of_another_asset"
    NO_CLUSTER = "no_cluster"
    CLUSTER_NOT_OPEN = "cluster_not_open"
    CHANNEL_INVALID = "channel_invalid"
    NOT_INSTALLABLE_IN_PROJECT = "not_installable_in_project"
    APPROVAL_INVALID = "approval_invalid"
    ALREADY_HELD = "already_held"
    # Idempotency keys.
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    IDEMPOTENCY_KEY_TOO_LONG = "idempotency_key_too_long"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    # Paying (支付) and cancelling (取消).
    INSUFFICIENT_BALANCE = "insufficient_balance"
    ALREADY_PAID = "already_paid"
    NOT_PAYABLE = "not_payable"
    DEADLINE_PASSED = "deadline_passed"
    NOT_CANCELLABLE = "not_cancellable"
    TARGET_FIXED = "target_fixed"  # 继续支付 to another project: only a new purchase has one
    # Money and top-ups (充值).
    AMOUNT_INVALID = "amount_invalid"
    AMOUNT_PRECISION = "amount_precision"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    TOP_UP_LIMIT = "top_up_limit"
    BALANCE_LIMIT = "balance_limit"
    REASON_REQUIRED = "reason_required"
    REASON_TOO_LONG = "reason_too_long"
    # The API's `?tenant=` when the caller has several tenants and none is active.
    TENANT_REQUIRED = "tenant_required"

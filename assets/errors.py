"""Stable error codes of the assets app (the API's `code`): why a write was refused."""

from core.errors import ErrorCode


class AssetsErrorCode(ErrorCode):
    # Who may act
    NOT_A_PROVIDER = "not_a_provider"

    # Assets
    ASSET_INVALID = "asset_invalid"  # the model's own field checks (blank, choices, URLs…)
    ASSET_NAME_TAKEN = "asset_name_taken"
    ASSET_NOT_SAVED = "asset_not_saved"
    CATEGORY_REQUIRED = "category_required"
    LINK_URL_REQUIRED = "link_url_required"

    # Uploads (icons, screenshots); the values the image checks always used
    ICON_REQUIRED = "icon_required"
    IMAGE_REQUIRED = "image_required"
    TOO_MANY_SCREENSHOTS = "too_many_screenshots"
    FILE_TOO_LARGE = "file_too_large"
    EMPTY_FILE = "empty_file"
    DECOMPRESSION_BOMB = "decompression_bomb"
    NOT_AN_IMAGE = "not_an_image"
    DAMAGED_IMAGE = "damaged_image"
    BAD_ICON = "bad_icon"
    BAD_SCREENSHOT = "bad_screenshot"

    # Plans
    PLAN_INVALID = "plan_invalid"
    PRICE_NEGATIVE = "price_negative"
    PLAN_NAME_TAKEN = "plan_name_taken"
    PLAN_NAME_DUPLICATE = "plan_name_duplicate"
    PLAN_NOT_SAVED = "plan_not_saved"
    PLAN_ORDERED = "plan_ordered"

    # Versions
    NOT_AN_OPERATOR = "not_an_operator"
    VERSION_FIELD_REQUIRED = "version_field_required"
    PROJECT_NOT_OF_TENANT = "project_not_of_tenant"
    CLUSTER_NOT_OPEN = "cluster_not_open"
    CATALOG_NOT_OF_TENANT = "catalog_not_of_tenant"
    CATALOG_NOT_ON_CLUSTER = "catalog_not_on_cluster"
    CATALOG_NOT_READY = "catalog_not_ready"
    PACKAGE_NOT_FOUND = "package_not_found"
    CHANNEL_REQUIRED = "channel_required"
    CHANNEL_UNKNOWN = "channel_unknown"
    DEFAULT_CHANNEL_NOT_CHOSEN = "default_channel_not_chosen"
    CHANNEL_WITHOUT_CSV = "channel_without_csv"
    VERSION_NOT_EDITABLE = "version_not_editable"
    VERSION_NOT_DELETABLE = "version_not_deletable"
    VERSION_IN_USE = "version_in_use"
    INVALID_TRANSITION = "invalid_transition"

    # Image scan reports (Trivy JSON)
    SCAN_REPORT_INVALID = "scan_report_invalid"
    SCAN_REPORT_TOO_LARGE = "scan_report_too_large"
    SCAN_REPORT_NO_IMAGE = "scan_report_no_image"

    # Revisions of a listed asset (held for review)
    REVISION_CLOSED = "revision_closed"
    REVISION_NOT_APPLICABLE = "revision_not_applicable"

    # Categories
    CATEGORY_INVALID = "category_invalid"
    CATEGORY_SLUG_TAKEN = "category_slug_taken"
    CATEGORY_IN_USE = "category_in_use"

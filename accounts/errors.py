"""Stable error codes of the accounts app (the API's `code`)."""

from core.errors import ErrorCode


class AccountsErrorCode(ErrorCode):
    NOT_A_MEMBER = "not_a_member"
    NOT_AN_OWNER = "not_an_owner"
    NOT_PLATFORM_ADMIN = "not_platform_admin"
    NAMESPACE_RESERVED = "namespace_reserved"
    NAMESPACE_TAKEN = "namespace_taken"
    PROJECT_NAME_TAKEN = "project_name_taken"
    PROJECT_INVALID = "project_invalid"
    PROJECT_NOT_SAVED = "project_not_saved"
    NO_TENANT = "no_tenant"

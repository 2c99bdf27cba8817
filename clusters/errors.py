"""Stable error codes of the clusters app (the API's `code`): why a write was refused."""

from core.errors import ErrorCode


class ClustersErrorCode(ErrorCode):
    # Registering or editing a cluster.
    KUBECONFIG_MISSING = "kubeconfig_missing"
    KUBECONFIG_INVALID = "kubeconfig_invalid"
    KUBECONFIG_TOO_LARGE = "kubeconfig_too_large"
    KUBECONFIG_NOT_TEXT = "kubeconfig_not_text"
    TOKEN_MISSING = "token_missing"
    CA_BUNDLE_INVALID = "ca_bundle_invalid"
    API_URL_MISSING = "api_url_missing"
    API_URL_INVALID = "api_url_invalid"
    AUTH_METHOD_INVALID = "auth_method_invalid"
    CLUSTER_NAME_MISSING = "cluster_name_missing"
    CLUSTER_NAME_TAKEN = "cluster_name_taken"
    CATALOG_NAMESPACE_INVALID = "catalog_namespace_invalid"
    CATALOG_NOT_FAILED = "catalog_not_failed"
    CLUSTER_IN_USE = "cluster_in_use"
    EXIT_NAME_INVALID = "exit_name_invalid"
    EXIT_NAME_TAKEN = "exit_name_taken"
    EXIT_KIND_INVALID = "exit_kind_invalid"
    EXIT_ADDRESS_INVALID = "exit_address_invalid"
    EXIT_IN_USE = "exit_in_use"
    # Submitting or deleting a CatalogSource.
    NOT_A_PROVIDER = "not_a_provider"
    CATALOG_NAME_MISSING = "catalog_name_missing"
    CATALOG_NAME_INVALID = "catalog_name_invalid"
    CATALOG_NAME_TAKEN = "catalog_name_taken"
    DISPLAY_NAME_MISSING = "display_name_missing"
    IMAGE_INVALID = "image_invalid"
    CLUSTER_NOT_OPEN = "cluster_not_open"
    CATALOG_IN_USE = "catalog_in_use"
    # Submitting a CatalogSource as YAML (the seed's memcached.yaml).
    MANIFEST_MISSING = "manifest_missing"
    MANIFEST_TOO_LARGE = "manifest_too_large"
    MANIFEST_INVALID = "manifest_invalid"
    MANIFEST_NAMESPACE_NOT_YOURS = "manifest_namespace_not_yours"

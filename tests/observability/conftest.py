from tests.provisioning.conftest import (  # noqa: F401 - fixtures
    list_operator,
    on_sale_version,
    shopper,
)

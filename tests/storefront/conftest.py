from tests.orders.fixtures import (  # noqa: F401 - fixtures
    buyer,
    category,
    default_cluster,
    fund,
    make_listed_asset,
    mem1,
    other_buyer,
    place,
    provider,
)

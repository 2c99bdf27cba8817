"""Fixtures of the review queue: the asset tests' factories, plus a ready asset and admins."""

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from tests.assets.conftest import (  # noqa: F401  (fixtures reused from the provider portal)
    category,
    default_cluster,
    image_file,
    make_asset,
    make_catalog,
    make_version,
    other_provider,
    provider,
)
from tests.assets.factories import PLAN_100


@pytest.fixture
def ready_asset(provider, make_asset, image_file):  # noqa: F811
    """mem1 of zs-olm with a plan on sale and a screenshot: the checklist is complete."""
    return make_asset(provider, plans=[PLAN_100], screenshots=[image_file(264, 146)])


@pytest.fixture
def draft(ready_asset, make_version):  # noqa: F811
    return make_version(ready_asset)


@pytest.fixture
def admin(platform_admin):
    return platform_admin


@pytest.fixture
def second_admin(make_user):
    from accounts.models import User

    user = make_user("second-admin", email="second-admin@example.com")
    account_services.grant_platform_admin(user=user)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def submit():
    """`submit(version)` → a pending listing request by the version's tenant owner."""
    from accounts.models import User
    from approvals import services

    def do(version, kind="listing", reason="", actor=None):
        if actor is None:
            actor = User.objects.get(
                memberships__tenant_id=version.asset.tenant_id, memberships__role="owner"
            )
        return services.submit_request(actor=actor, version=version, kind=kind, reason=reason)

    return do


@pytest.fixture
def on_sale(draft, submit, admin):
    """The draft, listed: submitted and approved."""
    from approvals import services

    services.approve_request(actor=admin, approval=submit(draft))
    draft.refresh_from_db()
    return draft


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def provider_client(client, provider):  # noqa: F811
    client.force_login(provider.owner)
    client.tenant = provider
    return client


@pytest.fixture
def admin_api(admin):
    api = APIClient()
    api.force_authenticate(admin)
    api.user = admin
    return api


@pytest.fixture
def provider_api(provider):  # noqa: F811
    api = APIClient()
    api.force_authenticate(provider.owner)
    api.user = provider.owner
    return api

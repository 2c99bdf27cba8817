"""accounts.decorators.platform_admin_required: log in first, then platform admins only."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.translation import gettext_lazy

from accounts.decorators import platform_admin_required
from core.errors import NotPermitted


@platform_admin_required(gettext_lazy("Only platform administrators see the secret."))
def secret(request, pk):
    return HttpResponse(f"secret {pk}")


@platform_admin_required()
def plain(request):
    return HttpResponse("plain")


def _get(user, view=secret, **kwargs):
    request = RequestFactory().get("/secret/")
    request.user = user
    return view(request, **kwargs)


def test_anonymous_visitors_are_sent_to_log_in(db):
    response = _get(AnonymousUser(), pk=1)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_others_are_refused_with_the_given_message(make_user):
    with pytest.raises(NotPermitted) as caught:
        _get(make_user("bob"), pk=1)
    assert str(caught.value) == "Only platform administrators see the secret."
    assert caught.value.code == "not_platform_admin"
    with pytest.raises(NotPermitted, match="Only platform administrators may do this."):
        _get(make_user("carol"), view=plain)


def test_platform_admins_get_through(platform_admin):
    assert _get(platform_admin, pk=7).content == b"secret 7"
    assert secret.__name__ == "secret"  # wraps the view

"""View decorators of the pages: who may open a page at all."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase

from .guards import require_platform_admin

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


def platform_admin_required(message: _StrOrPromise | None = None) -> Callable[[_View], _View]:
    """`@platform_admin_required(_("Only platform administrators …"))`: anonymous visitors
    are sent to log in; signed-in people who are not platform admins get the 403 page with
    `message` (a lazy string is translated per request), else the guard's own message."""

    def decorator(view: _View) -> _View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            require_platform_admin(
                user=request.user, message=str(message) if message is not None else None
            )
            return view(request, *args, **kwargs)

        return cast(_View, login_required(wrapper))

    return decorator

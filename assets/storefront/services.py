"""Writes of the storefront (云市场): counting page views (浏览量).

A view is not an audited change of the asset (nobody's state moves, `updated_at` stays),
so this writes no audit row; it is one atomic UPDATE, so it needs no transaction of its own.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import F
from django.utils import timezone

from assets.models import Asset

# A visitor's session counts one view per asset per hour.
VIEW_WINDOW_SECONDS = 3600
VIEWED_SESSION_KEY = "storefront_viewed"


def count_view(*, session: SessionBase, asset: Asset) -> bool:
    """浏览量 + 1 unless this session saw the asset within the hour; True when counted.

    The session remembers what it saw, so reloading a page or switching its tabs does not
    inflate the count. An F() update, so concurrent visitors never lose a count;
    `updated_at` is untouched (a view is not an update of the asset).
    """
    now = timezone.now().timestamp()
    seen = {
        key: at
        for key, at in (session.get(VIEWED_SESSION_KEY) or {}).items()
        if now - at < VIEW_WINDOW_SECONDS
    }
    key = str(asset.pk)
    if key in seen:
        if seen != session.get(VIEWED_SESSION_KEY):
            session[VIEWED_SESSION_KEY] = seen
        return False
    Asset.objects.filter(pk=asset.pk).update(view_count=F("view_count") + 1)
    seen[key] = now
    session[VIEWED_SESSION_KEY] = seen
    asset.view_count = (asset.view_count or 0) + 1
    return True

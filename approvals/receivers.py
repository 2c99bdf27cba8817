"""The assets app's revision signals, answered in its transaction (no import upward)."""

from typing import Any

from accounts.models import User
from assets.models import AssetRevision

from . import services


def revision_submitted(sender: Any, revision: AssetRevision, actor: User, **kwargs: Any) -> None:
    services.open_revision_request(actor=actor, revision=revision)


def revision_locking(sender: Any, asset_id: int, **kwargs: Any) -> None:
    services.lock_pending_requests(asset_id=asset_id)


def revision_discarded(sender: Any, revision: AssetRevision, actor: User, **kwargs: Any) -> None:
    services.close_revision_request(actor=actor, revision=revision)

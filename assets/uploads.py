"""Kept uploads: a chosen icon or screenshot survives a submit that failed on other fields.

A browser cannot send a file input again, so after a failed submit the page would ask for
the images once more. Instead each upload that passed its image check is kept: its fresh
re-encoding (never the bytes as sent) goes to the default storage under `pending/`, named
by a random token that the page carries in a hidden field. The token means something only
in the session that kept it (another user's or an old session's token is ignored), for
KEPT_UPLOAD_TTL seconds; the next submit hands the kept file to the service, which checks
and re-encodes it again like any upload. Kept files go once used or replaced, and
`purge_kept_uploads` (a periodic task) removes what an abandoned form left behind.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.http import HttpRequest
from django.utils import timezone

from .images import CleanImage

PENDING_PREFIX = "pending"
SESSION_KEY = "assets.kept_uploads"
KEPT_UPLOAD_TTL = 6 * 3600


@dataclass(frozen=True)
class KeptUpload:
    token: str
    name: str  # in the default storage
    filename: str  # as the provider chose it, shown on the form


def _entries(request: HttpRequest) -> dict[str, dict[str, Any]]:
    entries = request.session.get(SESSION_KEY)
    return entries if isinstance(entries, dict) else {}


def keep(*, request: HttpRequest, clean: CleanImage, filename: str) -> KeptUpload:
    """Stores a checked image for the next submit of this session's form."""
    token = secrets.token_urlsafe(18)
    name = default_storage.save(
        f"{PENDING_PREFIX}/{request.user.pk}/{token}/{clean.content.name}", clean.content
    )
    now = time.time()
    entries = {  # expired tokens leave the session as new ones come
        key: entry
        for key, entry in _entries(request).items()
        if isinstance(entry, dict) and now - float(entry.get("at", 0)) <= KEPT_UPLOAD_TTL
    }
    entries[token] = {
        "name": name,
        "filename": filename[-200:],
        "user": request.user.pk,
        "at": now,
    }
    request.session[SESSION_KEY] = entries
    return KeptUpload(token=token, name=name, filename=filename[-200:])


def keep_checked(
    *, request: HttpRequest, upload: File, cleaner: Callable[[File], CleanImage]
) -> KeptUpload | None:
    """Keeps an upload if it passes its image check (`images.clean_icon`, …), else None."""
    try:
        clean = cleaner(upload)
    except ValidationError:
        return None
    return keep(request=request, clean=clean, filename=str(upload.name or clean.content.name))


def kept(*, request: HttpRequest, token: str | None) -> KeptUpload | None:
    """The kept upload a form's token names, if this session's user kept it and it is fresh."""
    entry = _entries(request).get(token or "")
    if (
        not isinstance(entry, dict)
        or entry.get("user") != request.user.pk
        or time.time() - float(entry.get("at", 0)) > KEPT_UPLOAD_TTL
        or not default_storage.exists(entry["name"])
    ):
        return None
    return KeptUpload(token=str(token), name=entry["name"], filename=entry["filename"])


def kept_list(*, request: HttpRequest, tokens: list[str]) -> list[KeptUpload]:
    found = [kept(request=request, token=token) for token in dict.fromkeys(tokens)]
    return [upload for upload in found if upload is not None]


def open_kept(upload: KeptUpload) -> File:
    """The kept file as an upload the services take (they check and re-encode it)."""
    return File(default_storage.open(upload.name, "rb"), name=upload.filename)


def discard(*, request: HttpRequest, uploads: list[KeptUpload]) -> None:
    """Used or replaced: the files and their tokens go."""
    entries = _entries(request)
    for upload in uploads:
        default_storage.delete(upload.name)
        entries.pop(upload.token, None)
    request.session[SESSION_KEY] = entries


def purge_kept_uploads(*, older_than: int = KEPT_UPLOAD_TTL) -> int:
    """Removes kept files older than `older_than` seconds (abandoned forms); how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    removed = 0
    try:
        users, _files = default_storage.listdir(PENDING_PREFIX)
    except (FileNotFoundError, NotImplementedError):
        return 0
    for user in users:
        tokens, _ = default_storage.listdir(f"{PENDING_PREFIX}/{user}")
        for token in tokens:
            _dirs, files = default_storage.listdir(f"{PENDING_PREFIX}/{user}/{token}")
            for filename in files:
                name = f"{PENDING_PREFIX}/{user}/{token}/{filename}"
                if default_storage.get_modified_time(name) < cutoff:
                    default_storage.delete(name)
                    removed += 1
    return removed

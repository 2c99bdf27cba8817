"""The one Idempotency-Key mechanism of every request that moves money.

Placing (with pay now), paying, renewing and topping up all go through here, so that a
retry is answered the same way whichever it is. A key belongs to who sends it — the
buyer tenant, or for a top-up the platform admin (no tenant acts there) — and to one
operation. With it is stored a fingerprint, a hash of the request's canonical body:
the same key with the same body is a retry and gets the first result; the same key
with another body is a client's mistake, refused (the API's 422) rather than guessed
at. The caller stores the key in the transaction that does the work, so a failed
attempt leaves none and its retry really tries again; the database's unique
constraint settles two attempts at once, and the loser reads the winner's key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import error_code, invalid

from .errors import OrdersErrorCode
from .models import IdempotencyKey, LedgerEntry, Order

MAX_LENGTH = 255
# The service's name of the key; over the API it is the `Idempotency-Key` header.
FIELD = "idempotency_key"


@dataclass(frozen=True)
class Scope:
    """Whose key, for which operation: exactly one of tenant_id and user_id is set."""

    action: str
    tenant_id: int | None = None
    user_id: int | None = None

    def lookup(self) -> dict[str, Any]:
        return {"action": self.action, "tenant_id": self.tenant_id, "user_id": self.user_id}


def clean_key(key: str | None, *, required: bool, required_message: str = "") -> str:
    """The stripped key ("" for none); none may exceed the column, some requests need one."""
    key = (key or "").strip()
    if not key:
        if required:
            raise invalid(
                required_message
                or _("A payment needs an idempotency key, so a retry never charges twice."),
                code=OrdersErrorCode.IDEMPOTENCY_KEY_REQUIRED,
                field=FIELD,
            )
        return ""
    if len(key) > MAX_LENGTH:
        raise invalid(
            _("An idempotency key has at most %(max)s characters.") % {"max": MAX_LENGTH},
            code=OrdersErrorCode.IDEMPOTENCY_KEY_TOO_LONG,
            field=FIELD,
        )
    return key


def fingerprint(*, action: str, body: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical body: JSON with sorted keys, no spaces; the caller passes
    the values already canonical (ids, amounts as their two-place strings)."""
    canonical = json.dumps(
        {"action": action, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_reused() -> ValidationError:
    return invalid(
        _("This idempotency key was already used for another request; use a new one."),
        code=OrdersErrorCode.IDEMPOTENCY_KEY_REUSED,
        field=FIELD,
    )


def is_key_reused(exc: Exception) -> bool:
    """The refusal of a key sent again with another body (the API answers it with 422)."""
    return error_code(exc) == OrdersErrorCode.IDEMPOTENCY_KEY_REUSED


def check(stored: IdempotencyKey, fingerprint: str) -> IdempotencyKey:
    """The stored key if it was stored for this very request; else the request is refused.

    A key stored before fingerprints were (empty) is taken as the same request, as then.
    """
    if stored.fingerprint and stored.fingerprint != fingerprint:
        raise key_reused()
    return stored


def find(*, scope: Scope, key: str, fingerprint: str) -> IdempotencyKey | None:
    """What the key answered first (None: nothing yet); another request's key is refused."""
    if not key:
        return None
    stored = (
        IdempotencyKey.objects.select_related("order", "ledger_entry")
        .filter(**scope.lookup(), key=key)
        .first()
    )
    return None if stored is None else check(stored, fingerprint)


def record(
    *,
    scope: Scope,
    key: str,
    fingerprint: str,
    actor: User | None,
    result: dict[str, Any],
    order: Order | None = None,
    ledger_entry: LedgerEntry | None = None,
) -> IdempotencyKey:
    """Store the first result, inside the caller's transaction. A twin that stored the
    same key first makes this an IntegrityError: the caller rolls back and calls `find`."""
    return IdempotencyKey.objects.create(
        **scope.lookup(),
        key=key,
        fingerprint=fingerprint,
        order=order,
        ledger_entry=ledger_entry,
        result=result,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )

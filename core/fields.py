"""Model fields of the kernel: a JSON value stored encrypted at rest."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.db import models

from . import crypto


class EncryptedJSONField(models.TextField):
    """A JSON value stored encrypted (Fernet token text); never readable in the database."""

    if TYPE_CHECKING:  # what django-stubs reads: the model attribute is the JSON value
        _pyi_private_set_type: Any
        _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None
        return json.loads(crypto.decrypt(value))

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, dict | list):
            return value
        return json.loads(crypto.decrypt(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return crypto.encrypt(json.dumps(value, sort_keys=True))

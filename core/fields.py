import json

from django.db import models

from . import crypto


class EncryptedJSONField(models.TextField):
    """A JSON value stored encrypted (Fernet token text); never readable in the database."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return None
        return json.loads(crypto.decrypt(value))

    def to_python(self, value):
        if value is None or isinstance(value, (dict, list)):
            return value
        return json.loads(crypto.decrypt(value))

    def get_prep_value(self, value):
        if value is None:
            return None
        return crypto.encrypt(json.dumps(value, sort_keys=True))

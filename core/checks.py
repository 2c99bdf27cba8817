from django.conf import settings
from django.core.checks import Error, register

from . import crypto


@register()
def field_encryption_keys(app_configs, **kwargs):
    """Production must bring its own keys; a missing one would lose every credential."""
    if settings.DEBUG:
        return []
    if not settings.FIELD_ENCRYPTION_KEYS:
        return [
            Error(
                "FIELD_ENCRYPTION_KEYS is not set.",
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="marketplace.E001",
            )
        ]
    try:
        crypto.fernet()
    except Exception as exc:  # the message says which key is wrong
        return [Error(str(exc), id="marketplace.E002")]
    return []

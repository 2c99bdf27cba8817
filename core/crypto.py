"""Field encryption at rest with a key list (MultiFernet): the first key encrypts,
every key decrypts, so keys rotate without touching SECRET_KEY."""

from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _development_key():
    """`make run` needs no setup: a key of its own, kept beside the SQLite file."""
    path = Path(settings.DATA_DIR) / "field-encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_text().strip()


def configured_keys():
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys and settings.DEBUG:
        keys = [_development_key()]
    return keys


@lru_cache(maxsize=4)
def _fernet(keys):
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a key that is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from exc


def fernet():
    keys = tuple(configured_keys())
    if not keys:
        raise ImproperlyConfigured("Set FIELD_ENCRYPTION_KEYS to encrypt credentials at rest.")
    return _fernet(keys)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


class DecryptionError(Exception):
    """The stored value was encrypted with a key that is no longer configured."""


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "Stored credentials cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt with the first key (after a new key was put first)."""
    return fernet().rotate(token.encode()).decode()

"""The key-encryption key (KEK): where it is kept and how it is loaded.

`SHUGU_SECRET_KEY` wins; else the home's ``secret.key`` (base64, mode 0600). During a rotation the
earlier keys are accepted for opening (never sealing): ``SHUGU_PREVIOUS_SECRET_KEYS`` and the
home's ``secret.key.previous``.
"""

from __future__ import annotations

from shugu.errors import NotFoundError
from shugu.i18n import N_
from shugu.keys.sealing import KeyEncryptionKey
from shugu.settings import Settings

__all__ = ["PREVIOUS_SECRET_FILE", "SECRET_FILE", "load_kek"]

SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret
PREVIOUS_SECRET_FILE = "secret.key.previous"  # noqa: S105 - a file name, not a secret


def load_kek(settings: Settings) -> KeyEncryptionKey:
    """The key-encryption key: `SHUGU_SECRET_KEY`, else the home's `secret.key`.

    Raises:
        NotFoundError: neither is there (the home was never initialised).
    """
    previous_file = settings.home / PREVIOUS_SECRET_FILE
    previous = [
        KeyEncryptionKey.from_text(k.get_secret_value()) for k in settings.previous_secret_keys
    ]
    if previous_file.exists():  # a rotation of the key file is under way
        lines = previous_file.read_text(encoding="ascii").split()
        previous += [KeyEncryptionKey.from_text(line) for line in lines]
    if settings.secret_key is not None:
        current = KeyEncryptionKey.from_text(settings.secret_key.get_secret_value())
        return current.with_previous(*previous)
    path = settings.home / SECRET_FILE
    if not path.exists():
        raise NotFoundError(
            N_("{home} is not a shugu home; run `shugu --home {home} init` first"),
            home=str(settings.home),
        )
    return KeyEncryptionKey.from_text(path.read_text(encoding="ascii")).with_previous(*previous)

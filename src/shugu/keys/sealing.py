"""Sealing secrets at rest under the key-encryption key (KEK).

A sealed blob is `version byte || 12-byte nonce || AES-256-GCM ciphertext+tag`. The AES key is
derived from the KEK with HKDF-SHA256 and a purpose label, and the purpose is bound as associated
data, so a blob sealed for one purpose ("hub-key:ca") cannot be opened as another.

>>> kek = KeyEncryptionKey(bytes(32))
>>> blob = kek.seal(b"secret", purpose="demo")
>>> kek.open(blob, purpose="demo")
b'secret'
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shugu.errors import InvalidInputError
from shugu.i18n import N_

_VERSION = 1
KEY_BYTES = 32


class KeyEncryptionKey:
    """The key under which shugu seals the secrets it stores. Its value is never shown."""

    __slots__ = ("_key", "_previous")

    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        for candidate in (key, *previous):
            if len(candidate) != KEY_BYTES:
                raise InvalidInputError(
                    N_("the secret key must be {expected} bytes, got {actual}"),
                    expected=KEY_BYTES,
                    actual=len(candidate),
                )
        self._key = key
        self._previous = tuple(k for k in previous if k != key)

    def __repr__(self) -> str:
        return "KeyEncryptionKey(<hidden>)"

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        """A fresh random key."""
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_text(cls, text: str) -> KeyEncryptionKey:
        """Parse the base64 form used in `SHUGU_SECRET_KEY` and the home's `secret.key`."""
        try:
            return cls(base64.b64decode(text.strip(), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError(N_("the secret key is not valid base64")) from exc

    def with_previous(self, *keys: KeyEncryptionKey) -> KeyEncryptionKey:
        """This key, also opening (never sealing) what `keys` sealed: the state during a
        rotation, until everything is sealed again under this key."""
        return KeyEncryptionKey(self._key, [*self._previous, *(k._key for k in keys)])

    @property
    def has_previous(self) -> bool:
        """Whether earlier keys are still accepted for opening."""
        return bool(self._previous)

    def same_key(self, other: KeyEncryptionKey) -> bool:
        """Whether `other` seals with the same key (compared in constant time)."""
        return hmac.compare_digest(self._key, other._key)

    def to_text(self) -> str:
        """The base64 form, for writing the key file once at `shugu init`."""
        return base64.b64encode(self._key).decode("ascii")

    def _aead(self, purpose: str, key: bytes | None = None) -> AESGCM:
        hkdf = HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=b"shugu-seal:" + purpose.encode())
        return AESGCM(hkdf.derive(self._key if key is None else key))

    def seal(self, plaintext: bytes, *, purpose: str) -> bytes:
        """Encrypt and authenticate `plaintext` for `purpose`."""
        nonce = os.urandom(12)
        sealed = self._aead(purpose).encrypt(nonce, plaintext, purpose.encode())
        return bytes([_VERSION]) + nonce + sealed

    def open(self, blob: bytes, *, purpose: str) -> bytes:
        """Decrypt a blob from `seal`.

        Raises:
            InvalidInputError: wrong key, wrong purpose, or a damaged blob.
        """
        if len(blob) < 1 + 12 + 16 or blob[0] != _VERSION:
            raise InvalidInputError(N_("a sealed secret is damaged or of an unknown format"))
        for key in (self._key, *self._previous):
            try:
                return self._aead(purpose, key).decrypt(blob[1:13], blob[13:], purpose.encode())
            except InvalidTag:
                continue
        raise InvalidInputError(
            N_("a sealed secret cannot be opened: wrong secret key, or the data was altered")
        )


def write_secret_file(path: Path, text: str) -> None:
    """Create `path` readable by its owner only and write `text`; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")

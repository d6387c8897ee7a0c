"""Per-holder pseudonymisation keys, stored sealed under the home's key-encryption key.

A `PseudonymKey` is 32 random bytes. The HMAC key that pseudonymisation uses is the key's
*text*: the unpadded base64url form of those bytes (43 ASCII characters), taken as UTF-8 bytes.
This is the form polars-hash accepts (`chash.hmac_sha256(key=<str>)`), and anyone can recompute a
pseudonym with a standard HMAC-SHA256 given that text::

    hmac.new(key.hmac_key().encode("utf-8"), value.encode("utf-8"), "sha256").hexdigest()

Keys never show their secret: `repr` and `str` give the holder and a key id, a one-way tag that
lets a report say which key was used. `KeyStore` keeps one key per holder in
`<folder>/<holder>.json`, sealed with `kek.seal(raw, purpose="pseudonym:<holder>")`, written with
mode 0600. A key is created at most once: the file is written to a private temporary name, flushed
to disk and then hard-linked into place, so two processes racing to create the same holder's key
both end up with the one that won.

>>> key = PseudonymKey(bytes(32), holder="clinic-a")
>>> key
PseudonymKey(holder='clinic-a', key_id='de0a677da5e35bf4')
>>> len(key.hmac_key())
43
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from shugu.errors import ConflictError, InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.keys import purposes
from shugu.keys.sealing import KeyEncryptionKey

__all__ = ["KEY_BYTES", "KeyStore", "PseudonymKey"]

KEY_BYTES = 32
_FORMAT = 1
_HOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_KEY_ID_LABEL = b"shugu:pseudonym-key-id"


def _text_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class PseudonymKey:
    """A secret for keyed pseudonyms (HMAC-SHA256). Its value is never shown.

    Args:
        secret: the 32 random bytes.
        holder: the holder the key belongs to (only for display and reports).
    """

    __slots__ = ("_secret", "holder")

    def __init__(self, secret: bytes, *, holder: str | None = None) -> None:
        if len(secret) != KEY_BYTES:
            raise InvalidInputError(
                N_("a pseudonym key must be {expected} bytes, got {actual}"),
                expected=KEY_BYTES,
                actual=len(secret),
            )
        self._secret = bytes(secret)
        self.holder = holder

    @classmethod
    def generate(cls, *, holder: str | None = None) -> PseudonymKey:
        """A fresh random key."""
        return cls(secrets.token_bytes(KEY_BYTES), holder=holder)

    @classmethod
    def from_text(cls, text: str, *, holder: str | None = None) -> PseudonymKey:
        """Parse the unpadded base64url text returned by `hmac_key()`."""
        cleaned = text.strip()
        try:
            raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError(N_("the pseudonym key is not valid base64url text")) from exc
        if _text_of(raw) != cleaned:
            raise InvalidInputError(N_("the pseudonym key is not valid base64url text"))
        return cls(raw, holder=holder)

    def hmac_key(self) -> str:
        """The HMAC key as text (unpadded base64url of the secret); its UTF-8 bytes key the HMAC.

        Handle with care: this *is* the secret.
        """
        return _text_of(self._secret)

    def derive(self, purpose: str) -> PseudonymKey:
        """A subkey for another use of the same holder's secret (e.g. date shifting).

        The subkey is HMAC-SHA256(secret, "shugu:" + purpose), so values computed with it reveal
        nothing about pseudonyms made with this key and vice versa.
        """
        raw = hmac.new(self._secret, b"shugu:" + purpose.encode("utf-8"), "sha256").digest()
        holder = f"{self.holder}/{purpose}" if self.holder else purpose
        return PseudonymKey(raw, holder=holder)

    @property
    def key_id(self) -> str:
        """A public 16-hex-digit tag of the key (one-way; safe to print and to record)."""
        return hmac.new(self._secret, _KEY_ID_LABEL, "sha256").hexdigest()[:16]

    def __repr__(self) -> str:
        return f"PseudonymKey(holder={self.holder!r}, key_id={self.key_id!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PseudonymKey):
            return NotImplemented
        return hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_key, (self._secret, self.holder))


def _rebuild_key(secret: bytes, holder: str | None) -> PseudonymKey:
    return PseudonymKey(secret, holder=holder)


class KeyStore:
    """One pseudonym key per holder, in one folder, sealed under one key-encryption key."""

    def __init__(self, folder: Path, kek: KeyEncryptionKey) -> None:
        self._folder = folder
        self._kek = kek

    def _path(self, holder: str) -> Path:
        if not _HOLDER.match(holder) or holder.endswith("."):
            raise InvalidInputError(
                N_(
                    "invalid key holder name {holder}: use letters, digits, '.', '_' or '-'"
                    " (at most 128, starting with a letter or digit)"
                ),
                holder=holder,
            )
        return self._folder / f"{holder}.json"

    def holders(self) -> list[str]:
        """The holders that have a key here, sorted."""
        if not self._folder.exists():
            return []
        return sorted(p.stem for p in self._folder.glob("*.json"))

    def get(self, holder: str) -> PseudonymKey:
        """Read and unseal the holder's key.

        Raises:
            NotFoundError: no key for that holder.
            InvalidInputError: the key file is damaged or sealed under another key.
        """
        path = self._path(holder)
        if not path.exists():
            raise NotFoundError(
                N_("no pseudonym key for holder {holder} in {folder}"),
                holder=holder,
                folder=str(self._folder),
            )
        return self._read(path, holder)

    def create(self, holder: str) -> PseudonymKey:
        """Create the holder's key; never replaces one.

        Raises:
            ConflictError: the holder already has a key here (replacing it would change every
                pseudonym the holder has published).
        """
        path = self._path(holder)
        key = PseudonymKey.generate(holder=holder)
        if path.exists() or not self._create(path, key, holder):
            raise ConflictError(
                N_("a pseudonym key for holder {holder} already exists in {folder}"),
                holder=holder,
                folder=str(self._folder),
            )
        return key

    def get_or_create(self, holder: str) -> PseudonymKey:
        """The holder's key, created (once, atomically) if it does not exist yet."""
        path = self._path(holder)
        if path.exists():
            return self._read(path, holder)
        key = PseudonymKey.generate(holder=holder)
        if self._create(path, key, holder):
            return key
        return self._read(path, holder)

    def _read(self, path: Path, holder: str) -> PseudonymKey:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            sealed = base64.b64decode(record["sealed_key"], validate=True)
            ok = record["format"] == _FORMAT and record["holder"] == holder
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(
                N_("the pseudonym key file {path} is damaged"), path=str(path)
            ) from exc
        if not ok:
            raise InvalidInputError(N_("the pseudonym key file {path} is damaged"), path=str(path))
        raw = self._kek.open(sealed, purpose=purposes.pseudonym(holder))
        return PseudonymKey(raw, holder=holder)

    def _create(self, path: Path, key: PseudonymKey, holder: str) -> bool:
        """Write `holder`'s `key` to `path` unless a key is already there; False if another won."""
        record = {
            "format": _FORMAT,
            "holder": holder,
            "key_id": key.key_id,
            "sealed_key": base64.b64encode(
                self._kek.seal(key._secret, purpose=purposes.pseudonym(holder))
            ).decode("ascii"),
        }
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self._folder / f".{holder}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            return _publish(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


def _publish(temporary: Path, path: Path) -> bool:
    """Move `temporary` to `path` only if `path` does not exist yet (atomic via a hard link)."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: rename (last writer wins on a race)
        if path.exists():
            return False
        temporary.replace(path)
    _sync_folder(path.parent)
    return True


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

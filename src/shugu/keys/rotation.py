"""Rotation of the key-encryption key (KEK): every sealed secret sealed again under a new key.

What is sealed under the KEK: the rows of `hub_keys` (the CA key, the ledger's log key, the PEP
secrets and client key), the CLI's identities (``identities/*.json``), the holders'
pseudonymisation keys (``keys/*.json``) and the PEP session keys the home fetched
(``pep-sessions/*.json``).

With the key in the home's ``secret.key`` (the default), `rotate` does it all:

1. open every sealed secret with the current key; if one does not open, stop: nothing changed;
2. keep the current key in ``secret.key.previous`` and install a new one in ``secret.key``;
   from here on the home opens what either key sealed (`KeyEncryptionKey.with_previous`);
3. seal the `hub_keys` rows again in one transaction, then each file by an atomic replace;
4. delete ``secret.key.previous``.

Interrupted anywhere, the home still opens everything, and running `rotate` again finishes the
same rotation (it does not start another). With the key in ``SHUGU_SECRET_KEY`` the operator sets
the new key there and the old one in ``SHUGU_PREVIOUS_SECRET_KEYS``; `rotate` then seals
everything under the new key, after which the old one can be dropped.

Stop the hub (`shugu up`) before rotating: a running hub keeps the old key in memory.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shugu.db import Database
from shugu.errors import InvalidInputError
from shugu.home import Home
from shugu.i18n import N_
from shugu.keys import load_kek
from shugu.keys.models import HubKeyRow
from shugu.keys.sealing import KeyEncryptionKey
from shugu.settings import Settings

__all__ = ["RotationReport", "purpose_of", "rotate"]

FIXED_PURPOSES = {
    "ca": "hub-key:ca",
    "log": "hub-key:log",
    "pep-client": "pep-client",
    "pep:system": "pep-system",
}


def purpose_of(name: str) -> str | None:
    """The sealing purpose of the `hub_keys` row `name` (None: not known to this version)."""
    if name in FIXED_PURPOSES:
        return FIXED_PURPOSES[name]
    if name.startswith("pep:"):
        return "pep-transcryptor:" + name.removeprefix("pep:")
    return None


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What a rotation sealed again."""

    hub_keys: int
    identities: int
    pseudonym_keys: int
    session_keys: int
    key_file_replaced: bool
    """True when the home's ``secret.key`` now holds a new key (False: the key is in the
    environment, and the operator changed it there)."""
    resumed: bool
    """True when it finished a rotation that had been interrupted."""


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    record: dict[str, Any]
    field: str
    purpose: str
    plaintext: bytes


def _refuse(what: str, exc: Exception) -> InvalidInputError:
    return InvalidInputError(
        N_("cannot open {what} with the secret key: {reason}; nothing was changed"),
        what=what,
        reason=str(exc),
    )


def _rows(db: Database, kek: KeyEncryptionKey) -> list[tuple[str, str, bytes]]:
    found = []
    with db.session() as session:
        for row in session.scalars(select(HubKeyRow).order_by(HubKeyRow.name)).all():
            if not row.sealed_private_key:  # a public record, e.g. a transcryptor's set-up point
                continue
            purpose = purpose_of(row.name)
            if purpose is None:
                raise InvalidInputError(
                    N_("hub key {name} is of an unknown kind; nothing was changed"),
                    name=row.name,
                )
            try:
                found.append((row.name, purpose, kek.open(row.sealed_private_key, purpose=purpose)))
            except InvalidInputError as exc:
                raise _refuse(f"hub key {row.name}", exc) from exc
    return found


def _files(
    folder: Path, field: str, purpose: Callable[[Path, dict[str, Any]], str], kek: KeyEncryptionKey
) -> list[_File]:
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            sealed = base64.b64decode(record[field], validate=True)
            what = purpose(path, record)
            found.append(_File(path, record, field, what, kek.open(sealed, purpose=what)))
        except (ValueError, KeyError, TypeError, InvalidInputError) as exc:
            raise _refuse(str(path), exc) from exc
    return found


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only."""
    temporary = path.with_name(f".{path.name}.rotating")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def _install_new_key(home: Home, kek: KeyEncryptionKey) -> KeyEncryptionKey:
    """Keep the current key as previous, put a new one in ``secret.key``; the key to seal with."""
    kept = home.previous_secret_file
    earlier = kept.read_text(encoding="ascii").split() if kept.exists() else []
    if kek.to_text() not in earlier:
        _write_private(kept, "\n".join([*earlier, kek.to_text()]) + "\n")
    new = KeyEncryptionKey.generate()
    _write_private(home.secret_file, new.to_text() + "\n")
    return new.with_previous(kek, *(KeyEncryptionKey.from_text(k) for k in earlier))


def rotate(settings: Settings) -> RotationReport:
    """Seal every secret of the home and its database again under a new key (see the module).

    Raises:
        NotFoundError: not a shugu home.
        InvalidInputError: a sealed secret does not open, or is of an unknown kind (nothing was
            changed).
        UnavailableError: the database cannot be reached.
    """
    home = Home(settings.home)
    kek = load_kek(settings)
    from_file = settings.secret_key is None
    kept = home.previous_secret_file
    db = Database.open(settings.resolved_database_url)
    try:
        rows = _rows(db, kek)
        identities = _files(home.identities, "sealed_private_key", _identity_purpose, kek)
        pseudonyms = _files(home.pseudonym_keys, "sealed_key", _pseudonym_purpose, kek)
        sessions = _files(home.pep_sessions, "sealed_secret_key", _session_purpose, kek)
        resumed = kept.exists() if from_file else kek.has_previous
        if from_file:
            earlier = kept.read_text(encoding="ascii").split() if kept.exists() else []
            installed = bool(earlier) and kek.to_text() not in earlier
            if not installed:
                kek = _install_new_key(home, kek)
        with db.session() as session:
            for name, purpose, plaintext in rows:
                row = session.get(HubKeyRow, name)
                assert row is not None
                row.sealed_private_key = kek.seal(plaintext, purpose=purpose)
        for item in (*identities, *pseudonyms, *sessions):
            sealed = kek.seal(item.plaintext, purpose=item.purpose)
            record = item.record | {item.field: base64.b64encode(sealed).decode("ascii")}
            _write_private(item.path, json.dumps(record, indent=2) + "\n")
        if from_file:
            kept.unlink(missing_ok=True)
    finally:
        db.dispose()
    return RotationReport(
        len(rows), len(identities), len(pseudonyms), len(sessions), from_file, resumed
    )


def _identity_purpose(path: Path, record: dict[str, Any]) -> str:
    return f"identity:{path.stem}"


def _pseudonym_purpose(path: Path, record: dict[str, Any]) -> str:
    return f"pseudonym:{record['holder']}"


def _session_purpose(path: Path, record: dict[str, Any]) -> str:
    return f"pep-session:{record['context']}"

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

What is sealed, and under which purpose, comes from one registry (`shugu.keys.purposes`): the
kinds of ``hub_keys`` rows and of sealed home files. A row of a kind it does not list stops the
rotation with nothing changed.

A running hub keeps the key in memory, so rotation takes the key lock (`shugu.keys.lock`)
exclusively and refuses while a hub or transcryptor on the same database holds it.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shugu.db import Database
from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.keys import store as key_store
from shugu.keys.kek import PREVIOUS_SECRET_FILE, SECRET_FILE, load_kek
from shugu.keys.lock import KeyLock
from shugu.keys.purposes import HOME_FILES, HomeFileKind, hub_key_purpose
from shugu.keys.sealing import KeyEncryptionKey
from shugu.settings import Settings

__all__ = ["RotationReport", "purpose_of", "rotate"]

purpose_of = hub_key_purpose
"""The sealing purpose of a ``hub_keys`` row (None: not known to this version)."""


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
        for row in key_store.sealed_rows(session):
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


def _files(home: Path, kind: HomeFileKind, kek: KeyEncryptionKey) -> list[_File]:
    found = []
    folder = home / kind.folder
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            sealed = base64.b64decode(record[kind.field], validate=True)
            what = kind.purpose(path, record)
            found.append(_File(path, record, kind.field, what, kek.open(sealed, purpose=what)))
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


def _install_new_key(home: Path, kek: KeyEncryptionKey) -> KeyEncryptionKey:
    """Keep the current key as previous, put a new one in ``secret.key``; the key to seal with."""
    kept = home / PREVIOUS_SECRET_FILE
    earlier = kept.read_text(encoding="ascii").split() if kept.exists() else []
    if kek.to_text() not in earlier:
        _write_private(kept, "\n".join([*earlier, kek.to_text()]) + "\n")
    new = KeyEncryptionKey.generate()
    _write_private(home / SECRET_FILE, new.to_text() + "\n")
    return new.with_previous(kek, *(KeyEncryptionKey.from_text(k) for k in earlier))


def rotate(settings: Settings) -> RotationReport:
    """Seal every secret of the home and its database again under a new key (see the module).

    Raises:
        NotFoundError: not a shugu home.
        InvalidInputError: a sealed secret does not open, or is of an unknown kind (nothing was
            changed).
        UnavailableError: the database cannot be reached.
    """
    home = settings.home
    kek = load_kek(settings)
    from_file = settings.secret_key is None
    kept = home / PREVIOUS_SECRET_FILE
    db = Database.open(settings.resolved_database_url)
    lock: KeyLock | None = None
    try:
        lock = KeyLock.exclusive(db)
        rows = _rows(db, kek)
        files = {kind.folder: _files(home, kind, kek) for kind in HOME_FILES}
        resumed = kept.exists() if from_file else kek.has_previous
        if from_file:
            earlier = kept.read_text(encoding="ascii").split() if kept.exists() else []
            installed = bool(earlier) and kek.to_text() not in earlier
            if not installed:
                kek = _install_new_key(home, kek)
        with db.session() as session:
            for name, _, plaintext in rows:
                key_store.reseal(session, kek, name, plaintext)
        for item in (item for found in files.values() for item in found):
            sealed = kek.seal(item.plaintext, purpose=item.purpose)
            record = item.record | {item.field: base64.b64encode(sealed).decode("ascii")}
            _write_private(item.path, json.dumps(record, indent=2) + "\n")
        if from_file:
            kept.unlink(missing_ok=True)
    finally:
        if lock is not None:
            lock.release()
        db.dispose()
    return RotationReport(
        len(rows),
        len(files["identities"]),
        len(files["keys"]),
        len(files["pep-sessions"]),
        from_file,
        resumed,
    )

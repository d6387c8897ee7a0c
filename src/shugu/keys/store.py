"""The ``hub_keys`` rows: the one place that reads and writes them.

Each row holds a secret sealed under the key-encryption key with the purpose the registry gives
for its name (`shugu.keys.purposes`), its public part, and for the CA its certificate. Callers
name the row; the purpose is never passed in, so every row is one that rotation knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.errors import ConflictError, InvalidInputError
from shugu.i18n import N_
from shugu.keys.models import HubKeyRow
from shugu.keys.purposes import hub_key_purpose
from shugu.keys.sealing import KeyEncryptionKey

__all__ = ["HubKey", "add_public", "add_secret", "get", "open_secret", "reseal", "sealed_rows"]


@dataclass(frozen=True, slots=True)
class HubKey:
    """A hub key opened: the secret, its public part and certificate (may be empty)."""

    name: str
    secret: bytes
    public_key: bytes
    certificate_pem: str
    created_at: datetime


def _purpose(name: str) -> str:
    purpose = hub_key_purpose(name)
    if purpose is None:
        raise InvalidInputError(N_("hub key {name} is of an unknown kind"), name=name)
    return purpose


def get(session: Session, name: str) -> HubKeyRow | None:
    """The row `name` as stored (its secret still sealed), or None."""
    return session.get(HubKeyRow, name)


def open_secret(session: Session, kek: KeyEncryptionKey, name: str) -> HubKey | None:
    """The key `name` with its secret opened, or None if there is no such row.

    Raises:
        InvalidInputError: the secret does not open (wrong key-encryption key, altered data).
    """
    row = session.get(HubKeyRow, name)
    if row is None:
        return None
    secret = kek.open(row.sealed_private_key, purpose=_purpose(name))
    return HubKey(name, secret, row.public_key, row.certificate_pem, row.created_at)


def add_secret(
    session: Session,
    kek: KeyEncryptionKey,
    name: str,
    secret: bytes,
    *,
    public_key: bytes,
    now: datetime,
    certificate_pem: str = "",
) -> None:
    """Add the row `name` with `secret` sealed for its registered purpose (the caller commits)."""
    sealed = kek.seal(secret, purpose=_purpose(name))
    session.add(
        HubKeyRow(
            name=name,
            sealed_private_key=sealed,
            public_key=public_key,
            certificate_pem=certificate_pem,
            created_at=now,
        )
    )


def add_public(session: Session, name: str, public_key: bytes, now: datetime) -> None:
    """Add a row holding only a public record (nothing sealed; see `PUBLIC_ROW_PREFIXES`)."""
    if hub_key_purpose(name) is not None:
        raise InvalidInputError(N_("hub key {name} must hold a sealed secret"), name=name)
    session.add(
        HubKeyRow(
            name=name,
            sealed_private_key=b"",
            public_key=public_key,
            certificate_pem="",
            created_at=now,
        )
    )


def sealed_rows(session: Session) -> Sequence[HubKeyRow]:
    """Every row that holds a sealed secret, by name."""
    rows = session.scalars(select(HubKeyRow).order_by(HubKeyRow.name)).all()
    return [row for row in rows if row.sealed_private_key]


def reseal(session: Session, kek: KeyEncryptionKey, name: str, secret: bytes) -> None:
    """Seal the secret of row `name` again under `kek` (key rotation; the caller commits)."""
    row = session.get(HubKeyRow, name)
    if row is None:
        raise ConflictError(
            N_("hub key {name} disappeared during the rotation; run it again"), name=name
        )
    row.sealed_private_key = kek.seal(secret, purpose=_purpose(name))

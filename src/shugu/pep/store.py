"""A transcryptor's secrets at rest: sealed under the key-encryption key in `hub_keys`.

One row per transcryptor, ``pep:<name>``: a 64-byte pseudonymisation secret, a 64-byte encryption
secret and a blinding factor bᵢ, sealed together with the purpose ``pep-transcryptor:<name>``;
the row's public part is bᵢ·G. The hub's service and a stand-alone transcryptor server
(`shugu.pep.server`) keep them the same way, each in its own database under its own key.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy.orm import Session

from shugu.clock import Clock
from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.keys import store as key_store
from shugu.keys.purposes import TRANSCRYPTOR_PREFIX as KEY_PREFIX
from shugu.keys.sealing import KeyEncryptionKey
from shugu.pep.distributed import SECRET_BYTES, Transcryptor
from shugu.pep.group import G, Scalar
from shugu.pep.keys import make_blinding_factor

__all__ = ["KEY_PREFIX", "TRANSCRYPTOR_NAME", "check_transcryptor_name", "load_or_create"]

TRANSCRYPTOR_NAME = re.compile(r"^[a-z][a-z0-9-]{0,27}$")
SEALED_SECRETS_BYTES = 2 * SECRET_BYTES + 32


def check_transcryptor_name(name: str) -> str:
    """`name` if it is a valid transcryptor name.

    Raises:
        InvalidInputError: not lower-case letters, digits and '-', starting with a letter, ≤ 28.
    """
    if not isinstance(name, str) or not TRANSCRYPTOR_NAME.fullmatch(name):
        raise InvalidInputError(
            N_("transcryptor name {name} must be lower-case letters, digits and '-', at most 28"),
            name=str(name),
        )
    return name


def load_or_create(
    session: Session, kek: KeyEncryptionKey, clock: Clock, name: str
) -> tuple[Transcryptor, bool]:
    """The transcryptor `name` of this database, created with fresh secrets if it has none.

    Returns the transcryptor and whether it was created now (the caller's transaction commits
    the new row; a concurrent creator makes that commit fail with a conflict).
    """
    found = key_store.open_secret(session, kek, KEY_PREFIX + check_transcryptor_name(name))
    if found is not None:
        return _unseal(name, found.secret), False
    pseudonymization, encryption = (
        secrets.token_bytes(SECRET_BYTES),
        secrets.token_bytes(SECRET_BYTES),
    )
    blinding = make_blinding_factor()
    secret = pseudonymization + encryption + blinding.to_bytes()
    public = (blinding * G).to_bytes()
    key_store.add_secret(
        session, kek, KEY_PREFIX + name, secret, public_key=public, now=clock.now()
    )
    return Transcryptor(name, pseudonymization, encryption, blinding), True


def _unseal(name: str, raw: bytes) -> Transcryptor:
    if len(raw) != SEALED_SECRETS_BYTES:
        raise InvalidInputError(N_("a sealed secret is damaged or of an unknown format"))
    blinding = Scalar(raw[2 * SECRET_BYTES :])
    return Transcryptor(name, raw[:SECRET_BYTES], raw[SECRET_BYTES : 2 * SECRET_BYTES], blinding)

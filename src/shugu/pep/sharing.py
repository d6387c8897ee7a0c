"""Session key shares sealed to the job that asked for them (RFC 9180 HPKE).

When transcryptors run as separate parties, the hub relays their session key shares to the job.
If it saw them in clear, the hub, which also holds x', could compute the session key. So the job
sends a fresh X25519 public key with its request, and every transcryptor seals its share to it
with HPKE (base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, from
`cryptography`). The HPKE ``info`` binds the share to its transcryptor and session context, so a
share cannot be replayed as another transcryptor's or another session's.

>>> recipient = RecipientKey.generate()
>>> from shugu.pep.group import G, GroupElement, Scalar
>>> share = SessionKeyShare("auditor", "study#run-1", Scalar.random())
>>> sealed = seal_share(share, recipient.public_bytes)
>>> recipient.open(sealed) == share
True
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.pep.distributed import SessionKeyShare
from shugu.pep.group import G, GroupElement, Scalar

__all__ = [
    "RecipientKey",
    "SealedShare",
    "open_session_key",
    "recipient_public_key",
    "seal_share",
]

RECIPIENT_KEY_BYTES = 32
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_INFO = b"shugu-pep-session-key-share-v1"


@dataclass(frozen=True, slots=True)
class SealedShare:
    """A transcryptor's share of a session key, readable only by the recipient key's holder."""

    transcryptor: str
    session: str
    sealed: bytes


def _info(transcryptor: str, session: str) -> bytes:
    return b"\x00".join((_INFO, transcryptor.encode(), session.encode()))


def recipient_public_key(raw: bytes) -> X25519PublicKey:
    """Parse a recipient's 32-byte X25519 public key.

    Raises:
        InvalidInputError: not 32 bytes.
    """
    if len(raw) != RECIPIENT_KEY_BYTES:
        raise InvalidInputError(
            N_("a recipient key must be {expected} bytes, got {actual}"),
            expected=RECIPIENT_KEY_BYTES,
            actual=len(raw),
        )
    return X25519PublicKey.from_public_bytes(raw)


def seal_share(share: SessionKeyShare, recipient: bytes) -> SealedShare:
    """Seal `share` to the X25519 public key `recipient` (32 bytes)."""
    sealed = _SUITE.encrypt(
        share.share.to_bytes(),
        recipient_public_key(recipient),
        info=_info(share.transcryptor, share.session),
    )
    return SealedShare(share.transcryptor, share.session, sealed)


class RecipientKey:
    """The job's one-time X25519 key pair for receiving sealed shares (never shown in its repr)."""

    __slots__ = ("_private",)

    def __init__(self, private: X25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def generate(cls) -> RecipientKey:
        """A fresh key pair."""
        return cls(X25519PrivateKey.generate())

    def __repr__(self) -> str:
        return "RecipientKey(<hidden>)"

    @property
    def public_bytes(self) -> bytes:
        """The 32-byte public key to send with a session key request."""
        return self._private.public_key().public_bytes_raw()

    def open(self, sealed: SealedShare) -> SessionKeyShare:
        """The share inside `sealed`.

        Raises:
            InvalidInputError: the share was not sealed to this key, for this transcryptor and
                session, or was altered.
        """
        try:
            raw = _SUITE.decrypt(
                sealed.sealed, self._private, info=_info(sealed.transcryptor, sealed.session)
            )
        except (InvalidTag, ValueError) as exc:
            raise InvalidInputError(
                N_(
                    "the sealed share of transcryptor {transcryptor} does not open with this "
                    "key for session {session}"
                ),
                transcryptor=sealed.transcryptor,
                session=sealed.session,
            ) from exc
        return SessionKeyShare(sealed.transcryptor, sealed.session, Scalar.from_bytes(raw))


def open_session_key(answer: Mapping[str, Any], recipient: RecipientKey) -> Scalar:
    """The session's secret key from the hub's answer to ``POST /v1/pep/session-key``: every
    sealed share opened with `recipient` and multiplied into the blinded global secret key, the
    result checked against the session's public key.

    Raises:
        InvalidInputError: a share is missing its seal or does not open, or the shares do not
            combine to the session's public key.
    """
    try:
        context = str(answer["context"])
        secret = Scalar.from_hex(answer["blinded_secret_key"])
        public = GroupElement.from_hex(answer["public_key"])
        shares = [(str(s["transcryptor"]), s.get("sealed")) for s in answer["shares"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(N_("the hub's session key answer is malformed")) from exc
    for transcryptor, sealed in shares:
        try:
            raw = base64.b64decode(str(sealed), validate=True) if sealed else b""
        except binascii.Error:
            raw = b""
        if not raw:
            raise InvalidInputError(
                N_("the hub sent the share of {transcryptor} unsealed"), transcryptor=transcryptor
            )
        secret = secret * recipient.open(SealedShare(transcryptor, context, raw)).share
    if secret * G != public:
        raise InvalidInputError(N_("the session key shares do not combine to the session key"))
    return secret

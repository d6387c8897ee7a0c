"""External events signed by their actor: the claim a participant signs before the hub logs it.

The signed message is ``shugu-ledger-event/v1\\n`` followed by the RFC 8785 form of
``{"actor", "created", "payload", "subjects", "type"}``; the entry keeps the signature, so anyone
can check later that the actor, and not the hub, said it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shugu.errors import AuthenticationError, InvalidInputError
from shugu.i18n import N_
from shugu.ledger.canonical import canonical_json
from shugu.ledger.models import EXTERNAL_PREFIX, Event

DOMAIN = b"shugu-ledger-event/v1\n"


def claim_message(
    actor: str, created: int, type_: str, subjects: Sequence[str], payload: Mapping[str, Any]
) -> bytes:
    """The bytes an actor signs for an external event."""
    claim = {
        "actor": actor,
        "created": created,
        "payload": dict(payload),
        "subjects": list(subjects),
        "type": type_,
    }
    return DOMAIN + canonical_json(claim)


def sign_claim(
    key: Ed25519PrivateKey,
    actor: str,
    created: int,
    type_: str,
    subjects: Sequence[str],
    payload: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON an actor sends to append one external event."""
    signature = key.sign(claim_message(actor, created, type_, subjects, payload))
    return {
        "type": type_,
        "subjects": list(subjects),
        "payload": dict(payload),
        "created": created,
        "signature": base64.b64encode(signature).decode(),
    }


def check_claim(
    actor: str, public_key: bytes, claim: Mapping[str, Any], *, now: int, window: int = 300
) -> Event:
    """Check one submitted external event and turn it into a ledger event.

    `created` must lie within `window` seconds of `now`: an actor cannot backdate a claim.

    Raises:
        InvalidInputError: the type is not under ``external.``, or a field is malformed.
        AuthenticationError: the signature is not the actor's, or `created` is outside the
            window (a stale claim, refused like a stale request signature).
    """
    type_ = claim.get("type")
    if not isinstance(type_, str) or not type_.startswith(EXTERNAL_PREFIX):
        raise InvalidInputError(
            N_("participants may record only external.* events, not {type}"), type=type_
        )
    subjects, payload, created = (
        claim.get("subjects", []),
        claim.get("payload", {}),
        claim.get("created"),
    )
    if (
        not isinstance(subjects, list)
        or not isinstance(payload, dict)
        or not isinstance(created, int)
    ):
        raise InvalidInputError(N_("an external event needs subjects, payload and created"))
    if abs(created - now) > window:
        raise AuthenticationError(
            N_("the event was signed at {created}, more than {window} s from the hub's time"),
            created=created,
            window=window,
        )
    try:
        signature = base64.b64decode(str(claim.get("signature", "")), validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, claim_message(actor, created, type_, subjects, payload)
        )
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise AuthenticationError(
            N_("the signature of the {type} event is not the actor's"), type=type_
        ) from exc
    evidence = {
        "kind": "event-signature",
        "created": created,
        "signature": base64.b64encode(signature).decode(),
    }
    return Event(type_, actor, tuple(subjects), payload, signature=evidence)


def verify_entry_claim(entry: Mapping[str, Any], public_key: bytes) -> bool:
    """Re-check the actor signature stored in an external entry."""
    signature = entry.get("signature") or {}
    try:
        raw = base64.b64decode(str(signature.get("signature", "")), validate=True)
        message = claim_message(
            str(entry["actor"]),
            int(signature["created"]),
            str(entry["type"]),
            entry.get("subjects", []),
            entry.get("payload", {}),
        )
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw, message)
    except (binascii.Error, ValueError, KeyError, TypeError, InvalidSignature):
        return False
    return True

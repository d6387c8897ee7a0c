"""Reading and re-verifying the signed HTTP request an entry keeps as its `evidence`.

The audit checks entries written over the life of a ledger, so it accepts every component list
shugu has signed with: ``"@method" "@path" "@query" "content-digest"`` (the first one) and the
same with ``"@authority"`` (the evidence then keeps `authority`). Parsing and verification are
`shugu.signing`'s (RFC 8941 structured fields, RFC 9421 signature bases); this module only
shapes the stored evidence for the audit.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shugu.errors import AuthenticationError
from shugu.signing import httpsig

__all__ = ["MalformedEvidenceError", "StoredRequest", "read_evidence"]

_FIELDS = ("method", "path", "query", "content_digest", "signature_input", "signature")
_KEY_BYTES = 32


class MalformedEvidenceError(ValueError):
    """The stored evidence is not a signed request shugu could have accepted."""


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A signed request kept as evidence, parsed."""

    method: str
    path: str
    query: str
    authority: str | None
    key_id: str
    components: tuple[str, ...]
    evidence: Mapping[str, Any]

    def self_key(self) -> bytes | None:
        """The key an applicant signed with, from its ``key:`` key id (else `None`)."""
        if not self.key_id.startswith(httpsig.SELF_KEY_PREFIX):
            return None
        text = self.key_id[len(httpsig.SELF_KEY_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        return raw if len(raw) == _KEY_BYTES and httpsig.self_key_id(raw) == self.key_id else None

    def verifies_with(self, public_key: bytes) -> bool:
        """Whether the signature verifies with the raw Ed25519 `public_key`."""
        try:
            httpsig.verify_evidence(self.evidence, Ed25519PublicKey.from_public_bytes(public_key))
        except (AuthenticationError, ValueError):
            return False
        return True


def read_evidence(evidence: Any) -> StoredRequest:
    """Parse stored `evidence` (``"kind": "http-signature"``).

    Raises:
        MalformedEvidenceError: a field is missing or malformed, or the components are not a
            list shugu signs with.
    """
    if not isinstance(evidence, Mapping) or evidence.get("kind") != "http-signature":
        raise MalformedEvidenceError("not http-signature evidence")
    if not all(isinstance(evidence.get(k), str) for k in _FIELDS):
        raise MalformedEvidenceError("a field of the evidence is missing")
    authority = evidence.get("authority")
    if authority is not None and not isinstance(authority, str):
        raise MalformedEvidenceError("the authority is not a string")
    try:
        parsed = httpsig.parse(evidence["signature_input"], evidence["signature"], legacy=True)
    except AuthenticationError as exc:
        raise MalformedEvidenceError(exc.render("en")) from exc
    if "@authority" in parsed.components and authority is None:
        raise MalformedEvidenceError("@authority is covered but not kept")
    return StoredRequest(
        method=evidence["method"],
        path=evidence["path"],
        query=evidence["query"],
        authority=authority,
        key_id=parsed.key_id,
        components=parsed.components,
        evidence=evidence,
    )

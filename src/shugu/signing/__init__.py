"""Request signing: RFC 9421 HTTP message signatures (sign, verify, content digest, covered
`@authority`), the acceptance policy and the replay guard, used by identity, the ledger's audit,
the transcryptor servers and, next, connectors."""

from __future__ import annotations

from shugu.signing.httpsig import self_key_id
from shugu.signing.models import NonceRow, SignedRequest
from shugu.signing.policy import SignaturePolicy
from shugu.signing.replay import ReplayGuard

__all__ = ["NonceRow", "ReplayGuard", "SignaturePolicy", "SignedRequest", "self_key_id"]

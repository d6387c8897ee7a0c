"""Request signing: RFC 9421 HTTP message signatures (sign, verify, content digest, covered
`@authority`) and the replay guard, used by identity, the ledger's audit, the transcryptor
servers and, next, connectors."""

from __future__ import annotations

from shugu.signing.httpsig import self_key_id

__all__ = ["self_key_id"]

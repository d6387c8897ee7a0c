"""Request signing: RFC 9421 HTTP message signatures (sign, verify, content digest, covered
`@authority`), the acceptance policy and the replay guard, used by identity, the ledger's audit,
the transcryptor servers and, next, connectors.

The names below load on first use, so that a client that only signs (the CLI) does not load the
database models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shugu.signing.httpsig import self_key_id as self_key_id
    from shugu.signing.models import NonceRow as NonceRow
    from shugu.signing.models import SignedRequest as SignedRequest
    from shugu.signing.policy import SignaturePolicy as SignaturePolicy
    from shugu.signing.replay import ReplayGuard as ReplayGuard

_WHERE = {
    "NonceRow": "models",
    "ReplayGuard": "replay",
    "SignaturePolicy": "policy",
    "SignedRequest": "models",
    "self_key_id": "httpsig",
}

__all__ = ["NonceRow", "ReplayGuard", "SignaturePolicy", "SignedRequest", "self_key_id"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"shugu.signing.{_WHERE[name]}"), name)
    raise AttributeError(name)

"""The audit ledger: an RFC 9162 Merkle log of every event, signed checkpoints, witnesses.

The names below load on first use, so that the pure parts (`merkle`, `note`, `canonical`) can be
imported without the database models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shugu.ledger.models import Entry as Entry
    from shugu.ledger.models import Event as Event
    from shugu.ledger.models import RequestEvidence as RequestEvidence
    from shugu.ledger.service import ConsistencyProof as ConsistencyProof
    from shugu.ledger.service import InclusionProof as InclusionProof
    from shugu.ledger.service import LedgerConfig as LedgerConfig
    from shugu.ledger.service import LedgerService as LedgerService
    from shugu.ledger.service import encode_event as encode_event
    from shugu.ledger.service import sha256_hex as sha256_hex

_WHERE = {
    "ConsistencyProof": "service",
    "Entry": "models",
    "Event": "models",
    "InclusionProof": "service",
    "LedgerConfig": "service",
    "LedgerService": "service",
    "RequestEvidence": "models",
    "encode_event": "service",
    "sha256_hex": "service",
}

__all__ = [
    "ConsistencyProof",
    "Entry",
    "Event",
    "InclusionProof",
    "LedgerConfig",
    "LedgerService",
    "RequestEvidence",
    "encode_event",
    "sha256_hex",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"shugu.ledger.{_WHERE[name]}"), name)
    raise AttributeError(name)

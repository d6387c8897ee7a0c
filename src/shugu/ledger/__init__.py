"""The audit ledger: an RFC 9162 Merkle log of every event, signed checkpoints, witnesses."""

from shugu.ledger.models import Entry, Event, RequestEvidence
from shugu.ledger.service import (
    ConsistencyProof,
    InclusionProof,
    LedgerConfig,
    LedgerService,
    encode_event,
    sha256_hex,
)

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

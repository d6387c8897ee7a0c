"""Ledger rows (entries, perfect nodes, state, checkpoints, cosignatures) and the event record."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime

if TYPE_CHECKING:
    from shugu.signing.models import SignedRequest

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,5}$")
EXTERNAL_PREFIX = "external."
MAX_ENTRY_BYTES = 64 * 1024


class EntryRow(Base):
    """One ledger entry: its canonical JSON (the leaf data) and columns to query by."""

    __tablename__ = "ledger_entries"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str | None] = mapped_column(String(26))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[str] = mapped_column(Text)


class NodeRow(Base):
    """A perfect node of the Merkle tree: level 0 are leaf hashes."""

    __tablename__ = "ledger_nodes"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy's declaration

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class StateRow(Base):
    """The single row holding the tree size and its right frontier (the sequencer's lock)."""

    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    origin: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckpointRow(Base):
    """A signed checkpoint of the tree at some size."""

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CosignatureRow(Base):
    """A witness's cosignature line on a checkpoint."""

    __tablename__ = "ledger_cosignatures"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class RequestEvidence:
    """The signed HTTP request that caused an event (enough to re-verify its signature)."""

    method: str
    path: str
    query: str
    content_digest: str
    signature_input: str
    signature: str
    authority: str = ""
    """The `@authority` the request was signed for; "" in evidence from before it was covered
    (such entries are stored without the field)."""

    @classmethod
    def of(cls, request: SignedRequest) -> RequestEvidence:
        """The evidence of an authenticated request."""
        return cls(
            method=request.method,
            path=request.path,
            query=request.query,
            content_digest=request.content_digest or "",
            signature_input=request.signature_input or "",
            signature=request.signature or "",
            authority=request.authority,
        )

    def as_json(self) -> dict[str, str]:
        """The JSON form stored in the entry."""
        fields = {
            "kind": "http-signature",
            "method": self.method,
            "authority": self.authority,
            "path": self.path,
            "query": self.query,
            "content_digest": self.content_digest,
            "signature_input": self.signature_input,
            "signature": self.signature,
        }
        if not self.authority:
            del fields["authority"]
        return fields


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, as the ledger records it. Identifiers and hashes only."""

    type: str
    actor: str | None
    subjects: tuple[str, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)
    evidence: RequestEvidence | None = None
    signature: Mapping[str, Any] | None = None
    """For external events: ``{"kind": "event-signature", "created": t, "signature": b64}``."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored entry: its index, leaf data and leaf hash."""

    index: int
    body: bytes
    leaf_hash: bytes

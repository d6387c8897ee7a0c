"""Signing rows and records: the nonces already accepted, and the parts of a signed request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime


class NonceRow(Base):
    """A signature nonce already accepted; a second request with it is a replay.

    The table predates this package (migration 0001 created it for identity); its name and
    columns are unchanged.
    """

    __tablename__ = "seen_nonces"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of an HTTP request that its signature covers, as the server received them."""

    method: str
    authority: str
    """The RFC 9421 §2.2.3 `@authority` the request was sent to (its Host, normalised)."""
    path: str
    query: str
    body: bytes
    signature_input: str | None
    signature: str | None
    content_digest: str | None

"""Identity rows (participants, certificates) and the views services return. The nonces of
signed requests are kept by `shugu.signing.models`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime

if TYPE_CHECKING:
    from shugu.ledger.models import RequestEvidence


class Role(enum.StrEnum):
    """What a participant may do in the space (ARCHITECTURE.md §1)."""

    OPERATOR = "operator"
    HOLDER = "holder"
    USER = "user"
    COMPUTE_PROVIDER = "compute_provider"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"
    TRUSTEE = "trustee"


class ParticipantStatus(enum.StrEnum):
    """Where a participant stands: applied → approved | rejected; approved → revoked."""

    APPLIED = "applied"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class ParticipantRow(Base):
    """A participant of the space and its signing key."""

    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(26))
    reason: Mapped[str | None] = mapped_column(Text)
    application_evidence: Mapped[str | None] = mapped_column(Text)
    """The signed request of the application (JSON of `RequestEvidence.as_json`), if it came
    over HTTP; the operator's decision entry carries it into the ledger."""


class CertificateRow(Base):
    """An X.509 certificate the hub CA issued to a participant."""

    __tablename__ = "certificates"
    __table_args__ = (Index("ix_certificates_participant", "participant_id", "not_after"),)

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    pem: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class Participant:
    """A participant as services return it (no SQLAlchemy attached)."""

    id: str
    name: str
    display_name: str
    roles: tuple[Role, ...]
    status: ParticipantStatus
    public_key: bytes
    created_at: datetime
    updated_at: datetime
    decided_by: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Certificate:
    """An issued certificate (PEM) and its validity."""

    serial: str
    participant_id: str
    pem: str
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    participant_id: str
    name: str
    roles: frozenset[Role]
    evidence: RequestEvidence | None = None
    """The signed request that authenticated the caller (recorded with the events it causes)."""

    def has_any(self, roles: frozenset[Role]) -> bool:
        """Whether the caller holds at least one of `roles`."""
        return bool(self.roles & roles)

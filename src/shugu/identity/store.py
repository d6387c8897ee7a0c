"""Queries of the identity domain. Every function takes the caller's session (its unit of work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shugu.identity.models import (
    CertificateRow,
    NonceRow,
    ParticipantRow,
    ParticipantStatus,
    Role,
)
from shugu.keys.models import HubKeyRow


def get_participant(session: Session, participant_id: str) -> ParticipantRow | None:
    """The participant with this id, if any."""
    return session.get(ParticipantRow, participant_id)


def get_participant_by_name(session: Session, name: str) -> ParticipantRow | None:
    """The participant with this unique name, if any."""
    return session.scalar(select(ParticipantRow).where(ParticipantRow.name == name))


def find_participant_by_key(session: Session, public_key: bytes) -> ParticipantRow | None:
    """The participant registered with this public key, if any."""
    return session.scalar(select(ParticipantRow).where(ParticipantRow.public_key == public_key))


def list_participants(
    session: Session,
    *,
    statuses: Sequence[ParticipantStatus],
    role: Role | None,
    after: str | None,
    limit: int,
) -> Sequence[ParticipantRow]:
    """Participants in id order after the cursor `after`, at most `limit` of them."""
    query = select(ParticipantRow).where(ParticipantRow.status.in_([s.value for s in statuses]))
    if role is not None:
        query = query.where(ParticipantRow.roles.like(f"%,{role.value},%"))
    if after is not None:
        query = query.where(ParticipantRow.id > after)
    return session.scalars(query.order_by(ParticipantRow.id).limit(limit)).all()


def count_operators(session: Session) -> int:
    """How many approved operators the space has."""
    query = select(ParticipantRow.id).where(
        ParticipantRow.status == ParticipantStatus.APPROVED.value,
        ParticipantRow.roles.like(f"%,{Role.OPERATOR.value},%"),
    )
    return len(session.scalars(query).all())


def current_certificate(
    session: Session, participant_id: str, now: datetime
) -> CertificateRow | None:
    """The newest unrevoked certificate of the participant that is valid at `now`."""
    query = (
        select(CertificateRow)
        .where(
            CertificateRow.participant_id == participant_id,
            CertificateRow.revoked_at.is_(None),
            CertificateRow.not_before <= now,
            CertificateRow.not_after > now,
        )
        .order_by(CertificateRow.not_after.desc())
        .limit(1)
    )
    return session.scalar(query)


def latest_certificate(session: Session, participant_id: str) -> CertificateRow | None:
    """The newest certificate of the participant, whatever its state."""
    query = (
        select(CertificateRow)
        .where(CertificateRow.participant_id == participant_id)
        .order_by(CertificateRow.not_after.desc())
        .limit(1)
    )
    return session.scalar(query)


def list_certificates(
    session: Session, participant_id: str, *, offset: int, limit: int
) -> Sequence[CertificateRow]:
    """A page of the participant's certificates, oldest first (by validity start, serial)."""
    query = (
        select(CertificateRow)
        .where(CertificateRow.participant_id == participant_id)
        .order_by(CertificateRow.not_before, CertificateRow.serial)
        .offset(offset)
        .limit(limit)
    )
    return session.scalars(query).all()


def revoke_certificates(session: Session, participant_id: str, now: datetime) -> int:
    """Mark every unrevoked certificate of the participant revoked at `now`; return how many."""
    rows = session.scalars(
        select(CertificateRow).where(
            CertificateRow.participant_id == participant_id, CertificateRow.revoked_at.is_(None)
        )
    ).all()
    for row in rows:
        row.revoked_at = now
    return len(rows)


def revoked_certificates(session: Session) -> Sequence[CertificateRow]:
    """Every revoked certificate, oldest revocation first."""
    query = select(CertificateRow).where(CertificateRow.revoked_at.is_not(None))
    return session.scalars(query.order_by(CertificateRow.revoked_at)).all()


def get_hub_key(session: Session, name: str) -> HubKeyRow | None:
    """The hub key stored under `name`, if any."""
    return session.get(HubKeyRow, name)


def remember_nonce(session: Session, key_id: str, nonce: str, expires_at: datetime) -> bool:
    """Record a signature nonce; return False when it was already recorded (a replay)."""
    values = {"key_id": key_id, "nonce": nonce, "expires_at": expires_at}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(NonceRow).values(**values).on_conflict_do_nothing()
    return session.execute(statement.returning(NonceRow.nonce)).first() is not None


def forget_expired_nonces(session: Session, now: datetime) -> None:
    """Delete nonces whose signatures could no longer be accepted anyway."""
    session.execute(delete(NonceRow).where(NonceRow.expires_at < now))

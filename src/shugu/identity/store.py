"""Queries of the identity domain. Every function takes the caller's session (its unit of work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shugu.identity.models import (
    CertificateRow,
    ParticipantRow,
    ParticipantStatus,
    Role,
)


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
    applied_since: datetime | None = None,
) -> Sequence[ParticipantRow]:
    """Participants in id order after the cursor `after`, at most `limit` of them; applications
    made before `applied_since` (expired ones) are left out."""
    query = select(ParticipantRow).where(ParticipantRow.status.in_([s.value for s in statuses]))
    if applied_since is not None:
        query = query.where(~_expired(applied_since))
    if role is not None:
        query = query.where(ParticipantRow.roles.like(f"%,{role.value},%"))
    if after is not None:
        query = query.where(ParticipantRow.id > after)
    return session.scalars(query.order_by(ParticipantRow.id).limit(limit)).all()


def _expired(applied_since: datetime) -> ColumnElement[bool]:
    return and_(
        ParticipantRow.status == ParticipantStatus.APPLIED.value,
        ParticipantRow.created_at < applied_since,
    )


def free_applications(
    session: Session, name: str, public_key: bytes, applied_since: datetime
) -> int:
    """Delete every expired application, and the rejected one holding `name` or `public_key`,
    so that both can be applied for again; return how many rows went.

    Neither has anything else pointing at it: an application gets a certificate only when it is
    approved, and its ledger entry (for a rejected one) does not depend on the row.
    """
    holds = or_(ParticipantRow.name == name, ParticipantRow.public_key == public_key)
    rejected = and_(ParticipantRow.status == ParticipantStatus.REJECTED.value, holds)
    result = session.execute(delete(ParticipantRow).where(or_(_expired(applied_since), rejected)))
    return int(getattr(result, "rowcount", 0) or 0)


def revocation_stamp(session: Session) -> tuple[int, datetime | None]:
    """How many certificates are revoked and the latest revocation time: changes whenever the
    revocation list does (certificates are never un-revoked or deleted)."""
    query = select(func.count(), func.max(CertificateRow.revoked_at)).where(
        CertificateRow.revoked_at.is_not(None)
    )
    count, latest = session.execute(query).one()
    return int(count), latest


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

"""Queries of the ledger. Every function takes the caller's session (its unit of work)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shugu.ledger.merkle import Node
from shugu.ledger.models import CheckpointRow, CosignatureRow, EntryRow, NodeRow, StateRow

STATE_ID = 1


def ensure_state(session: Session, origin: str, now: datetime) -> None:
    """Create the state row of an empty ledger if there is none (safe under concurrency)."""
    values = {"id": STATE_ID, "size": 0, "frontier": b"", "origin": origin, "updated_at": now}
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(make(StateRow).values(**values).on_conflict_do_nothing())


def lock_state(session: Session, now: datetime) -> StateRow:
    """Take the ledger's write lock (an update first, so SQLite takes its write lock at once) and
    return the state row, current as of the lock."""
    session.execute(update(StateRow).where(StateRow.id == STATE_ID).values(updated_at=now))
    row = session.scalar(
        select(StateRow).where(StateRow.id == STATE_ID).execution_options(populate_existing=True)
    )
    if row is None:
        raise LookupError("the ledger state row is missing; open the ledger first")
    return row


def read_state(session: Session) -> StateRow | None:
    """The state row without locking."""
    return session.get(StateRow, STATE_ID, populate_existing=True)


def insert_rows(
    session: Session, entries: list[dict[str, Any]], nodes: list[dict[str, Any]]
) -> None:
    """Insert entry and node rows in two multi-row statements."""
    if entries:
        session.execute(insert(EntryRow), entries)
    if nodes:
        session.execute(insert(NodeRow), nodes)


def get_nodes(session: Session, wanted: Sequence[Node]) -> dict[Node, bytes]:
    """The hashes of the wanted perfect nodes that exist, in one query."""
    if not wanted:
        return {}
    rows = session.execute(
        select(NodeRow.level, NodeRow.idx, NodeRow.hash).where(
            tuple_(NodeRow.level, NodeRow.idx).in_(list(wanted))
        )
    )
    return {(level, idx): digest for level, idx, digest in rows}


def get_entry(session: Session, index: int) -> EntryRow | None:
    """The entry at `index`, if any."""
    return session.get(EntryRow, index)


def entries_between(session: Session, start: int, end: int) -> Sequence[EntryRow]:
    """Entries with start <= index < end, in index order."""
    query = select(EntryRow).where(EntryRow.idx >= start, EntryRow.idx < end).order_by(EntryRow.idx)
    return session.scalars(query).all()


def export_rows(session: Session, start: int, end: int) -> Iterator[tuple[int, bytes | None, str]]:
    """(index, stored leaf hash, body) for start <= index < end, in index order."""
    query = (
        select(EntryRow.idx, NodeRow.hash, EntryRow.body)
        .outerjoin(NodeRow, (NodeRow.level == 0) & (NodeRow.idx == EntryRow.idx))
        .where(EntryRow.idx >= start, EntryRow.idx < end)
        .order_by(EntryRow.idx)
    )
    for idx, digest, body in session.execute(query):
        yield int(idx), digest, str(body)


def latest_checkpoint(session: Session) -> CheckpointRow | None:
    """The checkpoint of the largest size."""
    return session.scalar(select(CheckpointRow).order_by(CheckpointRow.size.desc()).limit(1))


def get_checkpoint(session: Session, size: int) -> CheckpointRow | None:
    """The checkpoint at exactly `size`, if one was made."""
    return session.get(CheckpointRow, size)


def checkpoints_after(session: Session, after: int, limit: int) -> Sequence[CheckpointRow]:
    """Checkpoints with size > after, smallest first."""
    query = select(CheckpointRow).where(CheckpointRow.size > after).order_by(CheckpointRow.size)
    return session.scalars(query.limit(limit)).all()


def cosignatures(session: Session, size: int) -> Sequence[CosignatureRow]:
    """The cosignature lines on the checkpoint of `size`, by witness id."""
    query = select(CosignatureRow).where(CosignatureRow.size == size)
    return session.scalars(query.order_by(CosignatureRow.witness_id)).all()


def latest_cosigned_size(session: Session) -> int | None:
    """The largest checkpoint size that carries at least one cosignature."""
    query = select(CosignatureRow.size).order_by(CosignatureRow.size.desc()).limit(1)
    return session.scalar(query)

"""Queries of the ledger. Every function takes the caller's session (its unit of work)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Select, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shugu.db import conflict_of, unavailable
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


ENTRY_COLUMNS = ("idx", "type", "actor", "time", "body")
NODE_COLUMNS = ("level", "idx", "hash")
EntryTuple = tuple[int, str, str | None, datetime, str]
"""An entry row in `ENTRY_COLUMNS` order."""
_SQLITE_ENTRIES = "INSERT INTO ledger_entries (idx, type, actor, time, body) VALUES (?, ?, ?, ?, ?)"
_SQLITE_NODES = "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)"


def insert_rows(
    session: Session, entries: Sequence[EntryTuple], nodes: Sequence[tuple[int, int, bytes]]
) -> None:
    """Insert entry and node rows as fast as each database allows: `COPY` on PostgreSQL, one
    prepared `executemany` per table on SQLite (timestamps in the text form SQLAlchemy reads)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy(connection, "ledger_entries", ENTRY_COLUMNS, entries)
        _copy(connection, "ledger_nodes", NODE_COLUMNS, nodes)
        return
    if entries:
        rows = [(i, t, a, _sqlite_time(when), b) for i, t, a, when, b in entries]
        connection.exec_driver_sql(_SQLITE_ENTRIES, rows)
    if nodes:
        connection.exec_driver_sql(_SQLITE_NODES, list(nodes))


def _sqlite_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _copy(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    raw: Any = connection.connection.driver_connection
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.errors.UniqueViolation as exc:
        raise conflict_of(exc) from exc
    except psycopg.OperationalError as exc:
        raise unavailable(exc) from exc


@functools.lru_cache(maxsize=256)
def _nodes_query(count: int) -> Select[int, int, bytes]:
    """`(level = ? AND idx = ?) OR ...` for `count` nodes: one primary-key probe per node on
    both databases (SQLite scans the whole table for a row-value `IN`)."""
    terms = [
        and_(NodeRow.level == bindparam(f"l{k}"), NodeRow.idx == bindparam(f"i{k}"))
        for k in range(count)
    ]
    return select(NodeRow.level, NodeRow.idx, NodeRow.hash).where(or_(*terms))


def get_nodes(session: Session, wanted: Sequence[Node]) -> dict[Node, bytes]:
    """The hashes of the wanted perfect nodes that exist, in one query."""
    if not wanted:
        return {}
    params: dict[str, int] = {}
    for k, (level, idx) in enumerate(wanted):
        params[f"l{k}"], params[f"i{k}"] = level, idx
    rows = session.execute(_nodes_query(len(wanted)), params)
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


def insert_checkpoint(session: Session, size: int, root: bytes, note: str, now: datetime) -> None:
    """Store a checkpoint unless one of that size exists (concurrent signers agree on the root)."""
    values = {"size": size, "root": root, "note": note, "created_at": now}
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(make(CheckpointRow).values(**values).on_conflict_do_nothing())


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

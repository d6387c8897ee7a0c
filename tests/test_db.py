"""The database layer on both stores: migrations, timestamps, error translation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect

from shugu.db import Database, head_revision
from shugu.errors import ConflictError
from shugu.signing.models import NonceRow


def test_migrations_create_the_schema_and_are_idempotent(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        assert db.current_revision() == head_revision()
        tables = set(inspect(db.engine).get_table_names())
        assert {"participants", "certificates", "hub_keys", "seen_nonces"} <= tables
        db.upgrade()
        assert db.current_revision() == head_revision()
    finally:
        db.dispose()


def test_timestamps_come_back_aware_in_utc(database_url: str) -> None:
    db = Database.open(database_url)
    when = datetime(2026, 11, 27, 16, 30, tzinfo=timezone(timedelta(hours=8)))
    try:
        with db.session() as session:
            session.add(NonceRow(key_id="k", nonce="n", expires_at=when))
        with db.session() as session:
            row = session.get(NonceRow, ("k", "n"))
            assert row is not None
            assert row.expires_at == when and row.expires_at.tzinfo == UTC
    finally:
        db.dispose()


def test_naive_timestamps_are_refused(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        with pytest.raises(Exception, match="naive"), db.session() as session:
            session.add(NonceRow(key_id="k", nonce="n", expires_at=datetime(2026, 1, 1)))
            session.flush()
    finally:
        db.dispose()


def test_integrity_errors_become_conflicts_and_roll_back(database_url: str) -> None:
    db = Database.open(database_url)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with db.session() as session:
            session.add(NonceRow(key_id="k", nonce="n", expires_at=when))
        with pytest.raises(ConflictError), db.session() as session:
            session.add(NonceRow(key_id="k", nonce="other", expires_at=when))
            session.add(NonceRow(key_id="k", nonce="n", expires_at=when))
        with db.session() as session:
            assert session.get(NonceRow, ("k", "other")) is None
    finally:
        db.dispose()

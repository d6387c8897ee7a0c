"""The database layer on both stores: migrations, timestamps, error translation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect

from shugu.db import Database, conflict_of, head_revision, unavailable
from shugu.errors import ConflictError
from shugu.identity.models import ParticipantRow
from shugu.ids import new_id
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


def _participant(name: str, key: bytes, when: datetime) -> ParticipantRow:
    return ParticipantRow(
        id=new_id(when),
        name=name,
        display_name=name,
        roles=",user,",
        status="applied",
        public_key=key,
        created_at=when,
        updated_at=when,
    )


def test_a_conflict_says_what_conflicts_not_what_the_driver_said(database_url: str) -> None:
    db = Database.open(database_url)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with db.session() as session:
            session.add(_participant("acme", bytes(32), when))
        with pytest.raises(ConflictError) as caught, db.session() as session:
            session.add(_participant("acme", bytes([1]) * 32, when))
        with pytest.raises(ConflictError) as by_key, db.session() as session:
            session.add(_participant("other", bytes(32), when))
    finally:
        db.dispose()
    assert caught.value.render("en") == "a participants row with name=acme already exists"
    assert by_key.value.params["table"] == "participants"
    assert "public_key" in str(by_key.value.params["key"])
    for error in (caught.value, by_key.value):
        text = error.render("en") + " " + error.render("zh_CN")
        for driver_words in ("constraint", "duplicate", "UNIQUE", "violates", "DETAIL"):
            assert driver_words not in text


def test_a_conflict_of_several_columns_names_them(database_url: str) -> None:
    db = Database.open(database_url)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with db.session() as session:
            session.add(NonceRow(key_id="k", nonce="n", expires_at=when))
        with pytest.raises(ConflictError) as caught, db.session() as session:
            session.add(NonceRow(key_id="k", nonce="n", expires_at=when))
    finally:
        db.dispose()
    assert caught.value.params["table"] == "seen_nonces"
    assert caught.value.params["key"] == "key_id=k, nonce=n"


def test_an_unreachable_database_is_unavailable_without_the_driver_text() -> None:
    error = unavailable(OSError("connection to server at 10.0.0.5 failed: password for bob"))
    assert error.render("en") == "the database is unavailable; the hub log has the details"
    assert not conflict_of(ValueError("something else")).params

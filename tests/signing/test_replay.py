"""The replay guard on both stores: a nonce is admitted once per key id, and forgotten when its
signature could no longer be accepted anyway."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shugu.errors import AuthenticationError
from shugu.runtime import Hub
from shugu.signing import NonceRow, ReplayGuard


def _nonces(hub: Hub) -> int:
    with hub.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(NonceRow)) or 0)


def test_a_nonce_is_admitted_once_per_key_id(hub: Hub) -> None:
    guard = ReplayGuard(timedelta(seconds=330))
    now = hub.clock.now()
    with hub.db.session() as session:
        guard.admit(session, "key-a", "n-1", now)
        guard.admit(session, "key-b", "n-1", now)  # the same nonce from another signer
    with pytest.raises(AuthenticationError, match="replay"), hub.db.session() as session:
        guard.admit(session, "key-a", "n-1", now)
    assert _nonces(hub) == 2


def test_expired_nonces_are_forgotten(hub: Hub) -> None:
    guard = ReplayGuard(timedelta(seconds=10), purge_every=2)
    start = hub.clock.now()
    with hub.db.session() as session:
        guard.admit(session, "k", "old", start)
    later = start + timedelta(seconds=11)
    with hub.db.session() as session:
        guard.admit(session, "k", "new", later)  # the second admission purges
    assert _nonces(hub) == 1
    with hub.db.session() as session:
        guard.admit(session, "k", "old", later)  # no longer acceptable anyway: gone

"""The replay guard: each (key id, nonce) of an accepted signature is remembered until the
signature could no longer be accepted anyway (its `created` older than the freshness window),
and a second request with it is refused."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shugu.errors import AuthenticationError
from shugu.i18n import N_
from shugu.signing.models import NonceRow

KEY_ID_CHARS = 64
NONCE_CHARS = 64
PURGE_EVERY = 200


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


class ReplayGuard:
    """Admit each signature nonce once per key id, within a freshness window.

    Args:
        window: how long a signature stays acceptable (its maximum age plus the clock skew).
        purge_every: forget expired nonces once every this many admissions.
    """

    def __init__(self, window: timedelta, *, purge_every: int = PURGE_EVERY) -> None:
        self._window = window
        self._purge_every = max(1, purge_every)
        self._admitted = 0

    def __repr__(self) -> str:
        return f"ReplayGuard(window={self._window!r})"

    def admit(self, session: Session, key_id: str, nonce: str, now: datetime) -> None:
        """Remember `nonce` of `key_id` in the caller's unit of work.

        Raises:
            AuthenticationError: the nonce was already accepted for this key id.
        """
        expires = now + self._window
        if not remember_nonce(session, key_id[:KEY_ID_CHARS], nonce[:NONCE_CHARS], expires):
            raise AuthenticationError(N_("this request was already received; a replay is refused"))
        self._admitted += 1
        if self._admitted % self._purge_every == 0:
            forget_expired_nonces(session, now)

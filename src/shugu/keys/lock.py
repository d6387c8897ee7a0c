"""The key lock: a running hub holds it shared, key rotation takes it alone.

A hub (or a transcryptor server) keeps the key-encryption key in memory; rotating under it would
leave it sealing with a key that is being retired. So every running hub holds this lock shared for
its whole life, and `shugu key rotate` takes it exclusively and refuses while anyone holds it.

- On a SQLite database the lock is ``flock`` on a file next to the database (``<db>.keylock``;
  for the embedded home, ``HOME/hub.db.keylock``). Several processes on one home share it.
- On PostgreSQL it is a session-level advisory lock (`pg_advisory_lock_shared` /
  `pg_try_advisory_lock`) on a connection kept open while it is held, so hubs on other hosts
  sharing the database are seen too.

The operating system (or PostgreSQL) releases the lock when a process dies, so a crash never
leaves a home locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from shugu.db import Database
from shugu.errors import ConflictError
from shugu.i18n import N_

__all__ = ["KeyLock"]

ADVISORY_KEY = 7364727
"""The advisory lock id (the migrations use 7364726)."""


def _lock_file(db: Database) -> Path:
    database = make_url(str(db.engine.url)).database
    if not database or database == ":memory:":
        raise ConflictError(N_("an in-memory database has no key lock"))
    return Path(database).with_name(Path(database).name + ".keylock")


def _busy() -> ConflictError:
    return ConflictError(
        N_(
            "a hub or transcryptor is running on this database and holds the key lock; "
            "stop it, then rotate the key"
        )
    )


class KeyLock:
    """One holding of the key lock (shared or exclusive); release it with `release`."""

    def __init__(
        self, file: IO[bytes] | None, connection: Connection | None, *, exclusive: bool
    ) -> None:
        self._file = file
        self._connection = connection
        self._exclusive = exclusive

    @classmethod
    def shared(cls, db: Database) -> KeyLock:
        """Hold the lock shared (a running hub). Waits while a rotation holds it."""
        return cls._take(db, exclusive=False)

    @classmethod
    def exclusive(cls, db: Database) -> KeyLock:
        """Hold the lock alone (a rotation).

        Raises:
            ConflictError: a hub or transcryptor holds it.
        """
        return cls._take(db, exclusive=True)

    @classmethod
    def _take(cls, db: Database, *, exclusive: bool) -> KeyLock:
        if db.engine.dialect.name == "postgresql":
            return cls(None, _advisory(db, exclusive=exclusive), exclusive=exclusive)
        path = _lock_file(db)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)
        except BlockingIOError as exc:
            handle.close()
            raise _busy() from exc
        except BaseException:
            handle.close()
            raise
        return cls(handle, None, exclusive=exclusive)

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None
        if self._connection is not None:
            connection, self._connection = self._connection, None
            unlock = "pg_advisory_unlock" if self._exclusive else "pg_advisory_unlock_shared"
            try:
                connection.execute(text(f"SELECT {unlock}(:key)"), {"key": ADVISORY_KEY})
                connection.commit()
            except Exception:  # noqa: S110 - the session is gone, and its locks with it
                pass
            finally:
                connection.close()  # detached: this closes the session itself


def _advisory(db: Database, *, exclusive: bool) -> Connection:
    connection = db.engine.connect()
    connection.detach()  # its own session, closed (never pooled) on release: the locks go with it
    try:
        if exclusive:
            held = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ).scalar_one()
            if not held:
                raise _busy()
        else:
            connection.execute(text("SELECT pg_advisory_lock_shared(:key)"), {"key": ADVISORY_KEY})
        connection.commit()
    except BaseException:
        connection.close()
        raise
    return connection

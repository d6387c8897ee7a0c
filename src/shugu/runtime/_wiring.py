"""What the hub and a transcryptor host open the same way: key, database, key lock, ledger."""

from __future__ import annotations

from dataclasses import dataclass

from shugu.clock import Clock
from shugu.db import Database
from shugu.keys import KeyEncryptionKey, load_kek
from shugu.keys.lock import KeyLock
from shugu.ledger import LedgerConfig, LedgerService
from shugu.settings import Settings


@dataclass(slots=True)
class Base:
    """The key-encryption key, the migrated database under the key lock, and a ledger on it."""

    kek: KeyEncryptionKey
    db: Database
    lock: KeyLock
    ledger: LedgerService

    def close(self) -> None:
        """Stop the ledger's writer, let go of the key lock, release the connections."""
        try:
            self.ledger.close()
        finally:
            self.lock.release()
            self.db.dispose()


def open_base(settings: Settings, clock: Clock, *, origin: str) -> Base:
    """Open the key, the database (migrated) and its ledger under origin `origin`.

    Raises:
        NotFoundError: no key-encryption key (an uninitialised home).
        UnavailableError: the database cannot be reached.
        ConflictError: a key rotation holds the key lock.
    """
    kek = load_kek(settings)
    db = Database.open(settings.resolved_database_url)
    try:
        lock = KeyLock.shared(db)
    except BaseException:
        db.dispose()
        raise
    config = LedgerConfig(
        origin=origin,
        checkpoint_every_entries=settings.ledger.checkpoint_every_entries,
        checkpoint_every_seconds=settings.ledger.checkpoint_every_seconds,
    )
    base = Base(kek, db, lock, LedgerService(db, kek, clock, config))
    try:
        base.ledger.open()
    except BaseException:
        base.close()
        raise
    return base

"""The hub: the services of every domain, wired once from `Settings`."""

from __future__ import annotations

from dataclasses import dataclass, field

from shugu.clock import Clock, SystemClock
from shugu.db import Database
from shugu.home import load_kek
from shugu.identity import IdentityConfig, IdentityService
from shugu.ledger import LedgerConfig, LedgerService
from shugu.pep.service import PepService, load_grants
from shugu.settings import Settings


@dataclass(slots=True)
class Hub:
    """The running hub's services over one database."""

    settings: Settings
    db: Database
    clock: Clock
    identity: IdentityService
    ledger: LedgerService
    pep: PepService
    closed: bool = field(default=False)

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Hub:
        """Connect to the database, migrate it, and make sure the hub CA exists.

        Raises:
            NotFoundError: no key-encryption key (an uninitialised home).
            UnavailableError: the database cannot be reached.
        """
        clock = clock or SystemClock()
        kek = load_kek(settings)
        db = Database.open(settings.resolved_database_url)
        config = IdentityConfig(
            space_name=settings.space_name,
            certificate_days=settings.certificate_days,
            signature_max_age_seconds=settings.signature_max_age_seconds,
            signature_max_skew_seconds=settings.signature_max_skew_seconds,
        )
        ledger = LedgerService(
            db,
            kek,
            clock,
            LedgerConfig(
                origin=f"{settings.space_name}/ledger",
                checkpoint_every_entries=settings.ledger.checkpoint_every_entries,
                checkpoint_every_seconds=settings.ledger.checkpoint_every_seconds,
            ),
        )
        identity = IdentityService(db, kek, clock, config, ledger)
        try:
            ledger.open()
            identity.ensure_ca()
            pep = PepService(db, kek, clock, ledger, load_grants(settings.home / "pep-links.json"))
            pep.open()
        except BaseException:
            ledger.close()
            db.dispose()
            raise
        return cls(settings=settings, db=db, clock=clock, identity=identity, ledger=ledger, pep=pep)

    def close(self) -> None:
        """Stop the ledger's writer and release the database connections."""
        if not self.closed:
            self.ledger.close()
            self.db.dispose()
            self.closed = True

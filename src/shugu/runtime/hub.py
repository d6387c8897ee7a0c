"""The hub: the services of every domain, wired once from `Settings`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shugu.clock import Clock, SystemClock
from shugu.db import Database
from shugu.errors import UnavailableError
from shugu.identity import IdentityConfig, IdentityService
from shugu.keys import load_kek
from shugu.ledger import LedgerConfig, LedgerService
from shugu.pep.parallel import usable_cpus
from shugu.pep.service import PepConfig, PepService, load_grants
from shugu.settings import Settings

log = logging.getLogger(__name__)


def pep_config(settings: Settings) -> PepConfig:
    """The PEP service's configuration from the settings (workers 0: the usable CPUs)."""
    pep = settings.pep
    workers = pep.workers or usable_cpus()
    return PepConfig(
        transcryptors=tuple(pep.transcryptors),
        max_batch=pep.max_batch,
        workers=workers,
        parallel_min=pep.parallel_min,
        tls_verify=str(pep.tls_ca_file) if pep.tls_ca_file else True,
    )


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
            application_days=settings.application_days,
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
            pep = PepService(
                db,
                kek,
                clock,
                ledger,
                load_grants(settings.home / "pep-links.json"),
                pep_config(settings),
            )
            try:
                pep.open()
            except UnavailableError as exc:  # a transcryptor server is down: set up on first use
                log.warning("pep.setup_deferred", extra={"reason": exc.render("en")})
        except BaseException:
            ledger.close()
            db.dispose()
            raise
        return cls(settings=settings, db=db, clock=clock, identity=identity, ledger=ledger, pep=pep)

    def close(self) -> None:
        """Stop the ledger's writer and release the database connections."""
        if not self.closed:
            self.pep.close()
            self.ledger.close()
            self.db.dispose()
            self.closed = True

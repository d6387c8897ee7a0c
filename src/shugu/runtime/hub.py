"""The hub: the services of every domain, wired once from `Settings`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shugu.clock import Clock, SystemClock
from shugu.db import Database
from shugu.errors import UnavailableError
from shugu.identity import IdentityConfig, IdentityService
from shugu.ledger import LedgerService
from shugu.pep.parallel import usable_cpus
from shugu.pep.service import PepConfig, PepService, load_grants
from shugu.runtime._wiring import Base, open_base
from shugu.settings import Settings
from shugu.signing.authority import hub_authorities

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
    base: Base
    closed: bool = field(default=False)

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Hub:
        """Connect to the database, migrate it, and make sure the hub CA exists.

        The hub holds the key lock shared while it is open, so a key rotation waits for it.

        Raises:
            NotFoundError: no key-encryption key (an uninitialised home).
            UnavailableError: the database cannot be reached.
        """
        clock = clock or SystemClock()
        base = open_base(settings, clock, origin=f"{settings.space_name}/ledger")
        config = IdentityConfig(
            space_name=settings.space_name,
            certificate_days=settings.certificate_days,
            application_days=settings.application_days,
            signature_max_age_seconds=settings.signature_max_age_seconds,
            signature_max_skew_seconds=settings.signature_max_skew_seconds,
            authorities=hub_authorities(settings),
        )
        db, kek, ledger = base.db, base.kek, base.ledger
        try:
            identity = IdentityService(db, kek, clock, config, ledger)
            identity.ensure_ca()
            grants = load_grants(settings.home / "pep-links.json")
            pep = PepService(db, kek, clock, ledger, grants, pep_config(settings))
            try:
                pep.open()
            except UnavailableError as exc:  # a transcryptor server is down: set up on first use
                log.warning("pep.setup_deferred", extra={"reason": exc.render("en")})
        except BaseException:
            base.close()
            raise
        return cls(settings, db, clock, identity, ledger, pep, base)

    def close(self) -> None:
        """Stop the ledger's writer, let go of the key lock, release the database connections."""
        if not self.closed:
            try:
                self.pep.close()
            finally:
                self.base.close()
            self.closed = True

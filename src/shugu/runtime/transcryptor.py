"""The transcryptor host's composition root (`shugu pep transcryptor up`), wired like the hub."""

from __future__ import annotations

from dataclasses import dataclass

from shugu.clock import Clock, SystemClock
from shugu.pep.parallel import usable_cpus
from shugu.pep.server import TranscryptorConfig, TranscryptorHost, read_config
from shugu.runtime._wiring import Base, open_base
from shugu.settings import Settings
from shugu.signing.authority import server_authorities

__all__ = ["TranscryptorRuntime", "open_transcryptor"]


@dataclass(slots=True)
class TranscryptorRuntime:
    """A transcryptor served on its own, with what it was opened on."""

    host: TranscryptorHost
    base: Base

    def close(self) -> None:
        """Stop its threads, its ledger's writer, and release the key lock and connections."""
        try:
            self.host.close()
        finally:
            self.base.close()


def transcryptor_config(settings: Settings, name: str, hub_key: bytes) -> TranscryptorConfig:
    """The host's configuration from the settings (workers 0: the usable CPUs)."""
    return TranscryptorConfig(
        name,
        hub_key,
        workers=settings.pep.workers or usable_cpus(),
        parallel_min=settings.pep.parallel_min,
        max_batch=settings.pep.max_batch,
        signature_max_age_seconds=settings.signature_max_age_seconds,
        signature_max_skew_seconds=settings.signature_max_skew_seconds,
        authorities=server_authorities(settings),
    )


def open_transcryptor(settings: Settings, clock: Clock | None = None) -> TranscryptorRuntime:
    """Open the transcryptor of a home set up by `shugu pep transcryptor init`.

    Raises:
        NotFoundError: the home has no key or no transcryptor configuration.
        UnavailableError: the database cannot be reached.
    """
    clock = clock or SystemClock()
    name, hub_key = read_config(settings.home)
    config = transcryptor_config(settings, name, hub_key)
    base = open_base(settings, clock, origin=f"{settings.space_name}/transcryptor/{name}")
    try:
        host = TranscryptorHost(base.db, base.kek, clock, base.ledger, config)
        host.open()
    except BaseException:
        base.close()
        raise
    return TranscryptorRuntime(host, base)

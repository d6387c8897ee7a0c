"""The one typed configuration of shugu, read from `SHUGU_*` environment variables.

Built once at the edge (`create_app(settings)`, the CLI entry point) and passed down; nothing reads
the environment at import time. Nested values use `__` (e.g. `SHUGU_RATE_LIMIT__PER_MINUTE`).
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def default_home() -> Path:
    """The default state directory, `~/.shugu`."""
    return Path.home() / ".shugu"


class RateLimit(BaseModel):
    """Request rate limits (token buckets): per client address, per participant, per applicant."""

    per_minute: int = Field(default=1200, ge=1)
    """Sustained requests per minute allowed to one authenticated participant."""
    burst: int = Field(default=200, ge=1)
    """Requests one participant may send at once before the sustained rate applies."""
    address_per_minute: int = Field(default=1200, ge=1)
    """Sustained requests per minute from one client address, signed or not, counted before
    anything else is done with the request."""
    address_burst: int = Field(default=200, ge=1)
    """Requests one client address may send at once before its sustained rate applies."""
    applications_per_hour: int = Field(default=5, ge=1)
    """Applications to join the space that one client address may submit per hour."""
    max_keys: int = Field(default=100_000, ge=1)
    """Buckets each in-memory limit keeps; past it the least recently used one is dropped."""
    storage_url: str = "memory://"
    """Where the counts live: ``memory://`` (this process) or a store several hub processes
    share, e.g. ``redis://127.0.0.1:6379`` (any URL the `limits` library accepts)."""


class LedgerSettings(BaseModel):
    """When the ledger signs a new checkpoint."""

    checkpoint_every_entries: int = Field(default=1000, ge=1)
    """Sign a checkpoint once this many entries were added since the last one."""
    checkpoint_every_seconds: int = Field(default=10, ge=1)
    """Sign a checkpoint at least this often while entries keep arriving."""


class PepSettings(BaseModel):
    """The transcryptors of polymorphic pseudonymisation (PEP) and how they work."""

    transcryptors: list[str] = Field(default_factory=lambda: ["custodian"])
    """The chain, in order: ``name`` runs in this process, ``name=URL`` is a transcryptor server
    (`shugu pep transcryptor up`). Fixed when the PEP system is first set up."""
    workers: int = Field(default=0, ge=0)
    """Threads that transcrypt a large batch in parallel (0: the CPUs this process may use)."""
    parallel_min: int = Field(default=2_000, ge=1)
    """The smallest batch split over the workers."""
    max_batch: int = Field(default=10_000, ge=1)
    """Most ciphertexts one transcription request may carry (raise `max_body_bytes` with it:
    a ciphertext is 64 bytes, 88 characters in JSON)."""
    tls_ca_file: Path | None = None
    """CA bundle to verify transcryptor servers' certificates (default: the system's)."""


class BackupKdf(BaseModel):
    """Cost of scrypt for new backups (recorded in each archive, so raising it later is safe)."""

    log2_n: int = Field(default=17, ge=10, le=20)
    """log2 of scrypt's N, the work and memory factor (17: N = 131072, 128 MiB with r = 8)."""
    r: int = Field(default=8, ge=1, le=32)
    """scrypt's block size."""
    p: int = Field(default=1, ge=1, le=16)
    """scrypt's parallelism."""


class Settings(BaseSettings):
    """Settings of a shugu hub and CLI. Every field has a working default for the embedded mode."""

    model_config = SettingsConfigDict(
        env_prefix="SHUGU_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    home: Path = Field(default_factory=default_home)
    """State directory: the embedded hub's SQLite database, the CLI's identities and files."""
    database_url: str | None = None
    """SQLAlchemy URL of the hub database; default: SQLite file `hub.db` in the home."""
    secret_key: SecretStr | None = None
    """Key-encryption key (base64 of 32 bytes); default: the home's `secret.key` file."""
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)
    """Earlier key-encryption keys, still accepted for opening (never for sealing) during a
    rotation: `shugu key rotate` seals everything again under `secret_key`; then drop these."""
    backup_passphrase: SecretStr | None = None
    """Passphrase that encrypts `shugu backup` archives and opens them for `shugu restore`;
    default: asked on the terminal (twice for a backup)."""
    backup_kdf: BackupKdf = Field(default_factory=BackupKdf)
    """Cost of the key derivation of new backups; lower it only for tests."""
    hub_url: str | None = None
    """URL of a remote hub for the CLI; default: the embedded hub of the home, in-process."""
    space_name: str = "shugu"
    """Name of the data space: the CA's organisation and the ledger origin `<name>/ledger`."""
    lang: str | None = None
    """Language of user-facing text ("en" or "zh_CN"); default: from the locale."""
    host: str = "127.0.0.1"
    """Address `shugu up` listens on."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port `shugu up` listens on."""
    authority: list[str] = Field(default_factory=list)
    """The ``host[:port]`` names clients use to reach this server (RFC 9421 `@authority`:
    lower case, no port when it is the scheme's default); a request signed for another name is
    refused. Empty: where it listens (``host:port``; every loopback name when that is a loopback
    or wildcard address), the authority of `hub_url` when set, and, for the hub, the in-process
    names ``hub`` and ``embedded.shugu`` of the CLI's embedded hub. Set it on a hub or
    transcryptor reached through a public name or a proxy."""
    tls_cert_file: Path | None = None
    """PEM certificate chain; when set with `tls_key_file`, `shugu up` serves HTTPS only."""
    tls_key_file: Path | None = None
    """PEM private key for `tls_cert_file`."""
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    """Largest request body the hub accepts, in bytes."""
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    """Request rate limits per client address, per participant and for applications."""
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Addresses or networks (CIDR) of reverse proxies whose `X-Forwarded-For` is believed;
    a JSON list or comma-separated. Empty: the direct peer is always the client."""
    signature_max_age_seconds: int = Field(default=300, ge=1)
    """How old a signed request may be; older ones are refused as expired."""
    signature_max_skew_seconds: int = Field(default=30, ge=0)
    """How far in the future a signed request's creation time may lie (clock skew)."""
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    """Ledger checkpoint policy."""
    pep: PepSettings = Field(default_factory=PepSettings)
    """Polymorphic pseudonymisation: the transcryptors."""
    certificate_days: int = Field(default=365, ge=1)
    """Validity of participant certificates issued by the hub CA, in days."""
    application_days: int = Field(default=14, ge=1)
    """How long an application waits for a decision; unanswered, it expires and frees its name."""
    log_level: str = "INFO"
    """Log level of the hub (DEBUG, INFO, WARNING, ERROR)."""
    log_json: bool = True
    """Write logs as JSON lines (one object per event) rather than plain text."""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return (
                json.loads(text)
                if text.startswith("[")
                else [part.strip() for part in text.split(",") if part.strip()]
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one or the home's SQLite file."""
        return self.database_url or f"sqlite:///{self.home / 'hub.db'}"

    @property
    def is_embedded_sqlite(self) -> bool:
        """Whether the hub database is the home's own SQLite file."""
        return self.database_url is None

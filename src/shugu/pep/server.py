"""A transcryptor as its own party: its secrets, its signer check and its own ledger.

`shugu pep transcryptor init` sets one up in its own home (its own key-encryption key and
database, on another machine and under another operator than the hub's); `shugu pep
transcryptor up` serves it (`shugu.api.transcryptor`). It answers only requests signed by the
hub's PEP client key it was given, and records every operation in its own tamper-evident ledger
(`pep.transcryptor.*`: counts, names of domains and sessions, the job and the participant the hub
acted for; never a ciphertext, factor or share), so an auditor can compare its log with the
hub's.

It takes part in the dealer-free set-up once: `blind` answers bᵢ·P for the first point it is
given (and again for that same point, should the hub retry), and refuses any other. Answering
for any point would let a hub that collects every transcryptor's answers compute x·P, i.e.
decrypt. The point is kept in ``pep!<name>`` of `hub_keys`.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from shugu.clock import Clock
from shugu.db import Database
from shugu.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
)
from shugu.i18n import N_
from shugu.keys import store as key_store
from shugu.keys.purposes import JOINED_PREFIX
from shugu.keys.sealing import KeyEncryptionKey
from shugu.ledger import Event, LedgerService
from shugu.ledger.models import RequestEvidence
from shugu.pep.batch import EncryptedBatch
from shugu.pep.group import GroupElement
from shugu.pep.ports import LocalTranscryptor, ShareAnswer
from shugu.pep.sharing import recipient_public_key
from shugu.pep.store import check_transcryptor_name, load_or_create
from shugu.signing import ReplayGuard, SignaturePolicy, SignedRequest, httpsig

__all__ = ["CONFIG_FILE", "TranscryptorConfig", "TranscryptorHost", "read_config", "write_config"]

log = logging.getLogger(__name__)

CONFIG_FILE = "transcryptor.json"
HUB_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class TranscryptorConfig:
    """Who a transcryptor server is and whom it serves."""

    name: str
    hub_key: bytes
    """The hub's PEP client public key (Ed25519, 32 bytes): the only signer it answers."""
    workers: int = 1
    parallel_min: int = 2_000
    max_batch: int = 10_000
    signature_max_age_seconds: int = 300
    signature_max_skew_seconds: int = 30
    authorities: frozenset[str] = frozenset()
    """The `@authority` names it answers to (`shugu.signing.authority.server_authorities`);
    a request signed for another server is refused."""

    def __post_init__(self) -> None:
        check_transcryptor_name(self.name)
        if len(self.hub_key) != HUB_KEY_BYTES:
            raise InvalidInputError(
                N_("the hub key must be {expected} bytes (64 hex digits), got {actual}"),
                expected=HUB_KEY_BYTES,
                actual=len(self.hub_key),
            )


def write_config(home: Path, name: str, hub_key: bytes) -> Path:
    """Write ``<home>/transcryptor.json`` (not secret: a name and a public key)."""
    TranscryptorConfig(name, hub_key)
    path = home / CONFIG_FILE
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps({"name": name, "hub_key": hub_key.hex()}, indent=2) + "\n")
    temp.replace(path)
    return path


def read_config(home: Path) -> tuple[str, bytes]:
    """The name and hub key in ``<home>/transcryptor.json``.

    Raises:
        NotFoundError: no such file (run `shugu pep transcryptor init`).
        InvalidInputError: it is not what `init` writes.
    """
    path = home / CONFIG_FILE
    if not path.exists():
        raise NotFoundError(
            N_("{path} does not exist: run `shugu pep transcryptor init` first"), path=str(path)
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return str(document["name"]), bytes.fromhex(str(document["hub_key"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(
            N_("{path} is damaged: {reason}"), path=str(path), reason=str(exc)
        ) from exc


class TranscryptorHost:
    """One transcryptor served on its own: secrets, the hub's key, its ledger, a thread pool."""

    def __init__(
        self,
        db: Database,
        kek: KeyEncryptionKey,
        clock: Clock,
        ledger: LedgerService,
        config: TranscryptorConfig,
    ) -> None:
        self._db = db
        self._kek = kek
        self._clock = clock
        self._ledger = ledger
        self._config = config
        self._hub_key = Ed25519PublicKey.from_public_bytes(config.hub_key)
        self._hub_key_id = httpsig.self_key_id(config.hub_key)
        self._policy = SignaturePolicy(
            config.authorities, config.signature_max_age_seconds, config.signature_max_skew_seconds
        )
        self._replay = ReplayGuard(self._policy.window)
        self._pool = ThreadPoolExecutor(max(1, config.workers), thread_name_prefix="transcrypt")
        self._local: LocalTranscryptor | None = None

    def __repr__(self) -> str:
        return f"TranscryptorHost({self._config.name!r})"

    @property
    def config(self) -> TranscryptorConfig:
        """Its configuration."""
        return self._config

    @property
    def ledger(self) -> LedgerService:
        """Its own ledger."""
        return self._ledger

    def open(self) -> None:
        """Load its sealed secrets, creating them on first start."""
        self._open()

    def _open(self) -> LocalTranscryptor:
        with self._db.session() as session:
            transcryptor, created = load_or_create(
                session, self._kek, self._clock, self._config.name
            )
        if created:
            log.info("pep.transcryptor_created", extra={"transcryptor": self._config.name})
        self._local = LocalTranscryptor(
            transcryptor,
            self._pool,
            workers=max(1, self._config.workers),
            parallel_min=self._config.parallel_min,
        )
        return self._local

    def close(self) -> None:
        """Stop its threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _transcryptor(self) -> LocalTranscryptor:
        return self._open() if self._local is None else self._local

    # -- who may call -------------------------------------------------------------------------

    def authenticate(self, request: SignedRequest) -> RequestEvidence:
        """Accept a fresh request signed by the hub's PEP client key for this server, once.

        Raises:
            AuthenticationError: unsigned, malformed, addressed to another server, another
                signer, expired, bad signature, replayed.
        """
        now = self._clock.now()
        parsed = self._policy.check(request, now)
        if parsed.key_id != self._hub_key_id:
            raise AuthenticationError(
                N_("transcryptor {transcryptor} answers only its hub, not {key}"),
                transcryptor=self._config.name,
                key=parsed.key_id[:80],
            )
        httpsig.verify(parsed, self._hub_key, request)
        with self._db.session() as session:
            self._replay.admit(session, parsed.key_id, parsed.nonce, now)
        return RequestEvidence.of(request)

    # -- operations ---------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Its name and whether it has joined a system."""
        with self._db.session() as session:
            joined = key_store.get(session, JOINED_PREFIX + self._config.name) is not None
        return {"name": self._config.name, "joined": joined, "hub_key": self._config.hub_key.hex()}

    def blind(self, point: GroupElement, evidence: RequestEvidence) -> GroupElement:
        """bᵢ·P for the system's set-up point, once.

        Raises:
            ConflictError: it already joined a system with another point.
        """
        name = JOINED_PREFIX + self._config.name
        with self._db.session() as session:
            joined = key_store.get(session, name)
            if joined is not None and joined.public_key != point.to_bytes():
                raise ConflictError(
                    N_(
                        "transcryptor {transcryptor} already belongs to a PEP system; set up a "
                        "new transcryptor home to join another"
                    ),
                    transcryptor=self._config.name,
                )
            if joined is None:
                key_store.add_public(session, name, point.to_bytes(), self._clock.now())
                self._record(session, "pep.transcryptor.joined", "", {}, evidence)
        return self._transcryptor().blind(point)

    def transcrypt(
        self,
        data: bytes,
        *,
        public_key: GroupElement,
        route: tuple[str, ...],
        domain_from: str | None,
        domain_to: str,
        session_to: str,
        shuffle: bool,
        job: str,
        on_behalf_of: str,
        evidence: RequestEvidence,
    ) -> EncryptedBatch:
        """Its rsk of the packed batch, recorded on its ledger.

        Raises:
            InvalidInputError: an empty batch, a bad length or point, its name already on the
                route (nothing is recorded).
            PayloadTooLargeError: more than `max_batch` ciphertexts.
        """
        batch = EncryptedBatch(data, public_key, route)
        if len(batch) == 0:
            raise InvalidInputError(N_("the batch is empty"))
        if len(batch) > self._config.max_batch:
            raise PayloadTooLargeError(
                N_("a batch may hold at most {limit} ciphertexts, got {count}"),
                limit=self._config.max_batch,
                count=len(batch),
            )
        out = self._transcryptor().transcrypt(
            batch,
            domain_from=domain_from,
            domain_to=domain_to,
            session_to=session_to,
            shuffle=shuffle,
        )
        payload = {
            "count": len(batch),
            "domain_from": domain_from,
            "domain_to": domain_to,
            "session": session_to,
            "shuffled": shuffle,
            "on_behalf_of": on_behalf_of,
        }
        with self._db.session() as session:
            self._record(session, "pep.transcryptor.transcription", job, payload, evidence)
        return out

    def session_key_share(
        self,
        context: str,
        public_key: GroupElement,
        recipient: bytes,
        *,
        job: str,
        on_behalf_of: str,
        evidence: RequestEvidence,
    ) -> ShareAnswer:
        """Its share sealed to `recipient`, recorded (with the recipient key) on its ledger."""
        recipient_public_key(recipient)
        answer = self._transcryptor().session_key_share(context, public_key, recipient)
        payload = {
            "session": context,
            "recipient_key": recipient.hex(),
            "on_behalf_of": on_behalf_of,
        }
        with self._db.session() as session:
            self._record(session, "pep.transcryptor.share_issued", job, payload, evidence)
        return answer

    def _record(
        self,
        session: Session,
        type_: str,
        job: str,
        payload: dict[str, Any],
        evidence: RequestEvidence,
    ) -> None:
        subjects = (job,) if job else ()
        # the actor column holds participant ids; the hub's key id is in the evidence's keyid
        event = Event(type_, None, subjects, payload, evidence)
        self._ledger.record(session, [event])

"""The transcryptor service: the key custodian's transcryptors, run inside the hub by default.

On first start the service creates each configured transcryptor's secrets (a 64-byte
pseudonymisation secret, a 64-byte encryption secret and a blinding factor) and the system's
keys (the global public key X and the blinded global secret key x', built with no dealer by
`setup_distributed`), and stores them sealed under the key-encryption key in `hub_keys`
(`pep:<transcryptor>` and `pep:system`). They are never logged and no operation returns them.

Two operations need an authorisation, asked of a `LinkPolicy` (`shugu.pep.policy`):

- `transcrypt`, a **submission**: a batch encrypted under X in `domain_from` (`None`: the
  global domain, where `holder.encrypt_identifiers` puts hashed identifiers) moves through every
  transcryptor into `domain_to` and the encryption context of the job's session; only the job's
  submitters (the holders whose data is linked) may do it, and each submission is recorded with
  its submitter;
- `session_key`: every transcryptor's share of that session's key, for the job's key receiver
  (its runner) to combine.

The two are disjoint per domain: a party that could do both could encrypt identifiers of its
choice, move them into the job's domain and decrypt them, i.e. confirm every patient number it
can guess. A key receiver's submission is refused and recorded (`pep.transcription.refused`).

A session is bound to its job: the encryption context is ``"<job>#<session>"``
(`session_context`), so a caller authorised for one job cannot obtain a key that opens another
job's batches by naming the same session. Each operation is recorded on the ledger in the same
transaction as it is answered (`pep.transcription`, `pep.session_key.issued`): counts, names of
domains, session, submitter and transcryptors, never a ciphertext, pseudonym, factor or key.

`GrantListPolicy` is the stand-in policy of this release: a list of grants the operator writes
into ``<home>/pep-links.json``; with no file, every request is refused. Data-use agreements
replace it once jobs are wired to them.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from shugu.clock import Clock
from shugu.db import Database
from shugu.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    PayloadTooLargeError,
)
from shugu.i18n import N_
from shugu.identity import Principal
from shugu.keys import store as key_store
from shugu.keys.purposes import CLIENT_KEY
from shugu.keys.purposes import PEP_SYSTEM_KEY as SYSTEM_KEY
from shugu.keys.sealing import KeyEncryptionKey
from shugu.ledger import Event, LedgerService
from shugu.pep.batch import EncryptedBatch
from shugu.pep.distributed import DistributedKeys, SessionKeyShare, setup_distributed
from shugu.pep.group import GroupElement, Scalar
from shugu.pep.policy import (
    GrantListPolicy,
    LinkAction,
    LinkDecision,
    LinkGrant,
    LinkPolicy,
    LinkRequest,
    check_name,
    load_grants,
)
from shugu.pep.ports import LocalTranscryptor, TranscryptorPort
from shugu.pep.remote import RemoteTranscryptor
from shugu.pep.sharing import SealedShare, recipient_public_key
from shugu.pep.store import check_transcryptor_name, load_or_create

__all__ = [
    "GrantListPolicy",
    "LinkAction",
    "LinkDecision",
    "LinkGrant",
    "LinkPolicy",
    "LinkRequest",
    "PepConfig",
    "PepService",
    "PublicInfo",
    "SessionKeyMaterial",
    "TranscryptionResult",
    "load_grants",
    "session_context",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PepConfig:
    """How the hub runs its transcryptors."""

    transcryptors: tuple[str, ...] = ("custodian",)
    """The chain, in order: ``name`` runs in this process, ``name=URL`` is a transcryptor
    server (`shugu pep transcryptor up`)."""
    max_batch: int = 10_000
    """Most ciphertexts one transcription request may carry (more: 413)."""
    workers: int = 1
    """Threads that transcrypt a large batch in parallel."""
    parallel_min: int = 2_000
    """The smallest batch split over the workers."""
    tls_verify: bool | str = True
    """How to verify transcryptor servers' certificates (a CA bundle path, or the default)."""

    def chain(self) -> tuple[tuple[str, str | None], ...]:
        """(name, URL or None) of every transcryptor, checked.

        Raises:
            InvalidInputError: a bad name or URL, or a name given twice.
        """
        parsed = []
        for spec in self.transcryptors:
            name, sep, url = spec.partition("=")
            check_transcryptor_name(name.strip())
            if sep and not url.strip().startswith(("http://", "https://")):
                raise InvalidInputError(
                    N_("transcryptor {name}: {url} is not an http:// or https:// URL"),
                    name=name.strip(),
                    url=url.strip(),
                )
            parsed.append((name.strip(), url.strip() if sep else None))
        names = [name for name, _ in parsed]
        if not names or len(set(names)) != len(names):
            raise InvalidInputError(
                N_("transcryptor names must be unique, got {names}"), names=", ".join(names)
            )
        return tuple(parsed)


def session_context(job: str, session: str) -> str:
    """The encryption context of a job's session: ``"<job>#<session>"``.

    >>> session_context("study-1", "run-2")
    'study-1#run-2'
    """
    return f"{check_name(job, 'job')}#{check_name(session, 'session')}"


@dataclass(frozen=True, slots=True)
class PublicInfo:
    """What anyone may know of the system: the global public key and the transcryptors."""

    public_key: GroupElement
    transcryptors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TranscryptionResult:
    """A transcrypted batch and the ledger index of its record."""

    batch: EncryptedBatch
    context: str
    ledger_index: int


@dataclass(frozen=True, slots=True)
class SessionKeyMaterial:
    """What a job needs for its session key: every share (sealed to the job's recipient key when
    it gave one), the blinded global secret key, and the session's public key to check against."""

    context: str
    blinded_secret_key: Scalar
    shares: tuple[SessionKeyShare | SealedShare, ...]
    public_key: GroupElement
    """y(c)·G, computed along the chain (each transcryptor multiplies by its kᵢ(c))."""


class PepService:
    """The transcryptors of this process, their sealed secrets, and the authorised operations."""

    def __init__(
        self,
        db: Database,
        kek: KeyEncryptionKey,
        clock: Clock,
        ledger: LedgerService,
        policy: LinkPolicy,
        config: PepConfig | None = None,
    ) -> None:
        self._db = db
        self._kek = kek
        self._clock = clock
        self._ledger = ledger
        self._policy = policy
        self._config = config or PepConfig()
        self._chain = self._config.chain()
        self._pool = (
            ThreadPoolExecutor(self._config.workers, thread_name_prefix="transcrypt")
            if self._config.workers > 1
            else None
        )
        self._ports: tuple[TranscryptorPort, ...] = ()
        self._system: DistributedKeys | None = None
        self._client_public = b""

    def __repr__(self) -> str:
        return f"PepService(transcryptors={self._config.transcryptors!r})"

    @property
    def names(self) -> tuple[str, ...]:
        """The transcryptors' names, in chain order."""
        return tuple(name for name, _ in self._chain)

    # -- set-up -------------------------------------------------------------------------------

    def open(self) -> None:
        """Load the sealed secrets, creating them on first start (idempotent).

        With transcryptor servers in the chain, the first start asks each to blind the set-up
        point, so they must be reachable then.

        Raises:
            ConflictError: the system was set up with other transcryptors.
            UnavailableError: a transcryptor server cannot be reached for the set-up.
        """
        self._open()

    def _open(self) -> DistributedKeys:
        try:
            return self._load_or_create()
        except ConflictError:  # another process created them at the same moment
            return self._load_or_create()

    def _load_or_create(self) -> DistributedKeys:
        names = self.names
        with self._db.session() as session:
            system_key = key_store.open_secret(session, self._kek, SYSTEM_KEY)
            system = None if system_key is None else _unseal_system(system_key)
            if system is not None and system.transcryptors != names:
                raise ConflictError(
                    N_("the PEP system was set up with transcryptors {stored}, not {configured}"),
                    stored=", ".join(system.transcryptors),
                    configured=", ".join(names),
                )
            client_key = self._client_key(session)
            ports = tuple(self._port(session, name, url, client_key) for name, url in self._chain)
        if system is None:
            try:
                system = setup_distributed(ports)
            except BaseException:
                for port in ports:
                    port.close()
                raise
            with self._db.session() as session:
                key_store.add_secret(
                    session,
                    self._kek,
                    SYSTEM_KEY,
                    _system_document(system),
                    public_key=system.public_key.to_bytes(),
                    now=self._clock.now(),
                )
            log.info("pep.keys_created", extra={"transcryptors": list(names)})
        for port in self._ports:
            port.close()
        self._ports, self._system = ports, system
        self._client_public = client_key.public_key().public_bytes_raw()
        return system

    def _port(
        self, session: Session, name: str, url: str | None, client_key: Ed25519PrivateKey
    ) -> TranscryptorPort:
        if url is not None:
            return RemoteTranscryptor(name, url, client_key, verify=self._config.tls_verify)
        transcryptor, _ = load_or_create(session, self._kek, self._clock, name)
        return LocalTranscryptor(
            transcryptor,
            self._pool,
            workers=self._config.workers,
            parallel_min=self._config.parallel_min,
        )

    def _client_key(self, session: Session) -> Ed25519PrivateKey:
        found = key_store.open_secret(session, self._kek, CLIENT_KEY)
        if found is not None:
            return Ed25519PrivateKey.from_private_bytes(found.secret)
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes_raw()
        key_store.add_secret(
            session,
            self._kek,
            CLIENT_KEY,
            key.private_bytes_raw(),
            public_key=public,
            now=self._clock.now(),
        )
        return key

    def client_public_key(self) -> bytes:
        """The hub's PEP client key (Ed25519, public): what transcryptor servers must trust."""
        if not self._client_public:
            with self._db.session() as session:
                self._client_public = self._client_key(session).public_key().public_bytes_raw()
        return self._client_public

    def use_policy(self, policy: LinkPolicy) -> None:
        """Replace the link policy (the operator reloaded its grants; tests)."""
        self._policy = policy

    def close(self) -> None:
        """Close connections to transcryptor servers and stop the worker threads."""
        for port in self._ports:
            port.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- operations ---------------------------------------------------------------------------

    def _keys(self) -> DistributedKeys:
        return self._open() if self._system is None else self._system

    def public_info(self) -> PublicInfo:
        """The global public key holders encrypt to, and the transcryptors' names."""
        system = self._keys()
        return PublicInfo(system.public_key, system.transcryptors)

    def _ask(
        self, caller: Principal, job: str, action: LinkAction, domains: frozenset[str]
    ) -> LinkDecision:
        request = LinkRequest(caller.participant_id, caller.name, job, action, domains)
        return self._policy.decide(request)

    def _authorise_submission(
        self, caller: Principal, job: str, domains: frozenset[str], payload: dict[str, Any]
    ) -> None:
        decision = self._ask(caller, job, LinkAction.SUBMIT, domains)
        if decision is LinkDecision.KEY_RECEIVER:
            refusal = payload | {"reason": LinkDecision.KEY_RECEIVER.value}
            self._record(caller, "pep.transcription.refused", job, refusal)
            raise ForbiddenError(
                N_(
                    "{participant} is a key receiver here (job {job}, domains {domains}), and a "
                    "key receiver may never submit; the refusal is on the ledger"
                ),
                participant=caller.name,
                domains=", ".join(sorted(domains)),
                job=job,
            )
        if decision is not LinkDecision.ALLOWED:
            raise ForbiddenError(
                N_("{participant} may not submit into domains {domains} for job {job}"),
                participant=caller.name,
                domains=", ".join(sorted(domains)),
                job=job,
            )

    def _authorise_key(self, caller: Principal, job: str) -> None:
        if self._ask(caller, job, LinkAction.RECEIVE_KEY, frozenset()) is not LinkDecision.ALLOWED:
            raise ForbiddenError(
                N_("{participant} is not a key receiver of job {job}"),
                participant=caller.name,
                job=job,
            )

    def _check_count(self, ciphertexts: bytes) -> int:
        count = len(EncryptedBatch(ciphertexts, self._keys().public_key))
        if count == 0:
            raise InvalidInputError(N_("the batch is empty"))
        if count > self._config.max_batch:
            raise PayloadTooLargeError(
                N_("a batch may hold at most {limit} ciphertexts, got {count}"),
                limit=self._config.max_batch,
                count=count,
            )
        return count

    def transcrypt(
        self,
        caller: Principal,
        *,
        job: str,
        domain_from: str | None,
        domain_to: str,
        session: str,
        ciphertexts: bytes,
        shuffle: bool = True,
    ) -> TranscryptionResult:
        """Move packed ciphertexts under the global key from `domain_from` into `domain_to` and
        the job's session, through every transcryptor, and record it with the submitter.

        Raises:
            InvalidInputError: bad names, an empty batch, a length not a multiple of 64, an
                invalid point (nothing is recorded).
            PayloadTooLargeError: more than `max_batch` ciphertexts.
            ForbiddenError: `caller` is not a submitter of the job's domains (nothing is
                recorded), or receives keys decrypting in them (`pep.transcription.refused` is
                recorded: job, domains, session, count, reason; nothing else).
            UnavailableError: a transcryptor server cannot be reached (nothing is recorded).
        """
        for name, what in ((job, "job"), (domain_to, "domain"), (domain_from, "domain")):
            if name is not None:
                check_name(name, what)
        context = session_context(job, session)
        count = self._check_count(ciphertexts)
        domains = frozenset(d for d in (domain_from, domain_to) if d is not None)
        moved = {"domain_from": domain_from, "domain_to": domain_to, "session": session}
        self._authorise_submission(caller, job, domains, {"count": count, **moved})
        batch = EncryptedBatch(ciphertexts, self._keys().public_key)
        for port in self._ports:
            batch = port.transcrypt(
                batch,
                domain_from=domain_from,
                domain_to=domain_to,
                session_to=context,
                shuffle=shuffle,
                job=job,
                on_behalf_of=caller.participant_id,
            )
        payload = {
            "count": count,
            **moved,
            "submitter": caller.name,
            "shuffled": shuffle,
            "transcryptors": list(batch.route),
        }
        index = self._record(caller, "pep.transcription", job, payload)
        return TranscryptionResult(batch, context, index)

    def session_key(
        self, caller: Principal, *, job: str, session: str, recipient: bytes | None = None
    ) -> SessionKeyMaterial:
        """Every transcryptor's share of the job session's key, if `caller` is a key receiver of
        `job`; recorded as `pep.session_key.issued`.

        With `recipient` (the job's X25519 public key) every share is sealed to it, so that the
        hub relaying them cannot read them; a chain with transcryptor servers requires it.

        Raises:
            InvalidInputError: bad names or recipient key, or no recipient key for a chain with
                transcryptor servers.
            ForbiddenError: `caller` is not a key receiver of `job` (nothing is recorded).
            UnavailableError: a transcryptor server cannot be reached (nothing is recorded).
        """
        context = session_context(job, session)
        if recipient is not None:
            recipient_public_key(recipient)
        self._authorise_key(caller, job)
        point = self._keys().public_key
        shares: list[SessionKeyShare | SealedShare] = []
        for port in self._ports:
            answer = port.session_key_share(
                context, point, recipient, job=job, on_behalf_of=caller.participant_id
            )
            shares.append(answer.share)
            point = answer.public_key
        payload: dict[str, Any] = {
            "session": session,
            "transcryptors": [s.transcryptor for s in shares],
            "recipient_key": None if recipient is None else recipient.hex(),
        }
        self._record(caller, "pep.session_key.issued", job, payload)
        return SessionKeyMaterial(context, self._keys().blinded_secret_key, tuple(shares), point)

    def _record(self, caller: Principal, type_: str, job: str, payload: dict[str, Any]) -> int:
        event = Event(type_, caller.participant_id, (job,), payload, caller.evidence)
        with self._db.session() as session:
            [index] = self._ledger.record(session, [event])
        return index


def _system_document(system: DistributedKeys) -> bytes:
    """The PEP system's secret part, as sealed in ``hub_keys``."""
    document = {
        "blinded_secret_key": system.blinded_secret_key.hex(),
        "transcryptors": list(system.transcryptors),
    }
    return json.dumps(document).encode()


def _unseal_system(found: key_store.HubKey) -> DistributedKeys:
    document = json.loads(found.secret)
    return DistributedKeys(
        GroupElement(found.public_key),
        Scalar.from_hex(document["blinded_secret_key"]),
        tuple(document["transcryptors"]),
    )

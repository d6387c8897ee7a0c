"""The transcryptor service: the key custodian's transcryptors, run inside the hub by default.

On first start the service creates each configured transcryptor's secrets (a 64-byte
pseudonymisation secret, a 64-byte encryption secret and a blinding factor) and the system's
keys (the global public key X and the blinded global secret key x', built with no dealer by
`setup_distributed`), and stores them sealed under the key-encryption key in `hub_keys`
(`pep:<transcryptor>` and `pep:system`). They are never logged and no operation returns them.

Two operations need an authorisation, asked of a `LinkPolicy` ("may job J link domains D for
caller C?"):

- `transcrypt`: a batch encrypted under X in `domain_from` (`None`: the global domain, where
  `holder.encrypt_identifiers` puts hashed identifiers) moves through every transcryptor into
  `domain_to` and the encryption context of the job's session;
- `session_key`: every transcryptor's share of that session's key, for the job to combine.

A session is bound to its job: the encryption context is ``"<job>#<session>"``
(`session_context`), so a caller authorised for one job cannot obtain a key that opens another
job's batches by naming the same session. Each operation is recorded on the ledger in the same
transaction as it is answered (`pep.transcription`, `pep.session_key.issued`): counts, names of
domains, session and transcryptors, never a ciphertext, pseudonym, factor or key.

`GrantListPolicy` is the stand-in policy of this release: a list of grants the operator writes
into ``<home>/pep-links.json``; with no file, every request is refused. Data-use agreements
replace it once jobs are wired to them.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

from shugu.clock import Clock
from shugu.db import Database
from shugu.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    PayloadTooLargeError,
)
from shugu.hubkeys import HubKeyRow
from shugu.i18n import N_
from shugu.identity import Principal
from shugu.ledger import Event, LedgerService
from shugu.pep.batch import EncryptedBatch
from shugu.pep.distributed import (
    SECRET_BYTES,
    DistributedKeys,
    SessionKeyShare,
    Transcryptor,
    setup_distributed,
    transcrypt_chain,
)
from shugu.pep.group import G, GroupElement, Scalar
from shugu.pep.keys import make_blinding_factor
from shugu.sealing import KeyEncryptionKey

__all__ = [
    "GrantListPolicy",
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

SYSTEM_KEY = "pep:system"
KEY_PREFIX = "pep:"
NAME = re.compile(r"^[^\x00-\x1f\x7f#]{1,200}$")
TRANSCRYPTOR_NAME = re.compile(r"^[a-z][a-z0-9-]{0,27}$")
SEALED_SECRETS_BYTES = 2 * SECRET_BYTES + 32


@dataclass(frozen=True, slots=True)
class PepConfig:
    """How the hub runs its transcryptors."""

    transcryptors: tuple[str, ...] = ("custodian",)
    """Names of the transcryptors this process runs, in chain order."""
    max_batch: int = 10_000
    """Most ciphertexts one transcription request may carry (more: 413)."""


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """The question put to a `LinkPolicy`: may `caller` link `domains` for `job`?"""

    caller_id: str
    caller_name: str
    job: str
    domains: frozenset[str]
    """Pseudonymisation domains involved (empty for a session key: "may C act for J?")."""


class LinkPolicy(Protocol):
    """Decides whether a job may link the given domains for a caller."""

    def allows(self, request: LinkRequest) -> bool:
        """True if the request is authorised."""
        ...


@dataclass(frozen=True, slots=True)
class LinkGrant:
    """One grant of the stand-in policy: `callers` (ids or names, ``*`` for anyone) may link
    any of `domains` for `job`."""

    job: str
    domains: frozenset[str]
    callers: frozenset[str]

    def covers(self, request: LinkRequest) -> bool:
        """Whether this grant authorises `request`."""
        caller_ok = "*" in self.callers or bool(
            {request.caller_id, request.caller_name} & self.callers
        )
        return request.job == self.job and caller_ok and request.domains <= self.domains


@dataclass(frozen=True, slots=True)
class GrantListPolicy:
    """The stand-in `LinkPolicy`: allowed if some grant covers the request; none refuses all."""

    grants: tuple[LinkGrant, ...] = ()

    def allows(self, request: LinkRequest) -> bool:
        """True if some grant covers `request`."""
        return any(grant.covers(request) for grant in self.grants)


def load_grants(path: Path) -> GrantListPolicy:
    """Read the operator's grants: ``{"grants": [{"job", "domains": [...], "callers": [...]}]}``.

    A missing file gives the policy that refuses everything.

    Raises:
        InvalidInputError: the file is not valid JSON of that shape.
    """
    if not path.exists():
        return GrantListPolicy()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return GrantListPolicy(tuple(_grant(item) for item in data["grants"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(
            N_("cannot read the PEP link grants in {path}: {reason}"),
            path=str(path),
            reason=str(exc),
        ) from exc


def _grant(item: dict[str, Any]) -> LinkGrant:
    domains, callers = item["domains"], item["callers"]
    if not isinstance(item["job"], str) or not all(
        isinstance(v, str) for v in [*domains, *callers]
    ):
        raise TypeError("job, domains and callers must be text")
    return LinkGrant(item["job"], frozenset(domains), frozenset(callers))


def session_context(job: str, session: str) -> str:
    """The encryption context of a job's session: ``"<job>#<session>"``.

    >>> session_context("study-1", "run-2")
    'study-1#run-2'
    """
    return f"{_check_name(job, 'job')}#{_check_name(session, 'session')}"


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise InvalidInputError(
            N_("the {what} name must be 1 to 200 characters without control characters or '#'"),
            what=what,
        )
    return value


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
    """What a job needs for its session key: every share and the blinded global secret key."""

    context: str
    blinded_secret_key: Scalar
    shares: tuple[SessionKeyShare, ...]
    public_key: GroupElement = field(init=False)
    """The session's public key (the key the shares combine to), to check the combination."""

    def __post_init__(self) -> None:
        secret = self.blinded_secret_key
        for share in self.shares:
            secret = secret * share.share
        object.__setattr__(self, "public_key", secret * G)


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
        self._transcryptors: tuple[Transcryptor, ...] = ()
        self._system: DistributedKeys | None = None
        for name in self._config.transcryptors:
            if not TRANSCRYPTOR_NAME.fullmatch(name):
                raise InvalidInputError(
                    N_(
                        "transcryptor name {name} must be lower-case letters, digits and '-', "
                        "at most 28"
                    ),
                    name=name,
                )

    def __repr__(self) -> str:
        return f"PepService(transcryptors={self._config.transcryptors!r})"

    # -- set-up -------------------------------------------------------------------------------

    def open(self) -> None:
        """Load the sealed secrets, creating them on first start (idempotent)."""
        try:
            self._load_or_create()
        except ConflictError:  # another process created them at the same moment
            self._load_or_create()

    def _load_or_create(self) -> None:
        names = self._config.transcryptors
        with self._db.session() as session:
            system_row = session.get(HubKeyRow, SYSTEM_KEY)
            system = None if system_row is None else self._unseal_system(system_row)
            if system is not None and system.transcryptors != names:
                raise ConflictError(
                    N_("the PEP system was set up with transcryptors {stored}, not {configured}"),
                    stored=", ".join(system.transcryptors),
                    configured=", ".join(names),
                )
            transcryptors = tuple(self._load_transcryptor(session, name) for name in names)
            if system is None:
                system = setup_distributed(transcryptors)
                session.add(self._row(SYSTEM_KEY, self._seal_system(system), system.public_key))
                log.info("pep.keys_created", extra={"transcryptors": list(names)})
        self._transcryptors, self._system = transcryptors, system

    def _load_transcryptor(self, session: Session, name: str) -> Transcryptor:
        row = session.get(HubKeyRow, KEY_PREFIX + name)
        return self._create(session, name) if row is None else self._unseal(name, row)

    def _row(self, name: str, sealed: bytes, public: GroupElement) -> HubKeyRow:
        return HubKeyRow(
            name=name,
            sealed_private_key=sealed,
            public_key=public.to_bytes(),
            certificate_pem="",
            created_at=self._clock.now(),
        )

    def _create(self, session: Session, name: str) -> Transcryptor:
        pseudonymization, encryption = (
            secrets.token_bytes(SECRET_BYTES),
            secrets.token_bytes(SECRET_BYTES),
        )
        blinding = make_blinding_factor()
        sealed = self._kek.seal(
            pseudonymization + encryption + blinding.to_bytes(), purpose=f"pep-transcryptor:{name}"
        )
        session.add(self._row(KEY_PREFIX + name, sealed, blinding * G))
        return Transcryptor(name, pseudonymization, encryption, blinding)

    def _unseal(self, name: str, row: HubKeyRow) -> Transcryptor:
        raw = self._kek.open(row.sealed_private_key, purpose=f"pep-transcryptor:{name}")
        if len(raw) != SEALED_SECRETS_BYTES:
            raise InvalidInputError(N_("a sealed secret is damaged or of an unknown format"))
        blinding = Scalar(raw[2 * SECRET_BYTES :])
        return Transcryptor(
            name, raw[:SECRET_BYTES], raw[SECRET_BYTES : 2 * SECRET_BYTES], blinding
        )

    def _seal_system(self, system: DistributedKeys) -> bytes:
        document = {
            "blinded_secret_key": system.blinded_secret_key.hex(),
            "transcryptors": list(system.transcryptors),
        }
        return self._kek.seal(json.dumps(document).encode(), purpose="pep-system")

    def _unseal_system(self, row: HubKeyRow) -> DistributedKeys:
        document = json.loads(self._kek.open(row.sealed_private_key, purpose="pep-system"))
        return DistributedKeys(
            GroupElement(row.public_key),
            Scalar.from_hex(document["blinded_secret_key"]),
            tuple(document["transcryptors"]),
        )

    def use_policy(self, policy: LinkPolicy) -> None:
        """Replace the link policy (the operator reloaded its grants; tests)."""
        self._policy = policy

    # -- operations ---------------------------------------------------------------------------

    def _keys(self) -> DistributedKeys:
        if self._system is None:
            self.open()
        assert self._system is not None
        return self._system

    def public_info(self) -> PublicInfo:
        """The global public key holders encrypt to, and the transcryptors' names."""
        system = self._keys()
        return PublicInfo(system.public_key, system.transcryptors)

    def _authorise(self, caller: Principal, job: str, domains: Iterable[str | None]) -> None:
        request = LinkRequest(
            caller.participant_id, caller.name, job, frozenset(d for d in domains if d is not None)
        )
        if not self._policy.allows(request):
            raise ForbiddenError(
                N_("{participant} may not link domains {domains} for job {job}"),
                participant=caller.name,
                domains=", ".join(sorted(request.domains)) or "-",
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
        the job's session, through every transcryptor, and record it.

        Raises:
            InvalidInputError: bad names, an empty batch, a length not a multiple of 64, an
                invalid point (nothing is recorded).
            PayloadTooLargeError: more than `max_batch` ciphertexts.
            ForbiddenError: the policy refuses.
        """
        for name, what in ((job, "job"), (domain_to, "domain"), (domain_from, "domain")):
            if name is not None:
                _check_name(name, what)
        context = session_context(job, session)
        count = self._check_count(ciphertexts)
        self._authorise(caller, job, (domain_from, domain_to))
        batch = EncryptedBatch(ciphertexts, self._keys().public_key)
        out = (
            transcrypt_chain(
                batch,
                self._transcryptors,
                domain_from=domain_from,
                domain_to=domain_to,
                session_from=None,
                session_to=context,
            )
            if shuffle
            else self._in_order(batch, domain_from, domain_to, context)
        )
        payload = {
            "count": count,
            "domain_from": domain_from,
            "domain_to": domain_to,
            "session": session,
            "shuffled": shuffle,
            "transcryptors": list(out.route),
        }
        index = self._record(caller, "pep.transcription", job, payload)
        return TranscryptionResult(out, context, index)

    def _in_order(
        self, batch: EncryptedBatch, domain_from: str | None, domain_to: str, context: str
    ) -> EncryptedBatch:
        for transcryptor in self._transcryptors:
            batch = transcryptor.transcrypt(
                batch,
                domain_from=domain_from,
                domain_to=domain_to,
                session_from=None,
                session_to=context,
                shuffle=False,
            )
        return batch

    def session_key(self, caller: Principal, *, job: str, session: str) -> SessionKeyMaterial:
        """Every transcryptor's share of the job session's key, if the policy lets `caller` act
        for `job`; recorded as `pep.session_key.issued`.

        Raises:
            InvalidInputError: bad names.
            ForbiddenError: the policy refuses.
        """
        context = session_context(job, session)
        self._authorise(caller, job, ())
        shares = tuple(t.session_key_share(context) for t in self._transcryptors)
        payload = {"session": session, "transcryptors": [s.transcryptor for s in shares]}
        self._record(caller, "pep.session_key.issued", job, payload)
        return SessionKeyMaterial(context, self._keys().blinded_secret_key, shares)

    def _record(self, caller: Principal, type_: str, job: str, payload: dict[str, Any]) -> int:
        event = Event(type_, caller.participant_id, (job,), payload, caller.evidence)
        with self._db.session() as session:
            [index] = self._ledger.record(session, [event])
        return index

"""The identity domain's operations: applications, approval, certificates, revocation, and
authenticating signed requests."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from shugu.clock import Clock
from shugu.db import Database
from shugu.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from shugu.i18n import N_
from shugu.identity import ca, store
from shugu.identity.models import (
    Certificate,
    CertificateRow,
    Participant,
    ParticipantRow,
    ParticipantStatus,
    Principal,
    Role,
)
from shugu.ids import is_id, new_id
from shugu.keys import store as key_store
from shugu.keys.purposes import CA_KEY
from shugu.keys.sealing import KeyEncryptionKey
from shugu.ledger import Event, LedgerService, RequestEvidence, sha256_hex
from shugu.signing import ReplayGuard, SignaturePolicy, SignedRequest, httpsig
from shugu.signing.httpsig import self_key_id

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")
SEES_EVERYONE = frozenset({Role.OPERATOR, Role.AUDITOR})
MAX_APPLICATION_EVIDENCE = 4096
"""Largest signed request (path, query, signature headers) an application is kept with."""
CRL_HOURS = 24
"""Validity of a signed CRL (its nextUpdate); it is signed again after half of it."""


@dataclass(frozen=True, slots=True)
class Application:
    """What an applicant sends: a unique name, a display name, the roles asked for, its key."""

    name: str
    display_name: str
    roles: tuple[str, ...]
    public_key: bytes


@dataclass(frozen=True, slots=True)
class _SignedCrl:
    pem: str
    stamp: tuple[int, datetime | None]
    """`store.revocation_stamp` when it was signed."""
    renew: datetime
    """When to sign it again though nothing changed (half-way to its nextUpdate)."""


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    """Identity settings the service needs (a slice of `Settings`)."""

    space_name: str = "shugu"
    certificate_days: int = 365
    application_days: int = 14
    signature_max_age_seconds: int = 300
    signature_max_skew_seconds: int = 30
    authorities: frozenset[str] = frozenset()
    """The `@authority` names the hub answers to (`shugu.signing.authority.hub_authorities`)."""


class IdentityService:
    """Participants, the hub CA, and request authentication."""

    def __init__(
        self,
        db: Database,
        kek: KeyEncryptionKey,
        clock: Clock,
        config: IdentityConfig,
        ledger: LedgerService,
    ) -> None:
        self._db = db
        self._kek = kek
        self._clock = clock
        self._config = config
        self._ledger = ledger
        self._policy = SignaturePolicy(
            config.authorities, config.signature_max_age_seconds, config.signature_max_skew_seconds
        )
        self._replay = ReplayGuard(self._policy.window)
        self._crl: _SignedCrl | None = None
        self._crl_lock = threading.Lock()

    # -- the CA -------------------------------------------------------------------------------

    def ensure_ca(self) -> None:
        """Create the hub CA key and certificate on first start (idempotent)."""
        with self._db.session() as session:
            if key_store.open_secret(session, self._kek, CA_KEY) is not None:
                return
            key = Ed25519PrivateKey.generate()
            now = self._clock.now()
            cert = ca.build_ca_certificate(key, self._config.space_name, now)
            key_store.add_secret(
                session,
                self._kek,
                CA_KEY,
                key.private_bytes_raw(),
                public_key=key.public_key().public_bytes_raw(),
                certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                now=now,
            )
            fingerprint = cert.fingerprint(hashes.SHA256()).hex()
            event = Event("identity.ca.created", None, (), {"certificate_sha256": fingerprint})
            self._ledger.record(session, [event])

    def _ca(self, session: Session) -> tuple[Ed25519PrivateKey, x509.Certificate]:
        found = key_store.open_secret(session, self._kek, CA_KEY)
        if found is None:
            raise NotFoundError(N_("the hub CA has not been created; run `shugu init` first"))
        cert = x509.load_pem_x509_certificate(found.certificate_pem.encode())
        return Ed25519PrivateKey.from_private_bytes(found.secret), cert

    def ca_certificate_pem(self) -> str:
        """The PEM of the hub CA certificate (the space's trust anchor)."""
        with self._db.session() as session:
            row = key_store.get(session, CA_KEY)
            if row is None:
                raise NotFoundError(N_("the hub CA has not been created; run `shugu init` first"))
            return row.certificate_pem

    def crl_pem(self) -> str:
        """The CRL of every revoked participant certificate, signed by the hub CA.

        The signed CRL is cached: it is signed again only when the revocations in the database
        changed (in any hub process; one cheap count query per call tells) or when half of its
        validity has passed. A flood of reads costs no signature and no opening of the CA key.
        """
        with self._db.session() as session:
            stamp = store.revocation_stamp(session)
            cached = self._crl
            if cached is not None and cached.stamp == stamp and self._clock.now() < cached.renew:
                return cached.pem
            with self._crl_lock:
                return self._sign_crl(session, stamp)

    def _sign_crl(self, session: Session, stamp: tuple[int, datetime | None]) -> str:
        cached, now = self._crl, self._clock.now()
        if cached is not None and cached.stamp == stamp and now < cached.renew:
            return cached.pem  # another thread signed it while this one waited
        key, cert = self._ca(session)
        revoked = [(int(r.serial, 16), r.revoked_at) for r in store.revoked_certificates(session)]
        crl = ca.build_crl(key, cert, _dated(revoked), now=now, next_update_hours=CRL_HOURS)
        pem = crl.public_bytes(serialization.Encoding.PEM).decode()
        self._crl = _SignedCrl(pem, stamp, now + timedelta(hours=CRL_HOURS / 2))
        return pem

    # -- applications and decisions -------------------------------------------------------

    def apply(
        self, application: Application, evidence: RequestEvidence | None = None
    ) -> Participant:
        """Register an application; the participant waits for an operator's decision.

        Nothing is written to the ledger yet: the signed application (`evidence`) is kept with
        the row and goes into the ledger with the operator's decision. An application left
        undecided for `application_days` expires: it is treated as absent and deleted on a later
        application, which may then take its name and key, as it may a rejected one's.
        """
        roles = _check_application(application)
        evidence_text = _evidence_text(evidence)
        with self._db.session() as session:
            store.free_applications(
                session, application.name, application.public_key, self._applied_since()
            )
            row = self._insert(session, application, roles, ParticipantStatus.APPLIED)
            row.application_evidence = evidence_text
            return _participant(row)

    def bootstrap_operator(self, application: Application) -> tuple[Participant, Certificate]:
        """Create the space's first operator, approved at once (only while there is none)."""
        roles = _check_application(application)
        if Role.OPERATOR not in roles:
            raise InvalidInputError(N_("the first participant of a space must be an operator"))
        with self._db.session() as session:
            if store.count_operators(session) > 0:
                raise ConflictError(N_("this space already has an operator"))
            row = self._insert(session, application, roles, ParticipantStatus.APPROVED)
            cert = self._issue(session, row)
            self._record(session, "bootstrapped", row.id, row, None, certificate=cert.serial)
            return _participant(row), cert

    def approve(self, actor: Principal, participant_id: str) -> tuple[Participant, Certificate]:
        """Approve an application and issue the participant's certificate."""
        with self._db.session() as session:
            row = self._pending(session, participant_id)
            self._decide(row, actor, ParticipantStatus.APPROVED, None)
            cert = self._issue(session, row)
            self._record(
                session,
                "approved",
                actor.participant_id,
                row,
                actor.evidence,
                name=row.name,
                certificate=cert.serial,
                application=_signed_application(row),
            )
            return _participant(row), cert

    def reject(self, actor: Principal, participant_id: str, reason: str) -> Participant:
        """Reject an application, with a reason the applicant can read."""
        with self._db.session() as session:
            row = self._pending(session, participant_id)
            self._decide(row, actor, ParticipantStatus.REJECTED, _reason(reason))
            self._record(
                session,
                "rejected",
                actor.participant_id,
                row,
                actor.evidence,
                name=row.name,
                reason_sha256=sha256_hex(reason.strip()),
                application=_signed_application(row),
            )
            return _participant(row)

    def revoke(self, actor: Principal, participant_id: str, reason: str) -> Participant:
        """Revoke an approved participant: its certificates stop working at once."""
        with self._db.session() as session:
            row = self._existing(session, participant_id)
            if row.status != ParticipantStatus.APPROVED:
                raise ConflictError(
                    N_("participant {participant} is {status}, only approved ones can be revoked"),
                    participant=participant_id,
                    status=row.status,
                )
            if Role.OPERATOR in _roles(row) and store.count_operators(session) <= 1:
                raise ConflictError(N_("the last operator of a space cannot be revoked"))
            self._decide(row, actor, ParticipantStatus.REVOKED, _reason(reason))
            count = store.revoke_certificates(session, row.id, self._clock.now())
            self._record(
                session,
                "revoked",
                actor.participant_id,
                row,
                actor.evidence,
                reason_sha256=sha256_hex(reason.strip()),
                certificates_revoked=count,
            )
            return _participant(row)

    # -- reading ------------------------------------------------------------------------------

    def get(self, viewer: Principal, participant_id: str) -> Participant:
        """One participant; others than operators and auditors see approved ones and themselves."""
        with self._db.session() as session:
            row = self._existing(session, participant_id)
            if not _visible(viewer, row):
                raise _not_found(participant_id)
            return _participant(row)

    def find(self, viewer: Principal, name_or_id: str) -> Participant:
        """One participant by id or by unique name."""
        if is_id(name_or_id):
            return self.get(viewer, name_or_id)
        with self._db.session() as session:
            row = store.get_participant_by_name(session, name_or_id)
            if row is None or self._expired(row) or not _visible(viewer, row):
                raise _not_found(name_or_id)
            return _participant(row)

    def list_participants(
        self,
        viewer: Principal,
        *,
        statuses: Iterable[ParticipantStatus] = (),
        role: Role | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> tuple[list[Participant], str | None]:
        """A page of participants and the cursor of the next page (None on the last)."""
        wanted = tuple(statuses) or tuple(ParticipantStatus)
        if not viewer.has_any(SEES_EVERYONE):
            if set(wanted) - {ParticipantStatus.APPROVED} and tuple(statuses):
                raise ForbiddenError(
                    N_("only operators and auditors may list participants that are not approved")
                )
            wanted = (ParticipantStatus.APPROVED,)
        with self._db.session() as session:
            rows = store.list_participants(
                session,
                statuses=wanted,
                role=role,
                after=after,
                limit=limit + 1,
                applied_since=self._applied_since(),
            )
            items = [_participant(r) for r in rows[:limit]]
        return items, (items[-1].id if len(rows) > limit else None)

    def certificate(self, viewer: Principal, participant_id: str) -> Certificate:
        """The newest certificate issued to the participant."""
        self.get(viewer, participant_id)
        with self._db.session() as session:
            row = store.latest_certificate(session, participant_id)
            if row is None:
                raise NotFoundError(
                    N_("participant {participant} has no certificate yet"),
                    participant=participant_id,
                )
            return _certificate(row)

    def certificates(
        self, viewer: Principal, participant_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[Certificate], int | None]:
        """Every certificate issued to the participant, oldest first, whatever its state; a page
        and the offset of the next one (None on the last)."""
        self.get(viewer, participant_id)
        with self._db.session() as session:
            rows = store.list_certificates(session, participant_id, offset=offset, limit=limit + 1)
            items = [_certificate(r) for r in rows[:limit]]
        return items, (offset + limit if len(rows) > limit else None)

    # -- authentication -----------------------------------------------------------------------

    def authenticate(self, request: SignedRequest) -> Principal:
        """Check a signed request and return who sent it.

        Raises:
            AuthenticationError: unsigned, malformed, addressed to another server, expired,
                unknown key, bad signature, replay.
            ForbiddenError: the participant is not approved or its certificate is not valid.
        """
        now = self._clock.now()
        parsed = self._policy.check(request, now)
        with self._db.session() as session:
            row = store.get_participant(session, parsed.key_id)
            if row is None:
                raise AuthenticationError(
                    N_("unknown participant {participant}"), participant=parsed.key_id
                )
            _verify(parsed, row.public_key, request)
            _check_standing(row)
            if store.current_certificate(session, row.id, now) is None:
                raise ForbiddenError(
                    N_("participant {participant} has no valid certificate (expired or revoked)"),
                    participant=row.id,
                )
            self._replay.admit(session, parsed.key_id, parsed.nonce, now)
            return Principal(row.id, row.name, frozenset(_roles(row)), RequestEvidence.of(request))

    def authenticate_applicant(self, request: SignedRequest, public_key: bytes) -> RequestEvidence:
        """Check that an application is signed by the key it registers (proof of possession)."""
        now = self._clock.now()
        parsed = self._policy.check(request, now)
        _check_self_signed(parsed, public_key)
        _verify(parsed, public_key, request)
        with self._db.session() as session:
            self._replay.admit(session, parsed.key_id, parsed.nonce, now)
        return RequestEvidence.of(request)

    def own_application(self, request: SignedRequest, participant_id: str) -> Participant:
        """A participant's own record, whatever its status, for a request signed with its key.

        This is how an applicant learns whether it was approved, or why it was rejected.
        """
        now = self._clock.now()
        parsed = self._policy.check(request, now)
        with self._db.session() as session:
            row = self._existing(session, participant_id)
            _check_self_signed(parsed, row.public_key)
            _verify(parsed, row.public_key, request)
            self._replay.admit(session, parsed.key_id, parsed.nonce, now)
            return _participant(row)

    # -- helpers ------------------------------------------------------------------------------

    def _insert(
        self,
        session: Session,
        application: Application,
        roles: tuple[Role, ...],
        status: ParticipantStatus,
    ) -> ParticipantRow:
        if store.get_participant_by_name(session, application.name) is not None:
            raise ConflictError(N_("the name {name} is already taken"), name=application.name)
        if store.find_participant_by_key(session, application.public_key) is not None:
            raise ConflictError(N_("this public key is already registered"))
        now = self._clock.now()
        row = ParticipantRow(
            id=new_id(now),
            name=application.name,
            display_name=application.display_name.strip() or application.name,
            roles="," + ",".join(r.value for r in roles) + ",",
            status=status.value,
            public_key=application.public_key,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row

    def _issue(self, session: Session, row: ParticipantRow) -> Certificate:
        key, ca_cert = self._ca(session)
        subject = ca.Subject(row.id, row.name, tuple(r.value for r in _roles(row)), row.public_key)
        cert = ca.issue_certificate(
            key, ca_cert, subject, now=self._clock.now(), days=self._config.certificate_days
        )
        cert_row = CertificateRow(
            serial=format(cert.serial_number, "x"),
            participant_id=row.id,
            pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            revoked_at=None,
        )
        session.add(cert_row)
        return _certificate(cert_row)

    def _existing(self, session: Session, participant_id: str) -> ParticipantRow:
        row = store.get_participant(session, participant_id) if is_id(participant_id) else None
        if row is None or self._expired(row):
            raise _not_found(participant_id)
        return row

    def _applied_since(self) -> datetime:
        """Applications made before this have expired."""
        return self._clock.now() - timedelta(days=self._config.application_days)

    def _expired(self, row: ParticipantRow) -> bool:
        return row.status == ParticipantStatus.APPLIED and row.created_at < self._applied_since()

    def _pending(self, session: Session, participant_id: str) -> ParticipantRow:
        row = self._existing(session, participant_id)
        if row.status != ParticipantStatus.APPLIED:
            raise ConflictError(
                N_("participant {participant} is {status}; only applications can be decided"),
                participant=participant_id,
                status=row.status,
            )
        return row

    def _record(
        self,
        session: Session,
        what: str,
        actor: str | None,
        row: ParticipantRow,
        evidence: RequestEvidence | None,
        **payload: object,
    ) -> None:
        body = {
            "participant": row.id,
            "roles": [r.value for r in _roles(row)],
            "public_key_sha256": sha256_hex(row.public_key),
            **payload,
        }
        event = Event(f"identity.participant.{what}", actor, (row.id,), body, evidence)
        self._ledger.record(session, [event])

    def _decide(
        self, row: ParticipantRow, actor: Principal, status: ParticipantStatus, reason: str | None
    ) -> None:
        row.status = status.value
        row.decided_by = actor.participant_id
        row.reason = reason
        row.updated_at = self._clock.now()


def _verify(parsed: httpsig.SignatureInput, public_key: bytes, request: SignedRequest) -> None:
    httpsig.verify(parsed, Ed25519PublicKey.from_public_bytes(public_key), request)


def _check_self_signed(parsed: httpsig.SignatureInput, public_key: bytes) -> None:
    if parsed.key_id != self_key_id(public_key):
        raise AuthenticationError(
            N_("an application must be signed with the key it registers (keyid {expected})"),
            expected=self_key_id(public_key),
        )


def _evidence_text(evidence: RequestEvidence | None) -> str | None:
    if evidence is None:
        return None
    text = json.dumps(evidence.as_json(), sort_keys=True)
    if len(text) > MAX_APPLICATION_EVIDENCE:
        raise InvalidInputError(
            N_("the signed request of an application may be at most {limit} bytes of headers"),
            limit=MAX_APPLICATION_EVIDENCE,
        )
    return text


def _signed_application(row: ParticipantRow) -> dict[str, object]:
    """The application as the decision entry carries it: the key it registers and the request
    the applicant signed with that key (None if it did not come over HTTP)."""
    evidence = json.loads(row.application_evidence) if row.application_evidence else None
    return {"public_key": base64.b64encode(row.public_key).decode(), "evidence": evidence}


def _dated(revoked: list[tuple[int, datetime | None]]) -> list[tuple[int, datetime]]:
    return [(serial, when) for serial, when in revoked if when is not None]


def _check_application(application: Application) -> tuple[Role, ...]:
    if not NAME.match(application.name):
        raise InvalidInputError(
            N_(
                "invalid participant name {name}: use 2 to 64 lowercase letters, digits and "
                "hyphens, starting and ending with a letter or digit"
            ),
            name=application.name,
        )
    if len(application.display_name) > 200 or any(ord(c) < 32 for c in application.display_name):
        raise InvalidInputError(N_("the display name must be at most 200 printable characters"))
    if len(application.public_key) != 32:
        raise InvalidInputError(N_("the public key must be a 32-byte Ed25519 key"))
    if not application.roles:
        raise InvalidInputError(N_("at least one role is required"))
    known = {r.value for r in Role}
    unknown = [r for r in application.roles if r not in known]
    if unknown:
        raise InvalidInputError(
            N_("unknown role {role}; roles are: {roles}"),
            role=unknown[0],
            roles=", ".join(sorted(known)),
        )
    return tuple(Role(r) for r in dict.fromkeys(application.roles))


def _check_standing(row: ParticipantRow) -> None:
    status = ParticipantStatus(row.status)
    if status == ParticipantStatus.REVOKED:
        raise ForbiddenError(
            N_("participant {participant} has been revoked; its certificate no longer works"),
            participant=row.id,
        )
    if status == ParticipantStatus.APPLIED:
        raise ForbiddenError(
            N_("participant {participant} has not been approved yet"), participant=row.id
        )
    if status == ParticipantStatus.REJECTED:
        raise ForbiddenError(
            N_("the application of participant {participant} was rejected"), participant=row.id
        )


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text or len(text) > 500:
        raise InvalidInputError(N_("a reason of 1 to 500 characters is required"))
    return text


def _visible(viewer: Principal, row: ParticipantRow) -> bool:
    return (
        viewer.has_any(SEES_EVERYONE)
        or row.id == viewer.participant_id
        or row.status == ParticipantStatus.APPROVED
    )


def _not_found(participant: str) -> NotFoundError:
    return NotFoundError(N_("participant {participant} not found"), participant=participant)


def _roles(row: ParticipantRow) -> tuple[Role, ...]:
    return tuple(Role(r) for r in row.roles.strip(",").split(",") if r)


def _participant(row: ParticipantRow) -> Participant:
    return Participant(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        roles=_roles(row),
        status=ParticipantStatus(row.status),
        public_key=row.public_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
        decided_by=row.decided_by,
        reason=row.reason,
    )


def _certificate(row: CertificateRow) -> Certificate:
    return Certificate(
        serial=row.serial,
        participant_id=row.participant_id,
        pem=row.pem,
        not_before=row.not_before,
        not_after=row.not_after,
        revoked_at=row.revoked_at,
    )

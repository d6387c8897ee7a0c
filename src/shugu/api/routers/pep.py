"""PEP: the global public key (public), transcription and session key shares (authorised by the
link policy, recorded on the ledger). The parties that submit into a domain and those that receive
keys decrypting in it are disjoint: a key receiver's submission is refused (403) and recorded."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shugu.api.auth import hub_state, require, roles_doc
from shugu.api.openapi import pattern, problems
from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.identity import Principal, Role
from shugu.pep.distributed import SessionKeyShare
from shugu.pep.group import parse_hex
from shugu.pep.policy import NAME
from shugu.pep.sharing import SealedShare

router = APIRouter(prefix="/v1/pep", tags=["pep"])

TRANSCRYPT_ROLES = (Role.HOLDER, Role.USER, Role.COMPUTE_PROVIDER, Role.CUSTODIAN)
SESSION_KEY_ROLES = (Role.USER, Role.COMPUTE_PROVIDER, Role.CUSTODIAN)
Transcriber = Annotated[Principal, Depends(require(*TRANSCRYPT_ROLES))]
JobRunner = Annotated[Principal, Depends(require(*SESSION_KEY_ROLES))]
Name = Field(min_length=1, max_length=200, json_schema_extra=pattern(NAME))
CIPHERTEXTS = (
    r"^(?:[A-Za-z0-9+/]{256})*(?:[A-Za-z0-9+/]{86}==|[A-Za-z0-9+/]{171}=)$"
    r"|^(?:[A-Za-z0-9+/]{256})+$"
)
"""Standard base64 of one or more 64-byte ciphertexts (three of them are 256 characters).
The PEP service checks names and batches itself, with messages in the caller's language (400);
the schema documents the patterns."""


class PublicKeyOut(BaseModel):
    """The global public key X (hex) and the transcryptors, in chain order."""

    public_key: str
    transcryptors: list[str]
    client_key: str
    """The hub's PEP client key (Ed25519, hex): transcryptor servers answer only it."""


class TranscryptIn(BaseModel):
    """A batch under the global key, to move into a job's domain and session."""

    job: str = Name
    domain_from: str | None = Field(
        default=None, min_length=1, max_length=200, json_schema_extra=pattern(NAME)
    )
    """The holder's pseudonymisation domain; null for the global domain (hashed identifiers)."""
    domain_to: str = Name
    session: str = Name
    ciphertexts: str = Field(
        json_schema_extra=pattern(CIPHERTEXTS),
        description="Standard base64 of the packed 64-byte ciphertexts.",
    )
    shuffle: bool = True
    """Return the batch in a random order (false keeps rows aligned with other columns)."""


class TranscryptOut(BaseModel):
    """The batch in the job's domain and session."""

    ciphertexts: str
    count: int
    public_key: str
    """The session's public key the batch is now under (hex)."""
    route: list[str]
    ledger_index: int


class SessionKeyIn(BaseModel):
    """Which job session's key, and the job's one-time X25519 key to seal the shares to."""

    job: str = Name
    session: str = Name
    recipient_key: str = Field(
        min_length=64, max_length=64, json_schema_extra=pattern(r"^[0-9A-Fa-f]{64}$")
    )
    """Hex of the job's one-time X25519 public key: every share comes sealed to it (RFC 9180
    HPKE), so that no share of a session key ever crosses the API in clear."""


class ShareOut(BaseModel):
    """One transcryptor's share kᵢ·bᵢ sealed to the recipient key: base64 of an RFC 9180 HPKE
    ciphertext (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM; info
    ``shugu-pep-session-key-share-v1 ‖ 0 ‖ transcryptor ‖ 0 ‖ context``)."""

    transcryptor: str
    sealed: str


class SessionKeyOut(BaseModel):
    """The shares and the blinded global secret key; their product is the session secret key."""

    job: str
    session: str
    context: str
    blinded_secret_key: str
    shares: list[ShareOut]
    public_key: str


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidInputError(N_("ciphertexts must be standard base64")) from None


def _share(share: SessionKeyShare | SealedShare) -> ShareOut:
    if not isinstance(share, SealedShare):  # the service seals whenever a recipient is given
        raise TypeError("a share must be sealed before it leaves the hub")
    return ShareOut(transcryptor=share.transcryptor, sealed=base64.b64encode(share.sealed).decode())


@router.get("/public-key", response_model=PublicKeyOut, responses=problems(404, 409))
async def public_key(request: Request) -> PublicKeyOut:
    """The global public key holders encrypt their pseudonyms to."""
    pep = hub_state(request).hub.pep
    info = await run_in_threadpool(pep.public_info)
    client_key = await run_in_threadpool(pep.client_public_key)
    return PublicKeyOut(
        public_key=info.public_key.hex(),
        transcryptors=list(info.transcryptors),
        client_key=client_key.hex(),
    )


class ClientKeyOut(BaseModel):
    """The hub's PEP client key (Ed25519, hex)."""

    client_key: str


@router.get("/client-key", response_model=ClientKeyOut, responses=problems(409))
async def client_key(request: Request) -> ClientKeyOut:
    """The key the hub signs its calls to transcryptor servers with (available before the PEP
    system is set up, so that the servers can be told to trust it first)."""
    pep = hub_state(request).hub.pep
    return ClientKeyOut(client_key=(await run_in_threadpool(pep.client_public_key)).hex())


@router.post(
    "/transcrypt",
    response_model=TranscryptOut,
    responses=problems(404, 409),
    openapi_extra=roles_doc(*TRANSCRYPT_ROLES),
)
async def transcrypt(request: Request, caller: Transcriber, body: TranscryptIn) -> TranscryptOut:
    """Transcrypt a batch into the job's domain and session, if the caller is a submitter of the
    job's domains; a key receiver of them is refused and the refusal recorded
    (`pep.transcription.refused`)."""
    pep = hub_state(request).hub.pep
    data = _decode(body.ciphertexts)
    result = await run_in_threadpool(
        lambda: pep.transcrypt(
            caller,
            job=body.job,
            domain_from=body.domain_from,
            domain_to=body.domain_to,
            session=body.session,
            ciphertexts=data,
            shuffle=body.shuffle,
        )
    )
    batch = result.batch
    hub_state(request).metrics.pep_ciphertexts.inc(len(batch))
    return TranscryptOut(
        ciphertexts=base64.b64encode(batch.ciphertexts).decode(),
        count=len(batch),
        public_key=batch.public_key.hex(),
        route=list(batch.route),
        ledger_index=result.ledger_index,
    )


@router.post(
    "/session-key",
    response_model=SessionKeyOut,
    responses=problems(404, 409),
    openapi_extra=roles_doc(*SESSION_KEY_ROLES),
)
async def session_key(request: Request, caller: JobRunner, body: SessionKeyIn) -> SessionKeyOut:
    """Every transcryptor's share of the job session's key, if the caller is a key receiver of
    the job."""
    pep = hub_state(request).hub.pep
    recipient = parse_hex(body.recipient_key, "recipient_key")
    material = await run_in_threadpool(
        lambda: pep.session_key(caller, job=body.job, session=body.session, recipient=recipient)
    )
    hub_state(request).metrics.pep_session_keys.inc()
    return SessionKeyOut(
        job=body.job,
        session=body.session,
        context=material.context,
        blinded_secret_key=material.blinded_secret_key.hex(),
        shares=[_share(share) for share in material.shares],
        public_key=material.public_key.hex(),
    )

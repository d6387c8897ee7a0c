"""Participants: applications, decisions, listing, certificates."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shugu.api.address import limit_key
from shugu.api.auth import SIGNED, client_address, hub_state, require, roles_doc, signed_request
from shugu.api.middleware import charge
from shugu.api.openapi import pattern, problems
from shugu.api.pagination import (
    Cursor,
    IndexCursor,
    Limit,
    Page,
    decode_cursor,
    decode_index_cursor,
    encode_cursor,
    encode_index_cursor,
)
from shugu.api.ratelimit import TOO_MANY_APPLICATIONS
from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.identity import (
    Application,
    Certificate,
    Participant,
    ParticipantStatus,
    Principal,
    Role,
)
from shugu.identity.service import NAME

router = APIRouter(prefix="/v1", tags=["participants"])

PRINTABLE = r"^[^\x00-\x1f]*$"
ED25519_BASE64 = r"^[A-Za-z0-9+/]{43}=$"
"""What the identity service accepts; it checks them itself, with messages that say what is
wrong in the caller's language (400), so the schema only documents them."""

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Anyone = Annotated[Principal, Depends(require())]


class ApplicationIn(BaseModel):
    """An application to join the space, signed with the key it registers."""

    name: str = Field(max_length=64, json_schema_extra=pattern(NAME), examples=["hangzhou-pharma"])
    display_name: str = Field(
        default="",
        max_length=200,
        json_schema_extra=pattern(PRINTABLE),
        examples=["杭州某制药有限公司"],
    )
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    public_key: str = Field(
        max_length=64,
        json_schema_extra=pattern(ED25519_BASE64),
        description="Ed25519 public key (32 bytes), standard base64.",
    )


class ParticipantOut(BaseModel):
    """A participant as the API shows it."""

    id: str
    name: str
    display_name: str
    roles: list[Role]
    status: ParticipantStatus
    public_key: str
    created_at: datetime
    updated_at: datetime
    decided_by: str | None
    reason: str | None

    @classmethod
    def of(cls, participant: Participant) -> ParticipantOut:
        """Map the domain view."""
        return cls(
            id=participant.id,
            name=participant.name,
            display_name=participant.display_name,
            roles=list(participant.roles),
            status=participant.status,
            public_key=base64.b64encode(participant.public_key).decode(),
            created_at=participant.created_at,
            updated_at=participant.updated_at,
            decided_by=participant.decided_by,
            reason=participant.reason,
        )


class CertificateOut(BaseModel):
    """An X.509 certificate issued by the hub CA."""

    serial: str
    participant_id: str
    pem: str
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, certificate: Certificate) -> CertificateOut:
        """Map the domain view."""
        return cls(
            serial=certificate.serial,
            participant_id=certificate.participant_id,
            pem=certificate.pem,
            not_before=certificate.not_before,
            not_after=certificate.not_after,
            revoked_at=certificate.revoked_at,
        )


class ApprovalOut(BaseModel):
    """An approved participant and its new certificate."""

    participant: ParticipantOut
    certificate: CertificateOut


class ReasonIn(BaseModel):
    """Why an operator rejects or revokes."""

    reason: str = Field(min_length=1, max_length=500)


def _public_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(N_("the public key is not valid base64")) from exc
    if len(key) != 32:
        raise InvalidInputError(N_("the public key must be a 32-byte Ed25519 key"))
    return key


@router.post(
    "/applications",
    status_code=201,
    response_model=ParticipantOut,
    responses=problems(409),
    dependencies=[SIGNED],
    openapi_extra={"x-shugu-roles": ["anyone, signed with the key it registers"]},
)
async def apply(request: Request, body: ApplicationIn) -> ParticipantOut:
    """Apply to join the space. The request is signed with the key being registered
    (`keyid` = `key:` + the base64url key), proving the applicant holds it. Each client address
    may apply `rate_limit.applications_per_hour` times an hour (429 after). An application
    undecided for `application_days` expires and frees its name."""
    state = hub_state(request)
    address = limit_key(client_address(request))
    await charge(state.limits.application, address, TOO_MANY_APPLICATIONS)
    key = _public_key(body.public_key)
    signed = await signed_request(request)
    evidence = await run_in_threadpool(state.hub.identity.authenticate_applicant, signed, key)
    application = Application(body.name, body.display_name, tuple(body.roles), key)
    participant = await run_in_threadpool(state.hub.identity.apply, application, evidence)
    return ParticipantOut.of(participant)


@router.get(
    "/applications/{participant_id}",
    response_model=ParticipantOut,
    responses=problems(404),
    dependencies=[SIGNED],
    openapi_extra={"x-shugu-roles": ["the applicant itself, signed with its key"]},
)
async def own_application(request: Request, participant_id: str) -> ParticipantOut:
    """An applicant's own record (status, reason), signed with its key (`keyid` = `key:`…),
    before or after the operator's decision."""
    state = hub_state(request)
    signed = await signed_request(request)
    identity = state.hub.identity
    return ParticipantOut.of(
        await run_in_threadpool(identity.own_application, signed, participant_id)
    )


@router.get("/participants", response_model=Page[ParticipantOut], openapi_extra=roles_doc())
async def list_participants(
    request: Request,
    viewer: Anyone,
    status: Annotated[list[ParticipantStatus] | None, Query()] = None,
    role: Role | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ParticipantOut]:
    """List participants. Operators and auditors see every status; others see approved ones."""
    identity = hub_state(request).hub.identity
    items, last = await run_in_threadpool(
        lambda: identity.list_participants(
            viewer, statuses=status or (), role=role, after=decode_cursor(cursor), limit=limit
        )
    )
    return Page[ParticipantOut](
        items=[ParticipantOut.of(p) for p in items], next_cursor=encode_cursor(last)
    )


@router.get("/me", response_model=ParticipantOut, openapi_extra=roles_doc())
async def me(request: Request, viewer: Anyone) -> ParticipantOut:
    """The calling participant."""
    identity = hub_state(request).hub.identity
    return ParticipantOut.of(await run_in_threadpool(identity.get, viewer, viewer.participant_id))


@router.get(
    "/participants/{ref}",
    response_model=ParticipantOut,
    responses=problems(404),
    openapi_extra=roles_doc(),
)
async def show(request: Request, viewer: Anyone, ref: str) -> ParticipantOut:
    """One participant, by id or by name."""
    identity = hub_state(request).hub.identity
    return ParticipantOut.of(await run_in_threadpool(identity.find, viewer, ref))


@router.get(
    "/participants/{ref}/certificate",
    response_model=CertificateOut,
    responses=problems(404),
    openapi_extra=roles_doc(),
)
async def certificate(request: Request, viewer: Anyone, ref: str) -> CertificateOut:
    """The newest certificate of a participant, by id or by name."""
    identity = hub_state(request).hub.identity
    participant = await run_in_threadpool(identity.find, viewer, ref)
    cert = await run_in_threadpool(identity.certificate, viewer, participant.id)
    return CertificateOut.of(cert)


@router.get(
    "/participants/{ref}/certificates",
    response_model=Page[CertificateOut],
    responses=problems(404),
    openapi_extra=roles_doc(),
)
async def certificates(
    request: Request, viewer: Anyone, ref: str, limit: Limit = 50, cursor: IndexCursor = None
) -> Page[CertificateOut]:
    """Every certificate issued to a participant, oldest first, revoked and expired ones too (an
    auditor checks past signatures with the certificate valid at the time)."""
    identity = hub_state(request).hub.identity
    participant = await run_in_threadpool(identity.find, viewer, ref)
    items, following = await run_in_threadpool(
        lambda: identity.certificates(
            viewer, participant.id, offset=decode_index_cursor(cursor), limit=limit
        )
    )
    return Page[CertificateOut](
        items=[CertificateOut.of(c) for c in items], next_cursor=encode_index_cursor(following)
    )


@router.post(
    "/participants/{participant_id}/approve",
    response_model=ApprovalOut,
    responses=problems(404, 409),
    openapi_extra=roles_doc(Role.OPERATOR),
)
async def approve(request: Request, actor: Operator, participant_id: str) -> ApprovalOut:
    """Approve an application: the hub CA issues the participant's certificate."""
    identity = hub_state(request).hub.identity
    participant, cert = await run_in_threadpool(identity.approve, actor, participant_id)
    return ApprovalOut(
        participant=ParticipantOut.of(participant), certificate=CertificateOut.of(cert)
    )


@router.post(
    "/participants/{participant_id}/reject",
    response_model=ParticipantOut,
    responses=problems(404, 409),
    openapi_extra=roles_doc(Role.OPERATOR),
)
async def reject(
    request: Request, actor: Operator, participant_id: str, body: ReasonIn
) -> ParticipantOut:
    """Reject an application, with a reason."""
    identity = hub_state(request).hub.identity
    return ParticipantOut.of(
        await run_in_threadpool(identity.reject, actor, participant_id, body.reason)
    )


@router.post(
    "/participants/{participant_id}/revoke",
    response_model=ParticipantOut,
    responses=problems(404, 409),
    openapi_extra=roles_doc(Role.OPERATOR),
)
async def revoke(
    request: Request, actor: Operator, participant_id: str, body: ReasonIn
) -> ParticipantOut:
    """Revoke a participant: its certificate stops working at once and joins the CRL."""
    identity = hub_state(request).hub.identity
    return ParticipantOut.of(
        await run_in_threadpool(identity.revoke, actor, participant_id, body.reason)
    )

"""The hub CA: its certificate (the space's trust anchor) and its revocation list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from shugu.api.auth import hub_state
from shugu.identity.ca import organisation_of

router = APIRouter(prefix="/v1/ca", tags=["ca"])

PEM = "application/x-pem-file"


class CaInfo(BaseModel):
    """The trust anchor of the space."""

    space: str
    certificate_pem: str


@router.get("", response_model=CaInfo)
async def ca_certificate(request: Request) -> CaInfo:
    """The hub CA certificate, which every participant certificate chains to."""
    hub = hub_state(request).hub
    pem = await run_in_threadpool(hub.identity.ca_certificate_pem)
    return CaInfo(space=organisation_of(pem), certificate_pem=pem)


@router.get(
    "/crl",
    response_class=PlainTextResponse,
    responses={200: {"content": {PEM: {"schema": {"type": "string"}}}}},
)
async def crl(request: Request) -> PlainTextResponse:
    """The certificate revocation list (PEM), signed by the hub CA: signed again only after a
    revocation or half-way to its nextUpdate (24 h), never per request."""
    pem = await run_in_threadpool(hub_state(request).hub.identity.crl_pem)
    return PlainTextResponse(pem, media_type=PEM)

"""The HTTP face of a stand-alone transcryptor (`shugu pep transcryptor up`).

Its only client is the hub it was set up for (see `shugu.pep.remote` for the wire format); every
call but ``GET /health`` must be signed by the hub's PEP client key.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shugu import __version__
from shugu.api.auth import signed_request
from shugu.api.errors import install_error_handlers
from shugu.api.middleware import BodyLimitMiddleware
from shugu.errors import InvalidInputError, ShuguError
from shugu.i18n import N_
from shugu.ledger.models import RequestEvidence
from shugu.pep.group import GroupElement, parse_hex
from shugu.pep.ports import ShareAnswer
from shugu.pep.remote import NAME_HEADER, PREFIX, PUBLIC_KEY_HEADER
from shugu.pep.server import TranscryptorHost
from shugu.pep.service import session_context
from shugu.pep.sharing import SealedShare
from shugu.runtime.transcryptor import TranscryptorRuntime
from shugu.settings import Settings

__all__ = ["create_transcryptor_app"]

Name = Field(min_length=1, max_length=200)
QueryName = Query(min_length=1, max_length=200)


@dataclass(slots=True)
class TranscryptorState:
    """What the routes reach through `request.app.state.transcryptor`."""

    host: TranscryptorHost


def _host(request: Request) -> TranscryptorHost:
    state: TranscryptorState = request.app.state.transcryptor
    return state.host


async def _authenticated(request: Request) -> RequestEvidence:
    signed = await signed_request(request)
    return await run_in_threadpool(_host(request).authenticate, signed)


Evidence = Annotated[RequestEvidence, Depends(_authenticated)]


class InfoOut(BaseModel):
    """Who this transcryptor is."""

    name: str
    version: str
    joined: bool
    hub_key: str


class PointIn(BaseModel):
    """A point to blind (hex)."""

    point: str = Field(min_length=64, max_length=64)


class PointOut(BaseModel):
    """bᵢ·P (hex)."""

    transcryptor: str
    point: str


class ShareIn(BaseModel):
    """A request for this transcryptor's share of a session key."""

    context: str = Field(min_length=1, max_length=401)
    public_key: str = Field(min_length=64, max_length=64)
    recipient_key: str = Field(min_length=64, max_length=64)
    job: str = Name
    on_behalf_of: str = Name


class ShareOut(BaseModel):
    """The share sealed to the recipient key, and kᵢ(c)·P."""

    transcryptor: str
    session: str
    sealed: str
    public_key: str


def sealed_share(answer: ShareAnswer, name: str) -> SealedShare:
    """The share of `answer`, which a transcryptor server only ever hands out sealed.

    Raises:
        ShuguError: the share is in clear (a bug; it is never sent).
    """
    if not isinstance(answer.share, SealedShare):
        raise ShuguError(
            N_("transcryptor {transcryptor} produced an unsealed session key share"),
            transcryptor=name,
        )
    return answer.share


def _check_context(context: str) -> str:
    job, sep, session = context.partition("#")
    if not sep:
        raise InvalidInputError(N_("a session context is '<job>#<session>'"))
    return session_context(job, session)


def create_transcryptor_app(settings: Settings, runtime: TranscryptorRuntime) -> FastAPI:
    """The transcryptor server's application over an opened `runtime` (closed with the app)."""
    host = runtime.host

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.close()

    app = FastAPI(
        title=f"shugu transcryptor {host.config.name}", version=__version__, lifespan=lifespan
    )
    app.state.transcryptor = TranscryptorState(host)
    install_error_handlers(app)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(PREFIX, response_model=InfoOut)
    async def info(request: Request, _: Evidence) -> InfoOut:
        found = await run_in_threadpool(host.info)
        return InfoOut(version=__version__, **found)

    @app.post(PREFIX + "/blind", response_model=PointOut)
    async def blind(request: Request, evidence: Evidence, body: PointIn) -> PointOut:
        point = GroupElement.from_hex(body.point)
        result = await run_in_threadpool(host.blind, point, evidence)
        return PointOut(transcryptor=host.config.name, point=result.hex())

    @app.post(PREFIX + "/transcrypt")
    async def transcrypt(
        request: Request,
        evidence: Evidence,
        domain_to: Annotated[str, QueryName],
        session_to: Annotated[str, Query(min_length=1, max_length=401)],
        public_key: Annotated[str, Query(min_length=64, max_length=64)],
        job: Annotated[str, QueryName],
        on_behalf_of: Annotated[str, QueryName],
        shuffle: bool = True,
        domain_from: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        route: Annotated[str | None, Query(max_length=4000)] = None,
    ) -> Response:
        data = await request.body()
        key = GroupElement.from_hex(public_key)
        context = _check_context(session_to)
        out = await run_in_threadpool(
            lambda: host.transcrypt(
                data,
                public_key=key,
                route=tuple(route.split(",")) if route else (),
                domain_from=domain_from,
                domain_to=domain_to,
                session_to=context,
                shuffle=shuffle,
                job=job,
                on_behalf_of=on_behalf_of,
                evidence=evidence,
            )
        )
        return Response(
            out.ciphertexts,
            media_type="application/octet-stream",
            headers={PUBLIC_KEY_HEADER: out.public_key.hex(), NAME_HEADER: host.config.name},
        )

    @app.post(PREFIX + "/session-key-share", response_model=ShareOut)
    async def session_key_share(request: Request, evidence: Evidence, body: ShareIn) -> ShareOut:
        context = _check_context(body.context)
        point = GroupElement.from_hex(body.public_key)
        recipient = parse_hex(body.recipient_key, "recipient_key")
        answer = await run_in_threadpool(
            lambda: host.session_key_share(
                context,
                point,
                recipient,
                job=body.job,
                on_behalf_of=body.on_behalf_of,
                evidence=evidence,
            )
        )
        share = sealed_share(answer, host.config.name)
        return ShareOut(
            transcryptor=host.config.name,
            session=share.session,
            sealed=base64.b64encode(share.sealed).decode(),
            public_key=answer.public_key.hex(),
        )

    limit = max(settings.max_body_bytes, host.config.max_batch * 64 + 65_536)
    app.add_middleware(BodyLimitMiddleware, max_bytes=limit)
    return app

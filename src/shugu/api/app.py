"""The hub's FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from shugu import __version__
from shugu.api.address import TrustedProxies
from shugu.api.errors import install_error_handlers
from shugu.api.middleware import (
    AddressLimitMiddleware,
    BodyLimitMiddleware,
    HubMetrics,
    ObserveMiddleware,
)
from shugu.api.openapi import document_errors
from shugu.api.ratelimit import HubLimits
from shugu.api.routers import ca, health, ledger, participants, pep
from shugu.clock import Clock
from shugu.errors import ShuguError
from shugu.runtime import Hub
from shugu.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
The hub of a shugu trusted data space (数谷可信数据空间).

**Authentication.** Every non-public request is signed with the participant's Ed25519 key as
RFC 9421 HTTP Message Signatures: headers `Content-Digest` (RFC 9530, sha-256), `Signature-Input`
(`("@method" "@authority" "@path" "@query" "content-digest")` with `created`, `keyid` =
participant id, `alg="ed25519"`, `nonce`, `tag="shugu"`) and `Signature`. A request signed for
another server (`@authority`), older than five minutes or with a nonce already seen is refused.
Each operation lists the roles it admits in `x-shugu-roles`.

**Errors** are RFC 9457 `application/problem+json` with a machine-readable `code`.
**Listings** take `limit` and `cursor` and return `{"items": [...], "next_cursor": ...}`.
"""


@dataclass(slots=True)
class HubState:
    """What routes reach through `request.app.state.hub`."""

    hub: Hub
    limits: HubLimits
    metrics: HubMetrics


async def _checkpoint_ticker(hub: Hub) -> None:
    """While served, let the ledger sign a checkpoint whenever one is due by time."""
    while True:
        await asyncio.sleep(1.0)
        try:
            await run_in_threadpool(hub.ledger.tick)
        except ShuguError:
            log.warning("ledger.tick_failed")


def create_app(
    settings: Settings, *, clock: Clock | None = None, hub: Hub | None = None
) -> FastAPI:
    """Build the hub application: open (and migrate) the database, wire services and routes.

    Raises:
        NotFoundError: the home has no key-encryption key (not initialised).
        UnavailableError: the database cannot be reached.
        InvalidInputError: the rate-limit store URL names no supported store.
    """
    hub = hub or Hub.open(settings, clock)
    metrics = HubMetrics()
    limits = HubLimits.from_settings(settings, hub.clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = asyncio.create_task(_checkpoint_ticker(hub))
        yield
        ticker.cancel()
        hub.close()

    app = FastAPI(
        title="shugu hub",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.hub = HubState(hub=hub, limits=limits, metrics=metrics)
    install_error_handlers(app)
    document_errors(app)
    for module in (health, ca, participants, ledger, pep):
        app.include_router(module.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    proxies = TrustedProxies(settings.trusted_proxies)
    app.add_middleware(AddressLimitMiddleware, limits=limits, proxies=proxies)
    app.add_middleware(ObserveMiddleware, metrics=metrics)
    return app

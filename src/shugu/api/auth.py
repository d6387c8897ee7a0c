"""Authentication and role checks as FastAPI dependencies.

Every route of the hub either is public (listed in `PUBLIC_ROUTES`) or depends on `require(...)`,
which authenticates the signed request and checks the caller's roles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from shugu.api.address import UNKNOWN
from shugu.api.middleware import charge
from shugu.api.openapi import SECURITY_SCHEME
from shugu.errors import ForbiddenError
from shugu.i18n import N_
from shugu.identity import Principal, Role
from shugu.signing import SignedRequest
from shugu.signing.authority import from_host_header

if TYPE_CHECKING:
    from shugu.api.app import HubState

PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/v1/ca"),
        ("GET", "/v1/ca/crl"),
        ("POST", "/v1/applications"),
        ("GET", "/v1/applications/{participant_id}"),
        ("GET", "/ledger/checkpoint"),
        ("GET", "/ledger/checkpoints"),
        ("GET", "/ledger/key"),
        ("GET", "/ledger/proof/inclusion"),
        ("GET", "/ledger/proof/consistency"),
        ("GET", "/v1/pep/public-key"),
        ("GET", "/v1/pep/client-key"),
    }
)
"""(method, path) of the operations anyone may call: a new method on a public path is not public
until listed. An application is public but must be signed by the key it registers."""

SIGNATURE_HEADER = APIKeyHeader(
    name="Signature",
    scheme_name=SECURITY_SCHEME,
    description="RFC 9421 HTTP Message Signature (Ed25519) with its `Signature-Input` and an "
    "RFC 9530 `Content-Digest`; see the description at the top of this document.",
    auto_error=False,
)
SIGNED = Security(SIGNATURE_HEADER)
"""Marks an operation as signed in the OpenAPI document; checking is `authenticate`'s."""

ANY_ROLE = frozenset(Role)


def hub_state(request: Request) -> HubState:
    """The hub services attached to the app."""
    state: HubState = request.app.state.hub
    return state


async def signed_request(request: Request) -> SignedRequest:
    """The parts of the request its signature covers (reads the body, within the size limit).

    Its `@authority` is the `Host` it was sent to, normalised (RFC 9421 §2.2.3); the server
    then refuses it unless that is one of its own names.
    """
    body = await request.body()
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    headers = request.headers
    return SignedRequest(
        method=request.method,
        authority=from_host_header(request.url.scheme, headers.get("host")),
        path=raw_path.decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        body=body,
        signature_input=headers.get("signature-input"),
        signature=headers.get("signature"),
        content_digest=headers.get("content-digest"),
    )


async def authenticate(request: Request) -> Principal:
    """Authenticate the signed request, then charge the participant's own rate limit.

    The request was already counted against its client address (`AddressLimitMiddleware`)
    before this runs; the participant's limit is charged only once the signature proves who it
    is, so nobody can spend another participant's quota by naming its key.
    """
    state = hub_state(request)
    signed = await signed_request(request)
    principal = await run_in_threadpool(state.hub.identity.authenticate, signed)
    request.state.principal = principal
    await charge(state.limits.participant, principal.participant_id)
    return principal


def client_address(request: Request) -> str:
    """The client address the per-address limit counted this request under."""
    return str(request.scope.get("state", {}).get("client_address", UNKNOWN))


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting authenticated callers holding one of `roles` (any role if none)."""
    allowed = frozenset(roles) or ANY_ROLE

    async def check(
        principal: Annotated[Principal, Depends(authenticate)],
        _: Annotated[str | None, SIGNED],
    ) -> Principal:
        if not principal.has_any(allowed):
            raise ForbiddenError(
                N_("this needs one of the roles {needed}; {participant} has {held}"),
                needed=", ".join(sorted(allowed)),
                participant=principal.name,
                held=", ".join(sorted(principal.roles)) or "-",
            )
        return principal

    check.roles = allowed  # type: ignore[attr-defined]
    return check


def roles_doc(*roles: Role) -> dict[str, object]:
    """OpenAPI extension naming the roles an operation admits."""
    return {"x-shugu-roles": sorted(roles or ANY_ROLE)}

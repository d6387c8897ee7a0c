"""Mapping errors to HTTP: one table from error kind to status, bodies as RFC 9457 problem+json.

A problem body carries the machine-readable `code`, the English message template and its
`params` (so a client can render it in its own language) and `detail`, already rendered in the
language the request asked for (Accept-Language).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from shugu.api.openapi import PROBLEM_JSON, TITLES
from shugu.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ShuguError,
    UnavailableError,
    VerificationError,
)
from shugu.i18n import N_, normalize_lang

log = logging.getLogger(__name__)

STATUS: dict[type[ShuguError], int] = {
    PayloadTooLargeError: 413,
    InvalidInputError: 400,
    AuthenticationError: 401,
    RateLimitedError: 429,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    UnavailableError: 503,
    VerificationError: 422,
    ShuguError: 500,
}
"""Error kind → HTTP status. Looked up along the class's MRO, most specific first."""


def status_for(error: ShuguError) -> int:
    """The HTTP status of an error, by the most specific class in `STATUS`."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def problem(
    request: Request,
    status: int,
    error: ShuguError,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response for `error`, rendered in the request's language."""
    lang = normalize_lang(request.headers.get("accept-language"))
    body = {
        "type": f"urn:shugu:problem:{error.code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": error.render(lang),
        "code": error.code,
        "message": error.message,
        "params": {
            k: v if isinstance(v, int | float | bool) else str(v) for k, v in error.params.items()
        },
        "instance": request.url.path,
        **extra,
    }
    headers = dict(headers or {})
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        headers["X-Request-Id"] = str(request_id)
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = 'Signature realm="shugu", alg="ed25519"'
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(error.params.get("retry_after", 1))
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def _on_shugu_error(request: Request, exc: ShuguError) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        log.error("request.failed", extra={"fields": {"code": exc.code, "path": request.url.path}})
    return problem(request, status, exc)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(request, 400, InvalidInputError(N_("the request body is not valid JSON")))
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    error = InvalidInputError(
        N_("invalid request: {field}: {reason}"), field=where, reason=first.get("msg", "")
    )
    fields = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in errors]
    return problem(request, 422, error, errors=fields)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        error: ShuguError = NotFoundError(N_("no such endpoint: {path}"), path=request.url.path)
    elif exc.status_code == 400:
        error = InvalidInputError(
            N_("the request body could not be parsed: {detail}"), detail=str(exc.detail)
        )
    elif exc.status_code == 405:
        error = InvalidInputError(
            N_("method {method} is not allowed on {path}"),
            method=request.method,
            path=request.url.path,
        )
        return problem(request, 405, error, {"Allow": ", ".join(allowed_methods(request))})
    else:
        error = ShuguError(N_("HTTP error {status}"), status=exc.status_code)
    return problem(request, exc.status_code, error, exc.headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path (RFC 9110 `Allow`).

    Starlette names only the methods of the first route that matched the path; a path served by
    several routes (``GET`` and ``POST /ledger/entries``) needs all of theirs.
    """
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.path and route.methods and _path_regex(route.path).match(path):
            methods.update(route.methods)
    return sorted(methods)


@functools.lru_cache(maxsize=512)
def _path_regex(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.crashed", extra={"fields": {"path": request.url.path}})
    return problem(request, 500, ShuguError(N_("internal error; the hub log has the details")))


_Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]
_E = TypeVar("_E", bound=Exception)


def _only(kind: type[_E], handler: Callable[[Request, _E], Awaitable[JSONResponse]]) -> _Handler:
    """`handler` as Starlette takes it (any exception); anything but a `kind` is re-raised."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, kind):
            raise exc
        return await handler(request, exc)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into problem+json."""
    app.add_exception_handler(ShuguError, _only(ShuguError, _on_shugu_error))
    app.add_exception_handler(
        RequestValidationError, _only(RequestValidationError, _on_validation_error)
    )
    app.add_exception_handler(StarletteHTTPException, _only(StarletteHTTPException, _on_http_error))
    app.add_exception_handler(Exception, _on_unexpected)

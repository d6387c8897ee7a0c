"""ASGI middleware of the hub: request ids, access logs, Prometheus metrics, the per-address rate
limit, body size limit."""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shugu.api.address import TrustedProxies, limit_key
from shugu.api.ratelimit import TOO_MANY_REQUESTS, HubLimits, Limiter, refuse_if_waiting
from shugu.errors import PayloadTooLargeError, ShuguError
from shugu.i18n import N_
from shugu.ids import new_id

log = logging.getLogger("shugu.api.access")


class HubMetrics:
    """The hub's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shugu_http_requests",
            "HTTP requests handled by the hub.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shugu_http_request_duration_seconds",
            "Time to handle an HTTP request.",
            ["method", "route"],
            registry=self.registry,
        )
        self.pep_ciphertexts = Counter(
            "shugu_pep_ciphertexts_transcrypted",
            "Encrypted pseudonyms moved into a job's domain through every transcryptor.",
            registry=self.registry,
        )
        self.pep_session_keys = Counter(
            "shugu_pep_session_keys_issued",
            "Session keys whose sealed shares were handed to a job.",
            registry=self.registry,
        )


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "<unmatched>"


class ObserveMiddleware:
    """Give each request an id, then log and measure it once it has been answered."""

    def __init__(self, app: ASGIApp, metrics: HubMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - started)

    def _record(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        route = _route_of(scope)
        method = scope["method"]
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(seconds)
        principal = scope.get("state", {}).get("principal")
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "path": scope["path"],
            "route": route,
            "status": status,
            "ms": round(seconds * 1000, 2),
            "participant": getattr(principal, "participant_id", None),
        }
        log.info("http.request", extra={"fields": fields})


class BodyLimitMiddleware:
    """Refuse request bodies larger than `max_bytes` with 413, declared or streamed.

    The body is read here (it is needed whole anyway, to check its signature) and replayed to the
    application, so an oversized body is refused before any route or parser sees it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send, int(declared))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send, size)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _refuse(self, scope: Scope, send: Send, size: int) -> None:
        from starlette.requests import Request

        from shugu.api.errors import problem

        error = PayloadTooLargeError(
            N_("the request body is larger than {limit} bytes (got {size})"),
            limit=self.max_bytes,
            size=size,
        )
        response = problem(Request(scope), 413, error)
        await response(scope, _closed, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _closed() -> Message:
    return {"type": "http.disconnect"}


class AddressLimitMiddleware:
    """Count every request against its client address before anything else is done with it.

    The address (see `TrustedProxies`) is left in the request state as ``client_address`` for
    the routes that charge further per-address quotas (applications). A refused request gets 429
    with `Retry-After`; its body is never read and no signature, database or key is touched.
    """

    def __init__(self, app: ASGIApp, limits: HubLimits, proxies: TrustedProxies) -> None:
        self.app = app
        self.limits = limits
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = self.proxies.of_scope(scope)
        scope.setdefault("state", {})["client_address"] = address
        try:
            await charge(self.limits.address, limit_key(address))
        except ShuguError as error:
            await _answer(scope, send, error)
            return
        await self.app(scope, receive, send)


async def charge(limiter: Limiter, key: str, message: str = TOO_MANY_REQUESTS) -> None:
    """Take one request for `key` (off the event loop if the limiter does I/O), or raise.

    Raises:
        RateLimitedError: the key has no request left; `retry_after` says when it will.
        UnavailableError: a shared store cannot be reached.
    """
    wait = await run_in_threadpool(limiter.take, key) if limiter.blocking else limiter.take(key)
    refuse_if_waiting(wait, message)


async def _answer(scope: Scope, send: Send, error: ShuguError) -> None:
    from starlette.requests import Request

    from shugu.api.errors import problem, status_for

    response = problem(Request(scope), status_for(error), error)
    await response(scope, _closed, send)

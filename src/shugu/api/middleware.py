"""ASGI middleware of the hub: request ids, access logs, Prometheus metrics, body size limit."""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shugu.errors import PayloadTooLargeError
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
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
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
    """Refuse request bodies larger than `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.app(scope, self._refusing_receive(int(declared)), send)
            return
        await self.app(scope, self._counting_receive(receive), send)

    def _too_large(self, size: int) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            N_("the request body is larger than {limit} bytes (got {size})"),
            limit=self.max_bytes,
            size=size,
        )

    def _refusing_receive(self, size: int) -> Receive:
        async def receive() -> Message:
            raise self._too_large(size)

        return receive

    def _counting_receive(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large(seen)
            return message

        return counted

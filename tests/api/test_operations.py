"""Operating the hub: health, readiness, metrics, OpenAPI, request ids, logs, limits."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from shugu.api import create_app
from shugu.api.ratelimit import RateLimiter
from shugu.db import head_revision
from shugu.errors import RateLimitedError, UnavailableError
from shugu.identity import Role
from shugu.log import JsonFormatter
from shugu.runtime import Hub
from shugu.settings import RateLimit, Settings
from tests.conftest import Space, make_member, make_operator

pytestmark = pytest.mark.anyio


async def test_health_and_readiness(space: Space) -> None:
    async with space.raw() as client:
        health = (await client.get("/health")).json()
        ready = (await client.get("/ready")).json()
    assert health["status"] == "ok"
    assert ready == {"status": "ready", "database": "ok", "migration": head_revision()}


async def test_readiness_fails_when_the_database_is_gone(space: Space) -> None:
    space.hub.db.engine.dispose()
    url = space.hub.db.engine.url
    if url.get_backend_name() == "sqlite":
        from sqlalchemy import create_engine

        space.hub.db.engine = create_engine("sqlite:////nonexistent-dir/never/hub.db")
    else:
        from sqlalchemy import create_engine

        space.hub.db.engine = create_engine(url.set(port=1), connect_args={"connect_timeout": 2})
    async with space.raw() as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"


async def test_openapi_is_3_1_and_documents_roles(space: Space) -> None:
    async with space.raw() as client:
        spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    approve = spec["paths"]["/v1/participants/{participant_id}/approve"]["post"]
    assert approve["x-shugu-roles"] == ["operator"]


async def test_metrics_count_requests_by_route(space: Space) -> None:
    async with space.client(space.operator) as client:
        await client.me()
        await client.me()
    async with space.raw() as client:
        text = (await client.get("/metrics")).text
    assert 'shugu_http_requests_total{method="GET",route="/v1/me",status="200"} 2.0' in text
    assert "shugu_http_request_duration_seconds_bucket" in text


async def test_every_response_carries_a_request_id(space: Space) -> None:
    async with space.raw() as client:
        ok = await client.get("/health")
        bad = await client.get("/v1/me")
    assert len(ok.headers["x-request-id"]) == 26
    assert bad.headers["x-request-id"] != ok.headers["x-request-id"]


async def test_streamed_oversized_body_is_refused(space: Space) -> None:
    limit = space.hub.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    async with space.raw() as client:
        response = await client.post("/v1/applications", content=chunks())
    assert response.status_code == 413


async def test_rate_limit_refuses_with_429_and_retry_after(settings: Settings, clock) -> None:  # type: ignore[no-untyped-def]
    tight = settings.model_copy(update={"rate_limit": RateLimit(per_minute=60, burst=3)})
    hub = Hub.open(tight, clock)
    operator = make_operator(hub)
    other = make_member(hub, operator, "other-user", Role.USER)
    app = create_app(tight, hub=hub)
    space = Space(hub=hub, app=app, clock=clock, operator=operator)
    try:
        async with space.raw(operator) as client:
            statuses = [(await client.get("/v1/me")).status_code for _ in range(4)]
            refused = await client.get("/v1/me")
        assert statuses == [200, 200, 200, 429]
        assert refused.headers["retry-after"] == "1"
        async with space.raw(other) as client:
            assert (await client.get("/v1/me")).status_code == 200  # limits are per participant
        clock.advance(seconds=2)
        async with space.raw(operator) as client:
            assert (await client.get("/v1/me")).status_code == 200
    finally:
        hub.close()


def test_rate_limiter_refills_over_time(clock) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter(per_minute=120, burst=1, clock=clock)
    limiter.check("p")
    with pytest.raises(RateLimitedError) as caught:
        limiter.check("p")
    assert caught.value.params["retry_after"] == 1
    clock.advance(seconds=0.5)
    limiter.check("p")


async def test_logs_are_json_and_hold_no_secrets(
    space: Space, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shugu")
    async with space.client(space.operator) as client:
        await client.me()
        await client.revoke(space.members[Role.USER].participant_id, "audit finding")
    lines = [JsonFormatter().format(r) for r in caplog.records]
    events = [json.loads(line) for line in lines]
    requests = [e for e in events if e["event"] == "http.request"]
    assert {e["route"] for e in requests} >= {"/v1/me", "/v1/participants/{participant_id}/revoke"}
    assert all(e["participant"] == space.operator.participant_id for e in requests)
    everything = "\n".join(lines)
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    assert secret and secret not in everything
    assert "Signature" not in everything and "sig1=" not in everything
    assert "audit finding" not in everything


def test_an_unreachable_database_is_a_clear_unavailable_error(tmp_path, kek) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        home=tmp_path,
        database_url="postgresql+psycopg://shugu:hunter2@127.0.0.1:1/nothing",
        secret_key=kek.to_text(),
    )
    with pytest.raises(UnavailableError) as caught:
        Hub.open(settings)
    message = str(caught.value)
    assert (
        "cannot connect to the database at postgresql+psycopg://shugu:***@127.0.0.1:1/nothing"
        in message
    )
    assert "hunter2" not in message

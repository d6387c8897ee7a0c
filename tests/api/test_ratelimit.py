"""Public endpoints cannot exhaust the hub: every request is counted per client address before
its signature or the database is touched; floods of CRL, checkpoint and application requests cost
no signature and end in 429; forwarded addresses are believed only from trusted proxies; the
limiter evicts least-recently-used buckets; a shared store holds one quota across hub processes."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.api import create_app
from shugu.api.address import TrustedProxies
from shugu.api.ratelimit import RateLimiter
from shugu.client import SigningAuth, applicant_auth
from shugu.clock import ManualClock
from shugu.errors import InvalidInputError
from shugu.identity import ca
from shugu.identity.models import ParticipantRow
from shugu.ledger.note import Signer
from shugu.runtime import Hub
from shugu.settings import Settings
from tests.api.test_participants_api import _application, _count
from tests.conftest import Member, Space, make_operator

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("SHUGU_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def tight(settings: Settings, **limits: Any) -> Settings:
    """The test settings with the given rate limits (the others stay generous)."""
    rate = settings.rate_limit.model_copy(update=limits)
    return settings.model_copy(update={"rate_limit": rate})


@pytest.fixture
async def tight_space(
    settings: Settings, clock: ManualClock, request: pytest.FixtureRequest
) -> AsyncIterator[Space]:
    """A space with the limits a test passes by indirect parametrisation: a dict of `RateLimit`
    fields, and optionally `trusted_proxies`."""
    params = dict(getattr(request, "param", {}))
    proxies = params.pop("trusted_proxies", [])
    configured = tight(settings, **params).model_copy(update={"trusted_proxies": proxies})
    hub = Hub.open(configured, clock)
    operator = make_operator(hub)
    space = Space(hub=hub, app=create_app(configured, hub=hub), clock=clock, operator=operator)
    yield space
    hub.close()


def client_from(
    space: Space, address: str, auth: httpx.Auth | None = None, **headers: str
) -> httpx.AsyncClient:
    """An in-process client whose requests arrive from `address`."""
    transport = httpx.ASGITransport(app=space.app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://hub", auth=auth, headers=headers)


def counting(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> Callable[[], int]:
    """Wrap `owner.name` to count its calls; return a reader of the count."""
    calls = [0]
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return lambda: calls[0]


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1


# --------------------------------------------------------------------------- the limiter


def test_an_active_caller_keeps_its_bucket_while_many_new_keys_arrive(clock: ManualClock) -> None:
    limiter = RateLimiter(per_minute=1, burst=3, clock=clock, max_keys=100)
    assert [limiter.take("active") for _ in range(3)] == [0.0, 0.0, 0.0]
    for batch in range(100):  # 5,000 new keys, fifty times the cap, 50 between its requests
        for i in range(50):
            limiter.take(f"newcomer-{batch}-{i}")
        assert limiter.take("active") > 0  # still spent: its bucket was not reset
    assert len(limiter) == 100


def test_the_least_recently_used_bucket_is_dropped_first(clock: ManualClock) -> None:
    limiter = RateLimiter(per_minute=1, burst=1, clock=clock, max_keys=2)
    limiter.take("a")
    limiter.take("b")
    limiter.take("a")  # a is now the most recently used
    limiter.take("c")  # evicts b, not a
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0  # a new, full bucket


def test_an_unknown_store_is_refused_clearly(settings: Settings, hub: Hub) -> None:
    with pytest.raises(InvalidInputError, match="no store of scheme bogus"):
        create_app(tight(settings, storage_url="bogus://somewhere"), hub=hub)


# --------------------------------------------------------------------------- floods


@pytest.mark.parametrize(
    "tight_space", [{"address_burst": 20, "address_per_minute": 1}], indirect=True
)
async def test_a_crl_flood_signs_nothing_per_request_and_ends_in_429(
    tight_space: Space, monkeypatch: pytest.MonkeyPatch
) -> None:
    signatures = counting(monkeypatch, ca, "build_crl")
    async with client_from(tight_space, "198.51.100.1") as client:
        responses = [await client.get("/v1/ca/crl") for _ in range(60)]
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 20 + [429] * 40
    assert_rate_limited(responses[-1])
    assert len({r.text for r in responses[:20]}) == 1  # the same cached, signed CRL
    assert signatures() == 1


@pytest.mark.parametrize(
    "tight_space", [{"address_burst": 20, "address_per_minute": 1}], indirect=True
)
async def test_a_checkpoint_flood_signs_nothing_per_request_and_ends_in_429(
    tight_space: Space, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client_from(tight_space, "198.51.100.2") as client:
        first = await client.get("/ledger/checkpoint")  # may sign once: the tree grew
        assert first.status_code == 200
        signatures = counting(monkeypatch, Signer, "signature_line")
        responses = [await client.get("/ledger/checkpoint") for _ in range(60)]
    assert [r.status_code for r in responses] == [200] * 19 + [429] * 41
    assert {r.text for r in responses[:19]} == {first.text}
    assert_rate_limited(responses[-1])
    assert signatures() == 0


@pytest.mark.parametrize("tight_space", [{"applications_per_hour": 3}], indirect=True)
async def test_an_application_flood_gets_a_small_quota_per_address(
    tight_space: Space, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified = counting(monkeypatch, tight_space.hub.identity, "authenticate_applicant")
    rows, size = _count(tight_space, ParticipantRow), tight_space.hub.ledger.size()
    async with client_from(tight_space, "198.51.100.3") as client:
        responses = []
        for i in range(10):
            key = Ed25519PrivateKey.generate()
            responses.append(
                await client.post(
                    "/v1/applications",
                    json=_application(key, name=f"flooder-{i}"),
                    auth=applicant_auth(key, tight_space.clock),
                )
            )
    assert [r.status_code for r in responses] == [201] * 3 + [429] * 7
    assert_rate_limited(responses[-1])
    assert "too many applications" in responses[-1].json()["detail"]
    assert verified() == 3  # refused ones never reach signature verification
    assert _count(tight_space, ParticipantRow) == rows + 3
    assert tight_space.hub.ledger.size() == size  # and applications leave no ledger entry
    key = Ed25519PrivateKey.generate()
    async with client_from(tight_space, "198.51.100.4") as elsewhere:
        other = await elsewhere.post(
            "/v1/applications",
            json=_application(key, name="from-elsewhere"),
            auth=applicant_auth(key, tight_space.clock),
        )
    assert other.status_code == 201  # the quota is per address


@pytest.mark.parametrize(
    "tight_space", [{"address_burst": 5, "address_per_minute": 1}], indirect=True
)
async def test_forged_requests_are_counted_before_their_signature_is_checked(
    tight_space: Space, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = counting(monkeypatch, tight_space.hub.identity, "authenticate")
    forger = Member("forger", (), Ed25519PrivateKey.generate(), tight_space.operator.participant_id)
    auth = SigningAuth(forger.key, forger.participant_id, tight_space.clock)
    async with client_from(tight_space, "198.51.100.5", auth=auth) as client:
        statuses = [(await client.get("/v1/me")).status_code for _ in range(30)]
    assert statuses == [401] * 5 + [429] * 25
    assert checked() == 5


# --------------------------------------------------------------------------- client addresses


@pytest.mark.parametrize(
    "tight_space", [{"address_burst": 3, "address_per_minute": 1}], indirect=True
)
async def test_an_untrusted_peer_cannot_choose_its_address(tight_space: Space) -> None:
    statuses = []
    for i in range(5):
        async with client_from(
            tight_space, "203.0.113.9", **{"X-Forwarded-For": f"192.0.2.{i}"}
        ) as client:
            statuses.append((await client.get("/health")).status_code)
    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.parametrize(
    "tight_space",
    [{"address_burst": 2, "address_per_minute": 1, "trusted_proxies": ["10.0.0.0/8"]}],
    indirect=True,
)
async def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(tight_space: Space) -> None:
    async def status(forwarded: str) -> int:
        headers = {"X-Forwarded-For": forwarded}
        async with client_from(tight_space, "10.0.0.1", **headers) as client:
            return (await client.get("/health")).status_code

    first = [await status("203.0.113.10") for _ in range(3)]
    spoofed = [await status(f"192.0.2.{i}, 203.0.113.10") for i in range(2)]  # client-written
    second = [await status("203.0.113.11, 10.0.0.7") for _ in range(3)]  # via two proxies
    assert first == [200, 200, 429]
    assert spoofed == [429, 429]
    assert second == [200, 200, 429]


def test_forwarded_for_is_read_from_the_right() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "2001:db8:ff::/48"])
    assert proxies.client_address("10.1.1.1", ["1.1.1.1", "2.2.2.2, 10.3.3.3"]) == "2.2.2.2"
    assert proxies.client_address("10.1.1.1", ["10.2.2.2"]) == "10.2.2.2"  # all trusted
    assert proxies.client_address("10.1.1.1", ["not-an-ip"]) == "10.1.1.1"
    assert proxies.client_address("10.1.1.1", []) == "10.1.1.1"
    assert proxies.client_address("2001:db8:ff::1", ["2001:db8:1::5"]) == "2001:db8:1::5"
    assert proxies.client_address("192.0.2.1", ["10.1.1.1"]) == "192.0.2.1"


@pytest.mark.parametrize(
    "tight_space", [{"address_burst": 2, "address_per_minute": 1}], indirect=True
)
async def test_ipv6_clients_are_counted_per_64_network(tight_space: Space) -> None:
    statuses = []
    for host in ("2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:1:ffff::3"):
        async with client_from(tight_space, host) as client:
            statuses.append((await client.get("/health")).status_code)
    async with client_from(tight_space, "2001:db8:0:2::1") as client:
        statuses.append((await client.get("/health")).status_code)
    assert statuses == [200, 200, 429, 200]


# --------------------------------------------------------------------------- a shared store


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"Redis at {REDIS_URL} is not usable: {exc}") from exc
        pytest.skip(f"Redis at {REDIS_URL} is not running here (CI fails instead): {exc}")


@pytest.mark.redis
async def test_two_hub_processes_share_one_quota_in_redis(
    settings: Settings, clock: ManualClock
) -> None:
    _redis_or_skip()
    shared = tight(
        settings, storage_url=REDIS_URL, address_burst=5, address_per_minute=1
    ).model_copy(update={"space_name": f"test-{uuid.uuid4().hex[:12]}"})
    first, second = create_app(shared, clock=clock), create_app(shared, clock=clock)
    spaces = [
        Space(hub=app.state.hub.hub, app=app, clock=clock, operator=None)  # type: ignore[arg-type]
        for app in (first, second)
    ]
    try:
        statuses = []
        for space in (spaces[0], spaces[0], spaces[0], spaces[1], spaces[1], spaces[1]):
            async with client_from(space, "198.51.100.9") as client:
                statuses.append((await client.get("/v1/ca/crl")).status_code)
        async with client_from(spaces[0], "198.51.100.9") as client:
            refused = await client.get("/v1/ca/crl")
    finally:
        for space in spaces:
            space.hub.close()
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert_rate_limited(refused)


async def test_an_unreachable_shared_store_refuses_requests(settings: Settings, hub: Hub) -> None:
    app = create_app(tight(settings, storage_url="redis://127.0.0.1:1"), hub=hub)
    space = Space(hub=hub, app=app, clock=hub.clock, operator=None)  # type: ignore[arg-type]
    async with client_from(space, "198.51.100.10") as client:
        response = await client.get("/v1/ca/crl")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert "rate-limit store" in response.json()["detail"]

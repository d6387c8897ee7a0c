"""Shared fixtures: a database on SQLite (always) and PostgreSQL (marker `postgres`), a hub on a
manual clock, and an in-process API with signing clients for each role."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shugu.api import create_app
from shugu.client import HubClient, SigningAuth
from shugu.clock import ManualClock
from shugu.identity import Application, Principal, Role
from shugu.keys.sealing import KeyEncryptionKey
from shugu.ledger.trust import ActorKeys, TrustAnchor, load_certificate
from shugu.runtime import Hub
from shugu.settings import RateLimit, Settings

START = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
POSTGRES_ADMIN_URL = os.environ.get(
    "SHUGU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"shugu_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the suite must fail loudly, not skip, when PostgreSQL is down
        admin.dispose()
        raise RuntimeError(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable: {exc}") from exc
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = (
            connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty hub database: SQLite always, PostgreSQL under the `postgres` marker."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    yield url
    _truncate_postgres(url)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test moves it."""
    return ManualClock(START)


@pytest.fixture
def kek() -> KeyEncryptionKey:
    """A fresh key-encryption key."""
    return KeyEncryptionKey.generate()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, kek: KeyEncryptionKey) -> Settings:
    """Settings of a test hub: its own home and database, generous rate limits."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=kek.to_text(),
        rate_limit=RateLimit(
            per_minute=100_000,
            burst=10_000,
            address_per_minute=100_000,
            address_burst=10_000,
            applications_per_hour=1_000,
        ),
        log_json=True,
    )


@pytest.fixture
def hub(settings: Settings, clock: ManualClock) -> Iterator[Hub]:
    """An open hub (migrated, CA created) on the manual clock."""
    opened = Hub.open(settings, clock)
    yield opened
    opened.close()


@dataclass
class Member:
    """A participant of the test space with its private key."""

    name: str
    roles: tuple[Role, ...]
    key: Ed25519PrivateKey
    participant_id: str = ""

    @property
    def principal(self) -> Principal:
        """The principal the hub would authenticate this member as."""
        return Principal(self.participant_id, self.name, frozenset(self.roles))


def make_operator(hub: Hub, name: str = "operator") -> Member:
    """Bootstrap the space's first operator."""
    member = Member(name, (Role.OPERATOR,), Ed25519PrivateKey.generate())
    participant, _ = hub.identity.bootstrap_operator(
        Application(name, name, ("operator",), member.key.public_key().public_bytes_raw())
    )
    member.participant_id = participant.id
    return member


def make_member(
    hub: Hub, operator: Member, name: str, *roles: Role, approve: bool = True
) -> Member:
    """Apply (and approve) a participant directly through the service."""
    member = Member(name, roles, Ed25519PrivateKey.generate())
    application = Application(
        name, name, tuple(r.value for r in roles), member.key.public_key().public_bytes_raw()
    )
    member.participant_id = hub.identity.apply(application).id
    if approve:
        hub.identity.approve(operator.principal, member.participant_id)
    return member


@dataclass
class Space:
    """A hub app with an operator and one approved member per role."""

    hub: Hub
    app: object
    clock: ManualClock
    operator: Member
    members: dict[Role, Member] = field(default_factory=dict)

    def transport(self) -> httpx.ASGITransport:
        """An in-process transport to the app."""
        return httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]

    def raw(self, member: Member | None = None, **headers: str) -> httpx.AsyncClient:
        """A plain httpx client, signing as `member` when given."""
        auth = SigningAuth(member.key, member.participant_id, self.clock) if member else None
        return httpx.AsyncClient(
            transport=self.transport(), base_url="http://hub", auth=auth, headers=headers
        )

    def client(self, member: Member | None = None) -> HubClient:
        """The typed client, signing as `member` when given."""
        auth = SigningAuth(member.key, member.participant_id, self.clock) if member else None
        return HubClient("http://hub", transport=self.transport(), auth=auth, clock=self.clock)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio."""
    return "asyncio"


@pytest.fixture
async def space(hub: Hub, settings: Settings, clock: ManualClock) -> AsyncIterator[Space]:
    """The in-process API of a hub with an operator and one member for every other role."""
    operator = make_operator(hub)
    app = create_app(settings, hub=hub)
    built = Space(hub=hub, app=app, clock=clock, operator=operator)
    built.members[Role.OPERATOR] = operator
    for role in Role:
        if role is not Role.OPERATOR:
            built.members[role] = make_member(hub, operator, role.value.replace("_", "-"), role)
    yield built


def certified_keys(hub: Hub, *members: Member) -> ActorKeys:
    """The keys an auditor would use: each member's certificates, checked against the hub's CA."""
    keys = ActorKeys(TrustAnchor.of(load_certificate(hub.identity.ca_certificate_pem(), "CA")))
    for member in members:
        certificates, _ = hub.identity.certificates(member.principal, member.participant_id)
        keys.add(member.participant_id, [c.pem for c in certificates])
    return keys

"""A transcryptor server of its own (own home, key and database: SQLite, or a second PostgreSQL
database under the marker), served by uvicorn on a free local port in a thread."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import create_engine, make_url, text

from shugu.api.transcryptor import create_transcryptor_app
from shugu.keys.sealing import KeyEncryptionKey
from shugu.pep.server import TranscryptorHost, write_config
from shugu.runtime import Hub
from shugu.runtime.transcryptor import open_transcryptor
from shugu.settings import Settings


@dataclass
class Served:
    """A running transcryptor server."""

    url: str
    host: TranscryptorHost
    settings: Settings
    stop: threading.Event


@pytest.fixture(scope="session")
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    """Another PostgreSQL database, for a transcryptor that must not share the hub's."""
    admin = create_engine(
        make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    name = f"shugu_test_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def transcryptor_db(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> str:
    """The transcryptor's database on the same backend as the hub's, but its own."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'transcryptor.db'}"
    url: str = request.getfixturevalue("second_postgres_url")
    from tests.conftest import _truncate_postgres

    _truncate_postgres(url)
    return url


def serve(
    settings: Settings, name: str, hub_key: bytes, tls: tuple[Path, Path] | None = None
) -> tuple[uvicorn.Server, threading.Thread, Served]:
    """Set up and start a transcryptor server; the caller stops it with `server.should_exit`.

    Its port is chosen first, so that the server knows the authority it answers to."""
    settings.home.mkdir(parents=True, exist_ok=True)
    write_config(settings.home, name, hub_key)
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": free_port()})
    runtime = open_transcryptor(settings)
    host = runtime.host
    app = create_transcryptor_app(settings, runtime)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the transcryptor server did not start")
        time.sleep(0.02)
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{settings.port}"
    return server, thread, Served(url, host, settings, threading.Event())


def free_port() -> int:
    """A port nothing listens on now on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def transcryptor_settings(home: Path, database_url: str) -> Settings:
    """Settings of a transcryptor home with its own key-encryption key."""
    return Settings(
        home=home,
        database_url=database_url,
        secret_key=KeyEncryptionKey.generate().to_text(),
        log_json=True,
    )


@pytest.fixture
def auditor(hub: Hub, tmp_path: Path, transcryptor_db: str) -> Iterator[Served]:
    """Transcryptor `auditor`, trusting `hub`'s PEP client key."""
    settings = transcryptor_settings(tmp_path / "auditor", transcryptor_db)
    server, thread, served = serve(settings, "auditor", hub.pep.client_public_key())
    yield served
    server.should_exit = True
    thread.join(timeout=10)

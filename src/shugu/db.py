"""The hub database: SQLAlchemy 2 on SQLite (WAL, the default) or PostgreSQL, migrated by Alembic.

`Database.open(url)` connects, applies every pending migration and returns a handle whose
`session()` is a unit of work: it commits when the block ends and rolls back on any error, so a
failed operation writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Engine, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from shugu.errors import ConflictError, UnavailableError
from shugu.i18n import N_

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base of every table of the hub."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored with its zone where the database can, always returned aware in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use the injected clock")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def redact_url(url: str) -> str:
    """Render a database URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparseable database URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _transactional_sqlite(engine: Engine) -> Engine:
    """A second engine on the same SQLite file whose transactions cover DDL too."""
    migrating = create_engine(
        engine.url, connect_args={"check_same_thread": False, "timeout": 10}, poolclass=NullPool
    )

    def no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, _record)
        dbapi_connection.isolation_level = None

    def begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(migrating, "connect", no_driver_transactions)
    event.listen(migrating, "begin", begin)
    return migrating


def create_db_engine(url: str) -> Engine:
    """Create an engine for `url`, with SQLite set up for WAL and concurrent readers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    """The newest migration shipped with this version of shugu."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


class Database:
    """A migrated hub database and its session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        """Connect to `url` and bring its schema up to date.

        Raises:
            UnavailableError: the database cannot be reached or migrated.
        """
        engine = create_db_engine(url)
        database = cls(engine)
        try:
            if migrate:
                database.upgrade()
            else:
                database.ping()
        except OperationalError as exc:
            engine.dispose()
            raise UnavailableError(
                N_("cannot connect to the database at {url}: {reason}"),
                url=redact_url(url),
                reason=str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc),
            ) from exc
        return database

    def upgrade(self) -> None:
        """Apply every pending migration in one transaction (serialised across processes).

        On SQLite the driver would commit each `CREATE TABLE` on its own, so a process killed
        half-way through would leave a schema no migration can finish; migrations therefore run
        on a connection whose transaction shugu opens itself (`BEGIN IMMEDIATE`), DDL included.
        """
        config = _alembic_config()
        engine = (
            _transactional_sqlite(self.engine) if self.engine.dialect.name == "sqlite" else None
        )
        try:
            with (engine or self.engine).begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(7364726)"))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if engine is not None:
                engine.dispose()

    def current_revision(self) -> str | None:
        """The migration the database is at."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def ping(self) -> None:
        """Run a trivial query; raises `OperationalError` when the database is down."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit at the end, roll back on error.

        Integrity violations become `ConflictError`; lost connections `UnavailableError`.
        """
        session = self._sessions()
        try:
            yield session
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise ConflictError(
                N_("the change conflicts with existing data: {reason}"),
                reason=str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc),
            ) from exc
        except OperationalError as exc:
            session.rollback()
            raise UnavailableError(
                N_("the database is unavailable: {reason}"),
                reason=str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc),
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

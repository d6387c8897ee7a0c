"""The hub database: SQLAlchemy 2 on SQLite (WAL, the default) or PostgreSQL, migrated by Alembic.

`Database.open(url)` connects, applies every pending migration and returns a handle whose
`session()` is a unit of work: it commits when the block ends and rolls back on any error, so a
failed operation writes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


_SQLITE_VIOLATION = re.compile(
    r"^(UNIQUE|NOT NULL|CHECK|FOREIGN KEY) constraint failed(?:: (.*))?$"
)
_PG_KEY = re.compile(r"^Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\) already exists\.?$")
_INSERT = re.compile(r"^\s*INSERT INTO \S+ \(([^)]*)\) VALUES", re.IGNORECASE)
_PG_KINDS = {"23505": "UNIQUE", "23502": "NOT NULL", "23514": "CHECK", "23503": "FOREIGN KEY"}


@dataclass(frozen=True, slots=True)
class Violation:
    """What an integrity error is about, read from the driver's error without its wording."""

    kind: str
    table: str
    columns: tuple[str, ...]
    values: tuple[str, ...] = ()


def conflict_of(orig: BaseException | None, params: object = None) -> ConflictError:
    """The `ConflictError` of an integrity violation: what conflicts (the table, the columns and
    the values the change gave them), never the driver's message, which stays in the log.

    >>> import sqlite3
    >>> error = sqlite3.IntegrityError("UNIQUE constraint failed: participants.name")
    >>> conflict_of(error, {"name": "acme", "id": "01"}).render("en")
    'a participants row with name=acme already exists'
    """
    log.info("db.integrity_error", extra={"fields": {"driver": str(orig)}})
    violation = _violation(orig)
    if violation is None:
        return ConflictError(N_("the change conflicts with data already stored"))
    values = violation.values or _values(violation.columns, params)
    if violation.kind == "UNIQUE":
        return ConflictError(
            N_("a {table} row with {key} already exists"),
            table=violation.table,
            key=", ".join(f"{c}={v}" for c, v in zip(violation.columns, values, strict=True))
            if len(values) == len(violation.columns)
            else ", ".join(violation.columns),
        )
    return ConflictError(
        N_("the change breaks the {kind} rule of {table} ({columns})"),
        kind=violation.kind.lower(),
        table=violation.table,
        columns=", ".join(violation.columns) or "-",
    )


def unavailable(orig: BaseException) -> UnavailableError:
    """The `UnavailableError` of a lost or refused connection; the driver's text goes to the log
    (it may name hosts and users), not to the caller."""
    log.warning("db.unavailable", extra={"fields": {"driver": str(orig).strip()}})
    return UnavailableError(N_("the database is unavailable; the hub log has the details"))


def _violation(orig: BaseException | None) -> Violation | None:
    diag = getattr(orig, "diag", None)
    if diag is not None:  # psycopg
        kind = _PG_KINDS.get(getattr(orig, "sqlstate", None) or "", "CHECK")
        key = _PG_KEY.match(diag.message_detail or "")
        columns = tuple(c.strip() for c in key["columns"].split(",")) if key else ()
        columns = columns or ((diag.column_name,) if diag.column_name else ())
        values = tuple(key["values"].split(", ")) if key else ()
        return Violation(kind, diag.table_name or "-", columns, values)
    match = _SQLITE_VIOLATION.match(str(orig).strip())
    if match is None:
        return None
    qualified = [c.strip() for c in (match[2] or "").split(",") if "." in c]
    table = qualified[0].split(".", 1)[0] if qualified else "-"
    return Violation(match[1], table, tuple(c.split(".", 1)[1] for c in qualified))


def _named(statement: str | None, params: object) -> object:
    """The parameters of a one-row INSERT by column name (SQLite's are positional)."""
    insert = _INSERT.match(statement or "")
    if insert is None or not isinstance(params, tuple | list) or not params:
        return params
    columns = [c.strip().strip('"') for c in insert[1].split(",")]
    if isinstance(params[0], tuple | list | dict) or len(columns) != len(params):
        return None  # several rows at once
    return dict(zip(columns, params, strict=True))


def _values(columns: tuple[str, ...], params: object) -> tuple[str, ...]:
    if not isinstance(params, dict) or not all(c in params for c in columns):
        return ()  # several rows at once: which one conflicted is not known
    return tuple(_shown(params[c]) for c in columns)


def _shown(value: object) -> str:
    if isinstance(value, bool | int):
        return str(value)
    if isinstance(value, str):
        return value if len(value) <= 100 else f"<{len(value)} characters>"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return f"<{type(value).__name__}>"


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
            raise conflict_of(exc.orig, _named(exc.statement, exc.params)) from exc
        except OperationalError as exc:
            session.rollback()
            raise unavailable(exc.orig or exc) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

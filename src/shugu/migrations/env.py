"""Alembic environment: migrations run on the connection `shugu.db.Database.upgrade` passes in."""

from __future__ import annotations

from alembic import context

from shugu.db import Base
from shugu.identity import models as _identity_models  # noqa: F401
from shugu.keys import models as _hub_keys  # noqa: F401 - registers the tables
from shugu.ledger import models as _ledger_models  # noqa: F401
from shugu.signing import models as _signing_models  # noqa: F401

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("shugu migrations run through shugu.db.Database.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

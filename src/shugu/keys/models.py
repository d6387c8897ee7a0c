"""The hub's own keys (the CA key, the ledger's log key), sealed under the key-encryption key.

Kept apart from the domains that use them so that any domain can load its key without importing
another domain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime


class HubKeyRow(Base):
    """A key of the hub itself, sealed under the key-encryption key."""

    __tablename__ = "hub_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

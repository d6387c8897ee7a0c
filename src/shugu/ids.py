"""Sortable unique identifiers (ULID): 48-bit millisecond time, 80 random bits, Crockford base32.

Identifiers sort by creation time, which makes them usable as pagination cursors.

>>> a = new_id(); b = new_id()
>>> len(a) == 26 and is_id(a)
True
>>> is_id("not-an-id")
False
"""

from __future__ import annotations

from datetime import datetime

from ulid import ULID


def new_id(at: datetime | None = None) -> str:
    """Return a new ULID string, timestamped `at` (default: now)."""
    return str(ULID.from_datetime(at) if at is not None else ULID())


def is_id(value: str) -> bool:
    """Tell whether `value` is a well-formed ULID string."""
    if len(value) != 26:
        return False
    try:
        ULID.from_str(value)
    except ValueError:
        return False
    return True

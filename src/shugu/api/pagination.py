"""The one pagination convention of every listing: `?limit=&cursor=` → `{items, next_cursor}`.

Listings are ordered by id (ULIDs sort by creation time); the cursor is an opaque token for the
last id of the page. `next_cursor` is null on the last page.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.ids import is_id

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1–200).")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a listing."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: str | None) -> str | None:
    """The cursor token after `last_id` (None stays None)."""
    if last_id is None:
        return None
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The id a cursor token stands for.

    Raises:
        InvalidInputError: the token was not made by `encode_cursor`.
    """
    if cursor is None:
        return None
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInputError(N_("invalid pagination cursor {cursor}"), cursor=cursor) from exc
    if not is_id(value):
        raise InvalidInputError(N_("invalid pagination cursor {cursor}"), cursor=cursor)
    return value


def encode_index_cursor(next_index: int | None) -> str | None:
    """The cursor token of a listing by position (ledger entries, checkpoints)."""
    if next_index is None:
        return None
    return base64.urlsafe_b64encode(f"i{next_index}".encode()).decode().rstrip("=")


def decode_index_cursor(cursor: str | None) -> int:
    """The position a cursor token stands for (0 without a cursor).

    Raises:
        InvalidInputError: the token was not made by `encode_index_cursor`.
    """
    if cursor is None:
        return 0
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInputError(N_("invalid pagination cursor {cursor}"), cursor=cursor) from exc
    if not value.startswith("i") or not value[1:].isdigit() or len(value) > 20:
        raise InvalidInputError(N_("invalid pagination cursor {cursor}"), cursor=cursor)
    return int(value[1:])

"""The one pagination convention of every listing: `?limit=&cursor=` → `{items, next_cursor}`.

Listings are ordered by id (ULIDs sort by creation time) or by position (the ledger); the cursor
is a token a client passes back unchanged: the last id of the page, or the next position. Its
format is in the OpenAPI document (a `pattern`), so that every cursor the document allows is one
the hub accepts. `next_cursor` is null on the last page.
"""

from __future__ import annotations

import re
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from shugu.api.openapi import pattern
from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.ids import is_id

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

ID_CURSOR = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
"""A cursor of a listing by id: the last id of the page (a ULID)."""
INDEX_CURSOR = r"^[0-9]{1,18}$"
"""A cursor of a listing by position: the next position, in decimal."""

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1–200).")]
Cursor = Annotated[
    str | None,
    Query(
        description="`next_cursor` of the previous page.",
        json_schema_extra=pattern(ID_CURSOR),
    ),
]
IndexCursor = Annotated[
    str | None,
    Query(
        description="`next_cursor` of the previous page.",
        json_schema_extra=pattern(INDEX_CURSOR),
    ),
]
"""The patterns are checked by `decode_cursor`/`decode_index_cursor`, so that a malformed cursor
is a 400 problem naming the cursor, like every other bad value of a listing."""


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a listing."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: str | None) -> str | None:
    """The cursor token after `last_id` (None stays None)."""
    return last_id


def decode_cursor(cursor: str | None) -> str | None:
    """The id a cursor token stands for.

    >>> decode_cursor("01JDQ7Z5N4V1B2C3D4E5F6G7H8")
    '01JDQ7Z5N4V1B2C3D4E5F6G7H8'

    Raises:
        InvalidInputError: the token was not made by `encode_cursor`.
    """
    if cursor is None:
        return None
    if not re.fullmatch(ID_CURSOR, cursor) or not is_id(cursor):
        raise InvalidInputError(N_("invalid pagination cursor {cursor}"), cursor=cursor)
    return cursor


def encode_index_cursor(next_index: int | None) -> str | None:
    """The cursor token of a listing by position (ledger entries, checkpoints)."""
    return None if next_index is None else str(next_index)


def decode_index_cursor(cursor: str | None) -> int:
    """The position a cursor token stands for (0 without a cursor).

    >>> decode_index_cursor(encode_index_cursor(42))
    42

    Raises:
        InvalidInputError: the token was not made by `encode_index_cursor`.
    """
    if cursor is None:
        return 0
    if not re.fullmatch(INDEX_CURSOR, cursor):
        raise InvalidInputError(N_("invalid pagination cursor {cursor}"), cursor=cursor)
    return int(cursor)

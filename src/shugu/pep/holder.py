"""The holder's side of PEP: identifiers to encrypted pseudonyms in bulk, and the job's view.

An identifier becomes a group element in three steps:

1. normalise it as `shugu.privacy.transforms` does for pseudonyms: Unicode NFKC, leading and
   trailing Unicode White_Space removed, ASCII letters upper-cased (other letters keep their
   case); integers are written in decimal; a value empty after this, or null, stays null;
2. hash: ``h = SHA-512(b"shugu-pep-identifier-v1" || 0x00 || utf8(normalised))``, the prefix
   separating this use of SHA-512 from every other;
3. map to the group: ``M = GroupElement.from_hash(h)`` (ristretto255's `from_uniform_bytes`).

M is the identifier's pseudonym in the *global* domain. The holder encrypts it under the global
public key X (a fresh randomness per value, so two holders' ciphertexts of one identifier share
no bytes) and sends the batch to the transcryptor with ``domain_from = None``.

After transcription, the job decrypts with its session key to s(job)·M, whose 32-byte encoding
in hex is the job-domain pseudonym: equal for equal identifiers from any holder, unrelated to
any other job's.

Ciphertexts in files and columns are libpep's text form: URL-safe base64 with padding of the
64 bytes ``B || C`` (88 characters).

>>> from shugu.pep.keys import make_global_keys
>>> keys = make_global_keys()
>>> texts = encrypt_identifiers([" ab-1 ", "AB-1", None], keys.public)
>>> texts[2] is None and texts[0] != texts[1]
True
>>> a, b, _ = decrypt_pseudonyms(texts, keys.secret)
>>> a == b == identifier_point("ab-1").hex()
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import string
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.pep.batch import EncryptedBatch, decrypt_batch, encrypt_batch, split_points
from shugu.pep.group import G, GroupElement, Scalar

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "HASH_PREFIX",
    "decrypt_column",
    "decrypt_pseudonyms",
    "encrypt_column",
    "encrypt_identifiers",
    "identifier_point",
    "normalize_identifier",
    "pack_ciphertexts",
    "unpack_ciphertexts",
]

HASH_PREFIX = b"shugu-pep-identifier-v1\x00"
CIPHERTEXT_TEXT_LENGTH = 88
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Unicode White_Space, as `shugu.privacy.transforms.WHITESPACE`."""
_TO_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

Identifier = str | int | None


def normalize_identifier(value: Identifier) -> str | None:
    """The normalised text of an identifier (None if null or blank).

    >>> normalize_identifier("\u3000ｘ１２ ")
    'X12'
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInputError(
            N_("an identifier must be text or an integer, got {kind}"), kind=type(value).__name__
        )
    if isinstance(value, int):
        return str(value)
    clean = unicodedata.normalize("NFKC", value).strip(WHITESPACE).translate(_TO_UPPER)
    return clean or None


def _point_bytes(text: str) -> bytes:
    raw = GroupElement.from_hash(hashlib.sha512(HASH_PREFIX + text.encode("utf-8")).digest())
    return raw.to_bytes()


def identifier_point(value: Identifier) -> GroupElement:
    """The global-domain pseudonym M of an identifier (see the module docstring).

    Raises:
        InvalidInputError: the identifier is null or blank.
    """
    text = normalize_identifier(value)
    if text is None:
        raise InvalidInputError(N_("a blank identifier has no pseudonym"))
    return GroupElement(_point_bytes(text))


CHUNK = 16_384
"""Values per unit of work (and per progress step) in the column functions."""

Progress = Callable[[int, int], None]
"""Called with (values done, values in all) after each chunk, in order."""


def _in_chunks(
    work: Callable[[int, int], bytes], count: int, workers: int, progress: Progress | None
) -> bytes:
    """`work(start, stop)` over [0, count) in chunks of at most `CHUNK` (smaller when that keeps
    every worker busy), on `workers` threads (libsodium runs without the GIL), joined in order.
    An invalid ciphertext is named by its position in the whole."""

    step = CHUNK if workers < 2 else max(1, min(CHUNK, -(-count // workers)))

    def run(start: int) -> bytes:
        try:
            return work(start, min(start + step, count))
        except InvalidInputError as exc:
            if "index" in exc.params:  # a position within the chunk
                exc.params["index"] += start
            raise

    starts = range(0, count, step)
    parts: list[bytes] = []
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="pep") as pool:
            for part in pool.map(run, starts):
                parts.append(part)
                if progress is not None:
                    progress(min(len(parts) * step, count), count)
        return b"".join(parts)
    for start in starts:
        parts.append(run(start))
        if progress is not None:
            progress(min(start + step, count), count)
    return b"".join(parts)


def encrypt_identifiers(
    values: Sequence[Identifier],
    public_key: GroupElement,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[str | None]:
    """Encrypt every identifier under `public_key` (libpep's text form; null for null/blank),
    on `workers` threads for long columns."""
    texts = [normalize_identifier(v) for v in values]
    present = [t for t in texts if t is not None]

    def work(start: int, stop: int) -> bytes:
        points = b"".join(_point_bytes(t) for t in present[start:stop])
        return encrypt_batch(points, public_key).ciphertexts

    packed = EncryptedBatch(_in_chunks(work, len(present), workers, progress), public_key)
    encoded = iter(packed.to_base64())
    return [None if t is None else next(encoded) for t in texts]


def unpack_ciphertexts(texts: Sequence[str | None]) -> tuple[bytes, list[bool]]:
    """Packed 64-byte ciphertexts from their text forms, and which rows were not null.

    Raises:
        InvalidInputError: a value is not the text form of 64 bytes (its row is named).
    """
    parts, present = [], []
    for row, text in enumerate(texts):
        present.append(text is not None)
        if text is None:
            continue
        try:
            raw = base64.urlsafe_b64decode(text) if isinstance(text, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 64 or len(text) != CIPHERTEXT_TEXT_LENGTH:
            raise InvalidInputError(
                N_("row {row}: not an encrypted pseudonym (88 characters of URL-safe base64)"),
                row=row,
            )
        parts.append(raw)
    return b"".join(parts), present


def pack_ciphertexts(data: bytes, present: Sequence[bool]) -> list[str | None]:
    """The inverse of `unpack_ciphertexts`: text forms, with nulls where the rows had none."""
    encoded = iter(EncryptedBatch(data, G).to_base64())
    return [next(encoded) if p else None for p in present]


def decrypt_pseudonyms(
    texts: Sequence[str | None],
    secret_key: Scalar,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[str | None]:
    """Decrypt transcrypted ciphertexts to job-domain pseudonyms (64 hex digits; null stays null),
    on `workers` threads for long columns.

    A wrong session key is not detectable here (the file does not carry the batch's key): it
    yields wrong pseudonyms. Check the session's public key, as `shugu pep session-key` does.

    Raises:
        InvalidInputError: a value is not a ciphertext, or has an invalid point.
    """
    data, present = unpack_ciphertexts(texts)
    public = secret_key * G

    def work(start: int, stop: int) -> bytes:
        part = EncryptedBatch(data[start * 64 : stop * 64], public)
        return decrypt_batch(part, secret_key)

    points = split_points(_in_chunks(work, len(data) // 64, workers, progress))
    found = iter(p.hex() for p in points)
    return [next(found) if p else None for p in present]


def encrypt_column(
    series: pl.Series,
    public_key: GroupElement,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> pl.Series:
    """`encrypt_identifiers` over a polars column (text or integers), same name, text type."""
    import polars as pl

    if not (series.dtype == pl.String or series.dtype.is_integer()):
        raise InvalidInputError(
            N_("column {column} holds {dtype}; identifiers must be text or integers"),
            column=series.name,
            dtype=str(series.dtype),
        )
    found = encrypt_identifiers(series.to_list(), public_key, workers=workers, progress=progress)
    return pl.Series(series.name, found, pl.String)


def decrypt_column(
    series: pl.Series,
    secret_key: Scalar,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> pl.Series:
    """`decrypt_pseudonyms` over a polars column of ciphertext texts."""
    import polars as pl

    if series.dtype != pl.String:
        raise InvalidInputError(
            N_("column {column} holds {dtype}; encrypted pseudonyms are text"),
            column=series.name,
            dtype=str(series.dtype),
        )
    found = decrypt_pseudonyms(series.to_list(), secret_key, workers=workers, progress=progress)
    return pl.Series(series.name, found, pl.String)

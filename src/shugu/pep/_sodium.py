"""libsodium's Ristretto255 functions on bytes, called straight through the library rbcl bundles.

rbcl's public wrappers check their arguments and allocate a result per call; the helpers here do
the same work with one ctypes call each and report failure as `None`, so `group` can raise a
translated error and `batch` can run its loops without any per-item Python objects besides bytes.

libsodium's conventions, which every caller relies on:

- a point is the 32-byte canonical Ristretto255 encoding; decoding rejects non-canonical and
  invalid encodings, but accepts the identity (all zero bytes);
- `crypto_scalarmult_ristretto255` clears only the top bit of the scalar (no clamping), which is
  harmless for canonical scalars (< l < 2^253), and fails on an invalid point or an identity result;
- a scalar is 32 bytes little-endian; `scalar_reduce` takes 64 bytes (a wide hash) mod l.

>>> s = scalar_random()
>>> p = base_mul(s)
>>> point_mul(scalar_invert(s), p) == base_mul(ONE)
True
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from pathlib import Path
from typing import Any, Final

from rbcl import rbcl as _rbcl

POINT_BYTES: Final = 32
SCALAR_BYTES: Final = 32
HASH_BYTES: Final = 64
CIPHERTEXT_BYTES: Final = 2 * POINT_BYTES
ORDER: Final = 2**252 + 27742317777372353535851937790883648493
"""l, the prime order of the Ristretto255 group."""
IDENTITY: Final = bytes(POINT_BYTES)
"""The canonical encoding of the identity element."""
ONE: Final = (1).to_bytes(SCALAR_BYTES, "little")

LIB: Final[Any] = _rbcl._sodium
"""The libsodium shared library loaded (and initialised) by rbcl."""


def _remove_library_copy() -> None:
    """Delete the copy of libsodium that rbcl writes to a temporary file at every import.

    rbcl never removes it (about 2.7 MB per process: every CLI run, test run and worker). Once
    loaded, the file is no longer needed on POSIX systems: the mapping outlives the name.
    """
    path = getattr(sys.modules.get("rbcl._sodium"), "lib_path", None)
    if os.name == "posix" and isinstance(path, str):
        with contextlib.suppress(OSError):
            Path(path).unlink()


_remove_library_copy()

scalarmult: Final[Any] = LIB.crypto_scalarmult_ristretto255
"""`scalarmult(out, scalar, point) -> 0 | -1`, -1 on an invalid point or an identity result."""
scalarmult_base: Final[Any] = LIB.crypto_scalarmult_ristretto255_base
point_add_into: Final[Any] = LIB.crypto_core_ristretto255_add
point_sub_into: Final[Any] = LIB.crypto_core_ristretto255_sub
scalar_random_into: Final[Any] = LIB.crypto_core_ristretto255_scalar_random

Buffer = ctypes.Array[ctypes.c_char]


def new_buffer(size: int) -> Buffer:
    """A zeroed, writable C buffer of `size` bytes."""
    return (ctypes.c_char * size)()


def scalar_random() -> bytes:
    """A uniformly random non-zero canonical scalar from libsodium's CSPRNG."""
    out = new_buffer(SCALAR_BYTES)
    scalar_random_into(out)
    return out.raw


def scalar_reduce(wide: bytes) -> bytes:
    """64 little-endian bytes reduced modulo l (may be zero)."""
    out = new_buffer(SCALAR_BYTES)
    LIB.crypto_core_ristretto255_scalar_reduce(out, wide)
    return out.raw


def scalar_mul(a: bytes, b: bytes) -> bytes:
    """a·b mod l."""
    out = new_buffer(SCALAR_BYTES)
    LIB.crypto_core_ristretto255_scalar_mul(out, a, b)
    return out.raw


def scalar_invert(a: bytes) -> bytes | None:
    """a⁻¹ mod l, or None for zero."""
    out = new_buffer(SCALAR_BYTES)
    return None if LIB.crypto_core_ristretto255_scalar_invert(out, a) else out.raw


def is_canonical_scalar(a: bytes) -> bool:
    """Whether 32 bytes encode an integer below l."""
    return int.from_bytes(a, "little") < ORDER


def is_valid_point(p: bytes) -> bool:
    """Whether 32 bytes are a canonical Ristretto255 encoding (the identity included)."""
    return bool(LIB.crypto_core_ristretto255_is_valid_point(p) == 1)


def point_from_hash(digest: bytes) -> bytes:
    """The Ristretto255 map of 64 uniform bytes (ristretto255 `from_uniform_bytes`)."""
    out = new_buffer(POINT_BYTES)
    LIB.crypto_core_ristretto255_from_hash(out, digest)
    return out.raw


def point_mul(s: bytes, p: bytes) -> bytes | None:
    """s·P, or None if P is invalid or the product is the identity."""
    out = new_buffer(POINT_BYTES)
    return None if scalarmult(out, s, p) else out.raw


def base_mul(s: bytes) -> bytes | None:
    """s·G, or None for a zero scalar."""
    out = new_buffer(POINT_BYTES)
    return None if scalarmult_base(out, s) else out.raw


def point_add(p: bytes, q: bytes) -> bytes | None:
    """P + Q, or None if either encoding is invalid."""
    out = new_buffer(POINT_BYTES)
    return None if point_add_into(out, p, q) else out.raw


def point_sub(p: bytes, q: bytes) -> bytes | None:
    """P − Q, or None if either encoding is invalid."""
    out = new_buffer(POINT_BYTES)
    return None if point_sub_into(out, p, q) else out.raw


BASE_POINT: Final = base_mul(ONE)
"""The encoding of the standard base point G."""

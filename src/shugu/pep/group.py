"""The Ristretto255 group: non-zero scalars and group elements, as libpep 0.12 encodes them.

Ristretto255 is a prime-order group of order

    l = 2^252 + 27742317777372353535851937790883648493

built on Curve25519; every element has one canonical 32-byte encoding. G is the standard base
point. libpep calls its two types `ScalarNonZero` and `GroupElement`; here they are `Scalar` and
`GroupElement`, with the same encodings:

- a scalar is 32 bytes, little-endian, canonical (below l) and non-zero;
- a group element is its 32-byte compressed Ristretto255 encoding; the identity (32 zero bytes)
  is refused, since no honest key, message or ciphertext component is ever the identity;
- `Scalar.from_hash(h)` reduces 64 bytes modulo l (curve25519-dalek's
  `Scalar::from_bytes_mod_order_wide`) and maps 0 to 1;
- `GroupElement.from_hash(h)` is ristretto255's `from_uniform_bytes`: the Elligator map of each
  32-byte half, added (libsodium's `crypto_core_ristretto255_from_hash`).

Every invalid input raises `InvalidInputError`: a wrong length, a non-canonical or zero scalar, an
invalid point encoding, the identity element.

>>> s = Scalar.from_hash(bytes(64))
>>> s == Scalar.one()
True
>>> p = Scalar.random() * G
>>> (s * p) == p
True
>>> GroupElement.from_bytes(bytes(32))
Traceback (most recent call last):
...
shugu.errors.InvalidInputError: the identity element is not allowed here
"""

from __future__ import annotations

import hmac
from typing import Any, overload

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.pep import _sodium

__all__ = ["G", "GroupElement", "Scalar", "check_length", "parse_hex"]


def check_length(data: bytes, expected: int, message: str) -> bytes:
    """Return `data` as bytes, or raise `message` (with `{expected}` and `{length}`) if its size
    is not `expected`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInputError(
            N_("expected bytes, got a value of type {kind}"), kind=type(data).__name__
        )
    if len(data) != expected:
        raise InvalidInputError(message, expected=expected, length=len(data))
    return bytes(data)


def parse_hex(text: str, what: str | None = None) -> bytes:
    """Decode a hexadecimal string (either case), or raise `InvalidInputError` naming `what`
    (the field or option it came from) if given, else quoting the text."""
    try:
        return bytes.fromhex(text)
    except (ValueError, TypeError):
        if what is not None:
            raise InvalidInputError(N_("{what} must be hexadecimal"), what=what) from None
        raise InvalidInputError(N_("'{text}' is not a hexadecimal string"), text=text) from None


class Scalar:
    """A non-zero scalar modulo l (libpep's `ScalarNonZero`).

    The constructor validates; arithmetic results from libsodium are trusted. The inverse is
    computed once per scalar and kept (inversion costs about two scalar multiplications).
    """

    __slots__ = ("_bytes", "_inverse")

    _bytes: bytes
    _inverse: Scalar | None

    def __init__(self, data: bytes) -> None:
        raw = check_length(
            data, _sodium.SCALAR_BYTES, N_("a scalar must be {expected} bytes, got {length}")
        )
        if not _sodium.is_canonical_scalar(raw):
            raise InvalidInputError(
                N_("the scalar is not canonical: it is not reduced modulo the group order")
            )
        if raw == bytes(_sodium.SCALAR_BYTES):
            raise InvalidInputError(N_("the scalar is zero"))
        self._bytes = raw
        self._inverse = None

    @classmethod
    def _trusted(cls, raw: bytes) -> Scalar:
        scalar = object.__new__(cls)
        scalar._bytes = raw
        scalar._inverse = None
        return scalar

    @classmethod
    def from_bytes(cls, data: bytes) -> Scalar:
        """Decode 32 little-endian bytes (canonical, non-zero)."""
        return cls(data)

    @classmethod
    def from_hex(cls, text: str) -> Scalar:
        """Decode 64 hexadecimal digits."""
        return cls(parse_hex(text))

    @classmethod
    def from_hash(cls, digest: bytes) -> Scalar:
        """Reduce 64 bytes modulo l (0 becomes 1), as libpep's `ScalarNonZero::from_hash`."""
        raw = check_length(
            digest, _sodium.HASH_BYTES, N_("a hash must be {expected} bytes, got {length}")
        )
        reduced = _sodium.scalar_reduce(raw)
        return cls._trusted(_sodium.ONE if reduced == bytes(32) else reduced)

    @classmethod
    def random(cls) -> Scalar:
        """A uniformly random non-zero scalar (libsodium's CSPRNG)."""
        return cls._trusted(_sodium.scalar_random())

    @classmethod
    def one(cls) -> Scalar:
        """The scalar 1 (the factor of the global domain and the global encryption context)."""
        return cls._trusted(_sodium.ONE)

    def to_bytes(self) -> bytes:
        """The 32-byte little-endian encoding."""
        return self._bytes

    def hex(self) -> str:
        """The encoding as 64 lowercase hexadecimal digits."""
        return self._bytes.hex()

    def invert(self) -> Scalar:
        """s⁻¹ mod l."""
        if self._inverse is None:
            raw = _sodium.scalar_invert(self._bytes)
            if raw is None:  # only zero has no inverse, and a Scalar is never zero
                raise InvalidInputError(N_("the scalar is zero"))
            self._inverse = Scalar._trusted(raw)
            self._inverse._inverse = self
        return self._inverse

    @overload
    def __mul__(self, other: Scalar) -> Scalar: ...
    @overload
    def __mul__(self, other: GroupElement) -> GroupElement: ...
    def __mul__(self, other: Scalar | GroupElement) -> Scalar | GroupElement:
        if isinstance(other, Scalar):
            return Scalar._trusted(_sodium.scalar_mul(self._bytes, other._bytes))
        if isinstance(other, GroupElement):
            return other.multiply(self)
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scalar):
            return NotImplemented
        return hmac.compare_digest(self._bytes, other._bytes)

    def __hash__(self) -> int:
        return hash((Scalar, self._bytes))

    def __repr__(self) -> str:
        return "Scalar(<redacted>)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Scalar, (self._bytes,))


class GroupElement:
    """An element of Ristretto255 other than the identity, kept as its canonical encoding."""

    __slots__ = ("_bytes",)

    _bytes: bytes

    def __init__(self, data: bytes) -> None:
        raw = check_length(
            data, _sodium.POINT_BYTES, N_("a group element must be {expected} bytes, got {length}")
        )
        if raw == _sodium.IDENTITY:
            raise InvalidInputError(N_("the identity element is not allowed here"))
        if not _sodium.is_valid_point(raw):
            raise InvalidInputError(
                N_("{value} is not a canonical Ristretto255 point encoding"), value=raw.hex()
            )
        self._bytes = raw

    @classmethod
    def _trusted(cls, raw: bytes | None) -> GroupElement:
        if raw is None or raw == _sodium.IDENTITY:
            raise InvalidInputError(N_("the result is the identity element"))
        element = object.__new__(cls)
        element._bytes = raw
        return element

    @classmethod
    def from_bytes(cls, data: bytes) -> GroupElement:
        """Decode a 32-byte canonical encoding."""
        return cls(data)

    @classmethod
    def from_hex(cls, text: str) -> GroupElement:
        """Decode 64 hexadecimal digits."""
        return cls(parse_hex(text))

    @classmethod
    def from_hash(cls, digest: bytes) -> GroupElement:
        """Map 64 uniform bytes into the group (ristretto255 `from_uniform_bytes`)."""
        raw = check_length(
            digest, _sodium.HASH_BYTES, N_("a hash must be {expected} bytes, got {length}")
        )
        return cls._trusted(_sodium.point_from_hash(raw))

    from_uniform_bytes = from_hash

    @classmethod
    def random(cls) -> GroupElement:
        """A uniformly random element."""
        return Scalar.random() * G

    def to_bytes(self) -> bytes:
        """The 32-byte canonical encoding."""
        return self._bytes

    def hex(self) -> str:
        """The encoding as 64 lowercase hexadecimal digits."""
        return self._bytes.hex()

    def multiply(self, scalar: Scalar) -> GroupElement:
        """s·P (libsodium's constant-time scalar multiplication; its fixed-base table for G)."""
        if self._bytes == _sodium.BASE_POINT:
            return GroupElement._trusted(_sodium.base_mul(scalar.to_bytes()))
        return GroupElement._trusted(_sodium.point_mul(scalar.to_bytes(), self._bytes))

    def __add__(self, other: GroupElement) -> GroupElement:
        if not isinstance(other, GroupElement):
            return NotImplemented
        return GroupElement._trusted(_sodium.point_add(self._bytes, other._bytes))

    def __sub__(self, other: GroupElement) -> GroupElement:
        if not isinstance(other, GroupElement):
            return NotImplemented
        return GroupElement._trusted(_sodium.point_sub(self._bytes, other._bytes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroupElement):
            return NotImplemented
        return self._bytes == other._bytes

    def __hash__(self) -> int:
        return hash((GroupElement, self._bytes))

    def __repr__(self) -> str:
        return f"GroupElement({self._bytes.hex()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (GroupElement, (self._bytes,))


G = GroupElement._trusted(_sodium.BASE_POINT)
"""The standard base point of Ristretto255."""

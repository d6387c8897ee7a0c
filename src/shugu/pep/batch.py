"""Batches of ciphertexts as packed bytes: the fast path of encryption and transcryption.

An `EncryptedBatch` keeps n ciphertexts back to back (64·n bytes, each `gb || gc` exactly as
`ElGamal.to_bytes`), the public key they are all encrypted under, and the names of the
transcryptors that have processed it. The loops here call libsodium once per scalar
multiplication, reading and writing the packed buffers in place, so a batch costs what its
scalar multiplications cost: rsk is 2 per ciphertext, encryption 1 plus one fixed-base
multiplication and an addition, decryption 1 plus a subtraction.

Every operation that changes pseudonyms or keys (reshuffle, rekey, rsk, rrsk, rerandomize)
returns its output in an order drawn from the operating system's CSPRNG, as libpep's batch
functions do: whoever sees a batch go in and come out cannot pair inputs with outputs by
position. Encryption and decryption keep the order (the caller owns both ends).

The public key travels with the batch, the way libpep's `elgamal3` ciphertexts carry theirs, but
once per batch rather than per ciphertext: rekeying by k turns Y into k·Y (one scalar
multiplication per batch). Decryption compares it with the secret key's public key first, so a
wrong session key, or a chain of transcryptors with one missing, fails with a clear error
instead of yielding wrong pseudonyms.

Validation comes free with the arithmetic: libsodium refuses non-canonical or invalid points and
identity results, and each failure is reported with the position of the ciphertext in the input.

>>> from shugu.pep.group import G, GroupElement, Scalar
>>> y, s, k = Scalar.random(), Scalar.random(), Scalar.random()
>>> messages = [GroupElement.random() for _ in range(3)]
>>> batch = encrypt_batch(messages, y * G)
>>> out = decrypt_batch(rsk_batch(batch, s, k), k * y)
>>> sorted(split_points(out)) == sorted((s * m).to_bytes() for m in messages)
True
"""

from __future__ import annotations

import base64
import ctypes
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.pep import _sodium
from shugu.pep.elgamal import ElGamal
from shugu.pep.group import G, GroupElement, Scalar

__all__ = [
    "EncryptedBatch",
    "decrypt_batch",
    "encrypt_batch",
    "pack_points",
    "rekey_batch",
    "rerandomize_batch",
    "reshuffle_batch",
    "rrsk_batch",
    "rsk_batch",
    "shuffle_batch",
    "split_points",
]

CT = _sodium.CIPHERTEXT_BYTES
PT = _sodium.POINT_BYTES
_byref = ctypes.byref
_csprng = random.SystemRandom()


def _invalid_ciphertext(index: int) -> InvalidInputError:
    return InvalidInputError(
        N_(
            "ciphertext {index} is not valid: a half is not a canonical Ristretto255 point, "
            "or is the identity"
        ),
        index=index,
    )


@dataclass(frozen=True, slots=True)
class EncryptedBatch:
    """n ciphertexts packed as 64·n bytes, their public key, and the transcryptors passed."""

    ciphertexts: bytes
    public_key: GroupElement
    route: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.ciphertexts, bytes) or len(self.ciphertexts) % CT:
            raise InvalidInputError(
                N_("a batch of ciphertexts must be a multiple of {size} bytes, got {length}"),
                size=CT,
                length=len(self.ciphertexts),
            )

    def __len__(self) -> int:
        return len(self.ciphertexts) // CT

    def __repr__(self) -> str:
        return (
            f"EncryptedBatch({len(self)} ciphertexts, public_key={self.public_key.hex()}, "
            f"route={self.route!r})"
        )

    @classmethod
    def from_ciphertexts(
        cls, items: Iterable[ElGamal | bytes], public_key: GroupElement
    ) -> EncryptedBatch:
        """Pack ciphertexts (objects, or 64-byte encodings checked for length)."""
        parts = [item.to_bytes() if isinstance(item, ElGamal) else item for item in items]
        return cls(_join_fixed(parts, CT, _WRONG_CIPHERTEXT), public_key)

    @classmethod
    def from_base64(cls, items: Iterable[str], public_key: GroupElement) -> EncryptedBatch:
        """Pack libpep's text form of each ciphertext (URL-safe padded base64)."""
        return cls.from_ciphertexts((ElGamal.from_base64(item) for item in items), public_key)

    def ciphertext(self, index: int) -> ElGamal:
        """The ciphertext at `index`, decoded and validated."""
        return ElGamal.from_bytes(self.ciphertexts[index * CT : (index + 1) * CT])

    def to_base64(self) -> list[str]:
        """libpep's text form of each ciphertext, in order."""
        data = self.ciphertexts
        return [
            base64.urlsafe_b64encode(data[i : i + CT]).decode() for i in range(0, len(data), CT)
        ]


def pack_points(points: bytes | Sequence[bytes | GroupElement]) -> bytes:
    """Group elements packed as 32·n bytes (already packed bytes are checked for length)."""
    if isinstance(points, bytes | bytearray | memoryview):
        if len(points) % PT:
            raise InvalidInputError(
                N_("group elements must be packed as a multiple of {size} bytes, got {length}"),
                size=PT,
                length=len(points),
            )
        return bytes(points)
    parts = [p.to_bytes() if isinstance(p, GroupElement) else p for p in points]
    return _join_fixed(parts, PT, _WRONG_MESSAGE)


_WRONG_CIPHERTEXT = N_("ciphertext {index} must be {expected} bytes, got {length}")
_WRONG_MESSAGE = N_("message {index} must be {expected} bytes, got {length}")


def _join_fixed(parts: Sequence[bytes], size: int, message: str) -> bytes:
    """`parts` packed, each checked to be `size` bytes (the first that is not is named)."""
    for index, part in enumerate(parts):
        if len(part) != size:
            raise InvalidInputError(message, index=index, expected=size, length=len(part))
    return b"".join(parts)


def split_points(data: bytes) -> list[bytes]:
    """The 32-byte encodings in packed `data` (as `decrypt_batch` returns them)."""
    return [data[i : i + PT] for i in range(0, len(data), PT)]


def _order(n: int, shuffle: bool) -> Sequence[int]:
    if not shuffle:
        return range(n)
    order = list(range(n))
    _csprng.shuffle(order)
    return order


def shuffle_batch(batch: EncryptedBatch) -> EncryptedBatch:
    """The same ciphertexts in a CSPRNG-drawn order."""
    data = batch.ciphertexts
    out = bytearray(len(data))
    for i, j in enumerate(_order(len(batch), True)):
        out[j * CT : (j + 1) * CT] = data[i * CT : (i + 1) * CT]
    return replace(batch, ciphertexts=bytes(out))


def _checked(half: bytes, index: int) -> bytes:
    """A ciphertext half passed on unchanged, validated all the same."""
    if half == _sodium.IDENTITY or not _sodium.is_valid_point(half):
        raise _invalid_ciphertext(index)
    return half


def _multiply(data: bytes, factor_b: bytes | None, factor_c: bytes | None, shuffle: bool) -> bytes:
    """Each ciphertext (B, C) → (b·B, c·C); a `None` factor copies that half unchanged."""
    n = len(data)
    out = bytearray(n)
    dst = (ctypes.c_char * n).from_buffer(out)
    src = (ctypes.c_char * n).from_buffer_copy(data)
    mult = _sodium.scalarmult
    for i, j in enumerate(_order(n // CT, shuffle)):
        si, dj = i * CT, j * CT
        for half, factor in ((0, factor_b), (PT, factor_c)):
            if factor is None:
                out[dj + half : dj + half + PT] = _checked(data[si + half : si + half + PT], i)
            elif mult(_byref(dst, dj + half), factor, _byref(src, si + half)):
                raise _invalid_ciphertext(i)
    del dst
    return bytes(out)


def _rsk(data: bytes, ski: bytes, s: bytes, shuffle: bool) -> bytes:
    """The hot loop of transcryption: (B, C) → (ski·B, s·C), two libsodium calls per item."""
    n = len(data)
    out = bytearray(n)
    dst = (ctypes.c_char * n).from_buffer(out)
    src = (ctypes.c_char * n).from_buffer_copy(data)
    mult = _sodium.scalarmult
    for i, j in enumerate(_order(n // CT, shuffle)):
        si, dj = i * CT, j * CT
        if mult(_byref(dst, dj), ski, _byref(src, si)) or mult(
            _byref(dst, dj + PT), s, _byref(src, si + PT)
        ):
            raise _invalid_ciphertext(i)
    del dst
    return bytes(out)


def reshuffle_batch(batch: EncryptedBatch, s: Scalar, *, shuffle: bool = True) -> EncryptedBatch:
    """Reshuffle every ciphertext by `s` (plaintexts M → s·M); the key is unchanged."""
    data = _multiply(batch.ciphertexts, s.to_bytes(), s.to_bytes(), shuffle)
    return replace(batch, ciphertexts=data)


def rekey_batch(batch: EncryptedBatch, k: Scalar, *, shuffle: bool = True) -> EncryptedBatch:
    """Rekey every ciphertext by `k`: decryptable under k·y, public key k·Y."""
    data = _multiply(batch.ciphertexts, k.invert().to_bytes(), None, shuffle)
    return replace(batch, ciphertexts=data, public_key=k * batch.public_key)


def rsk_batch(
    batch: EncryptedBatch, s: Scalar, k: Scalar, *, shuffle: bool = True
) -> EncryptedBatch:
    """Reshuffle by `s` and rekey by `k` (a transcryption step: see `PseudonymizationInfo`)."""
    ski = (s * k.invert()).to_bytes()
    data = _rsk(batch.ciphertexts, ski, s.to_bytes(), shuffle)
    return replace(batch, ciphertexts=data, public_key=k * batch.public_key)


def rerandomize_batch(batch: EncryptedBatch, *, shuffle: bool = True) -> EncryptedBatch:
    """Fresh randomness for every ciphertext under the batch's key: (r·G + B, r·Y + C)."""
    data = batch.ciphertexts
    n = len(data)
    out = bytearray(n)
    dst = (ctypes.c_char * n).from_buffer(out)
    src = (ctypes.c_char * n).from_buffer_copy(data)
    r, tmp = _sodium.new_buffer(_sodium.SCALAR_BYTES), _sodium.new_buffer(PT)
    y = batch.public_key.to_bytes()
    for i, j in enumerate(_order(n // CT, shuffle)):
        si, dj = i * CT, j * CT
        if _sodium.IDENTITY in (data[si : si + PT], data[si + PT : si + CT]):
            raise _invalid_ciphertext(i)
        _sodium.scalar_random_into(r)
        _sodium.scalarmult_base(tmp, r)
        if _sodium.point_add_into(_byref(dst, dj), tmp, _byref(src, si)):
            raise _invalid_ciphertext(i)
        _sodium.scalarmult(tmp, r, y)
        if _sodium.point_add_into(_byref(dst, dj + PT), tmp, _byref(src, si + PT)):
            raise _invalid_ciphertext(i)
    del dst
    return replace(batch, ciphertexts=bytes(out))


def rrsk_batch(
    batch: EncryptedBatch, s: Scalar, k: Scalar, *, shuffle: bool = True
) -> EncryptedBatch:
    """Rerandomize, reshuffle by `s` and rekey by `k` (rrsk with fresh randomness per item)."""
    return rsk_batch(rerandomize_batch(batch, shuffle=False), s, k, shuffle=shuffle)


def encrypt_batch(
    messages: bytes | Sequence[bytes | GroupElement], public_key: GroupElement
) -> EncryptedBatch:
    """Encrypt each message (32-byte encodings, packed or not) under `public_key`, in order."""
    data = pack_points(messages)
    n = len(data) // PT
    out = bytearray(n * CT)
    dst = (ctypes.c_char * (n * CT)).from_buffer(out)
    r, tmp = _sodium.new_buffer(_sodium.SCALAR_BYTES), _sodium.new_buffer(PT)
    y = public_key.to_bytes()
    for i in range(n):
        message = data[i * PT : (i + 1) * PT]
        _sodium.scalar_random_into(r)
        _sodium.scalarmult_base(_byref(dst, i * CT), r)
        _sodium.scalarmult(tmp, r, y)
        if message == _sodium.IDENTITY or _sodium.point_add_into(
            _byref(dst, i * CT + PT), message, tmp
        ):
            raise InvalidInputError(
                N_("message {index} is not a valid group element (or is the identity)"),
                index=i,
            )
    del dst
    return EncryptedBatch(bytes(out), public_key)


def decrypt_batch(batch: EncryptedBatch, secret_key: Scalar) -> bytes:
    """Decrypt every ciphertext, in order, to packed 32-byte messages (see `split_points`).

    Raises:
        InvalidInputError: the secret key does not belong to the batch's public key (a wrong
            session key, or a transcryption that skipped a transcryptor), or a ciphertext is
            invalid.
    """
    if secret_key * G != batch.public_key:
        raise InvalidInputError(
            N_(
                "this secret key cannot decrypt the batch: it is encrypted under {public_key} "
                "(wrong session key, or a transcryptor did not take part)"
            ),
            public_key=batch.public_key.hex(),
        )
    data, y = batch.ciphertexts, secret_key.to_bytes()
    n = len(data) // CT
    out = bytearray(n * PT)
    dst = (ctypes.c_char * (n * PT)).from_buffer(out)
    src = (ctypes.c_char * len(data)).from_buffer_copy(data)
    tmp = _sodium.new_buffer(PT)
    for i in range(n):
        si = i * CT
        if (
            _sodium.scalarmult(tmp, y, _byref(src, si))
            or data[si + PT : si + CT] == _sodium.IDENTITY
            or _sodium.point_sub_into(_byref(dst, i * PT), _byref(src, si + PT), tmp)
        ):
            raise _invalid_ciphertext(i)
        if out[i * PT : (i + 1) * PT] == _sodium.IDENTITY:
            raise InvalidInputError(
                N_("ciphertext {index} decrypts to the identity element, which is no message"),
                index=i,
            )
    del dst
    return bytes(out)

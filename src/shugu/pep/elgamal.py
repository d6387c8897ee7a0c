"""ElGamal encryption on Ristretto255, byte-compatible with libpep 0.12 (without `elgamal3`).

A key pair is a secret scalar y and the public element Y = y·G. A message is a group element M
(a pseudonym, or a hashed identifier):

    encrypt(M, Y; r) = (B, C) = (r·G, M + r·Y)          r a fresh random non-zero scalar
    decrypt((B, C), y) = C − y·B = M + r·y·G − y·r·G = M

Anyone holding Y can encrypt; only the holder of y decrypts. Encrypting the same M twice gives
unrelated ciphertexts (a fresh r each time), which is what hides from an intermediary that two
ciphertexts carry the same identifier.

Encoding: 64 bytes `B || C`, each the 32-byte compressed point; as text, base64 with the URL-safe
alphabet and `=` padding (88 characters), as libpep's `ElGamal::to_base64`.

>>> from shugu.pep.group import G, GroupElement, Scalar
>>> y = Scalar.random()
>>> message = GroupElement.random()
>>> ciphertext = encrypt(message, y * G)
>>> decrypt(ciphertext, y) == message
True
>>> ElGamal.from_base64(ciphertext.to_base64()) == ciphertext
True
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.pep import _sodium
from shugu.pep.group import G, GroupElement, Scalar, check_length, parse_hex

__all__ = ["ElGamal", "decrypt", "encrypt"]


@dataclass(frozen=True, slots=True)
class ElGamal:
    """An ElGamal ciphertext (B, C): `gb` = r·G and `gc` = M + r·Y."""

    gb: GroupElement
    gc: GroupElement

    @classmethod
    def from_bytes(cls, data: bytes) -> ElGamal:
        """Decode 64 bytes `gb || gc`; both halves must be valid, non-identity points."""
        raw = check_length(
            data,
            _sodium.CIPHERTEXT_BYTES,
            N_("an ElGamal ciphertext must be {expected} bytes, got {length}"),
        )
        return cls(GroupElement(raw[:32]), GroupElement(raw[32:]))

    @classmethod
    def from_hex(cls, text: str) -> ElGamal:
        """Decode 128 hexadecimal digits."""
        return cls.from_bytes(parse_hex(text))

    @classmethod
    def from_base64(cls, text: str) -> ElGamal:
        """Decode libpep's text form: URL-safe base64 with padding, canonical."""
        try:
            raw = base64.b64decode(str(text).encode("ascii"), altchars=b"-_", validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if not isinstance(text, str) or base64.urlsafe_b64encode(raw).decode() != text:
            raise InvalidInputError(
                N_("'{text}' is not URL-safe padded base64 of an ElGamal ciphertext"), text=text
            )
        return cls.from_bytes(raw)

    def to_bytes(self) -> bytes:
        """The 64-byte encoding `gb || gc`."""
        return self.gb.to_bytes() + self.gc.to_bytes()

    def to_base64(self) -> str:
        """URL-safe base64 with padding (libpep's `to_base64`)."""
        return base64.urlsafe_b64encode(self.to_bytes()).decode("ascii")

    def hex(self) -> str:
        """The 64-byte encoding as hexadecimal."""
        return self.to_bytes().hex()


def encrypt(message: GroupElement, public_key: GroupElement, r: Scalar | None = None) -> ElGamal:
    """Encrypt `message` for the holder of the secret key of `public_key`.

    Args:
        message: the group element to hide.
        public_key: Y = y·G (never the identity: that would send the message in clear).
        r: the randomness; a fresh random scalar unless given (give it only to reproduce a
            known ciphertext, as the conformance vectors do).
    """
    r = Scalar.random() if r is None else r
    return ElGamal(r * G, message + r * public_key)


def decrypt(ciphertext: ElGamal, secret_key: Scalar) -> GroupElement:
    """Recover M = C − y·B. A wrong key gives a wrong element, not an error (see `batch` for
    batches that know which key they are encrypted under)."""
    return ciphertext.gc - secret_key * ciphertext.gb

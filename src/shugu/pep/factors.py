"""Reshuffle and rekey factors derived from a transcryptor's secrets and context names.

A transcryptor keeps two secrets: a *pseudonymisation secret* (for reshuffle factors, one per
pseudonymisation domain: a holder, a job) and an *encryption secret* (for rekey factors, one per
encryption context: a session). As libpep 0.12 derives them:

    factor(secret, type, name) = from_hash(HMAC-SHA512(secret, u32_be(type) ‖ utf8(name)))

(the MAC keyed with the secret), with type 0x01 for a pseudonym rekey factor k, 0x02 for an
attribute rekey factor, 0x03 for a reshuffle factor s, and from_hash the reduction of the 64-byte
MAC modulo l (0 mapped to 1). The global domain and the global context (name `None` here) have
the factor 1: ciphertexts under the global public key are in the global context, and pseudonyms
hashed straight from an identifier are in the global domain.

Moving a pseudonym from (domain A, context 1) to (domain B, context 2) uses

    s = s(A)⁻¹·s(B)        k = k(1)⁻¹·k(2)

(`PseudonymizationInfo`), applied with `rsk`. A session's secret key is k(session)·x for the
global secret x (`keys.make_session_keys`), so that the result decrypts under it to s(B)·X when the
input held s(A)·X.

The *legacy* derivation (libpep's `legacy` feature, compatible with the older PEP repository)
hashes the context first:

    legacy(secret, type, audience, payload) = from_hash(HMAC-SHA512(secret, h))
    h = SHA-256(u32_be(type) ‖ u32_be(audience) ‖ utf8(payload))

with type 0x01 for pseudonymisation (and attribute rekey) factors and 0x02 for pseudonym rekey.

>>> s = make_pseudonymisation_factor(b"secret", "holder-A")
>>> s == derive_factor(b"secret", FactorType.RESHUFFLE, "holder-A")
True
>>> make_pseudonymisation_factor(b"secret", None) == Scalar.one()
True
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import IntEnum

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.pep.group import Scalar

__all__ = [
    "FactorType",
    "LegacyFactorType",
    "PseudonymizationInfo",
    "derive_factor",
    "derive_legacy_factor",
    "make_attribute_rekey_factor",
    "make_attribute_rekey_info",
    "make_pseudonym_rekey_factor",
    "make_pseudonym_rekey_info",
    "make_pseudonymisation_factor",
    "make_reshuffle_info",
]


class FactorType(IntEnum):
    """The type word hashed into a factor (libpep 0.12)."""

    PSEUDONYM_REKEY = 0x01
    ATTRIBUTE_REKEY = 0x02
    RESHUFFLE = 0x03


class LegacyFactorType(IntEnum):
    """The type word of the legacy derivation (libpep's `legacy` feature)."""

    PSEUDONYMISATION = 0x01
    """Reshuffle factors, and attribute rekey factors too."""
    PSEUDONYM_REKEY = 0x02


def _check_secret(secret: bytes) -> bytes:
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise InvalidInputError(N_("a transcryptor secret must be non-empty bytes"))
    return bytes(secret)


def _check_name(name: str) -> bytes:
    if not isinstance(name, str):
        raise InvalidInputError(
            N_("a domain or context name must be text, got {kind}"), kind=type(name).__name__
        )
    return name.encode("utf-8")


def derive_factor(secret: bytes, factor_type: FactorType, name: str) -> Scalar:
    """from_hash(HMAC-SHA512(secret, u32_be(type) ‖ utf8(name)))."""
    message = struct.pack(">I", factor_type) + _check_name(name)
    return Scalar.from_hash(hmac.digest(_check_secret(secret), message, "sha512"))


def make_pseudonymisation_factor(secret: bytes, domain: str | None) -> Scalar:
    """The reshuffle factor s of a pseudonymisation domain (1 for the global domain, `None`)."""
    return Scalar.one() if domain is None else derive_factor(secret, FactorType.RESHUFFLE, domain)


def make_pseudonym_rekey_factor(secret: bytes, context: str | None) -> Scalar:
    """The pseudonym rekey factor k of an encryption context (1 for the global context)."""
    if context is None:
        return Scalar.one()
    return derive_factor(secret, FactorType.PSEUDONYM_REKEY, context)


def make_attribute_rekey_factor(secret: bytes, context: str | None) -> Scalar:
    """The attribute rekey factor of an encryption context (1 for the global context)."""
    if context is None:
        return Scalar.one()
    return derive_factor(secret, FactorType.ATTRIBUTE_REKEY, context)


def make_reshuffle_info(secret: bytes, domain_from: str | None, domain_to: str | None) -> Scalar:
    """s(from)⁻¹·s(to): the reshuffle factor from one domain to another."""
    s_from = make_pseudonymisation_factor(secret, domain_from)
    return s_from.invert() * make_pseudonymisation_factor(secret, domain_to)


def make_pseudonym_rekey_info(
    secret: bytes, session_from: str | None, session_to: str | None
) -> Scalar:
    """k(from)⁻¹·k(to) for pseudonyms: the rekey factor from one context to another."""
    k_from = make_pseudonym_rekey_factor(secret, session_from)
    return k_from.invert() * make_pseudonym_rekey_factor(secret, session_to)


def make_attribute_rekey_info(
    secret: bytes, session_from: str | None, session_to: str | None
) -> Scalar:
    """k(from)⁻¹·k(to) for attributes."""
    k_from = make_attribute_rekey_factor(secret, session_from)
    return k_from.invert() * make_attribute_rekey_factor(secret, session_to)


@dataclass(frozen=True, slots=True)
class PseudonymizationInfo:
    """The two factors of one pseudonymisation: reshuffle `s` and rekey `k` (apply with rsk)."""

    s: Scalar
    k: Scalar

    @classmethod
    def derive(
        cls,
        *,
        domain_from: str | None,
        domain_to: str | None,
        session_from: str | None,
        session_to: str | None,
        pseudonymization_secret: bytes,
        encryption_secret: bytes,
    ) -> PseudonymizationInfo:
        """s = s(from)⁻¹·s(to) and k = k(from)⁻¹·k(to), as libpep's `PseudonymizationInfo::new`."""
        return cls(
            make_reshuffle_info(pseudonymization_secret, domain_from, domain_to),
            make_pseudonym_rekey_info(encryption_secret, session_from, session_to),
        )

    def reverse(self) -> PseudonymizationInfo:
        """The way back: s⁻¹ and k⁻¹."""
        return PseudonymizationInfo(self.s.invert(), self.k.invert())


def derive_legacy_factor(
    secret: bytes, factor_type: LegacyFactorType | int, audience_type: int, payload: str
) -> Scalar:
    """The legacy derivation (see the module docstring)."""
    if not 0 <= audience_type < 2**32 or not 0 <= factor_type < 2**32:
        raise InvalidInputError(
            N_("factor and audience types must be 32-bit unsigned integers, got {value}"),
            value=f"{factor_type}, {audience_type}",
        )
    inner = hashlib.sha256(struct.pack(">II", factor_type, audience_type) + _check_name(payload))
    return Scalar.from_hash(hmac.digest(_check_secret(secret), inner.digest(), "sha512"))

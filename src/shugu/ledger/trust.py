"""Whose key signed an entry, decided from certificates that chain to a CA the auditor pins.

An audit must not take the audited hub's word for an actor's key. The auditor pins the space's CA
(the SHA-256 of its certificate, read out of band, or the certificate itself); the hub then only
*delivers* certificates, and each is checked here: issued and signed by the pinned CA, naming the
actor in its subjectAltName (``urn:shugu:participant:<id>``, the form `identity.ca` issues), a
leaf for signing (not a CA, keyUsage digitalSignature), an Ed25519 key, valid at the entry's time
and not revoked before it by the CA-signed CRL. Revocation after an entry does not undo it: the
key was the actor's when it signed.

Pure: `cryptography` only, no HTTP; the CLI fetches what this checks.

>>> parse_fingerprint("SHA256 " + "AB:" * 31 + "AB") == "ab" * 32
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shugu.errors import InvalidInputError, VerificationError
from shugu.i18n import N_

PARTICIPANT_URN = "urn:shugu:participant:"
"""The subjectAltName URI prefix of a participant certificate (as `identity.ca` writes it)."""

CRL_SLACK = timedelta(seconds=1)
"""CRL revocation times have whole seconds: an entry is after a revocation only past this."""

_HEX = re.compile(r"^[0-9a-f]{64}$")


def fingerprint_of(certificate: x509.Certificate) -> str:
    """The SHA-256 of the certificate's DER, lowercase hex without separators."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def parse_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as given (hex, with or without colons, optionally after
    ``SHA256``), in the form `fingerprint_of` returns.

    Raises:
        InvalidInputError: not 64 hex digits.
    """
    cleaned = text.strip()
    if cleaned.upper().startswith("SHA256"):
        cleaned = cleaned[len("SHA256") :].lstrip(" =:")
    cleaned = cleaned.replace(":", "").replace(" ", "").lower()
    if not _HEX.match(cleaned):
        raise InvalidInputError(
            N_("{value} is not a SHA-256 fingerprint (64 hex digits, colons allowed)"),
            value=text,
        )
    return cleaned


def load_certificate(pem: str | bytes, where: str) -> x509.Certificate:
    """One PEM certificate.

    Raises:
        InvalidInputError: `where` does not hold a PEM certificate.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise InvalidInputError(N_("{where} is not a PEM certificate"), where=where) from exc


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """The CA the auditor pinned."""

    certificate: x509.Certificate

    @property
    def fingerprint(self) -> str:
        """SHA-256 of its DER, hex."""
        return fingerprint_of(self.certificate)

    @classmethod
    def of(cls, certificate: x509.Certificate) -> TrustAnchor:
        """Check it is a self-signed Ed25519 CA certificate.

        Raises:
            VerificationError: it is not.
        """
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
            certificate.verify_directly_issued_by(certificate)
        except (x509.ExtensionNotFound, ValueError, TypeError, InvalidSignature) as exc:
            raise VerificationError(
                N_("the pinned CA certificate is not a self-signed CA certificate")
            ) from exc
        if not constraints.value.ca or not isinstance(certificate.public_key(), Ed25519PublicKey):
            raise VerificationError(
                N_("the pinned CA certificate is not a self-signed CA certificate")
            )
        return cls(certificate)

    @classmethod
    def pinned(cls, pem: str, fingerprint: str) -> TrustAnchor:
        """The CA certificate the hub presents, accepted only if it is the pinned one.

        Raises:
            VerificationError: its fingerprint is another, or it is not a CA certificate.
        """
        certificate = load_certificate(pem, "the hub's CA certificate")
        found = fingerprint_of(certificate)
        if found != parse_fingerprint(fingerprint):
            raise VerificationError(
                N_("the hub's CA certificate is SHA256 {found}, not the pinned {pinned}"),
                found=found,
                pinned=parse_fingerprint(fingerprint),
            )
        return cls.of(certificate)

    def revocations(self, crl_pem: str) -> dict[int, datetime]:
        """Serial → revocation time, from a CRL this CA signed.

        Raises:
            VerificationError: the CRL is malformed, or not issued and signed by this CA.
        """
        try:
            crl = x509.load_pem_x509_crl(crl_pem.encode("ascii", "replace"))
            valid = crl.issuer == self.certificate.subject and crl.is_signature_valid(
                self.certificate.public_key()  # type: ignore[arg-type]
            )
        except (ValueError, TypeError) as exc:
            raise VerificationError(N_("the hub's CRL is not signed by the pinned CA")) from exc
        if not valid:
            raise VerificationError(N_("the hub's CRL is not signed by the pinned CA"))
        return {r.serial_number: r.revocation_date_utc for r in crl}


@dataclass(frozen=True, slots=True)
class _Held:
    serial: int
    not_before: datetime
    not_after: datetime
    key: bytes


@dataclass(slots=True)
class _Actor:
    held: list[_Held] = field(default_factory=list)
    refused: str | None = None


class ActorKeys:
    """Actors' keys, from the certificates the hub delivered that the pinned CA issued."""

    def __init__(self, anchor: TrustAnchor, revoked: Mapping[int, datetime] | None = None) -> None:
        self.anchor = anchor
        self._revoked = dict(revoked or {})
        self._actors: dict[str, _Actor] = {}

    def __contains__(self, actor: object) -> bool:
        return actor in self._actors

    def add(self, actor: str, pems: Iterable[str]) -> None:
        """Take the certificates the hub gave for `actor`; keep those that check out."""
        known = self._actors.setdefault(actor, _Actor())
        for pem in pems:
            held, refused = self._check(actor, pem)
            if held is not None:
                known.held.append(held)
            elif known.refused is None:
                known.refused = refused

    def _check(self, actor: str, pem: str) -> tuple[_Held | None, str | None]:
        try:
            certificate = x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
            certificate.verify_directly_issued_by(self.anchor.certificate)
        except (ValueError, TypeError, InvalidSignature):
            return None, N_(
                "entry {index}: the certificate the hub gave for its actor {actor} is not "
                "issued by the pinned CA"
            )
        key = certificate.public_key()
        if not _signing_leaf(certificate) or not isinstance(key, Ed25519PublicKey):
            return None, N_(
                "entry {index}: the certificate the hub gave for its actor {actor} is not a "
                "participant signing certificate"
            )
        if _participant_of(certificate) != actor:
            return None, N_(
                "entry {index}: the certificate the hub gave for its actor {actor} names "
                "another participant"
            )
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        dates = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        return _Held(certificate.serial_number, *dates, raw), None

    def key_at(self, actor: str, at: datetime, index: int) -> bytes:
        """The actor's key certified at `at` (the time of entry `index`).

        Raises:
            VerificationError: no certificate from the pinned CA certifies a key of `actor`
                at `at`; the message names the entry, the actor and why.
        """
        known = self._actors.get(actor, _Actor())
        covering = [h for h in known.held if h.not_before <= at <= h.not_after]
        standing = [h for h in covering if not self._revoked_before(h, at)]
        if standing:
            return max(standing, key=lambda h: h.not_before).key
        if covering:
            why = N_("entry {index}: every certificate of its actor {actor} was revoked before it")
        elif known.refused is not None:
            why = known.refused
        elif known.held:
            why = N_("entry {index}: no certificate of its actor {actor} is valid at its time")
        else:
            why = N_("entry {index}: the hub gave no certificate of its actor {actor}")
        raise VerificationError(why, index=index, actor=actor)

    def _revoked_before(self, held: _Held, at: datetime) -> bool:
        revoked = self._revoked.get(held.serial)
        return revoked is not None and at >= revoked + CRL_SLACK


def _participant_of(certificate: x509.Certificate) -> str | None:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    ids = [
        uri[len(PARTICIPANT_URN) :]
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(PARTICIPANT_URN)
    ]
    return ids[0] if len(ids) == 1 else None


def _signing_leaf(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        return False
    return not constraints.value.ca and usage.value.digital_signature

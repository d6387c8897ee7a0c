"""The hub's certificate authority: X.509 certificates binding participant id, roles and key.

A participant certificate (the 合规流通数字证书) has:

- subject ``CN=<name>, O=<space name>`` with one ``OU=role:<role>`` per role;
- subjectAltName ``URI:urn:shugu:participant:<participant id>``;
- the participant's Ed25519 public key, signed by the hub CA's Ed25519 key;
- basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage clientAuth.

Revoked certificates are listed in a CRL signed by the same key. Pure functions over
`cryptography` objects; the service decides when to call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PARTICIPANT_URN = "urn:shugu:participant:"
ROLE_PREFIX = "role:"
CA_YEARS = 10


def _name(common_name: str, organisation: str, units: Sequence[str] = ()) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit) for unit in units),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    return x509.Name(attributes)


def build_ca_certificate(
    key: Ed25519PrivateKey, space_name: str, now: datetime
) -> x509.Certificate:
    """A self-signed CA certificate for the hub of `space_name`, valid ten years from `now`."""
    name = _name(f"{space_name} hub CA", space_name)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, algorithm=None)
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True, slots=True)
class Subject:
    """What a participant certificate binds."""

    participant_id: str
    name: str
    roles: tuple[str, ...]
    public_key: bytes


def issue_certificate(
    ca_key: Ed25519PrivateKey,
    ca_cert: x509.Certificate,
    subject: Subject,
    *,
    now: datetime,
    days: int,
) -> x509.Certificate:
    """Issue a participant certificate valid from `now` for `days` days."""
    public = Ed25519PublicKey.from_public_bytes(subject.public_key)
    organisation = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    units = [ROLE_PREFIX + role for role in subject.roles]
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject.name, str(organisation), units))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(PARTICIPANT_URN + subject.participant_id)]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(_ca_public(ca_cert)),
            critical=False,
        )
        .sign(ca_key, algorithm=None)
    )


def _ca_public(ca_cert: x509.Certificate) -> Ed25519PublicKey:
    public = ca_cert.public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise TypeError("the hub CA key must be Ed25519")
    return public


def build_crl(
    ca_key: Ed25519PrivateKey,
    ca_cert: x509.Certificate,
    revoked: Iterable[tuple[int, datetime]],
    *,
    now: datetime,
    next_update_hours: int = 24,
) -> x509.CertificateRevocationList:
    """A CRL listing `(serial, revoked_at)` pairs, signed by the CA."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + timedelta(hours=next_update_hours))
    )
    for serial, when in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(ca_key, algorithm=None)


def verify_issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """Whether `cert` carries a valid signature of the CA's key and names it as issuer."""
    if cert.issuer != ca_cert.subject:
        return False
    try:
        _ca_public(ca_cert).verify(cert.signature, cert.tbs_certificate_bytes)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """The facts a person checks on a participant certificate."""

    subject: str
    issuer: str
    participant_id: str | None
    roles: tuple[str, ...]
    serial: str
    not_before: datetime
    not_after: datetime
    sha256_fingerprint: str
    public_key: str


def summarize(pem: str) -> CertificateSummary:
    """Read a PEM certificate into a `CertificateSummary`."""
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    roles = tuple(
        str(u.value)[len(ROLE_PREFIX) :] for u in units if str(u.value).startswith(ROLE_PREFIX)
    )
    return CertificateSummary(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        participant_id=participant_id_of(cert),
        roles=roles,
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(":"),
        public_key=cert.public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        .hex(),
    )


def participant_id_of(cert: x509.Certificate) -> str | None:
    """The participant id in the certificate's subjectAltName URI, if any."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(PARTICIPANT_URN):
            return uri[len(PARTICIPANT_URN) :]
    return None


def organisation_of(pem: str) -> str:
    """The organisation (the space name) in a certificate's subject."""
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else ""

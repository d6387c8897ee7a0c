"""Keys from certificates of a pinned CA: fingerprints, the pin, validity over time, renewals,
revocation before and after an entry, and certificates that must not certify an actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.errors import InvalidInputError, VerificationError
from shugu.identity import ca
from shugu.ledger.trust import ActorKeys, TrustAnchor, fingerprint_of, parse_fingerprint

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CA_KEY = Ed25519PrivateKey.generate()
CA_CERT = ca.build_ca_certificate(CA_KEY, "shugu", T0 - timedelta(days=1))
ANCHOR = TrustAnchor.of(CA_CERT)
ACTOR = "01M8DRWSDG6REX0FDPFWVEJZMB"


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _issue(
    key: Ed25519PrivateKey, start: datetime, days: int = 30, actor: str = ACTOR
) -> x509.Certificate:
    subject = ca.Subject(actor, "exchange", ("operator",), key.public_key().public_bytes_raw())
    return ca.issue_certificate(CA_KEY, CA_CERT, subject, now=start, days=days)


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(fingerprint_of(CA_CERT), id="hex"),
        pytest.param(fingerprint_of(CA_CERT).upper(), id="upper"),
        pytest.param(CA_CERT.fingerprint(hashes.SHA256()).hex(":"), id="colons"),
        pytest.param("SHA256 " + fingerprint_of(CA_CERT), id="as-printed"),
    ],
)
def test_fingerprints_are_read_in_every_usual_form(text: str) -> None:
    assert parse_fingerprint(text) == fingerprint_of(CA_CERT)
    assert TrustAnchor.pinned(_pem(CA_CERT), text).fingerprint == fingerprint_of(CA_CERT)


@pytest.mark.parametrize("text", ["", "ab" * 31, "zz" * 32, "ab" * 33])
def test_malformed_fingerprints_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError, match="not a SHA-256 fingerprint"):
        parse_fingerprint(text)


def test_a_participant_certificate_cannot_be_pinned_as_the_ca() -> None:
    with pytest.raises(VerificationError, match="not a self-signed CA"):
        TrustAnchor.of(_issue(Ed25519PrivateKey.generate(), T0))


def test_a_renewed_key_is_taken_at_the_time_of_each_entry() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys = ActorKeys(ANCHOR)
    keys.add(ACTOR, [_pem(_issue(new, T0 + timedelta(days=30))), _pem(_issue(old, T0))])
    assert keys.key_at(ACTOR, T0 + timedelta(days=1), 5) == _raw(old)
    assert keys.key_at(ACTOR, T0 + timedelta(days=45), 6) == _raw(new)
    with pytest.raises(VerificationError, match=r"entry 7: no certificate of its actor .* valid"):
        keys.key_at(ACTOR, T0 + timedelta(days=90), 7)


def test_revocation_counts_only_from_its_time_on() -> None:
    key = Ed25519PrivateKey.generate()
    cert = _issue(key, T0)
    keys = ActorKeys(ANCHOR, {cert.serial_number: T0 + timedelta(days=2)})
    keys.add(ACTOR, [_pem(cert)])
    assert keys.key_at(ACTOR, T0 + timedelta(days=1), 1) == _raw(key)
    with pytest.raises(VerificationError, match=r"entry 2: every certificate .* revoked before"):
        keys.key_at(ACTOR, T0 + timedelta(days=3), 2)


def test_the_crl_must_be_the_pinned_cas() -> None:
    revoked = [(123, T0)]
    crl = ca.build_crl(CA_KEY, CA_CERT, revoked, now=T0)
    assert ANCHOR.revocations(crl.public_bytes(serialization.Encoding.PEM).decode()) == {123: T0}
    other = ca.build_crl(Ed25519PrivateKey.generate(), CA_CERT, revoked, now=T0)
    with pytest.raises(VerificationError, match="CRL is not signed by the pinned CA"):
        ANCHOR.revocations(other.public_bytes(serialization.Encoding.PEM).decode())
    with pytest.raises(VerificationError, match="CRL"):
        ANCHOR.revocations("not a CRL")


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        pytest.param(_pem(CA_CERT), "not a participant signing certificate", id="the-ca-itself"),
        pytest.param(
            _pem(_issue(Ed25519PrivateKey.generate(), T0, actor="01OTHER")),
            "names another participant",
            id="other-actor",
        ),
        pytest.param("garbage", "not issued by the pinned CA", id="garbage"),
    ],
)
def test_certificates_that_do_not_certify_the_actor(pem: str, reason: str) -> None:
    keys = ActorKeys(ANCHOR)
    keys.add(ACTOR, [pem])
    with pytest.raises(VerificationError, match=f"entry 3: .*{reason}"):
        keys.key_at(ACTOR, T0 + timedelta(hours=1), 3)


def test_an_actor_without_certificates_is_named() -> None:
    with pytest.raises(
        VerificationError, match=f"entry 4: the hub gave no certificate of its actor {ACTOR}"
    ):
        ActorKeys(ANCHOR).key_at(ACTOR, T0, 4)

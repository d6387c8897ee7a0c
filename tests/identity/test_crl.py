"""The CRL on both stores: signed once and served from cache, signed again after a revocation (in
this hub process or another) or half-way to its nextUpdate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography import x509

from shugu.clock import ManualClock
from shugu.identity import Role, ca
from shugu.keys.sealing import KeyEncryptionKey
from shugu.runtime import Hub
from shugu.settings import Settings
from tests.conftest import make_member, make_operator


@dataclass
class Counts:
    """Calls of the CRL signing function and openings of the sealed CA key."""

    crl_signatures: int = 0
    ca_key_opens: int = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    """Count every CRL signature and every opening of the CA key, in any hub of the test."""
    seen = Counts()
    build_crl, kek_open = ca.build_crl, KeyEncryptionKey.open

    def counting_build_crl(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.crl_signatures += 1
        return build_crl(*args, **kwargs)

    def counting_open(self, sealed, *, purpose):  # type: ignore[no-untyped-def]
        if purpose == "hub-key:ca":
            seen.ca_key_opens += 1
        return kek_open(self, sealed, purpose=purpose)

    monkeypatch.setattr(ca, "build_crl", counting_build_crl)
    monkeypatch.setattr(KeyEncryptionKey, "open", counting_open)
    yield seen


def revoked_serials(pem: str) -> set[int]:
    return {r.serial_number for r in x509.load_pem_x509_crl(pem.encode())}


def test_a_flood_of_crl_reads_signs_once(hub: Hub, counts: Counts) -> None:
    first = hub.identity.crl_pem()
    signed, opened = counts.crl_signatures, counts.ca_key_opens
    assert signed == 1 and opened == 1
    for _ in range(200):
        assert hub.identity.crl_pem() == first
    assert (counts.crl_signatures, counts.ca_key_opens) == (signed, opened)


def test_a_revocation_signs_a_new_crl_once(hub: Hub, counts: Counts) -> None:
    operator = make_operator(hub)
    holder = make_member(hub, operator, "holder-a", Role.HOLDER)
    assert revoked_serials(hub.identity.crl_pem()) == set()
    hub.identity.revoke(operator.principal, holder.participant_id, "breach")
    before = counts.crl_signatures
    cert = hub.identity.certificate(operator.principal, holder.participant_id)
    for _ in range(50):
        assert revoked_serials(hub.identity.crl_pem()) == {int(cert.serial, 16)}
    assert counts.crl_signatures == before + 1


def test_a_revocation_in_another_hub_process_shows_at_once(
    hub: Hub, settings: Settings, clock: ManualClock, counts: Counts
) -> None:
    operator = make_operator(hub)
    holder = make_member(hub, operator, "holder-a", Role.HOLDER)
    other = Hub.open(settings, clock)  # a second hub process over the same database
    try:
        assert revoked_serials(hub.identity.crl_pem()) == set()
        assert revoked_serials(other.identity.crl_pem()) == set()
        other.identity.revoke(operator.principal, holder.participant_id, "breach")
        cert = hub.identity.certificate(operator.principal, holder.participant_id)
        assert revoked_serials(hub.identity.crl_pem()) == {int(cert.serial, 16)}
    finally:
        other.close()


def test_the_crl_is_signed_again_half_way_to_its_next_update(
    hub: Hub, clock: ManualClock, counts: Counts
) -> None:
    first = x509.load_pem_x509_crl(hub.identity.crl_pem().encode())
    assert first.next_update_utc is not None
    validity = first.next_update_utc - first.last_update_utc
    clock.advance(seconds=validity.total_seconds() / 2 - 1)
    hub.identity.crl_pem()
    assert counts.crl_signatures == 1
    clock.advance(seconds=2)
    renewed = x509.load_pem_x509_crl(hub.identity.crl_pem().encode())
    assert counts.crl_signatures == 2
    assert renewed.last_update_utc == clock.now().replace(microsecond=0)
    assert renewed.next_update_utc is not None and renewed.next_update_utc > clock.now()

"""The identity service on both stores: applications, decisions, listing, authentication."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import func, select

from shugu.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from shugu.identity import Application, ParticipantStatus, Role
from shugu.identity.ca import participant_id_of, verify_issued_by
from shugu.identity.models import ParticipantRow
from shugu.identity.service import self_key_id
from shugu.runtime import Hub
from shugu.signing import SignedRequest, httpsig
from shugu.signing.models import NonceRow
from tests.conftest import Member, make_member, make_operator


def signed(
    member: Member,
    clock_ts: float,
    *,
    path: str = "/v1/me",
    body: bytes = b"",
    method: str = "GET",
    nonce: str | None = None,
    key_id: str | None = None,
    authority: str = "hub",
) -> SignedRequest:
    headers = httpsig.sign(
        member.key,
        key_id=key_id or member.participant_id,
        method=method,
        authority=authority,
        path=path,
        query="",
        body=body,
        created=int(clock_ts),
        nonce=nonce,
    )
    return SignedRequest(
        method,
        authority,
        path,
        "",
        body,
        headers["Signature-Input"],
        headers["Signature"],
        headers["Content-Digest"],
    )


def count(hub: Hub, model: type) -> int:
    with hub.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_bootstrap_operator_gets_a_certificate_chained_to_the_ca(hub: Hub) -> None:
    operator = make_operator(hub)
    cert = hub.identity.certificate(operator.principal, operator.participant_id)
    leaf = x509.load_pem_x509_certificate(cert.pem.encode())
    ca_cert = x509.load_pem_x509_certificate(hub.identity.ca_certificate_pem().encode())
    assert verify_issued_by(leaf, ca_cert)
    assert participant_id_of(leaf) == operator.participant_id


def test_a_second_bootstrap_is_refused(hub: Hub) -> None:
    make_operator(hub)
    with pytest.raises(ConflictError):
        make_operator(hub, "operator-two")


def test_apply_then_approve_issues_a_certificate(hub: Hub) -> None:
    operator = make_operator(hub)
    holder = make_member(hub, operator, "hangzhou-pharma", Role.HOLDER, approve=False)
    assert hub.identity.get(operator.principal, holder.participant_id).status == "applied"
    participant, cert = hub.identity.approve(operator.principal, holder.participant_id)
    assert participant.status == ParticipantStatus.APPROVED
    assert participant.decided_by == operator.participant_id
    assert cert.participant_id == holder.participant_id
    assert cert.not_after - cert.not_before > timedelta(days=364)


@pytest.mark.parametrize(
    ("name", "roles", "key_length"),
    [
        pytest.param("Bad Name", ("holder",), 32, id="uppercase-and-space"),
        pytest.param("x", ("holder",), 32, id="too-short"),
        pytest.param("-lead", ("holder",), 32, id="leading-hyphen"),
        pytest.param("ok-name", (), 32, id="no-role"),
        pytest.param("ok-name", ("king",), 32, id="unknown-role"),
        pytest.param("ok-name", ("holder",), 31, id="short-key"),
    ],
)
def test_invalid_applications_are_refused_and_write_nothing(
    hub: Hub, name: str, roles: tuple[str, ...], key_length: int
) -> None:
    with pytest.raises(InvalidInputError):
        hub.identity.apply(Application(name, "", roles, bytes(key_length)))
    assert count(hub, ParticipantRow) == 0


def test_duplicate_name_and_duplicate_key_conflict(hub: Hub) -> None:
    operator = make_operator(hub)
    holder = make_member(hub, operator, "holder-a", Role.HOLDER)
    with pytest.raises(ConflictError, match="already taken"):
        hub.identity.apply(Application("holder-a", "", ("user",), bytes(range(32))))
    with pytest.raises(ConflictError, match="already registered"):
        hub.identity.apply(
            Application("holder-b", "", ("user",), holder.key.public_key().public_bytes_raw())
        )
    assert count(hub, ParticipantRow) == 2


def test_decisions_only_apply_to_pending_applications(hub: Hub) -> None:
    operator = make_operator(hub)
    user = make_member(hub, operator, "user-a", Role.USER)
    with pytest.raises(ConflictError):
        hub.identity.approve(operator.principal, user.participant_id)
    with pytest.raises(ConflictError):
        hub.identity.reject(operator.principal, user.participant_id, "late")
    pending = make_member(hub, operator, "user-b", Role.USER, approve=False)
    rejected = hub.identity.reject(operator.principal, pending.participant_id, "incomplete papers")
    assert rejected.status == ParticipantStatus.REJECTED
    assert rejected.reason == "incomplete papers"
    with pytest.raises(ConflictError):
        hub.identity.revoke(operator.principal, pending.participant_id, "x")


def test_unknown_participants_are_not_found(hub: Hub) -> None:
    operator = make_operator(hub)
    for ref in ("01M8DPABCH53NJF7BQZQV6XJXG", "nobody", "../../etc"):
        with pytest.raises(NotFoundError):
            hub.identity.find(operator.principal, ref)
    with pytest.raises(NotFoundError):
        hub.identity.approve(operator.principal, "01M8DPABCH53NJF7BQZQV6XJXG")


def test_the_last_operator_cannot_be_revoked(hub: Hub) -> None:
    operator = make_operator(hub)
    with pytest.raises(ConflictError, match="last operator"):
        hub.identity.revoke(operator.principal, operator.participant_id, "leaving")
    second = make_member(hub, operator, "operator-two", Role.OPERATOR)
    hub.identity.revoke(second.principal, operator.participant_id, "handover")


def test_listing_pages_through_every_participant_in_id_order(hub: Hub) -> None:
    operator = make_operator(hub)
    names = [f"member-{i:02d}" for i in range(7)]
    for name in names:
        make_member(hub, operator, name, Role.USER)
    seen: list[str] = []
    after = None
    while True:
        items, after = hub.identity.list_participants(operator.principal, after=after, limit=3)
        seen += [p.name for p in items]
        if after is None:
            break
    assert seen == ["operator", *names]


def test_non_operators_see_only_approved_participants(hub: Hub) -> None:
    operator = make_operator(hub)
    user = make_member(hub, operator, "user-a", Role.USER)
    pending = make_member(hub, operator, "pending-one", Role.HOLDER, approve=False)
    items, _ = hub.identity.list_participants(user.principal)
    assert {p.name for p in items} == {"operator", "user-a"}
    with pytest.raises(ForbiddenError):
        hub.identity.list_participants(user.principal, statuses=[ParticipantStatus.APPLIED])
    with pytest.raises(NotFoundError):
        hub.identity.get(user.principal, pending.participant_id)
    items, _ = hub.identity.list_participants(operator.principal, role=Role.HOLDER)
    assert [p.name for p in items] == ["pending-one"]


def test_authenticate_accepts_a_fresh_signed_request(hub: Hub) -> None:
    operator = make_operator(hub)
    holder = make_member(hub, operator, "holder-a", Role.HOLDER, Role.USER)
    principal = hub.identity.authenticate(signed(holder, hub.clock.now().timestamp()))
    assert principal.participant_id == holder.participant_id
    assert principal.roles == {Role.HOLDER, Role.USER}


def test_replayed_request_is_refused(hub: Hub) -> None:
    operator = make_operator(hub)
    request = signed(operator, hub.clock.now().timestamp())
    hub.identity.authenticate(request)
    with pytest.raises(AuthenticationError, match="replay"):
        hub.identity.authenticate(request)
    assert count(hub, NonceRow) == 1


@pytest.mark.parametrize(
    ("offset", "message"),
    [pytest.param(-301, "expired", id="too-old"), pytest.param(31, "future", id="from-the-future")],
)
def test_stale_or_future_signatures_are_refused(hub: Hub, offset: int, message: str) -> None:
    operator = make_operator(hub)
    with pytest.raises(AuthenticationError, match=message):
        hub.identity.authenticate(signed(operator, hub.clock.now().timestamp() + offset))
    assert count(hub, NonceRow) == 0


def test_unknown_key_and_wrong_key_are_refused(hub: Hub) -> None:
    operator = make_operator(hub)
    stranger = Member(
        "stranger", (Role.USER,), Ed25519PrivateKey.generate(), "01M8DPABCH53NJF7BQZQV6XJXG"
    )
    with pytest.raises(AuthenticationError, match="unknown participant"):
        hub.identity.authenticate(signed(stranger, hub.clock.now().timestamp()))
    impostor = Member(
        "operator", (Role.OPERATOR,), Ed25519PrivateKey.generate(), operator.participant_id
    )
    with pytest.raises(AuthenticationError, match="does not verify"):
        hub.identity.authenticate(signed(impostor, hub.clock.now().timestamp()))
    assert count(hub, NonceRow) == 0


def test_tampered_body_is_refused(hub: Hub) -> None:
    operator = make_operator(hub)
    request = signed(operator, hub.clock.now().timestamp(), method="POST", body=b'{"a": 1}')
    tampered = SignedRequest(
        request.method,
        request.authority,
        request.path,
        request.query,
        b'{"a": 2}',
        request.signature_input,
        request.signature,
        request.content_digest,
    )
    with pytest.raises(AuthenticationError, match="Content-Digest"):
        hub.identity.authenticate(tampered)


def test_revocation_stops_the_certificate_at_once(hub: Hub) -> None:
    operator = make_operator(hub)
    holder = make_member(hub, operator, "holder-a", Role.HOLDER)
    hub.identity.authenticate(signed(holder, hub.clock.now().timestamp()))
    hub.identity.revoke(operator.principal, holder.participant_id, "breach of contract")
    with pytest.raises(ForbiddenError, match="revoked"):
        hub.identity.authenticate(signed(holder, hub.clock.now().timestamp()))
    cert = hub.identity.certificate(operator.principal, holder.participant_id)
    assert cert.revoked_at == hub.clock.now()
    crl = x509.load_pem_x509_crl(hub.identity.crl_pem().encode())
    assert crl.get_revoked_certificate_by_serial_number(int(cert.serial, 16)) is not None


def test_pending_and_rejected_participants_cannot_act(hub: Hub) -> None:
    operator = make_operator(hub)
    pending = make_member(hub, operator, "pending-one", Role.USER, approve=False)
    with pytest.raises(ForbiddenError, match="not been approved"):
        hub.identity.authenticate(signed(pending, hub.clock.now().timestamp()))
    hub.identity.reject(operator.principal, pending.participant_id, "no")
    with pytest.raises(ForbiddenError, match="rejected"):
        hub.identity.authenticate(signed(pending, hub.clock.now().timestamp()))


def test_an_expired_certificate_stops_working(hub: Hub, clock) -> None:  # type: ignore[no-untyped-def]
    operator = make_operator(hub)
    clock.advance(days=366)
    with pytest.raises(ForbiddenError, match="no valid certificate"):
        hub.identity.authenticate(signed(operator, clock.now().timestamp()))


def test_an_application_must_be_signed_by_the_key_it_registers(hub: Hub) -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    applicant = Member("new", (Role.USER,), key)
    good = signed(applicant, hub.clock.now().timestamp(), key_id=self_key_id(public))
    hub.identity.authenticate_applicant(good, public)
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(AuthenticationError, match="signed with the key it registers"):
        hub.identity.authenticate_applicant(
            signed(applicant, hub.clock.now().timestamp(), key_id=self_key_id(public)), other
        )


def test_the_ca_key_is_stored_sealed(hub: Hub, settings) -> None:  # type: ignore[no-untyped-def]
    from shugu.keys.models import HubKeyRow
    from shugu.keys.sealing import KeyEncryptionKey

    with hub.db.session() as session:
        row = session.get(HubKeyRow, "ca")
        assert row is not None
        sealed = row.sealed_private_key
    assert len(sealed) == 1 + 12 + 32 + 16
    with pytest.raises(InvalidInputError):
        KeyEncryptionKey.generate().open(sealed, purpose="hub-key:ca")
    with pytest.raises(InvalidInputError):
        other = SecretStr(KeyEncryptionKey.generate().to_text())
        Hub.open(settings.model_copy(update={"secret_key": other}))

"""Applications on both stores: no ledger trace until an operator decides, the decision entry
carrying the signed application, names freed by rejection and by expiry."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shugu.clock import ManualClock
from shugu.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from shugu.identity import Application, Principal, Role
from shugu.identity.models import ParticipantRow
from shugu.identity.service import self_key_id
from shugu.ledger.audit import TreeAudit, check_signatures, checkpoint_roots
from shugu.runtime import Hub
from shugu.signing import SignedRequest, httpsig
from tests.conftest import Member, certified_keys, make_operator
from tests.identity.test_service import count, signed


def _applicant_request(
    key: Ed25519PrivateKey, hub: Hub, body: bytes, query: str = ""
) -> SignedRequest:
    public = key.public_key().public_bytes_raw()
    path = "/v1/applications"
    headers = httpsig.sign(
        key,
        key_id=self_key_id(public),
        method="POST",
        authority="hub",
        path=path,
        query=query,
        body=body,
        created=int(hub.clock.now().timestamp()),
    )
    return SignedRequest(
        "POST",
        "hub",
        path,
        query,
        body,
        headers["Signature-Input"],
        headers["Signature"],
        headers["Content-Digest"],
    )


def apply_signed(hub: Hub, name: str, key: Ed25519PrivateKey | None = None) -> tuple[str, bytes]:
    """Apply as the API does: the request signed with the registered key is the evidence."""
    key = key or Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    body = json.dumps({"name": name, "roles": ["user"]}).encode()
    evidence = hub.identity.authenticate_applicant(_applicant_request(key, hub, body), public)
    participant = hub.identity.apply(Application(name, name, ("user",), public), evidence)
    return participant.id, public


def acting(hub: Hub, operator: Member, path: str) -> Principal:
    """The operator as the hub authenticates it from a signed request (evidence attached)."""
    request = signed(operator, hub.clock.now().timestamp(), path=path, method="POST", body=b"{}")
    return hub.identity.authenticate(request)


def last_entry(hub: Hub) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(hub.ledger.entry(hub.ledger.size() - 1).body)
    return entry


def application_signature_ok(application: dict[str, Any]) -> bool:
    """What an auditor checks: the application is signed by the key it registers."""
    public = base64.b64decode(application["public_key"])
    evidence = application["evidence"]
    parsed = httpsig.parse(evidence["signature_input"], evidence["signature"])
    if parsed.key_id != self_key_id(public):
        return False
    try:
        httpsig.verify_evidence(evidence, Ed25519PublicKey.from_public_bytes(public))
    except AuthenticationError:
        return False
    return True


def test_an_application_leaves_no_ledger_entry_until_it_is_decided(hub: Hub) -> None:
    make_operator(hub)
    size = hub.ledger.size()
    participant_id, _ = apply_signed(hub, "quiet-applicant")
    assert hub.ledger.size() == size
    with hub.db.session() as session:
        row = session.get(ParticipantRow, participant_id)
        assert row is not None and row.application_evidence is not None
        assert json.loads(row.application_evidence)["kind"] == "http-signature"


@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_the_decision_entry_is_the_operators_and_carries_the_signed_application(
    hub: Hub, decision: str
) -> None:
    operator = make_operator(hub)
    participant_id, public = apply_signed(hub, "hopeful-one")
    verb = {"approved": "approve", "rejected": "reject"}[decision]
    path = f"/v1/participants/{participant_id}/{verb}"
    actor = acting(hub, operator, path)
    if decision == "approved":
        hub.identity.approve(actor, participant_id)
    else:
        hub.identity.reject(actor, participant_id, "papers missing")
    entry = last_entry(hub)
    assert entry["type"] == f"identity.participant.{decision}"
    assert entry["actor"] == operator.participant_id
    assert entry["evidence"]["path"] == path  # the operator's own signed request
    application = entry["payload"]["application"]
    assert base64.b64decode(application["public_key"]) == public
    assert entry["payload"]["public_key_sha256"] == hashlib.sha256(public).hexdigest()
    assert entry["payload"]["name"] == "hopeful-one"
    assert application["evidence"]["path"] == "/v1/applications"
    assert application_signature_ok(application)
    tampered = application | {"public_key": base64.b64encode(bytes(32)).decode()}
    assert not application_signature_ok(tampered)
    lines = list(hub.ledger.export(0, hub.ledger.size()))
    audit = TreeAudit(checkpoint_roots([hub.ledger.checkpoint()], hub.ledger.verifier()))
    audit.feed(lines)
    report = audit.finish()
    check_signatures(lines, certified_keys(hub, operator), report)  # signer = actor: the operator
    assert report.signatures_checked == 2  # the operator's decision and the application in it


def test_a_rejected_application_frees_its_name_and_key(hub: Hub) -> None:
    operator = make_operator(hub)
    key = Ed25519PrivateKey.generate()
    first, _ = apply_signed(hub, "second-try", key)
    with pytest.raises(ConflictError, match="already taken"):
        apply_signed(hub, "second-try")
    hub.identity.reject(operator.principal, first, "incomplete")
    again, _ = apply_signed(hub, "second-try", key)
    assert again != first
    assert hub.identity.find(operator.principal, "second-try").id == again
    with pytest.raises(NotFoundError):
        hub.identity.get(operator.principal, first)


def test_an_unanswered_application_expires_and_frees_its_name(hub: Hub, clock: ManualClock) -> None:
    operator = make_operator(hub)
    size = hub.ledger.size()
    stale, _ = apply_signed(hub, "forgotten")
    clock.advance(days=13)
    assert hub.identity.get(operator.principal, stale).status == "applied"  # still waiting
    clock.advance(days=1, seconds=1)
    with pytest.raises(NotFoundError):
        hub.identity.get(operator.principal, stale)
    with pytest.raises(NotFoundError):
        hub.identity.approve(operator.principal, stale)
    with pytest.raises(NotFoundError):
        hub.identity.find(operator.principal, "forgotten")
    listed, _ = hub.identity.list_participants(operator.principal)
    assert stale not in {p.id for p in listed}
    fresh, _ = apply_signed(hub, "forgotten")
    assert hub.identity.find(operator.principal, "forgotten").id == fresh
    with hub.db.session() as session:
        assert session.get(ParticipantRow, stale) is None  # purged by the next application
    assert hub.ledger.size() == size  # neither application left a trace


def test_a_pending_application_still_holds_its_name(hub: Hub) -> None:
    make_operator(hub)
    key = Ed25519PrivateKey.generate()
    apply_signed(hub, "holding-on", key)
    with pytest.raises(ConflictError, match="already taken"):
        apply_signed(hub, "holding-on")
    with pytest.raises(ConflictError, match="already registered"):
        apply_signed(hub, "other-name", key)


def test_an_oversized_signed_application_is_refused_and_writes_nothing(hub: Hub) -> None:
    make_operator(hub)
    before = count(hub, ParticipantRow)
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    body = b'{"name": "padded"}'
    request = _applicant_request(key, hub, body, query="pad=" + "x" * 5000)
    evidence = hub.identity.authenticate_applicant(request, public)
    with pytest.raises(InvalidInputError, match="at most 4096 bytes"):
        hub.identity.apply(Application("padded", "", ("user",), public), evidence)
    assert count(hub, ParticipantRow) == before


def test_an_application_without_http_evidence_is_decided_with_none(hub: Hub) -> None:
    operator = make_operator(hub)
    public = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    participant = hub.identity.apply(Application("direct-one", "", (Role.USER.value,), public))
    hub.identity.approve(operator.principal, participant.id)
    application = last_entry(hub)["payload"]["application"]
    assert application == {"public_key": base64.b64encode(public).decode(), "evidence": None}

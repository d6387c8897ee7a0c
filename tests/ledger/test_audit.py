"""`verify --signatures` end to end on both stores: a realistic session through the signed API
(applications, decisions, a revocation, PEP, an external event) verifies against the pinned CA;
entries the hub forges, a revoked key used after its revocation, a hub presenting certificates of
another CA, and a nested signed application are each judged; entries written before the bindings
(a stored fixture) still verify."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.api import create_app
from shugu.cli.ledger import verify_ledger
from shugu.client import HubClient, SigningAuth
from shugu.clock import ManualClock
from shugu.errors import VerificationError
from shugu.identity import Role, ca
from shugu.ledger import Event
from shugu.ledger.audit import AuditReport, TreeAudit, check_signatures, checkpoint_roots
from shugu.ledger.bindings import BINDINGS
from shugu.ledger.claim import sign_claim
from shugu.ledger.models import RequestEvidence
from shugu.ledger.note import Verifier
from shugu.ledger.trust import ActorKeys, TrustAnchor, load_certificate
from shugu.pep.service import GrantListPolicy, LinkGrant
from shugu.runtime import Hub
from shugu.settings import Settings
from shugu.signing import httpsig
from tests.conftest import Member, make_operator

pytestmark = pytest.mark.anyio

FIXTURE = Path(__file__).parent / "data" / "ledger-before-bindings.json"


STUDY_GRANT = GrantListPolicy(
    (
        LinkGrant(
            "study-1", frozenset({"study-1"}), frozenset({"user-b"}), frozenset({"provider-c"})
        ),
    )
)


@dataclass
class Session:
    hub: Hub
    app: Any
    clock: ManualClock
    operator: Member
    members: dict[str, Member]

    def client(self, member: Member | None = None, transport: Any = None) -> HubClient:
        auth = SigningAuth(member.key, member.participant_id, self.clock) if member else None
        return HubClient(
            "http://hub",
            transport=transport or httpx.ASGITransport(app=self.app),
            auth=auth,
            clock=self.clock,
        )

    def anchor(self) -> TrustAnchor:
        return TrustAnchor.of(load_certificate(self.hub.identity.ca_certificate_pem(), "CA"))


async def _join(session: Session, name: str, role: Role) -> Member:
    key = Ed25519PrivateKey.generate()
    async with session.client() as anonymous:
        applied = await anonymous.apply(key, name, name, [role.value])
    async with session.client(session.operator) as operator:
        await operator.approve(applied["id"])
    return Member(name, (role,), key, applied["id"])


async def _pep(session: Session, member: Member, path: str, body: dict[str, Any]) -> None:
    async with session.client(member) as client:
        await client.request("POST", path, json=body)


@pytest.fixture
async def session(hub: Hub, settings: Settings, clock: ManualClock) -> AsyncIterator[Session]:
    """init's operator, then everything else through signed requests."""
    built = Session(hub, create_app(settings, hub=hub), clock, make_operator(hub), {})
    for name, role in (
        ("holder-a", Role.HOLDER),
        ("user-b", Role.USER),
        ("provider-c", Role.COMPUTE_PROVIDER),
        ("auditor-d", Role.AUDITOR),
    ):
        built.members[name] = await _join(built, name, role)
    async with built.client() as anonymous:
        rejected = await anonymous.apply(Ed25519PrivateKey.generate(), "late-e", "", ["user"])
    async with built.client(built.operator) as operator:
        await operator.reject(rejected["id"], "incomplete papers")
    hub.pep.use_policy(STUDY_GRANT)
    await _transcribe(built, built.members["user-b"])
    await _pep(
        built,
        built.members["provider-c"],
        "/v1/pep/session-key",
        {"job": "study-1", "session": "run-1", "recipient_key": "11" * 32},
    )
    holder = built.members["holder-a"]
    async with built.client(holder) as client:
        created = int(clock.now().timestamp())
        claim = sign_claim(
            holder.key, holder.participant_id, created, "external.inspection", ["s-1"], {}
        )
        await client.ledger_append([claim])
    clock.advance(seconds=30)
    async with built.client(built.operator) as operator:
        await operator.revoke(built.members["user-b"].participant_id, "left the space")
    yield built


async def _transcribe(session: Session, member: Member) -> None:
    from shugu.pep.group import GroupElement
    from shugu.pep.holder import encrypt_identifiers, unpack_ciphertexts

    async with session.client() as client:
        key = (await client.request("GET", "/v1/pep/public-key"))["public_key"]
    data, _ = unpack_ciphertexts(encrypt_identifiers(["p-1"], GroupElement.from_hex(key)))
    body = {
        "job": "study-1",
        "domain_to": "study-1",
        "session": "run-1",
        "ciphertexts": __import__("base64").b64encode(data).decode(),
    }
    await _pep(session, member, "/v1/pep/transcrypt", body)


async def _verify(session: Session, transport: Any = None) -> dict[str, Any]:
    async with session.client(session.members["auditor-d"], transport) as client:
        return await verify_ledger(client, None, session.anchor())


def _types(hub: Hub) -> list[dict[str, Any]]:
    return [json.loads(hub.ledger.entry(i).body) for i in range(hub.ledger.size())]


async def test_a_realistic_session_verifies_against_the_pinned_ca(session: Session) -> None:
    entries = _types(session.hub)
    signed = [e for e in entries if "evidence" in e or "signature" in e]
    assert {e["type"] for e in entries if "evidence" in e} <= set(BINDINGS)
    assert {"pep.transcription", "pep.session_key.issued", "identity.participant.revoked"} <= {
        e["type"] for e in entries
    }
    report = await _verify(session)
    assert report["size"] == len(entries)
    applications = [e for e in entries if "application" in e.get("payload", {})]
    assert len(signed) == len(entries) - 2 and len(applications) == 5  # 4 approved, 1 rejected
    assert report["signatures_checked"] == len(signed) + len(applications)
    assert report["unsigned_entries"] == 2
    assert report["ca_fingerprint"] == session.anchor().fingerprint


def _append(session: Session, event: Event) -> int:
    [index] = session.hub.ledger.append([event])
    return index


async def test_a_key_used_after_its_revocation_is_refused(session: Session) -> None:
    user = session.members["user-b"]
    session.clock.advance(seconds=60)
    headers = httpsig.sign(
        user.key,
        key_id=user.participant_id,
        method="POST",
        authority="hub",
        path="/v1/pep/transcrypt",
        query="",
        body=b"{}",
        created=int(session.clock.now().timestamp()),
    )
    evidence = RequestEvidence(
        "POST",
        "/v1/pep/transcrypt",
        "",
        headers["Content-Digest"],
        headers["Signature-Input"],
        headers["Signature"],
        "hub",
    )
    index = _append(
        session, Event("pep.transcription", user.participant_id, ("study-1",), {}, evidence)
    )
    with pytest.raises(VerificationError, match=f"entry {index}: every certificate of its actor"):
        await _verify(session)


class CertificateSwap(httpx.AsyncBaseTransport):
    """A hub that presents, for every participant, certificates of its own making."""

    def __init__(self, inner: httpx.AsyncBaseTransport, pem: str) -> None:
        self._inner = inner
        self._pem = pem

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not request.url.path.endswith("/certificates"):
            return response
        await response.aread()
        body = json.loads(response.content)
        body["items"] = [item | {"pem": self._pem} for item in body["items"]]
        return httpx.Response(200, json=body)


async def test_a_hub_presenting_another_cas_certificates_is_caught(session: Session) -> None:
    operator = session.operator
    fake_key = Ed25519PrivateKey.generate()
    fake_ca = ca.build_ca_certificate(fake_key, "shugu", session.clock.now())
    subject = ca.Subject(
        operator.participant_id,
        operator.name,
        ("operator",),
        operator.key.public_key().public_bytes_raw(),
    )
    forged = ca.issue_certificate(
        fake_key, fake_ca, subject, now=session.clock.now() - timedelta(days=1), days=30
    )
    pem = forged.public_bytes(serialization.Encoding.PEM).decode()
    transport = CertificateSwap(httpx.ASGITransport(app=session.app), pem)
    with pytest.raises(VerificationError, match="is not issued by the pinned CA"):
        await _verify(session, transport)


def _lines(hub: Hub) -> list[str]:
    return list(hub.ledger.export(0, hub.ledger.size()))


async def _keys(session: Session) -> ActorKeys:
    keys = ActorKeys(session.anchor())
    async with session.client(session.members["auditor-d"]) as client:
        for participant in [session.operator, *session.members.values()]:
            keys.add(
                participant.participant_id,
                [c["pem"] async for c in client.certificates(participant.participant_id)],
            )
    return keys


def _decision_with(session: Session, application: Any) -> int:
    """The holder's approval again, carrying `application` the way decisions will."""
    entries = _types(session.hub)
    holder = session.members["holder-a"].participant_id
    approval = next(
        e for e in entries if e["type"].endswith("approved") and e["subjects"] == [holder]
    )
    evidence = RequestEvidence(**{k: v for k, v in approval["evidence"].items() if k != "kind"})
    payload = approval["payload"] | {"application": application}
    return _append(
        session, Event(approval["type"], approval["actor"], (holder,), payload, evidence)
    )


async def test_a_nested_signed_application_is_checked_against_the_key_it_registers(
    session: Session,
) -> None:
    entries = _types(session.hub)
    holder = session.members["holder-a"].participant_id
    decisions = [e for e in entries if e["type"].endswith("approved")]
    applied = next(e for e in decisions if e["subjects"] == [holder])["payload"]["application"]
    other = next(e for e in decisions if e["subjects"] != [holder])["payload"]["application"]
    good = _decision_with(session, {"evidence": applied["evidence"]})
    keys = await _keys(session)
    report = AuditReport()
    check_signatures(_lines(session.hub)[good:], keys, report)
    assert report.signatures_checked == 2  # the operator's decision and the application in it
    bad = _decision_with(session, {"evidence": other["evidence"]})
    with pytest.raises(VerificationError, match=f"entry {bad}: its application is not signed"):
        check_signatures(_lines(session.hub)[bad:], keys, AuditReport())
    flat = _decision_with(session, applied["evidence"] | {"public_key": "AAAA"})
    with pytest.raises(VerificationError, match=f"entry {flat}: its application"):
        check_signatures(_lines(session.hub)[flat:], keys, AuditReport())


def test_entries_written_before_the_bindings_still_verify() -> None:
    """A ledger exported from a session of the code before this change (`shugu demo`: every
    event type of the hub, signed with the first component list), with its CA, CRL and
    certificates as that hub served them."""
    data = json.loads(FIXTURE.read_text())
    lines = data["lines"]
    audit = TreeAudit(checkpoint_roots([data["checkpoint"]], Verifier.parse(data["verifier_key"])))
    audit.feed(lines)
    report = audit.finish()
    anchor = TrustAnchor.of(load_certificate(data["ca_pem"], "CA"))
    keys = ActorKeys(anchor, anchor.revocations(data["crl_pem"]))
    for actor, pems in data["certificates"].items():
        keys.add(actor, pems)
    check_signatures(lines, keys, report)
    types = {json.loads(line.split("\t", 2)[2])["type"] for line in lines}
    assert {"pep.transcription", "pep.session_key.issued", "identity.participant.approved"} <= types
    assert report.signatures_checked + report.unsigned == report.size == len(lines)

"""Ledger evidence of signed requests: new entries record the `@authority` the request was signed
for and re-verify in an audit; entries stored before it was covered still verify."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.errors import VerificationError
from shugu.ledger import Event
from shugu.ledger.audit import AuditReport, check_signatures
from shugu.ledger.models import RequestEvidence
from shugu.runtime import Hub
from shugu.signing import httpsig
from tests.conftest import Space, certified_keys, make_operator


def _legacy_evidence(key: Ed25519PrivateKey, key_id: str, path: str) -> RequestEvidence:
    """A request signed as shugu signed before `@authority` was covered (the old layout)."""
    digest = httpsig.content_digest(b"")
    params = (
        '("@method" "@path" "@query" "content-digest");created=1700000000;'
        f'keyid="{key_id}";nonce="old-1";alg="ed25519";tag="shugu"'
    )
    base = (
        f'"@method": POST\n"@path": {path}\n"@query": ?\n"content-digest": {digest}\n'
        f'"@signature-params": {params}'
    )
    signature = base64.b64encode(key.sign(base.encode())).decode()
    return RequestEvidence("POST", path, "", digest, f"sig1={params}", f"sig1=:{signature}:")


@pytest.mark.anyio
async def test_new_evidence_records_the_authority_and_audits_clean(space: Space) -> None:
    key = Ed25519PrivateKey.generate()
    async with space.client() as anonymous:
        applied = await anonymous.apply(key, "newcomer", "Newcomer", ["user"])
    async with space.client(space.operator) as operator:
        await operator.approve(applied["id"])
    ledger = space.hub.ledger
    lines = list(ledger.export(0, ledger.size()))
    entries = [json.loads(line.split("\t", 2)[2]) for line in lines]
    (approved,) = [e for e in entries if e.get("evidence")]  # the decision carries both
    assert approved["evidence"]["authority"] == "hub"
    assert approved["payload"]["application"]["evidence"]["authority"] == "hub"
    report = AuditReport()
    check_signatures(lines[-1:], certified_keys(space.hub, space.operator), report)
    assert report.signatures_checked == 2  # the operator's decision and the application in it


def test_evidence_stored_before_authority_was_covered_still_audits(hub: Hub) -> None:
    operator = make_operator(hub)
    subject = "01M8DS4JNJEH01MR4ZXCTCDG9Z"
    path = f"/v1/participants/{subject}/revoke"
    evidence = _legacy_evidence(operator.key, operator.participant_id, path)
    assert "authority" not in evidence.as_json()
    event = Event("identity.participant.revoked", operator.participant_id, (subject,), {}, evidence)
    with hub.db.session() as session:
        (index,) = hub.ledger.record(session, [event])
    line = next(iter(hub.ledger.export(index, index + 1)))
    keys = certified_keys(hub, operator)
    report = AuditReport()
    check_signatures([line], keys, report)
    assert report.signatures_checked == 1
    tampered = line.replace('"query":""', '"query":"x=1"')
    assert tampered != line
    with pytest.raises(VerificationError, match="does not verify"):
        check_signatures([tampered], keys, AuditReport())

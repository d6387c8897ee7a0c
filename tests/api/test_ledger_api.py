"""The ledger over HTTP: public reads, signed appends, cosignatures, and bad input."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.identity import Role
from shugu.ledger.claim import sign_claim
from tests.conftest import Space

pytestmark = pytest.mark.anyio


async def test_public_reads_need_no_signature(space: Space) -> None:
    async with space.raw() as client:
        note = (await client.get("/ledger/checkpoint")).text
        key = (await client.get("/ledger/key")).json()
        proof = (await client.get("/ledger/proof/inclusion", params={"index": 0})).json()
    assert note.startswith("shugu/ledger\n") and key["origin"] == "shugu/ledger"
    assert base64.b64decode(proof["root"]) and proof["size"] >= 1


async def test_a_signed_external_event_is_appended(space: Space) -> None:
    holder = space.members[Role.HOLDER]
    claim = sign_claim(
        holder.key,
        holder.participant_id,
        int(space.clock.now().timestamp()),
        "external.audit.done",
        ["site-1"],
        {"report_sha256": "ab" * 32},
    )
    async with space.client(holder) as client:
        [index] = await client.ledger_append([claim])
        entry = await client.ledger_entry(index)
    assert entry["entry"]["actor"] == holder.participant_id
    assert entry["entry"]["signature"]["signature"] == claim["signature"]


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        pytest.param({"type": "identity.participant.approved"}, 400, "external", id="system-type"),
        pytest.param({"payload": {"forged": True}}, 401, "not the actor's", id="payload-changed"),
        pytest.param({"signature": "AAAA"}, 401, "not the actor's", id="bad-signature"),
        pytest.param({"created": "yesterday"}, 422, "created", id="created-not-int"),
        pytest.param({"created": 1}, 401, "from the hub's time", id="backdated"),
    ],
)
async def test_bad_external_events_append_nothing(
    space: Space, change: dict[str, object], status: int, needle: str
) -> None:
    holder = space.members[Role.HOLDER]
    now = int(space.clock.now().timestamp())
    good = sign_claim(holder.key, holder.participant_id, now, "external.a.b", [], {"x": 1})
    size = space.hub.ledger.size()
    async with space.raw(holder) as client:
        response = await client.post("/ledger/entries", json={"events": [good, good | change]})
    assert response.status_code == status, response.text
    assert needle in response.text
    assert space.hub.ledger.size() == size


async def test_someone_elses_signed_event_is_refused(space: Space) -> None:
    holder, user = space.members[Role.HOLDER], space.members[Role.USER]
    now = int(space.clock.now().timestamp())
    claim = sign_claim(holder.key, holder.participant_id, now, "external.a.b", [], {})
    async with space.raw(user) as client:
        response = await client.post("/ledger/entries", json={"events": [claim]})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/ledger/proof/inclusion", {"index": -1}, 422),
        ("/ledger/proof/inclusion", {"index": 0, "size": 10**9}, 404),
        ("/ledger/proof/inclusion", {"index": 10**9}, 404),
        ("/ledger/proof/inclusion", {"index": 10**19}, 422),
        ("/ledger/proof/consistency", {"from": 5, "to": 2}, 404),
        ("/ledger/checkpoints", {"cursor": "%%%"}, 400),
        ("/ledger/checkpoints", {"cursor": ",u\u00b8\u00cb\u0090\u00ad", "limit": 278}, 400),
        ("/ledger/checkpoints", {"cursor": ""}, 400),
    ],
)
async def test_proofs_outside_the_tree_are_problems(
    space: Space, path: str, params: dict[str, int], status: int
) -> None:
    async with space.raw() as client:
        response = await client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_cosignature_by_a_wrong_key_is_refused(space: Space) -> None:
    from shugu.ledger.note import COSIGNATURE_V1, Checkpoint, Signer, parse_note

    user = space.members[Role.USER]
    note = space.hub.ledger.checkpoint()
    checkpoint = Checkpoint.parse(parse_note(note).text)
    name = space.hub.ledger.witness_name(user.name)
    wrong = Signer(name, Ed25519PrivateKey.generate(), COSIGNATURE_V1).signature_line(
        checkpoint.text(), timestamp=1
    )
    right = Signer(name, user.key, COSIGNATURE_V1).signature_line(checkpoint.text(), timestamp=1)
    async with space.client(user) as client:
        with pytest.raises(Exception, match="not a valid signature"):
            await client.ledger_cosign(checkpoint.size, wrong)
        accepted = await client.ledger_cosign(checkpoint.size, right)
    assert accepted["witness_key"].startswith(name + "+")

"""The ledger service on both stores: appends, proofs, checkpoints, cosignatures, events."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from shugu.errors import AuthenticationError, InvalidInputError, NotFoundError, VerificationError
from shugu.identity import Role
from shugu.ledger import Event
from shugu.ledger.audit import TreeAudit, check_signatures, checkpoint_roots
from shugu.ledger.merkle import verify_consistency, verify_inclusion
from shugu.ledger.models import EntryRow
from shugu.ledger.note import COSIGNATURE_V1, Checkpoint, Signer, verify_note
from shugu.ledger.trust import ActorKeys, TrustAnchor, load_certificate
from shugu.runtime import Hub
from tests.conftest import make_member, make_operator

ID = "01M8DPABCH53NJF7BQZQV6XJXG"


def events(n: int, kind: str = "test.thing.happened") -> list[Event]:
    return [Event(kind, ID, (ID,), {"n": i}) for i in range(n)]


def entry_count(hub: Hub) -> int:
    with hub.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(EntryRow)) or 0)


def test_a_new_hub_logs_the_creation_of_its_ca(hub: Hub) -> None:
    first = json.loads(hub.ledger.entry(0).body)
    assert first["type"] == "identity.ca.created"
    assert set(first) == {"v", "type", "time", "actor", "subjects", "payload"}


def test_appends_get_consecutive_indices_and_proofs_verify(hub: Hub) -> None:
    start = hub.ledger.size()
    indices = hub.ledger.append(events(25))
    assert indices == list(range(start, start + 25))
    size = hub.ledger.size()
    for index in (0, start, size - 1):
        proof = hub.ledger.inclusion_proof(index, size)
        verify_inclusion(proof.leaf_hash, index, size, proof.proof, proof.root)
        assert proof.leaf_hash == hub.ledger.entry(index).leaf_hash
    old = hub.ledger.consistency_proof(start, size)
    verify_consistency(start, size, old.old_root, old.new_root, old.proof)


def test_concurrent_appends_are_batched_without_gaps(hub: Hub) -> None:
    start = hub.ledger.size()
    results: list[list[int]] = []
    lock = threading.Lock()

    def worker() -> None:
        got = [i for _ in range(10) for i in hub.ledger.append(events(7))]
        with lock:
            results.append(got)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = sorted(i for got in results for i in got)
    assert everything == list(range(start, start + 6 * 10 * 7))
    assert hub.ledger.size() == start + 420


def test_checkpoints_are_signed_and_served_with_cosignatures(hub: Hub) -> None:
    hub.ledger.append(events(3))
    note = hub.ledger.checkpoint()
    checkpoint = Checkpoint.parse(verify_note(note, [hub.ledger.verifier()]).note.text)
    assert checkpoint.origin == "shugu/ledger"
    assert checkpoint.size == hub.ledger.size()
    operator = make_operator(hub)
    witness = Signer(hub.ledger.witness_name("operator"), operator.key, COSIGNATURE_V1)
    line = witness.signature_line(checkpoint.text(), timestamp=1_800_000_000)
    public = operator.key.public_key().public_bytes_raw()
    hub.ledger.add_cosignature(operator.participant_id, "operator", public, checkpoint.size, line)
    cosigned = hub.ledger.checkpoint(cosigned=True)
    check = verify_note(cosigned, [hub.ledger.verifier(), witness.verifier])
    assert len(check.verified) == 2


def test_cosignatures_by_another_key_or_of_unknown_sizes_are_refused(hub: Hub) -> None:
    hub.ledger.append(events(2))
    checkpoint = Checkpoint.parse(
        verify_note(hub.ledger.checkpoint(), [hub.ledger.verifier()]).note.text
    )
    key = Ed25519PrivateKey.generate()
    other = Signer(hub.ledger.witness_name("w"), Ed25519PrivateKey.generate(), COSIGNATURE_V1)
    line = other.signature_line(checkpoint.text(), timestamp=1)
    with pytest.raises(AuthenticationError, match="not a valid signature"):
        hub.ledger.add_cosignature(
            ID, "w", key.public_key().public_bytes_raw(), checkpoint.size, line
        )
    with pytest.raises(NotFoundError):
        hub.ledger.add_cosignature(ID, "w", key.public_key().public_bytes_raw(), 10**9, line)
    with pytest.raises(InvalidInputError):
        hub.ledger.add_cosignature(
            ID, "w", key.public_key().public_bytes_raw(), checkpoint.size, "garbage"
        )


def test_a_checkpoint_is_made_every_n_entries(hub: Hub) -> None:
    hub.ledger._config = type(hub.ledger._config)(
        origin="shugu/ledger", checkpoint_every_entries=10
    )  # type: ignore[misc]
    hub.ledger.append(events(10))
    assert [s for s, _ in hub.ledger.checkpoints(-1, 100)][-1] == hub.ledger.size()


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        pytest.param(Event("Bad Type", ID), "invalid event type", id="type"),
        pytest.param(Event("one", ID), "invalid event type", id="type-without-dot"),
        pytest.param(Event("a.b", ID, ("",)), "subjects", id="empty-subject"),
        pytest.param(Event("a.b", ID, (), {"x": "y" * 70_000}), "bytes", id="too-large"),
        pytest.param(Event("a.b", ID, (), {"x": float("nan")}), "canonicalised", id="nan"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_appended(
    hub: Hub, event: Event, needle: str
) -> None:
    before = entry_count(hub)
    with pytest.raises(InvalidInputError, match=needle):
        hub.ledger.append([*events(2), event])
    assert entry_count(hub) == before == hub.ledger.size()


@pytest.mark.parametrize(
    ("index", "size"),
    [(-1, None), (0, 10**6), (10**6, None), (5, 3)],
    ids=["negative-index", "size-beyond", "index-beyond", "index-beyond-size"],
)
def test_proofs_outside_the_tree_are_refused(hub: Hub, index: int, size: int | None) -> None:
    hub.ledger.append(events(4))
    with pytest.raises(NotFoundError):
        hub.ledger.inclusion_proof(index, size)


def test_consistency_beyond_the_tree_is_refused(hub: Hub) -> None:
    with pytest.raises(NotFoundError, match="beyond"):
        hub.ledger.consistency_proof(0, 10**6)
    with pytest.raises(NotFoundError, match="no consistency proof from size 1000000"):
        hub.ledger.consistency_proof(10**6)


def test_identity_events_carry_the_signed_request_and_audit_clean(hub: Hub) -> None:
    operator = make_operator(hub)
    holder = make_member(hub, operator, "holder-a", Role.HOLDER)
    types = [json.loads(hub.ledger.entry(i).body)["type"] for i in range(hub.ledger.size())]
    assert types == [
        "identity.ca.created",
        "identity.participant.bootstrapped",
        "identity.participant.approved",  # an application is ledgered with its decision only
    ]
    note = hub.ledger.checkpoint()
    audit = TreeAudit(checkpoint_roots([note], hub.ledger.verifier()))
    lines = list(hub.ledger.export(0, hub.ledger.size()))
    audit.feed(lines)
    report = audit.finish()
    assert report.size == 3 and report.checkpoints == 1
    # made by calling the service directly, not by a signed request: an audit of signatures
    # refuses an entry that names an actor but carries no signature of it
    anchor = TrustAnchor.of(load_certificate(hub.identity.ca_certificate_pem(), "CA"))
    with pytest.raises(VerificationError, match="entry 2 names the actor"):
        check_signatures(lines, ActorKeys(anchor), report)
    assert holder.participant_id in lines[2]


def test_entries_hold_no_free_text_reasons(hub: Hub) -> None:
    operator = make_operator(hub)
    user = make_member(hub, operator, "user-a", Role.USER)
    hub.identity.revoke(operator.principal, user.participant_id, "Zhang San leaked 13800138000")
    body = hub.ledger.entry(hub.ledger.size() - 1).body.decode()
    assert "Zhang San" not in body and "13800138000" not in body
    assert json.loads(body)["payload"]["reason_sha256"]


def test_export_lines_carry_index_leaf_hash_and_entry(hub: Hub) -> None:
    hub.ledger.append(events(2))
    index, leaf, body = next(iter(hub.ledger.export(1, 2))).rstrip("\n").split("\t", 2)
    assert int(index) == 1
    assert base64.b64decode(leaf) == hub.ledger.entry(1).leaf_hash
    assert json.loads(body)["v"] == 1

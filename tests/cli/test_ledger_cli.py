"""`shugu ledger …` on an embedded home: append, proofs, checkpoints, verify catching every kind of
tampering, `verify --signatures` against a pinned CA catching forged and misbound entries and a
hub lying about keys, ca-fingerprint, verify-note, and a witness that catches a rewritten
history."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update

from shugu.identity import ca
from shugu.identity.models import CertificateRow
from shugu.ledger import Event
from shugu.ledger.merkle import CompactRange, leaf_hash
from shugu.ledger.models import (
    CheckpointRow,
    CosignatureRow,
    EntryRow,
    NodeRow,
    RequestEvidence,
    StateRow,
)
from shugu.runtime import Hub
from shugu.settings import Settings
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    ok_json(shugu(path, "init", "--operator", "exchange", "--json"))
    for name, role in (("holder-a", "holder"), ("user-b", "user")):
        ok_json(shugu(path, "participant", "apply", name, "--role", role, "--json"))
        ok_json(shugu(path, "participant", "approve", name, "--json"))
    return path


def _sql(home: Path, *statements: str) -> None:
    connection = sqlite3.connect(home / "hub.db")
    with connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


def test_append_from_arguments_and_from_a_file(home: Path, tmp_path: Path) -> None:
    one = ok_json(
        shugu(
            home,
            "ledger",
            "append",
            "--type",
            "external.contract.signed",
            "--payload",
            '{"contract_sha256": "ab"}',
            "--subject",
            "c-1",
            "--json",
        )
    )
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"type": "external.inspection.done", "payload": {"site": "HZ-1"}}\n\n'
        '{"type": "external.inspection.done", "subjects": ["s2"], "payload": {}}\n'
    )
    two = ok_json(shugu(home, "ledger", "append", "--from-file", str(events), "--json"))
    assert two["indices"] == [one["indices"][0] + 1, one["indices"][0] + 2]
    shown = ok_json(shugu(home, "ledger", "entries", "--start", str(one["indices"][0]), "--json"))
    first = shown["items"][0]["entry"]
    assert first["type"] == "external.contract.signed" and first["subjects"] == ["c-1"]
    assert first["signature"]["kind"] == "event-signature"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["--type", "a.b.c.d.e.f"], "invalid event type", id="too-deep"),
        pytest.param(["--type", "Inspection"], "invalid event type", id="uppercase"),
        pytest.param(
            ["--type", "external.x.y", "--payload", "[1]"], "JSON object", id="payload-array"
        ),
        pytest.param(
            ["--type", "external.x.y", "--payload", "{"], "not valid JSON", id="payload-bad"
        ),
        pytest.param([], "either --type", id="nothing"),
    ],
)
def test_bad_appends_are_refused_and_nothing_is_appended(
    home: Path, args: list[str], needle: str
) -> None:
    before = ok_json(shugu(home, "ledger", "checkpoint", "--json"))["size"]
    result = shugu(home, "ledger", "append", *args)
    assert result.exit_code in (3, 5), result.stderr
    assert needle in result.stderr
    assert ok_json(shugu(home, "ledger", "checkpoint", "--json"))["size"] == before


def test_a_bad_line_in_a_file_appends_none_of_it(home: Path, tmp_path: Path) -> None:
    before = ok_json(shugu(home, "ledger", "checkpoint", "--json"))["size"]
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "external.ok.one", "payload": {}}\n{"type": 5}\n')
    result = shugu(home, "ledger", "append", "--from-file", str(events))
    assert result.exit_code == 3 and "events.jsonl:2" in result.stderr
    assert ok_json(shugu(home, "ledger", "checkpoint", "--json"))["size"] == before


def test_proofs_and_checkpoint_from_the_cli(home: Path) -> None:
    checkpoint = ok_json(shugu(home, "ledger", "checkpoint", "--json"))
    proof = ok_json(shugu(home, "ledger", "proof", "--index", "1"))
    assert proof["root"] == checkpoint["root"] and proof["size"] == checkpoint["size"]
    consistency = ok_json(shugu(home, "ledger", "consistency", "--from", "2", "--to", "4"))
    assert consistency["from"] == 2 and len(consistency["proof"]) >= 1
    beyond = shugu(home, "ledger", "proof", "--index", "1", "--size", "999")
    assert beyond.exit_code == 4 and "beyond the ledger" in beyond.stderr


def test_append_namespaces_the_type_and_says_what_it_recorded(home: Path) -> None:
    said = shugu(home, "ledger", "append", "--type", "inspection", "--payload", '{"site": "HZ"}')
    assert said.exit_code == 0, said.stderr
    assert "appended entry 4: external.inspection" in said.stdout
    two = ok_json(
        shugu(
            home, "ledger", "append", "--type", "external.audit.done", "--json", "--payload", "{}"
        )
    )
    assert two == {"indices": [5], "types": ["external.audit.done"]}
    shown = ok_json(shugu(home, "ledger", "entries", "--start", "4", "--json"))["items"]
    assert [i["entry"]["type"] for i in shown] == ["external.inspection", "external.audit.done"]
    report = ok_json(shugu(home, "ledger", "verify", *_pin(home), "--json"))
    assert report["signatures_checked"] == 6  # 2 approvals, the 2 applications in them, 2 claims


def _ca_pem(home: Path) -> str:
    hub = Hub.open(Settings(home=home))
    try:
        return hub.identity.ca_certificate_pem()
    finally:
        hub.close()


def _fingerprint(home: Path) -> str:
    cert = x509.load_pem_x509_certificate(_ca_pem(home).encode())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _pin(home: Path) -> list[str]:
    return ["--signatures", "--ca-fingerprint", _fingerprint(home)]


def test_ca_fingerprint_prints_what_the_auditor_pins(home: Path, tmp_path: Path) -> None:
    expected = _fingerprint(home)
    said = shugu(home, "ledger", "ca-fingerprint")
    assert said.exit_code == 0 and said.stdout == f"SHA256 {expected}\n"
    shown = ok_json(shugu(home, "ledger", "ca-fingerprint", "--json"))
    assert shown["algorithm"] == "SHA256" and shown["fingerprint"] == expected
    pem = tmp_path / "ca.pem"
    pem.write_text(_ca_pem(home))
    from_file = ok_json(shugu(home, "ledger", "ca-fingerprint", "--ca-file", str(pem), "--json"))
    assert from_file["fingerprint"] == expected
    pem.write_text("not a certificate")
    bad = shugu(home, "ledger", "ca-fingerprint", "--ca-file", str(pem))
    assert bad.exit_code == 3 and "not a PEM certificate" in bad.stderr


def test_verify_passes_on_an_untouched_ledger(home: Path, tmp_path: Path) -> None:
    assert "signatures_checked" not in ok_json(shugu(home, "ledger", "verify", "--json"))
    report = ok_json(shugu(home, "ledger", "verify", *_pin(home), "--json"))
    assert report["ok"] and report["size"] == 4
    assert report["signatures_checked"] == 4  # two approvals and the applications they carry
    assert report["unsigned_entries"] == 2  # the CA's creation, the bootstrapped operator
    assert report["ca_fingerprint"] == _fingerprint(home)
    colons = ":".join(_fingerprint(home).upper()[i : i + 2] for i in range(0, 64, 2))
    said = shugu(home, "ledger", "verify", "--signatures", "--ca-fingerprint", colons)
    assert said.exit_code == 0 and "signatures verified: 4" in said.stdout
    pem = tmp_path / "ca.pem"
    pem.write_text(_ca_pem(home))
    ok_json(shugu(home, "ledger", "verify", "--signatures", "--ca-file", str(pem), "--json"))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["--signatures"], "ledger ca-fingerprint", id="no-pin"),
        pytest.param(
            ["--signatures", "--ca-fingerprint", "ab" * 32, "--ca-file", "ca.pem"],
            "not both",
            id="two-pins",
        ),
        pytest.param(["--ca-fingerprint", "ab" * 32], "only with --signatures", id="pin-alone"),
    ],
)
def test_verify_signatures_needs_exactly_one_pin(home: Path, args: list[str], needle: str) -> None:
    result = shugu(home, "ledger", "verify", *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert needle in result.stderr


def test_a_wrong_or_malformed_pin_fails(home: Path, tmp_path: Path) -> None:
    wrong = shugu(home, "ledger", "verify", "--signatures", "--ca-fingerprint", "ab" * 32)
    assert wrong.exit_code == 8 and "not the pinned" in wrong.stderr
    malformed = shugu(home, "ledger", "verify", "--signatures", "--ca-fingerprint", "abc")
    assert malformed.exit_code == 3 and "not a SHA-256 fingerprint" in malformed.stderr
    other = tmp_path / "other-ca.pem"
    other.write_text(_pem(ca.build_ca_certificate(Ed25519PrivateKey.generate(), "shugu", _now())))
    chained = shugu(home, "ledger", "verify", "--signatures", "--ca-file", str(other))
    assert chained.exit_code == 8, chained.stdout
    assert "CRL is not signed by the pinned CA" in chained.stderr  # checked before any entry


def _now() -> datetime:
    return datetime.now(UTC)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _with_hub(home: Path, work: Any) -> Any:
    hub = Hub.open(Settings(home=home))
    try:
        return work(hub)
    finally:
        hub.close()


def _entry(home: Path, index: int) -> dict[str, Any]:
    return _with_hub(home, lambda hub: json.loads(hub.ledger.entry(index).body))  # type: ignore[no-any-return]


def _forge(home: Path, event: Event) -> None:
    """What the hub itself (holding the log key) could write: an entry of its own making."""
    _with_hub(home, lambda hub: hub.ledger.append([event]))


def _evidence(entry: dict[str, Any]) -> RequestEvidence:
    fields = {k: v for k, v in entry["evidence"].items() if k != "kind"}
    return RequestEvidence(**fields)


def _participants(home: Path) -> dict[str, str]:
    rows = ok_json(shugu(home, "participant", "list", "--json"))["items"]
    return {r["name"]: r["id"] for r in rows}


def _forged(kind: str, home: Path) -> tuple[Event, str]:
    """An entry the hub could forge, and what `verify --signatures` must say about it."""
    ids = _participants(home)
    approval = _entry(home, 2)  # the operator approving holder-a
    evidence = _evidence(approval)
    payload = approval["payload"]
    operator, holder, user = ids["exchange"], ids["holder-a"], ids["user-b"]
    approved = "identity.participant.approved"
    forged = {
        "other-actor": (
            Event(approved, holder, (holder,), payload, evidence),
            f"is signed by {operator}, not by its actor {holder}",
        ),
        "approve-as-reject": (
            Event("identity.participant.rejected", operator, (holder,), payload, evidence),
            "does not make a identity.participant.rejected event",
        ),
        "other-subject": (
            Event(approved, operator, (user,), payload, evidence),
            "is not about its subjects",
        ),
        "unknown-type": (
            Event("identity.participant.renamed", operator, (holder,), payload, evidence),
            "no signed request produces a identity.participant.renamed event",
        ),
        "no-signature": (
            Event(approved, operator, (user,), payload, None),
            f"names the actor {operator} but no signature of it",
        ),
    }
    return forged[kind]


@pytest.mark.parametrize(
    "kind", ["other-actor", "approve-as-reject", "other-subject", "unknown-type", "no-signature"]
)
def test_verify_signatures_refuses_entries_the_hub_forged(home: Path, kind: str) -> None:
    event, needle = _forged(kind, home)
    _forge(home, event)
    plain = ok_json(shugu(home, "ledger", "verify", "--json"))  # the tree alone is fine
    result = shugu(home, "ledger", "verify", *_pin(home))
    assert result.exit_code == 8, result.stdout + result.stderr
    assert f"entry {plain['size'] - 1}" in result.stderr and needle in result.stderr


def _replace_certificates(home: Path, participant: str, pem: str) -> None:
    def work(hub: Hub) -> None:
        with hub.db.session() as session:
            session.execute(
                update(CertificateRow)
                .where(CertificateRow.participant_id == participant)
                .values(pem=pem)
            )

    _with_hub(home, work)


def test_a_hub_that_lies_about_an_actors_key_is_caught(home: Path) -> None:
    """The hub replaces the operator's key with one of its own and presents a certificate for it
    (self-signed, or from a CA of its own with the same name): signatures by that key fail."""
    operator = _participants(home)["exchange"]
    impostor = Ed25519PrivateKey.generate()
    subject = ca.Subject(
        operator, "exchange", ("operator",), impostor.public_key().public_bytes_raw()
    )
    real = x509.load_pem_x509_certificate(_ca_pem(home).encode())
    fake_ca = ca.build_ca_certificate(impostor, "shugu", _now())
    assert fake_ca.subject == real.subject  # same name, other key
    for cert in (
        ca.issue_certificate(impostor, fake_ca, subject, now=_now(), days=1),  # another CA
        ca.issue_certificate(impostor, real, subject, now=_now(), days=1),  # issuer name only
        fake_ca,  # a self-signed certificate
    ):
        _replace_certificates(home, operator, _pem(cert))
        result = shugu(home, "ledger", "verify", *_pin(home))
        assert result.exit_code == 8, result.stdout
        assert f"entry 2: the certificate the hub gave for its actor {operator}" in result.stderr
        assert "not issued by the pinned CA" in result.stderr


def test_a_certificate_for_another_participant_does_not_certify_the_actor(home: Path) -> None:
    ids = _participants(home)
    holders = ok_json(shugu(home, "participant", "show", "holder-a", "--json"))
    _replace_certificates(home, ids["exchange"], holders["certificate"]["pem"])
    result = shugu(home, "ledger", "verify", *_pin(home))
    assert result.exit_code == 8 and "names another participant" in result.stderr


@pytest.mark.parametrize(
    ("tamper", "index", "needle"),
    [
        pytest.param(
            ["UPDATE ledger_entries SET body = replace(body, 'holder', 'user') WHERE idx = 2"],
            2,
            "altered",
            id="changed",
        ),
        pytest.param(["DELETE FROM ledger_entries WHERE idx = 3"], 3, "missing", id="deleted"),
        pytest.param(
            [
                "UPDATE ledger_entries SET idx = idx + 100 WHERE idx >= 2",
                "UPDATE ledger_entries SET idx = idx - 99 WHERE idx >= 100",
                "INSERT INTO ledger_entries (idx, type, actor, time, body) "
                "VALUES (2, 'x.y', NULL, '2026-01-01 00:00:00', '{}')",
            ],
            2,
            "altered",
            id="inserted",
        ),
        pytest.param(
            [
                "INSERT INTO ledger_entries (idx, type, actor, time, body) "
                "VALUES (4, 'x.y', NULL, '2026-01-01 00:00:00', '{}')"
            ],
            4,
            "not in the tree",
            id="appended-outside-the-tree",
        ),
        pytest.param(
            [
                "UPDATE ledger_entries SET idx = -1 WHERE idx = 2",
                "UPDATE ledger_entries SET idx = 2 WHERE idx = 3",
                "UPDATE ledger_entries SET idx = 3 WHERE idx = -1",
            ],
            2,
            "altered",
            id="reordered",
        ),
    ],
)
def test_verify_names_the_first_tampered_index(
    home: Path, tamper: list[str], index: int, needle: str
) -> None:
    ok_json(shugu(home, "ledger", "checkpoint", "--json"))
    _sql(home, *tamper)
    result = shugu(home, "ledger", "verify")
    assert result.exit_code == 8, result.stdout + result.stderr
    assert f"entry {index} " in result.stderr or f"index {index} " in result.stderr
    assert needle in result.stderr


def test_verify_catches_entries_and_hashes_rewritten_together(home: Path) -> None:
    ok_json(shugu(home, "ledger", "checkpoint", "--json"))
    connection = sqlite3.connect(home / "hub.db")
    body = connection.execute("SELECT body FROM ledger_entries WHERE idx = 3").fetchone()[0]
    forged = body.replace("user", "holder")
    with connection:
        connection.execute("UPDATE ledger_entries SET body = ? WHERE idx = 3", (forged,))
        connection.execute(
            "UPDATE ledger_nodes SET hash = ? WHERE level = 0 AND idx = 3",
            (leaf_hash(forged.encode()),),
        )
    connection.close()
    result = shugu(home, "ledger", "verify")
    assert result.exit_code == 8
    assert "do not match the checkpoint of size 4" in result.stderr


def test_verify_note_accepts_the_hubs_checkpoint_and_refuses_others(
    home: Path, tmp_path: Path
) -> None:
    note = tmp_path / "checkpoint.txt"
    note.write_text(shugu(home, "ledger", "checkpoint").stdout)
    key = _log_key(home)
    good = ok_json(shugu(home, "ledger", "verify-note", str(note), "--key", key, "--json"))
    assert good["verified"] == [key]
    other = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    refused = shugu(home, "ledger", "verify-note", str(note), "--key", other)
    assert refused.exit_code == 8 and "no signature by a given key" in refused.stderr
    note.write_text(note.read_text().replace("\n4\n", "\n5\n"))
    forged = shugu(home, "ledger", "verify-note", str(note), "--key", key)
    assert forged.exit_code == 8 and "does not verify" in forged.stderr
    malformed = shugu(home, "ledger", "verify-note", str(note), "--key", "not-a-key")
    assert malformed.exit_code == 3 and "malformed verifier key" in malformed.stderr
    missing = shugu(home, "ledger", "verify-note", str(tmp_path / "none.txt"), "--key", key)
    assert missing.exit_code == 4


def test_verify_note_refuses_a_note_signed_twice_by_one_key(home: Path, tmp_path: Path) -> None:
    text = shugu(home, "ledger", "checkpoint").stdout
    note = tmp_path / "twice.txt"
    note.write_text(text + text.rstrip("\n").rsplit("\n", 1)[1] + "\n")
    twice = shugu(home, "ledger", "verify-note", str(note), "--key", _log_key(home))
    assert twice.exit_code == 3 and "signed twice" in twice.stderr


def _log_key(home: Path) -> str:
    hub = Hub.open(Settings(home=home))
    try:
        return hub.ledger.verifier().encode()
    finally:
        hub.close()


def _rewrite_history(home: Path, keep: int, new_events: int) -> None:
    """What a dishonest operator holding the log key could do: drop entries and re-sign."""
    hub = Hub.open(Settings(home=home))
    try:
        with hub.db.session() as session:
            bodies = session.scalars(
                select(EntryRow.body).where(EntryRow.idx < keep).order_by(EntryRow.idx)
            ).all()
            for table in (EntryRow, NodeRow, CheckpointRow, CosignatureRow):
                session.execute(
                    delete(table).where(table.idx >= keep) if table is EntryRow else delete(table)
                )
            compact, nodes = CompactRange(), []
            for body in bodies:
                nodes += [
                    {"level": lv, "idx": i, "hash": h}
                    for lv, i, h in compact.append(leaf_hash(body.encode()))
                ]
            session.execute(insert(NodeRow), nodes)
            session.execute(
                update(StateRow).values(size=compact.size, frontier=b"".join(compact.hashes))
            )
        if new_events:
            hub.ledger.append(
                [Event("external.rewritten.history", None, (), {"n": i}) for i in range(new_events)]
            )
    finally:
        hub.close()


def test_a_witness_cosigns_and_catches_a_rewritten_history(home: Path) -> None:
    first = ok_json(shugu(home, "ledger", "witness", "--once", "--json"))
    assert first["cosigned"] and first["previous_size"] is None
    cosigned = shugu(home, "ledger", "checkpoint", "--cosigned").stdout
    assert "/witness/exchange " in cosigned
    ok_json(shugu(home, "ledger", "append", "--type", "external.a.b", "--payload", "{}", "--json"))
    second = ok_json(shugu(home, "ledger", "witness", "--once", "--json"))
    assert second["previous_size"] == first["size"] and second["size"] == first["size"] + 1
    _rewrite_history(home, keep=3, new_events=10)
    caught = shugu(home, "ledger", "witness", "--once")
    assert caught.exit_code == 8
    assert "inconsistent" in caught.stderr and "consistency proof fails" in caught.stderr
    evidence = list((home / "witness").glob("fork-evidence-*.json"))
    assert len(evidence) == 1
    assert json.loads(evidence[0].read_text())["kind"] == "consistency proof fails"


def test_a_witness_catches_a_rollback(home: Path) -> None:
    ok_json(shugu(home, "ledger", "witness", "--once", "--json"))
    _rewrite_history(home, keep=3, new_events=0)
    caught = shugu(home, "ledger", "witness", "--once")
    assert caught.exit_code == 8 and "rollback" in caught.stderr

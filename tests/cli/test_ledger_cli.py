"""`shugu ledger …` on an embedded home: append, proofs, checkpoints, verify catching every kind of
tampering, verify-note, and a witness that catches a rewritten history."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from shugu.ledger import Event
from shugu.ledger.merkle import CompactRange, leaf_hash
from shugu.ledger.models import CheckpointRow, CosignatureRow, EntryRow, NodeRow, StateRow
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
        pytest.param(["--type", "identity.participant.approved"], "external", id="not-external"),
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


def test_verify_passes_on_an_untouched_ledger(home: Path) -> None:
    report = ok_json(shugu(home, "ledger", "verify", "--signatures", "--json"))
    assert report["ok"] and report["size"] == 6
    assert report["signatures_checked"] == 4  # two applications, two approvals


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
                "VALUES (6, 'x.y', NULL, '2026-01-01 00:00:00', '{}')"
            ],
            6,
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
    body = connection.execute("SELECT body FROM ledger_entries WHERE idx = 4").fetchone()[0]
    forged = body.replace("user", "holder")
    with connection:
        connection.execute("UPDATE ledger_entries SET body = ? WHERE idx = 4", (forged,))
        connection.execute(
            "UPDATE ledger_nodes SET hash = ? WHERE level = 0 AND idx = 4",
            (leaf_hash(forged.encode()),),
        )
    connection.close()
    result = shugu(home, "ledger", "verify")
    assert result.exit_code == 8
    assert "do not match the checkpoint of size 6" in result.stderr


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
    note.write_text(note.read_text().replace("\n6\n", "\n7\n"))
    forged = shugu(home, "ledger", "verify-note", str(note), "--key", key)
    assert forged.exit_code == 8 and "does not verify" in forged.stderr
    malformed = shugu(home, "ledger", "verify-note", str(note), "--key", "not-a-key")
    assert malformed.exit_code == 3 and "malformed verifier key" in malformed.stderr
    missing = shugu(home, "ledger", "verify-note", str(tmp_path / "none.txt"), "--key", key)
    assert missing.exit_code == 4


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

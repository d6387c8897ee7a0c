"""Crash safety of the ledger: SIGKILL a process appending in a loop, many times, then check that
every append that had returned is in the log at its index and that the log verifies.

`_appender.py` forks the appenders one at a time, each opening the hub itself on the same
database; each is killed at a random moment 0.3-1.5 s after its `Hub.open` returned (the seed
fixes the delays and thread counts, not what the appender was doing when the kill landed). Kills
during `Hub.open` itself (migrations, first initialisation) are not covered here.

Durability: this exercises a *process* crash only, not power loss or an operating-system crash.
A killed process loses nothing the OS already has, so any commit that reached the database file
or its WAL survives; on SQLite that holds even with ``synchronous=NORMAL``. Surviving power loss
is the job of ``synchronous=FULL`` on SQLite (see `shugu.db`: every commit fsyncs the WAL before
it returns) and of ``fsync``/``synchronous_commit`` on the PostgreSQL server; no test here cuts
the power.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from shugu.ledger import Event
from shugu.ledger.audit import TreeAudit, checkpoint_roots
from shugu.ledger.merkle import verify_consistency, verify_inclusion
from shugu.runtime import Hub
from shugu.settings import Settings

SEED = 20261127
KILLS = 15
READY_TIMEOUT = 30.0
APPENDER = Path(__file__).with_name("_appender.py")
EVENT_TYPE = "test.crash.appended"


@dataclass(frozen=True, slots=True)
class Run:
    """One appender process and its acknowledgement log."""

    number: int
    acks: Path


class Appenders:
    """`_appender.py`: it imports shugu once, then forks one appender at a time on request."""

    def __init__(self, settings: Settings, stderr: Path) -> None:
        assert settings.secret_key is not None
        env = {**os.environ, "SHUGU_SECRET_KEY": settings.secret_key.get_secret_value()}
        self.stderr = stderr
        with stderr.open("wb") as file:
            self._server = subprocess.Popen(
                [sys.executable, str(APPENDER), str(settings.home), settings.resolved_database_url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=file,
                env=env,
                text=True,
            )

    def __enter__(self) -> Appenders:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)  # closes stdin, which ends the server, and waits for it

    def _ask(self, command: str) -> int:
        assert self._server.stdin is not None and self._server.stdout is not None
        self._server.stdin.write(command + "\n")
        self._server.stdin.flush()
        answer = self._server.stdout.readline()
        assert answer, f"the appender server died: {self.stderr.read_text()}"
        return int(answer)

    def start(self, run: Run, threads: int) -> int:
        """Fork an appender; its pid."""
        return self._ask(f"start {run.number} {threads} {run.acks}")

    def reap(self) -> int:
        """Wait for the appender to end; its exit code."""
        return self._ask("reap")


def wait_until_ready(run: Run, context: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not (run.acks.exists() and run.acks.read_text(encoding="utf-8").startswith("ready\n")):
        assert time.monotonic() < deadline, f"{context}: the appender did not open the hub"
        time.sleep(0.01)


def run_and_kill(appenders: Appenders, run: Run, rng: random.Random, context: str) -> None:
    """Start an appender, let it append for 0.3-1.5 s after the hub opened, SIGKILL it."""
    delay, threads = rng.uniform(0.3, 1.5), rng.randint(2, 4)
    pid = appenders.start(run, threads)
    try:
        wait_until_ready(run, context)
        time.sleep(delay)
    finally:
        os.kill(pid, signal.SIGKILL)
        code = appenders.reap()
    assert code == -signal.SIGKILL, f"{context}: exit {code}: {appenders.stderr.read_text()}"


def read_acks(run: Run) -> list[tuple[int, str]]:
    """The (index, token) pairs the appender logged; a torn last line was never acknowledged."""
    lines = run.acks.read_text(encoding="utf-8").split("\n")[1:-1]  # after "ready"
    records = [json.loads(line) for line in lines]
    return [pair for r in records for pair in zip(r["indices"], r["tokens"], strict=True)]


def token_at(hub: Hub, index: int) -> str | None:
    body = json.loads(hub.ledger.entry(index).body)
    return body["payload"].get("token") if body["type"] == EVENT_TYPE else None


def check_acknowledged(hub: Hub, acked: dict[int, str], context: str) -> None:
    """Every acknowledged (index, token) pair is in the ledger at exactly that index."""
    lost = {i: t for i, t in acked.items() if token_at(hub, i) != t}
    assert not lost, f"{context}: {len(lost)} acknowledged appends lost, e.g. {sorted(lost)[:5]}"


def audit(hub: Hub, context: str) -> tuple[int, bytes]:
    """Recompute the tree from the export against every stored checkpoint and a fresh one."""
    latest = hub.ledger.make_checkpoint()
    size = hub.ledger.size()
    assert latest.size == size, context
    notes = [note for _, note in hub.ledger.checkpoints(-1, 10**6)]
    roots = checkpoint_roots(notes, hub.ledger.verifier())
    assert roots[size] == latest.root, context
    tree = TreeAudit(roots)
    lines = list(hub.ledger.export(0, size))
    tree.feed(lines)
    report = tree.finish()
    assert report.size == size, context
    assert [int(line.split("\t", 1)[0]) for line in lines] == list(range(size)), context
    tokens = [json.loads(line.split("\t", 2)[2])["payload"].get("token") for line in lines]
    ours = [t for t in tokens if t is not None]
    assert len(ours) == len(set(ours)), f"{context}: an event was written twice"
    return size, latest.root


def check_inclusion(hub: Hub, indices: list[int], size: int, root: bytes) -> None:
    for index in indices:
        proof = hub.ledger.inclusion_proof(index, size)
        verify_inclusion(hub.ledger.entry(index).leaf_hash, index, size, proof.proof, root)


def check_appends_still_work(hub: Hub, size: int, root: bytes) -> None:
    indices = hub.ledger.append([Event(EVENT_TYPE, None, (), {"token": "after"})])
    assert indices == [size]
    assert token_at(hub, size) == "after"
    latest = hub.ledger.make_checkpoint()
    proof = hub.ledger.consistency_proof(size, latest.size)
    verify_consistency(size, latest.size, root, latest.root, proof.proof)


@pytest.mark.slow
def test_acknowledged_appends_survive_sigkill(settings: Settings, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    context = f"seed {SEED}"
    runs = [Run(n, tmp_path / f"acks-{n}.log") for n in range(KILLS)]
    with Appenders(settings, tmp_path / "appenders.stderr") as appenders:
        for run in runs:
            run_and_kill(appenders, run, rng, f"{context}, run {run.number}")
    pairs = [pair for run in runs for pair in read_acks(run)]
    acked = dict(pairs)
    assert len(acked) == len(pairs), f"{context}: an index was acknowledged twice (lost, reused)"
    assert len(acked) >= KILLS, f"{context}: only {len(acked)} events were acknowledged"
    hub = Hub.open(settings)
    try:
        check_acknowledged(hub, acked, context)
        size, root = audit(hub, context)
        check_inclusion(hub, rng.sample(sorted(acked), min(20, len(acked))), size, root)
        check_appends_still_work(hub, size, root)
    finally:
        hub.close()

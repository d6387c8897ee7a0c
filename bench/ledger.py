"""The ledger benchmark: durable appends, proofs at scale and the auditor's verify, each measured
against a baseline in the same run.

    uv run python -m bench.ledger            # full: a 10-million-entry tree (15-30 min, ~10 GB)
    uv run python -m bench.ledger --quick    # a 200,000-entry tree, verify extrapolated to 1M

Every figure is the median of several repetitions (2-core machines are noisy); the table is
printed as Markdown and the results are written to ``bench/results/ledger-<date>.json``.
See bench/README.md for what each measure means.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cryptography
import httpx
import sqlalchemy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Select, and_, bindparam, create_engine, event, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from shugu.api.app import create_app
from shugu.db import Database
from shugu.keys.sealing import KeyEncryptionKey
from shugu.ledger import Event, LedgerService, encode_event, merkle, store
from shugu.ledger.audit import AuditReport, TreeAudit, check_signatures, checkpoint_roots
from shugu.ledger.claim import check_claim, sign_claim
from shugu.ledger.models import NodeRow
from shugu.ledger.note import verify_note
from shugu.runtime import Hub
from shugu.settings import RateLimit, Settings

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FULL_SIZE = 10_000_000
QUICK_SIZE = 200_000
VERIFY_SIZE = 1_000_000
EXPORT_PAGE = 20_000
BUILD_BATCH = 50_000
BYTES_PER_ENTRY = 2_000
"""Free disk asked for per tree entry (20 GB at 10M; the tree takes about half of that)."""
EVENT_TYPE = "contract.agreement.signed"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RESULTS = Path(__file__).parent / "results"

Lookup = Callable[[Session, Sequence[merkle.Node]], dict[merkle.Node, bytes]]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run measures and how often."""

    quick: bool
    size: int
    reps: int
    threads: int
    lists: int
    chunk: int
    queries: int
    proof_budget: float
    signed: int
    postgres_url: str | None
    workdir: Path | None

    @property
    def per_rep(self) -> int:
        """Entries appended per repetition of the append benchmark."""
        return self.threads * self.lists * self.chunk

    @property
    def verify_size(self) -> int:
        """Entries the verify benchmark audits (the first 1M, or the whole quick tree)."""
        return min(self.size, VERIFY_SIZE)


@dataclass(slots=True)
class Result:
    """One measure; `ratio` is value / baseline_value."""

    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    target: str | None = None
    met: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """The measure over its baseline, when there is one."""
        return self.value / self.baseline_value if self.baseline_value else None


# -- helpers ----------------------------------------------------------------------------------


def say(message: str) -> None:
    """Progress on stderr (the results table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile `q` (0-100) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def seeded(name: str) -> random.Random:
    """A reproducible generator for benchmark data (identifiers, indices), never for secrets."""
    return random.Random(name)  # noqa: S311 - reproducible test data


def make_id(rng: random.Random) -> str:
    """A 26-character identifier shaped like the hub's ULIDs."""
    return "".join(rng.choices(ALPHABET, k=26))


def make_events(rng: random.Random, count: int, actors: Sequence[str]) -> list[Event]:
    """Hub events as contracts record them: identifiers and a hash only."""
    events = []
    for _ in range(count):
        agreement = make_id(rng)
        payload = {"agreement": agreement, "sha256": rng.randbytes(32).hex()}
        events.append(Event(EVENT_TYPE, rng.choice(actors), (agreement,), payload))
    return events


def new_settings(url: str, home: Path) -> Settings:
    """Hub settings over `url` with a throw-away key; checkpoint policy left at its defaults;
    rate limits out of the way (the bench is one client making thousands of calls)."""
    unlimited = 10_000_000
    return Settings(
        home=home,
        database_url=url,
        secret_key=KeyEncryptionKey.generate().to_text(),
        log_json=False,
        rate_limit=RateLimit(
            per_minute=unlimited,
            burst=unlimited,
            address_per_minute=unlimited,
            address_burst=unlimited,
        ),
    )


@contextmanager
def open_hub(url: str, home: Path) -> Iterator[Hub]:
    """A hub over a fresh database, closed at the end."""
    hub = Hub.open(new_settings(url, home))
    try:
        yield hub
    finally:
        hub.close()


@contextmanager
def postgres_databases(admin_url: str, count: int) -> Iterator[list[str]]:
    """`count` fresh databases ``shugu_bench_<random>``, dropped at the end."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names = [f"shugu_bench_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    try:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        base = make_url(admin_url)
        yield [base.set(database=n).render_as_string(hide_password=False) for n in names]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def check_disk(plan: Plan, folder: Path) -> None:
    """Refuse to start a tree that may not fit on the disk."""
    need = plan.size * BYTES_PER_ENTRY
    free = shutil.disk_usage(folder).free
    if free < need:
        raise SystemExit(
            f"refusing to build a {plan.size:,}-entry tree in {folder}: {free / 1e9:.1f} GB free, "
            f"{need / 1e9:.0f} GB wanted; free space, pass --workdir, or use --quick / --size"
        )


# -- 1. durable appends -----------------------------------------------------------------------


def count_batches(hub: Hub) -> list[int]:
    """A counter of sequencer transactions (each takes the state lock with one UPDATE first)."""
    counter = [0]

    def on_execute(*args: Any) -> None:
        if str(args[2]).startswith("UPDATE ledger_state SET updated_at"):
            counter[0] += 1

    event.listen(hub.db.engine, "before_cursor_execute", on_execute)
    return counter


def timed_appends(ledger: LedgerService, work: list[list[list[Event]]]) -> float:
    """Seconds for every thread to append its lists through the sequencer, started together."""
    barrier = threading.Barrier(len(work) + 1)

    def submit(lists: list[list[Event]]) -> None:
        barrier.wait()
        for events in lists:
            ledger.append(events)

    with ThreadPoolExecutor(len(work)) as pool:
        futures = [pool.submit(submit, lists) for lists in work]
        barrier.wait()
        start = time.perf_counter()
        for future in futures:
            future.result()
        return time.perf_counter() - start


def completed_nodes(index: int) -> list[merkle.Node]:
    """The perfect nodes appending leaf `index` completes: the leaf, one more per trailing 1."""
    nodes, level = [(0, index)], 0
    while (index >> level) & 1:
        level += 1
        nodes.append((level, index >> level))
    return nodes


def bare_rows(
    events: Sequence[Event], first: int
) -> tuple[list[store.EntryTuple], list[tuple[int, int, bytes]]]:
    """The entry and node rows the ledger would write for `events` from index `first`, with the
    bodies encoded and every hash a constant (no hashing, encoding done before timing)."""
    now, digest = datetime.now(UTC), bytes(32)
    entries: list[store.EntryTuple] = []
    nodes: list[tuple[int, int, bytes]] = []
    for index, item in enumerate((encode_event(e, now) for e in events), start=first):
        entries.append((index, item.type, item.actor, now, item.body.decode()))
        nodes += [(lv, ix, digest) for lv, ix in completed_nodes(index)]
    return entries, nodes


def timed_bare_inserts(db: Database, batches: list[tuple[list[Any], list[Any]]]) -> float:
    """Seconds to insert prepared rows, one transaction per batch, through `store.insert_rows`."""
    start = time.perf_counter()
    for entries, nodes in batches:
        with db.session() as session:
            store.insert_rows(session, entries, nodes)
    return time.perf_counter() - start


def prepare_bare(plan: Plan, events: list[Event], first: int) -> list[tuple[list[Any], list[Any]]]:
    """Rows in batches of threads x chunk, the largest batch the sequencer sees in this test."""
    size = plan.threads * plan.chunk
    return [bare_rows(events[i : i + size], first + i) for i in range(0, len(events), size)]


def split_work(plan: Plan, events: list[Event]) -> list[list[list[Event]]]:
    """Each thread's lists of `chunk` events."""
    lists = [events[i : i + plan.chunk] for i in range(0, len(events), plan.chunk)]
    return [lists[t :: plan.threads] for t in range(plan.threads)]


def append_reps(plan: Plan, hub: Hub, db: Database, label: str) -> dict[str, list[float]]:
    """Interleaved repetitions: the ledger's rate, the bare inserts' rate, entries per batch."""
    rng = seeded(f"append-{label}")
    actors = [make_id(rng) for _ in range(1000)]
    batches = count_batches(hub)
    hub.ledger.append(make_events(rng, plan.chunk, actors))  # warm-up: key, pool, caches
    reps: dict[str, list[float]] = {"ledger": [], "bare": [], "per_batch": []}
    for rep in range(plan.reps):
        events, before = make_events(rng, plan.per_rep, actors), batches[0]
        reps["ledger"].append(plan.per_rep / timed_appends(hub.ledger, split_work(plan, events)))
        reps["per_batch"].append(plan.per_rep / (batches[0] - before))
        rows = prepare_bare(plan, events, rep * plan.per_rep)
        reps["bare"].append(plan.per_rep / timed_bare_inserts(db, rows))
        say(
            f"append {label} rep {rep + 1}: ledger {reps['ledger'][-1]:,.0f}/s "
            f"({reps['per_batch'][-1]:,.0f} per batch), bare inserts {reps['bare'][-1]:,.0f}/s"
        )
    return reps


def bench_append(plan: Plan, label: str, urls: Sequence[str], home: Path) -> list[Result]:
    """Appends through the sequencer (urls[0]) vs bare inserts of the same rows (urls[1])."""
    with open_hub(urls[0], home / f"{label}-hub") as hub:
        db = Database.open(urls[1])
        try:
            reps = append_reps(plan, hub, db, label)
            extra = bench_proofs_small(hub, label)
        finally:
            db.dispose()
    rate = statistics.median(reps["ledger"])
    result = Result(
        f"durable appends, {label} ({plan.threads} threads x lists of {plan.chunk})",
        rate,
        "entries/s",
        f"bare inserts, one transaction per {plan.threads * plan.chunk}",
        statistics.median(reps["bare"]),
        ">= 20,000 entries/s",
        rate >= 20_000,
        {**reps, "entries_per_rep": plan.per_rep},
    )
    return [result, *extra]


def bench_proofs_small(hub: Hub, label: str) -> list[Result]:
    """Proof latency on the append benchmark's tree (a second dialect, at a small size)."""
    size = hub.ledger.size()
    rng = seeded(f"small-{label}")
    inclusion, pk = time_pairs(
        lambda i: hub.ledger.inclusion_proof(i, size),
        lambda i: pk_lookup(hub.db, i),
        rng,
        size,
        300,
        30,
    )
    return [latency_result(f"inclusion proof, {label}, {size:,} entries", inclusion, pk, None)]


# -- 2. proofs at scale -----------------------------------------------------------------------


def build_tree(plan: Plan, hub: Hub) -> float:
    """Grow the tree to `plan.size` entries through `LedgerService.record` in large batches,
    signing a checkpoint after each; return entries per second (making events is not timed)."""
    rng = seeded("tree")
    actors = [make_id(rng) for _ in range(1000)]
    spent, done = 0.0, hub.ledger.size()  # the hub already logged its CA's creation
    built = done
    while done < plan.size:
        count = min(BUILD_BATCH, plan.size - done)
        if done < plan.verify_size:
            count = min(count, plan.verify_size - done)  # a checkpoint exactly at the verify size
        events = make_events(rng, count, actors)
        start = time.perf_counter()
        with hub.db.session() as session:
            hub.ledger.record(session, events)
        hub.ledger.make_checkpoint()
        spent += time.perf_counter() - start
        done += count
        if done % 1_000_000 == 0 or done == plan.size:
            say(f"tree: {done:,} / {plan.size:,} entries, {(done - built) / spent:,.0f}/s")
    return (plan.size - built) / spent


def time_pairs(
    call: Callable[[int], object],
    baseline: Callable[[int], object],
    rng: random.Random,
    bound: int,
    count: int,
    budget: float,
) -> tuple[list[float], list[float]]:
    """Milliseconds of `call(n)` and `baseline(n)` for random n in [1, bound), interleaved so load
    drift hits both alike; `count` pairs or until `budget` seconds have passed."""
    times: list[float] = []
    floor: list[float] = []
    deadline = time.perf_counter() + budget
    for _ in range(count):
        for target, out in ((baseline, floor), (call, times)):
            argument = rng.randrange(1, bound)
            start = time.perf_counter()
            target(argument)
            out.append((time.perf_counter() - start) * 1000)
        if time.perf_counter() > deadline:
            break
    return times, floor


def pk_lookup(db: Database, index: int) -> bytes:
    """One ledger_nodes row by primary key, in its own session like a proof request."""
    with db.session() as session:
        query = select(NodeRow.hash).where(NodeRow.level == 0, NodeRow.idx == index)
        digest: bytes = session.execute(query).scalar_one()
        return digest


def latency_result(name: str, times: list[float], pk: list[float], target: str | None) -> Result:
    """A latency measure (median ms) against the primary-key lookup."""
    median = statistics.median(times)
    return Result(
        name,
        median,
        "ms (median)",
        "one primary-key lookup of a ledger_nodes row",
        statistics.median(pk),
        target,
        None if target is None else median <= 1.0,
        {
            "p99_ms": percentile(times, 99),
            "queries": len(times),
            "baseline_p99_ms": percentile(pk, 99),
        },
    )


def lookup_or(session: Session, wanted: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
    """Candidate `store.get_nodes`: an OR of (level, idx) point lookups (MULTI-INDEX OR)."""
    terms = [and_(NodeRow.level == level, NodeRow.idx == idx) for level, idx in wanted]
    rows = session.execute(select(NodeRow.level, NodeRow.idx, NodeRow.hash).where(or_(*terms)))
    return {(level, idx): digest for level, idx, digest in rows}


@functools.lru_cache(maxsize=256)
def _or_statement(count: int) -> Select[int, int, bytes]:
    terms = [
        and_(NodeRow.level == bindparam(f"l{k}"), NodeRow.idx == bindparam(f"i{k}"))
        for k in range(count)
    ]
    return select(NodeRow.level, NodeRow.idx, NodeRow.hash).where(or_(*terms))


def lookup_or_cached(session: Session, wanted: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
    """Candidate `store.get_nodes`: the same OR, its statement built once per node count."""
    params: dict[str, int] = {}
    for k, (level, idx) in enumerate(wanted):
        params[f"l{k}"], params[f"i{k}"] = level, idx
    rows = session.execute(_or_statement(len(wanted)), params)
    return {(level, idx): digest for level, idx, digest in rows}


CANDIDATES: dict[str, Lookup] = {
    "candidate get_nodes: OR of point lookups": lookup_or,
    "candidate get_nodes: OR, statement cached per node count": lookup_or_cached,
}
"""Index-friendly replacements for `store.get_nodes`, timed beside it (not used by the ledger)."""


def candidate_inclusion(db: Database, lookup: Lookup, index: int, size: int) -> list[bytes]:
    """`LedgerService.inclusion_proof` with another node lookup (state read, ranges, one query)."""
    with db.session() as session:
        store.read_state(session)
        ranges = [(index, index + 1), (0, size), *merkle.inclusion_ranges(index, size)]
        return merkle.build_proof(ranges, lambda w: lookup(session, w))


def candidate_consistency(db: Database, lookup: Lookup, old: int, size: int) -> list[bytes]:
    """`LedgerService.consistency_proof` with another node lookup."""
    with db.session() as session:
        store.read_state(session)
        ranges = [(0, old), (0, size), *merkle.consistency_ranges(old, size)]
        return merkle.build_proof(ranges, lambda w: lookup(session, w))


def check_candidates(hub: Hub, size: int) -> None:
    """The candidate lookups build the very proofs the service builds."""
    for index in (0, size // 3, size - 1):
        proof = hub.ledger.inclusion_proof(index, size)
        merkle.verify_inclusion(proof.leaf_hash, index, size, proof.proof, proof.root)
        for lookup in CANDIDATES.values():
            expected = [proof.leaf_hash, proof.root, *proof.proof]
            if candidate_inclusion(hub.db, lookup, index, size) != expected:
                raise AssertionError(f"{lookup.__name__} builds another proof of {index}")


def bench_proofs(plan: Plan, hub: Hub) -> list[Result]:
    """Inclusion and consistency proofs at the full size, each against a primary-key lookup."""
    size, rng = plan.size, seeded("proofs")
    check_candidates(hub, size)
    calls: list[tuple[str, Callable[[int], object]]] = [
        ("inclusion proof", lambda i: hub.ledger.inclusion_proof(i, size)),
        ("consistency proof", lambda i: hub.ledger.consistency_proof(i, size)),
    ]
    for name, lookup in CANDIDATES.items():
        calls.append((f"inclusion proof, {name}", _bind(candidate_inclusion, hub, lookup, size)))
        calls.append(
            (f"consistency proof, {name}", _bind(candidate_consistency, hub, lookup, size))
        )
    results = []
    for name, call in calls:
        times, pk = time_pairs(
            call, lambda i: pk_lookup(hub.db, i), rng, size, plan.queries, plan.proof_budget
        )
        results.append(latency_result(f"{name}, {size:,} entries", times, pk, "<= 1 ms"))
        say(
            f"{name}: median {statistics.median(times):.3f} ms over {len(times)} queries "
            f"(primary-key lookup {statistics.median(pk):.3f} ms)"
        )
    return results


def _bind(
    proof: Callable[[Database, Lookup, int, int], list[bytes]], hub: Hub, lookup: Lookup, size: int
) -> Callable[[int], object]:
    return lambda i: proof(hub.db, lookup, i, size)


# -- 2b. proofs as users call them -------------------------------------------------------------

ProofCall = Callable[[int], Awaitable[object]]


def _sync(call: Callable[[int], object]) -> ProofCall:
    async def run(argument: int) -> object:
        return call(argument)

    return run


def _get(client: httpx.AsyncClient, path: str, key: str, **params: int) -> ProofCall:
    async def run(argument: int) -> object:
        response = await client.get(path, params={key: argument, **params})
        response.raise_for_status()
        return response.json()

    return run


def proof_paths(hub: Hub, client: httpx.AsyncClient, kind: str, size: int) -> dict[str, ProofCall]:
    """One kind of proof four ways on the same tree, the first today's cached path, beside two
    floors: a primary-key lookup and the HTTP stack alone (`/health`, one thread hop too)."""
    service = hub.ledger.inclusion_proof if kind == "inclusion" else hub.ledger.consistency_proof
    path, key = (
        ("/ledger/proof/inclusion", "index")
        if kind == "inclusion"
        else ("/ledger/proof/consistency", "from")
    )
    size_key = "size" if kind == "inclusion" else "to"
    return {
        "service, size given (cached path)": _sync(lambda i: service(i, size)),
        "primary-key lookup": _sync(lambda i: pk_lookup(hub.db, i)),
        "service, no size (default)": _sync(lambda i: service(i)),
        "HTTP, size given": _get(client, path, key, **{size_key: size}),
        "HTTP, no size (the API's default call)": _get(client, path, key),
        "HTTP floor: GET /health": _health(client),
    }


def _health(client: httpx.AsyncClient) -> ProofCall:
    async def run(_: int) -> object:
        response = await client.get("/health")
        response.raise_for_status()
        return response.json()

    return run


async def time_paths(
    paths: dict[str, ProofCall], rng: random.Random, bound: int, count: int, budget: float
) -> dict[str, list[float]]:
    """Milliseconds of each path for random arguments in [1, bound), interleaved query by
    query so that load drift hits every path alike."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    deadline = time.perf_counter() + budget
    for _ in range(count):
        for name, call in paths.items():
            argument = rng.randrange(1, bound)
            start = time.perf_counter()
            await call(argument)
            times[name].append((time.perf_counter() - start) * 1000)
        if time.perf_counter() > deadline:
            break
    return times


async def check_api_proof(client: httpx.AsyncClient, hub: Hub, size: int) -> None:
    """The default call proves against the current tree, the very proof the service builds."""
    index = size // 3
    body = (await client.get("/ledger/proof/inclusion", params={"index": index})).json()
    expected = hub.ledger.inclusion_proof(index, size)
    proof = [base64.b64decode(p) for p in body["proof"]]
    if body["size"] != size or proof != expected.proof:
        raise AssertionError(f"the API's default inclusion proof of {index} is not the service's")
    merkle.verify_inclusion(
        base64.b64decode(body["leaf_hash"]), index, size, proof, base64.b64decode(body["root"])
    )


async def api_proofs(plan: Plan, hub: Hub) -> list[Result]:
    """Proofs through `create_app(settings)` over in-process HTTP, beside the service's cached
    path: the app opens its own hub over the same home and database, as a started server does."""
    size, rng = plan.size, seeded("api-proofs")
    app = create_app(hub.settings)
    results: list[Result] = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            await check_api_proof(client, hub, size)
            for kind in ("inclusion", "consistency"):
                paths = proof_paths(hub, client, kind, size)
                times = await time_paths(paths, rng, size, plan.queries, plan.proof_budget)
                results += path_results(kind, size, times)
    finally:
        app.state.hub.hub.close()  # no lifespan runs in process: close the app's hub here
    return results


def path_results(kind: str, size: int, times: dict[str, list[float]]) -> list[Result]:
    """Each path's median against the cached path's median in the same run."""
    cached_name = next(iter(times))
    cached = statistics.median(times[cached_name])
    results = []
    for name, values in times.items():
        median = statistics.median(values)
        say(f"{kind} proof, {name}: median {median:.3f} ms ({median / cached:.2f}x cached)")
        detail = {"p99_ms": percentile(values, 99), "queries": len(values)}
        results.append(
            Result(
                f"{kind} proof, {name}, {size:,} entries",
                median,
                "ms (median)",
                None if name == cached_name else cached_name,
                None if name == cached_name else cached,
                detail=detail,
            )
        )
    return results


def bench_api_proofs(plan: Plan, hub: Hub) -> list[Result]:
    """The API's proof endpoints, with and without a size, on the tree the service proofs use."""
    return asyncio.run(api_proofs(plan, hub))


# -- 3. verify --------------------------------------------------------------------------------


def checkpoint_notes(ledger: LedgerService, end: int) -> list[str]:
    """Every stored checkpoint note up to size `end`."""
    notes, after = [], -1
    while page := ledger.checkpoints(after, 1000):
        notes += [note for size, note in page if size <= end]
        after = page[-1][0]
    return notes


def audit_prefix(ledger: LedgerService, end: int) -> AuditReport:
    """The auditor's path of `shugu ledger verify` over entries [0, end), in export pages."""
    audit = TreeAudit(checkpoint_roots(checkpoint_notes(ledger, end), ledger.verifier()))
    for start in range(0, end, EXPORT_PAGE):
        audit.feed(ledger.export(start, min(start + EXPORT_PAGE, end)))
    return audit.finish()


def hash_bodies(ledger: LedgerService, end: int) -> float:
    """Seconds to SHA-256 the same entry bodies alone (fetching them is not timed)."""
    total = 0.0
    for start in range(0, end, EXPORT_PAGE):
        lines = ledger.export(start, min(start + EXPORT_PAGE, end))
        bodies = [line.rstrip("\n").split("\t", 2)[2].encode() for line in lines]
        began = time.perf_counter()
        for body in bodies:
            hashlib.sha256(body).digest()
        total += time.perf_counter() - began
    return total


def bench_verify(plan: Plan, hub: Hub) -> Result:
    """`verify` over the first `verify_size` entries, against hashing the bodies alone."""
    end, audits, hashes = plan.verify_size, [], []
    for rep in range(plan.reps):
        start = time.perf_counter()
        report = audit_prefix(hub.ledger, end)
        audits.append(time.perf_counter() - start)
        hashes.append(hash_bodies(hub.ledger, end))
        say(
            f"verify rep {rep + 1}: {audits[-1]:.2f} s ({report.checkpoints} checkpoints); "
            f"sha256 alone {hashes[-1]:.2f} s"
        )
    scale = VERIFY_SIZE / end
    name = f"verify {VERIFY_SIZE:,} entries (export + TreeAudit, checkpoints checked)"
    if scale != 1:
        name += f" - EXTRAPOLATED x{scale:g} from {end:,}"
    seconds = statistics.median(audits) * scale
    return Result(
        name,
        seconds,
        "s",
        "hashlib.sha256 of the same bodies alone",
        statistics.median(hashes) * scale,
        "<= 10 s",
        seconds <= 10,
        {"measured_entries": end, "audit_reps_s": audits, "baseline_reps_s": hashes},
    )


# -- signatures -------------------------------------------------------------------------------


def bench_ed25519(reps: int, count: int = 5000) -> Result:
    """Ed25519 verifications per second on one core (`cryptography`)."""
    key = Ed25519PrivateKey.generate()
    public, message = key.public_key(), bytes(300)
    signature = key.sign(message)
    rates = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(count):
            public.verify(signature, message)
        rates.append(count / (time.perf_counter() - start))
    rate = statistics.median(rates)
    return Result(
        "Ed25519 verify, one core (bounds appends of actor-signed entries at the API edge)",
        rate,
        "verifies/s",
        detail={"reps": rates},
    )


def signed_events(count: int) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, bytes]]:
    """`count` external events signed by 20 actors, and the actors' public keys."""
    rng = seeded("signed")
    keys = {make_id(rng): Ed25519PrivateKey.generate() for _ in range(20)}
    actors = list(keys)
    claims = []
    for n in range(count):
        actor, subject = actors[n % len(actors)], make_id(rng)
        payload = {"sha256": rng.randbytes(32).hex()}
        claim = sign_claim(
            keys[actor], actor, 1_800_000_000, "external.audit.attested", [subject], payload
        )
        claims.append((actor, claim))
    return claims, {a: k.public_key().public_bytes_raw() for a, k in keys.items()}


@dataclass(frozen=True)
class KnownKeys:
    """Actors' keys already checked against the pinned CA: `verify --signatures` chains each
    actor's certificates once (`ledger.trust.ActorKeys`), so the per-entry cost is this lookup."""

    keys: dict[str, bytes]

    def key_at(self, actor: str, at: object, index: int) -> bytes:
        return self.keys[actor]


def bench_signatures(plan: Plan, home: Path) -> list[Result]:
    """The API edge's claim check and `verify --signatures` re-verification, on a signed sample."""
    claims, public = signed_events(plan.signed)
    start = time.perf_counter()
    events = [
        check_claim(actor, public[actor], claim, now=1_800_000_000) for actor, claim in claims
    ]
    edge = plan.signed / (time.perf_counter() - start)
    rates = []
    with open_hub(f"sqlite:///{home / 'signed.db'}", home / "signed-hub") as hub:
        for i in range(0, len(events), plan.chunk):
            hub.ledger.append(events[i : i + plan.chunk])
        for _ in range(plan.reps):
            report, start = AuditReport(), time.perf_counter()
            for page in range(0, plan.signed, EXPORT_PAGE):
                lines = hub.ledger.export(page, min(page + EXPORT_PAGE, plan.signed))
                check_signatures(lines, KnownKeys(public), report)
            rates.append(report.signatures_checked / (time.perf_counter() - start))
    sample = {"signed_entries": plan.signed}
    return [
        Result("check_claim at the API edge (one thread)", edge, "events/s", detail=sample),
        Result(
            "verify --signatures re-verification pass (export + check_signatures)",
            statistics.median(rates),
            "entries/s",
            detail={**sample, "reps": rates},
        ),
    ]


# -- the run ----------------------------------------------------------------------------------


def run_appends(plan: Plan, work: Path) -> list[Result]:
    """The append benchmark on SQLite, then on PostgreSQL unless skipped."""
    urls = [f"sqlite:///{work / 'append.db'}", f"sqlite:///{work / 'bare.db'}"]
    results = bench_append(plan, "SQLite", urls, work)
    if plan.postgres_url is not None:
        with postgres_databases(plan.postgres_url, 2) as pg_urls:
            results += bench_append(plan, "PostgreSQL", pg_urls, work)
    return results


def run_tree(plan: Plan, work: Path) -> list[Result]:
    """Build the big SQLite tree, then time proofs and verify on it."""
    with open_hub(f"sqlite:///{work / 'tree.db'}", work / "tree-hub") as hub:
        rate = build_tree(plan, hub)
        verify_note(hub.ledger.make_checkpoint().note, [hub.ledger.verifier()])
        results = [
            Result(
                f"tree build via LedgerService.record, batches of {BUILD_BATCH:,}",
                rate,
                "entries/s",
            )
        ]
        results += bench_proofs(plan, hub)
        results += bench_api_proofs(plan, hub)
        results.append(bench_verify(plan, hub))
    return results


def environment(plan: Plan, load_before: Sequence[float]) -> dict[str, Any]:
    """Where and with what the numbers were measured (load averages: other work on the host)."""
    return {
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if plan.quick else "full",
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpus": len(os.sched_getaffinity(0)),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "cryptography": cryptography.__version__,
        "plan": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()},
    }


def markdown_table(results: Sequence[Result]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| Measure | Result | Baseline (same run) | Ratio | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        extra = (
            f", p99 {r.detail['p99_ms']:.3f} ms, n={r.detail['queries']}"
            if "p99_ms" in r.detail
            else ""
        )
        base = f"{r.baseline}: {_number(r.baseline_value)}" if r.baseline else ""
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[r.met]
        result = f"{_number(r.value)} {r.unit}{extra}"
        lines.append(f"| {r.name} | {result} | {base} | {ratio} | {r.target or ''} | {met} |")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3f}"


def write_results(plan: Plan, results: Sequence[Result], load: Sequence[float]) -> Path:
    """Write the JSON record to bench/results/ledger-<date>[-quick].json."""
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if plan.quick else ""
    path = RESULTS / f"ledger-{datetime.now(UTC).date().isoformat()}{suffix}.json"
    records = [{**asdict(r), "ratio": r.ratio} for r in results]
    path.write_text(
        json.dumps({"environment": environment(plan, load), "results": records}, indent=2) + "\n"
    )
    return path


def parse_plan(argv: Sequence[str] | None) -> Plan:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ledger", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a {QUICK_SIZE:,}-entry tree, fewer reps"
    )
    parser.add_argument(
        "--size", type=int, help=f"entries in the proof tree (default {FULL_SIZE:,})"
    )
    parser.add_argument("--reps", type=int, help="repetitions per measure (default 5, quick 3)")
    parser.add_argument("--queries", type=int, default=2000, help="random proofs per kind")
    parser.add_argument(
        "--proof-budget", type=float, default=120.0, help="max seconds per proof kind"
    )
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="admin URL (trust auth)")
    parser.add_argument(
        "--skip-postgres", action="store_true", help="append benchmark on SQLite only"
    )
    parser.add_argument("--workdir", type=Path, help="where the temporary databases go")
    args = parser.parse_args(argv)
    return Plan(
        quick=args.quick,
        size=args.size or (QUICK_SIZE if args.quick else FULL_SIZE),
        reps=args.reps or (3 if args.quick else 5),
        threads=8,
        lists=10,
        chunk=500,
        queries=args.queries,
        proof_budget=args.proof_budget,
        signed=5_000 if args.quick else 20_000,
        postgres_url=None if args.skip_postgres else args.postgres_url,
        workdir=args.workdir,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measure, print the table, write the JSON record."""
    plan = parse_plan(argv)
    folder = plan.workdir or Path(tempfile.gettempdir())
    check_disk(plan, folder)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="shugu-bench-", dir=folder) as tmp:
        work = Path(tmp)
        results = [bench_ed25519(plan.reps)]
        results += run_appends(plan, work)
        results += bench_signatures(plan, work)
        results += run_tree(plan, work)
    print(markdown_table(results))
    say(f"results written to {write_results(plan, results, load)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

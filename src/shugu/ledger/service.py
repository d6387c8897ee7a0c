"""The ledger's operations: append (batched or inside a caller's transaction), proofs,
signed checkpoints, witness cosignatures, and the export auditors verify from."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from shugu.clock import Clock
from shugu.db import Database
from shugu.errors import AuthenticationError, InvalidInputError, NotFoundError, ShuguError
from shugu.i18n import N_
from shugu.keys import store as key_store
from shugu.keys.purposes import LOG_KEY
from shugu.keys.sealing import KeyEncryptionKey
from shugu.ledger import merkle, store
from shugu.ledger.canonical import canonical_json
from shugu.ledger.models import (
    EVENT_TYPE,
    MAX_ENTRY_BYTES,
    CheckpointRow,
    CosignatureRow,
    Entry,
    Event,
)
from shugu.ledger.note import (
    COSIGNATURE_V1,
    Checkpoint,
    Signer,
    Verifier,
    parse_note,
)
from shugu.ledger.sequencer import Sequencer

log = logging.getLogger(__name__)

MAX_INDEX = 2**62


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    """Ledger settings (a slice of `Settings`)."""

    origin: str = "shugu/ledger"
    checkpoint_every_entries: int = 1000
    checkpoint_every_seconds: int = 10
    max_batch: int = 5000


@dataclass(frozen=True, slots=True)
class Prepared:
    """An event encoded for the tree: its canonical bytes and indexed columns."""

    body: bytes
    type: str
    actor: str | None
    time: datetime


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An inclusion proof with everything needed to check it."""

    index: int
    size: int
    leaf_hash: bytes
    root: bytes
    proof: list[bytes]


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """A consistency proof between two tree sizes, with both roots."""

    old: int
    new: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]


def b64(data: bytes) -> str:
    """Standard base64, as every JSON output of the ledger uses."""
    return base64.b64encode(data).decode()


def sha256_hex(text: str | bytes) -> str:
    """The SHA-256 of a text (UTF-8) or bytes, hex; for recording a value without the value."""
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def encode_event(event: Event, at: datetime) -> Prepared:
    """Check an event and turn it into its canonical leaf bytes.

    Raises:
        InvalidInputError: an invalid type, subject or payload, or an entry too large.
    """
    if not EVENT_TYPE.match(event.type) or len(event.type) > 100:
        raise InvalidInputError(N_("invalid event type {type}"), type=event.type)
    if any(not isinstance(s, str) or not 0 < len(s) <= 200 for s in event.subjects):
        raise InvalidInputError(N_("event subjects must be identifiers of 1 to 200 characters"))
    if not isinstance(event.payload, dict):
        raise InvalidInputError(N_("an event payload must be a JSON object"))
    document: dict[str, object] = {
        "v": 1,
        "type": event.type,
        "time": at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": event.actor,
        "subjects": list(event.subjects),
        "payload": event.payload,
    }
    if event.evidence is not None:
        document["evidence"] = event.evidence.as_json()
    if event.signature is not None:
        document["signature"] = dict(event.signature)
    body = canonical_json(document)
    if len(body) > MAX_ENTRY_BYTES:
        raise InvalidInputError(
            N_("the event is {size} bytes; at most {limit} are allowed"),
            size=len(body),
            limit=MAX_ENTRY_BYTES,
        )
    return Prepared(body, event.type, event.actor, at)


class LedgerService:
    """The hub's transparency log."""

    def __init__(
        self, db: Database, kek: KeyEncryptionKey, clock: Clock, config: LedgerConfig
    ) -> None:
        self._db = db
        self._kek = kek
        self._clock = clock
        self._config = config
        self._signer: Signer | None = None
        self._sequencer: Sequencer[Prepared] = Sequencer(self._write, max_batch=config.max_batch)
        self._committed_floor = 0
        """A tree size known to be committed. Sizes only grow and the nodes of a committed tree
        never change, so a proof for a size at or below it needs no read of the ledger state."""

    # -- set-up -------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the ledger state and the log key on first start (idempotent)."""
        self._open()

    def _open(self) -> Signer:
        now = self._clock.now()
        with self._db.session() as session:
            store.ensure_state(session, self._config.origin, now)
            found = key_store.open_secret(session, self._kek, LOG_KEY)
            if found is None:
                key = Ed25519PrivateKey.generate()
                raw = key.private_bytes_raw()
                public = key.public_key().public_bytes_raw()
                key_store.add_secret(session, self._kek, LOG_KEY, raw, public_key=public, now=now)
            else:
                raw = found.secret
            state = store.read_state(session)
            origin = state.origin if state is not None else self._config.origin
        self._signer = Signer(origin, Ed25519PrivateKey.from_private_bytes(raw))
        return self._signer

    def close(self) -> None:
        """Stop the sequencer after it has written what is queued."""
        self._sequencer.close()

    @property
    def signer(self) -> Signer:
        """The log's note signer (its name is the origin)."""
        return self._open() if self._signer is None else self._signer

    @property
    def origin(self) -> str:
        """The origin line of this log's checkpoints."""
        return self.signer.name

    def verifier(self) -> Verifier:
        """The log's verifier key."""
        return self.signer.verifier

    # -- appending ----------------------------------------------------------------------------

    def record(self, session: Session, events: Sequence[Event]) -> list[int]:
        """Append events inside the caller's transaction: they commit (or not) with its change."""
        now = self._clock.now()
        return self._sequence(session, [encode_event(e, now) for e in events])

    def append(self, events: Sequence[Event]) -> list[int]:
        """Append events through the batching sequencer; durable when this returns."""
        now = self._clock.now()
        prepared = [encode_event(e, now) for e in events]
        return self._sequencer.submit(prepared)

    def _write(self, items: list[Prepared]) -> list[int]:
        with self._db.session() as session:
            indices = self._sequence(session, items)
        try:  # the entries are committed: a checkpoint problem must not fail their callers
            self._maybe_checkpoint()
        except ShuguError as exc:
            log.warning("ledger.checkpoint_failed", extra={"fields": {"code": exc.code}})
        return indices

    def _sequence(self, session: Session, items: Sequence[Prepared]) -> list[int]:
        state = store.lock_state(session, self._clock.now())
        compact = merkle.CompactRange.restore(state.size, _split(state.frontier))
        entries: list[store.EntryTuple] = []
        nodes: list[tuple[int, int, bytes]] = []
        for item in items:
            index = compact.size
            nodes += compact.append(merkle.leaf_hash(item.body))
            entries.append((index, item.type, item.actor, item.time, item.body.decode("utf-8")))
        store.insert_rows(session, entries, nodes)
        first = state.size
        state.size = compact.size
        state.frontier = b"".join(compact.hashes)
        return list(range(first, compact.size))

    # -- reading ------------------------------------------------------------------------------

    def size(self) -> int:
        """The number of entries."""
        with self._db.session() as session:
            state = store.read_state(session)
            return state.size if state is not None else 0

    def entry(self, index: int) -> Entry:
        """One entry by index."""
        with self._db.session() as session:
            row = store.get_entry(session, index) if 0 <= index < MAX_INDEX else None
            if row is None:
                raise NotFoundError(N_("no ledger entry at index {index}"), index=index)
            body = row.body.encode("utf-8")
            return Entry(row.idx, body, merkle.leaf_hash(body))

    def entries(self, start: int, limit: int) -> list[Entry]:
        """Entries from `start`, at most `limit`."""
        with self._db.session() as session:
            rows = store.entries_between(session, start, start + limit)
            return [_entry(r.idx, r.body) for r in rows]

    def export(self, start: int, end: int) -> Iterator[str]:
        """Lines ``index TAB base64(stored leaf hash) TAB entry`` for auditors to verify."""
        with self._db.session() as session:
            for idx, digest, body in store.export_rows(session, start, end):
                yield f"{idx}\t{b64(digest) if digest else '-'}\t{body}\n"

    # -- proofs -------------------------------------------------------------------------------

    def _tree_size(self, session: Session, size: int | None) -> int:
        if size is not None and 0 <= size <= self._committed_floor:
            return size
        state = store.read_state(session)
        current = state.size if state is not None else 0
        self._committed_floor = max(self._committed_floor, current)
        if size is None:
            return current
        if not 0 <= size <= current:
            raise NotFoundError(
                N_("tree size {size} is beyond the ledger (size {current})"),
                size=size,
                current=current,
            )
        return size

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """Prove entry `index` is in the tree of `size` (default: the current size)."""
        with self._db.session() as session:
            tree = self._tree_size(session, size)
            if not 0 <= index < tree:
                raise NotFoundError(
                    N_("no entry at index {index} in the tree of size {size}"),
                    index=index,
                    size=tree,
                )
            ranges = merkle.inclusion_ranges(index, tree)
            hashes = merkle.build_proof(
                [(index, index + 1), (0, tree), *ranges], lambda w: store.get_nodes(session, w)
            )
        return InclusionProof(index, tree, hashes[0], hashes[1], hashes[2:])

    def consistency_proof(self, old: int, new: int | None = None) -> ConsistencyProof:
        """Prove the tree of size `old` is a prefix of the tree of size `new`."""
        with self._db.session() as session:
            tree = self._tree_size(session, new)
            if not 0 <= old <= tree:
                raise NotFoundError(
                    N_("no consistency proof from size {old} to size {new}"), old=old, new=tree
                )
            ranges = merkle.consistency_ranges(old, tree)
            hashes = merkle.build_proof(
                [(0, old), (0, tree), *ranges], lambda w: store.get_nodes(session, w)
            )
        return ConsistencyProof(old, tree, hashes[0], hashes[1], hashes[2:])

    # -- checkpoints and witnesses ------------------------------------------------------------

    def _maybe_checkpoint(self) -> None:
        with self._db.session() as session:
            state = store.read_state(session)
            latest = store.latest_checkpoint(session)
        if state is None:
            return
        behind = state.size - (latest.size if latest else -1)
        age = (self._clock.now() - latest.created_at).total_seconds() if latest else 1e9
        if behind >= self._config.checkpoint_every_entries or (
            behind > 0 and age >= self._config.checkpoint_every_seconds
        ):
            self.make_checkpoint()

    def tick(self) -> None:
        """Make a checkpoint if one is due by time or count (called periodically by the server)."""
        self._maybe_checkpoint()

    def make_checkpoint(self) -> CheckpointRow:
        """Sign a checkpoint of the current tree (or return the latest if nothing changed)."""
        with self._db.session() as session:
            state = store.read_state(session)
            if state is None:
                raise NotFoundError(N_("the ledger has not been opened"))
            latest = store.latest_checkpoint(session)
            if latest is not None and latest.size == state.size:
                return latest
            root = merkle.CompactRange.restore(state.size, _split(state.frontier)).root()
            text = Checkpoint(state.origin, state.size, root).text()
            note = text + "\n" + self.signer.signature_line(text)
            store.insert_checkpoint(session, state.size, root, note, self._clock.now())
            row = store.get_checkpoint(session, state.size)
            if row is None:
                raise ShuguError(
                    N_("the checkpoint of size {size} is missing right after it was stored"),
                    size=state.size,
                )
        return row

    def checkpoint(self, *, cosigned: bool = False) -> str:
        """The newest signed checkpoint with its witnesses' cosignatures.

        With `cosigned`, the newest one that carries at least one cosignature.
        """
        if not cosigned:
            self.make_checkpoint()
        with self._db.session() as session:
            if cosigned:
                size = store.latest_cosigned_size(session)
                row = store.get_checkpoint(session, size) if size is not None else None
            else:
                row = store.latest_checkpoint(session)
            if row is None:
                raise NotFoundError(N_("no cosigned checkpoint yet"))
            return row.note + "".join(c.line for c in store.cosignatures(session, row.size))

    def checkpoints(self, after: int, limit: int) -> list[tuple[int, str]]:
        """Stored checkpoints (size, note) with size > after, smallest first."""
        with self._db.session() as session:
            return [(r.size, r.note) for r in store.checkpoints_after(session, after, limit)]

    def witness_name(self, participant_name: str) -> str:
        """The cosigner key name of a participant acting as witness."""
        return f"{self.origin}/witness/{participant_name}"

    def add_cosignature(
        self, witness_id: str, witness_name: str, public_key: bytes, size: int, line: str
    ) -> str:
        """Store a witness's cosignature of the checkpoint at `size` after checking it.

        Raises:
            NotFoundError: no checkpoint of that size.
            InvalidNoteError: the line is malformed.
            AuthenticationError: the line is not a cosignature by this witness's key.
        """
        verifier = Verifier(self.witness_name(witness_name), COSIGNATURE_V1, public_key)
        with self._db.session() as session:
            row = store.get_checkpoint(session, size)
            if row is None:
                raise NotFoundError(N_("no checkpoint of size {size}"), size=size)
            text = parse_note(row.note).text
            signature = parse_note(text + "\n" + line.rstrip("\n") + "\n").signatures[0]
            if (signature.name, signature.key_id) != (verifier.name, verifier.key_id) or not (
                verifier.verify(text, signature.blob)
            ):
                raise AuthenticationError(
                    N_("the cosignature is not a valid signature by witness {name}"),
                    name=verifier.name,
                )
            session.merge(
                CosignatureRow(
                    size=size,
                    witness_id=witness_id,
                    line=signature.line,
                    created_at=self._clock.now(),
                )
            )
        return verifier.encode()


def _split(frontier: bytes) -> list[bytes]:
    return [frontier[i : i + merkle.HASH_SIZE] for i in range(0, len(frontier), merkle.HASH_SIZE)]


def _entry(index: int, body: str) -> Entry:
    data = body.encode("utf-8")
    return Entry(index, data, merkle.leaf_hash(data))

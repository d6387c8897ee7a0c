"""Auditing a ledger from outside: recompute the tree from the exported entries and check it
against every signed checkpoint, and optionally re-check every actor signature.

The auditor trusts only the log's verifier key: roots come from notes it verifies itself, leaf
hashes are recomputed from the entries, and the stored leaf hashes the hub exports are compared
with them, which names the first altered, removed, inserted or reordered entry.

With signatures, each entry that names an actor must carry that actor's signature: a signed
external claim, or the signed request that caused it. A request must be one that produces the
entry's type about its subjects (`bindings`), signed by the party the binding names, with a key
from a certificate of the pinned CA valid at the entry's time (`trust`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shugu.errors import ShuguError, VerificationError
from shugu.i18n import N_
from shugu.ledger import bindings, merkle
from shugu.ledger.bindings import Signer
from shugu.ledger.claim import verify_entry_claim
from shugu.ledger.evidence import MalformedEvidenceError, StoredRequest, read_evidence
from shugu.ledger.note import Checkpoint, Verifier, verify_note


class KeySource(Protocol):
    """Where an audit gets an actor's key (`trust.ActorKeys`)."""

    def key_at(self, actor: str, at: datetime, index: int) -> bytes:
        """The actor's certified key at `at`, or a `VerificationError` naming entry `index`."""
        ...


@dataclass(slots=True)
class AuditReport:
    """What an audit checked."""

    size: int = 0
    checkpoints: int = 0
    signatures_checked: int = 0
    unsigned: int = 0
    """Entries with no actor (the hub's own) or unsigned by design (`bootstrapped`)."""
    latest_root: str | None = None


def checkpoint_roots(notes: Iterable[str], verifier: Verifier) -> dict[int, bytes]:
    """Verify every checkpoint note with the log key; their roots by size.

    Raises:
        VerificationError: a note does not verify or is not a checkpoint of this log.
    """
    roots: dict[int, bytes] = {}
    for note in notes:
        try:
            checkpoint = Checkpoint.parse(verify_note(note, [verifier]).note.text)
        except ShuguError as exc:
            raise VerificationError(
                N_("a stored checkpoint does not verify with the log key: {reason}"),
                reason=str(exc),
            ) from exc
        if checkpoint.origin != verifier.name:
            raise VerificationError(
                N_("checkpoint of size {size} names origin {origin}"),
                size=checkpoint.size,
                origin=checkpoint.origin,
            )
        roots[checkpoint.size] = checkpoint.root
    return roots


class TreeAudit:
    """Feed exported lines in order; each checkpoint's root is checked when its size is reached."""

    def __init__(self, roots: dict[int, bytes]) -> None:
        self._roots = roots
        self._compact = merkle.CompactRange()
        self._last_good = 0
        self.report = AuditReport()

    def feed(self, lines: Iterable[str]) -> None:
        """Check a batch of ``index TAB leaf hash TAB entry`` lines."""
        for line in lines:
            self._feed_line(line)

    def _feed_line(self, line: str) -> None:
        index = self._compact.size
        parts = line.rstrip("\n").split("\t", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            raise _bad(index, N_("entry {index} is malformed in the export"))
        if int(parts[0]) != index:
            raise _bad(
                index,
                N_("entry {index} is missing; the next stored entry is {found}"),
                found=int(parts[0]),
            )
        leaf = merkle.leaf_hash(parts[2].encode("utf-8"))
        if parts[1] == "-":
            raise _bad(index, N_("entry {index} is not in the tree: no leaf hash is stored for it"))
        if _decode(parts[1]) != leaf:
            raise _bad(index, N_("entry {index} was altered: it does not match its leaf hash"))
        self._compact.append(leaf)
        root = self._roots.get(self._compact.size)
        if root is not None:
            if self._compact.root() != root:
                raise _bad(
                    self._last_good,
                    N_("entries from index {index} on do not match the checkpoint of size {size}"),
                    size=self._compact.size,
                )
            self._last_good = self._compact.size
            self.report.checkpoints += 1

    def finish(self) -> AuditReport:
        """Check nothing a checkpoint covers is missing; return the report."""
        missing = [size for size in self._roots if size > self._compact.size]
        if missing:
            raise _bad(
                self._compact.size,
                N_("entries from index {index} are missing; a checkpoint covers {size}"),
                size=max(missing),
            )
        if 0 in self._roots and self._roots[0] != merkle.EMPTY_ROOT:
            raise _bad(0, N_("the checkpoint of size 0 does not have the empty root"))
        self.report.size = self._compact.size
        self.report.latest_root = base64.b64encode(self._compact.root()).decode()
        return self.report


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _bad(index: int, message: str, **params: Any) -> VerificationError:
    return VerificationError(message, index=index, **params)


def actors_to_certify(lines: Iterable[str]) -> set[str]:
    """The actors whose certified keys `check_signatures` will ask for."""
    actors: set[str] = set()
    for line in lines:
        entry = json.loads(line.rstrip("\n").split("\t", 2)[2])
        binding = bindings.BINDINGS.get(str(entry.get("type")))
        signed_by_actor = "signature" in entry or (
            "evidence" in entry and binding is not None and binding.signer is Signer.ACTOR
        )
        if signed_by_actor and isinstance(entry.get("actor"), str):
            actors.add(entry["actor"])
    return actors


def check_signatures(lines: Iterable[str], keys: KeySource, report: AuditReport) -> None:
    """Check the actor signature of each entry, and that its signed request produces it.

    Raises:
        VerificationError: the first entry that fails, named.
    """
    for line in lines:
        index_text, _, body = line.rstrip("\n").split("\t", 2)
        _check_entry(int(index_text), json.loads(body), keys, report)


def _check_entry(index: int, entry: dict[str, Any], keys: KeySource, report: AuditReport) -> None:
    actor = entry.get("actor")
    if "signature" in entry and "evidence" not in entry and isinstance(actor, str):
        if not verify_entry_claim(entry, keys.key_at(actor, _time(index, entry), index)):
            raise _bad(index, N_("the actor signature of entry {index} does not verify"))
        report.signatures_checked += 1
        return
    if "evidence" not in entry and "signature" not in entry:
        if actor is None or entry.get("type") in bindings.UNSIGNED_BY_DESIGN:
            report.unsigned += 1
            return
        raise _bad(
            index, N_("entry {index} names the actor {actor} but no signature of it"), actor=actor
        )
    request = _request(index, entry.get("evidence"))
    binding = _bind(index, entry, request)
    if not request.verifies_with(_signer_key(index, entry, request, binding.signer, keys)):
        raise _bad(index, N_("the actor signature of entry {index} does not verify"))
    report.signatures_checked += 1
    if "application" in _payload(entry):
        _check_application(index, entry)
        report.signatures_checked += 1


def _request(index: int, evidence: Any) -> StoredRequest:
    try:
        return read_evidence(evidence)
    except MalformedEvidenceError as exc:
        raise _bad(
            index, N_("the evidence of entry {index} is malformed: {reason}"), reason=str(exc)
        ) from exc


def _bind(index: int, entry: dict[str, Any], request: StoredRequest) -> bindings.Binding:
    type_ = str(entry.get("type"))
    actor = entry.get("actor") if isinstance(entry.get("actor"), str) else None
    found = bindings.match(type_, request.method, request.path, request.query, actor)
    where = {"method": request.method, "path": request.path, "type": type_}
    if found is None and type_ not in bindings.BINDINGS:
        raise _bad(index, N_("entry {index}: no signed request produces a {type} event"), **where)
    if found is None:
        raise _bad(
            index,
            N_("entry {index}: the signed {method} {path} does not make a {type} event"),
            **where,
        )
    if found.subjects is not None and tuple(entry.get("subjects") or ()) != found.subjects:
        raise _bad(
            index,
            N_("entry {index}: the signed {method} {path} is not about its subjects"),
            **where,
        )
    return found.binding


def _signer_key(
    index: int, entry: dict[str, Any], request: StoredRequest, signer: Signer, keys: KeySource
) -> bytes:
    actor = entry.get("actor")
    if signer is Signer.ACTOR and isinstance(actor, str) and request.key_id == actor:
        return keys.key_at(actor, _time(index, entry), index)
    if signer is Signer.APPLICANT:
        key = request.self_key()
        if key is not None and _registers(entry, key):
            return key
    if signer is Signer.HUB:
        raise _bad(
            index,
            N_(
                "entry {index} is signed by the hub's PEP client key, which this audit cannot check"
            ),
        )
    raise _bad(
        index,
        N_("entry {index} is signed by {signer}, not by its actor {actor}"),
        signer=request.key_id,
        actor=actor,
    )


def _registers(entry: dict[str, Any], key: bytes) -> bool:
    """Whether `key` is the key the entry says the participant registered."""
    return _payload(entry).get("public_key_sha256") == hashlib.sha256(key).hexdigest()


def _check_application(index: int, entry: dict[str, Any]) -> None:
    """A decision may carry the applicant's signed application: signed by the key it registers."""
    application = _payload(entry)["application"]
    evidence = (
        application.get("evidence", application) if isinstance(application, Mapping) else None
    )
    request = _request(index, evidence)
    wanted = bindings.APPLICATION  # a path without parameters: compared as it is
    bound = request.method.upper() == wanted.method and request.path == wanted.path
    key = request.self_key()
    claimed = application.get("public_key") if isinstance(application, Mapping) else None
    if (
        not bound
        or key is None
        or not _registers(entry, key)
        or (claimed is not None and claimed != base64.b64encode(key).decode())
        or not request.verifies_with(key)
    ):
        raise _bad(
            index, N_("entry {index}: its application is not signed by the key it registers")
        )


def _payload(entry: dict[str, Any]) -> dict[str, Any]:
    payload = entry.get("payload")
    return payload if isinstance(payload, dict) else {}


def _time(index: int, entry: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(entry["time"]))
    except (KeyError, ValueError) as exc:
        raise _bad(index, N_("entry {index} has no valid time")) from exc

"""Auditing a ledger from outside: recompute the tree from the exported entries and check it
against every signed checkpoint, and optionally re-check every actor signature.

The auditor trusts only the log's verifier key: roots come from notes it verifies itself, leaf
hashes are recomputed from the entries, and the stored leaf hashes the hub exports are compared
with them, which names the first altered, removed, inserted or reordered entry.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shugu.errors import AuthenticationError, ShuguError, VerificationError
from shugu.i18n import N_
from shugu.ledger import merkle
from shugu.ledger.claim import verify_entry_claim
from shugu.ledger.note import Checkpoint, Verifier, verify_note
from shugu.signing import httpsig

KeyLookup = Callable[[str], bytes | None]


@dataclass(slots=True)
class AuditReport:
    """What an audit checked."""

    size: int = 0
    checkpoints: int = 0
    signatures_checked: int = 0
    signatures_unavailable: int = 0
    latest_root: str | None = None
    unavailable: list[int] = field(default_factory=list)


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


def check_signatures(lines: Iterable[str], keys: KeyLookup, report: AuditReport) -> None:
    """Re-verify the actor signature carried by each entry (HTTP request or signed claim).

    Raises:
        VerificationError: a signature does not verify with its actor's key.
    """
    for line in lines:
        index_text, _, body = line.rstrip("\n").split("\t", 2)
        entry = json.loads(body)
        actor = entry.get("actor")
        if actor is None or ("evidence" not in entry and "signature" not in entry):
            continue
        key = keys(str(actor))
        if key is None:
            report.signatures_unavailable += 1
            report.unavailable.append(int(index_text))
            continue
        if not _entry_signature_ok(entry, key):
            raise _bad(int(index_text), N_("the actor signature of entry {index} does not verify"))
        report.signatures_checked += 1


def _entry_signature_ok(entry: dict[str, Any], key: bytes) -> bool:
    if "signature" in entry:
        return verify_entry_claim(entry, key)
    try:
        httpsig.verify_evidence(entry["evidence"], Ed25519PublicKey.from_public_bytes(key))
    except (AuthenticationError, KeyError, ValueError, TypeError):
        return False
    return True

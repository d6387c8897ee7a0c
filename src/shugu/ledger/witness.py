"""A witness: keeps the last checkpoint it verified, checks each new one is consistent with it,
cosigns it (C2SP tlog-cosignature v1), and reports a hub that shows a forked or rewritten history.

Any participant or auditor can run one (`shugu ledger witness`). The state lives in a JSON file
in the witness's home; on a fork, the two conflicting checkpoints and the failed proof are kept as
evidence next to it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from shugu.errors import ShuguError, VerificationError
from shugu.i18n import N_
from shugu.ledger import merkle
from shugu.ledger.note import Checkpoint, Signer, Verifier, verify_note


class CheckpointSource(Protocol):
    """Where a witness reads a log's checkpoints and proofs and sends its cosignatures (the hub's
    API through `shugu.client.HubClient`, in practice; the ledger knows no HTTP client)."""

    async def ledger_key(self) -> dict[str, Any]:
        """The log's origin and verifier key (``{"verifier_key": ...}``)."""
        ...

    async def ledger_checkpoint(self) -> str:
        """The newest signed checkpoint note."""
        ...

    async def ledger_consistency(self, old: int, new: int | None = None) -> dict[str, Any]:
        """A consistency proof between two sizes."""
        ...

    async def ledger_cosign(self, size: int, line: str) -> dict[str, Any]:
        """Hand in a cosignature line for the checkpoint of `size`."""
        ...


@dataclass(frozen=True, slots=True)
class WitnessState:
    """The last checkpoint this witness verified for one log."""

    log_key: str
    size: int
    root: str
    note: str


@dataclass(frozen=True, slots=True)
class WitnessResult:
    """The outcome of one round."""

    size: int
    previous_size: int | None
    cosigned: bool


class ForkDetectedError(VerificationError):
    """The hub showed a checkpoint inconsistent with one this witness verified before."""

    code = "fork_detected"


class Witness:
    """One witness of one log."""

    def __init__(
        self,
        client: CheckpointSource,
        signer: Signer,
        state_file: Path,
        log_key: Verifier | None = None,
    ) -> None:
        self._client = client
        self._signer = signer
        self._state_file = state_file
        self._log_key = log_key

    def load(self) -> WitnessState | None:
        """The saved state, if this witness has run before."""
        if not self._state_file.exists():
            return None
        return WitnessState(**json.loads(self._state_file.read_text(encoding="utf-8")))

    def _save(self, state: WitnessState) -> None:
        self._state_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self._state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
        temporary.replace(self._state_file)

    async def _key(self, state: WitnessState | None) -> Verifier:
        if state is not None:
            saved = Verifier.parse(state.log_key)
            if self._log_key is not None and self._log_key != saved:
                raise VerificationError(
                    N_("the log key given ({given}) is not the one this witness trusts ({saved})"),
                    given=self._log_key.encode(),
                    saved=saved.encode(),
                )
            return saved
        if self._log_key is not None:
            return self._log_key
        return Verifier.parse((await self._client.ledger_key())["verifier_key"])

    async def run_once(self, now: datetime) -> WitnessResult:
        """Fetch, verify, check consistency, cosign, save.

        Raises:
            ForkDetectedError: the new checkpoint contradicts the last verified one.
            VerificationError: the checkpoint is not signed by the log key.
        """
        state = self.load()
        key = await self._key(state)
        note = await self._client.ledger_checkpoint()
        try:
            checkpoint = Checkpoint.parse(verify_note(note, [key]).note.text)
        except ShuguError as exc:
            raise VerificationError(
                N_("the hub's checkpoint does not verify with the log key: {reason}"),
                reason=str(exc),
            ) from exc
        if state is not None:
            await self._check_consistent(state, checkpoint, note, now)
        text = checkpoint.text()
        line = self._signer.signature_line(text, timestamp=int(now.timestamp()))
        await self._client.ledger_cosign(checkpoint.size, line)
        root = base64.b64encode(checkpoint.root).decode()
        self._save(WitnessState(key.encode(), checkpoint.size, root, note))
        return WitnessResult(checkpoint.size, state.size if state else None, True)

    async def _check_consistent(
        self, state: WitnessState, checkpoint: Checkpoint, note: str, now: datetime
    ) -> None:
        old_root = base64.b64decode(state.root)
        if checkpoint.size < state.size:
            self._fork(state, note, now, "rollback", None)
        if checkpoint.size == state.size:
            if checkpoint.root != old_root:
                self._fork(state, note, now, "same size, different root", None)
            return
        if state.size == 0:
            return  # every tree extends the empty one
        proof = await self._client.ledger_consistency(state.size, checkpoint.size)
        hashes = [base64.b64decode(h) for h in proof["proof"]]
        try:
            merkle.verify_consistency(
                state.size, checkpoint.size, old_root, checkpoint.root, hashes
            )
        except ShuguError:
            self._fork(state, note, now, "consistency proof fails", proof)

    def _fork(
        self, state: WitnessState, note: str, now: datetime, kind: str, proof: dict[str, Any] | None
    ) -> None:
        evidence = self._state_file.with_name(f"fork-evidence-{now:%Y%m%dT%H%M%S}.json")
        record = {"kind": kind, "verified": state.note, "presented": note, "proof": proof}
        evidence.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        raise ForkDetectedError(
            N_(
                "the hub presented a history inconsistent with the checkpoint of size {size} "
                "this witness verified ({kind}); evidence saved to {path}"
            ),
            size=state.size,
            kind=kind,
            path=str(evidence),
        )

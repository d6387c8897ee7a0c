"""What the transcryption chain needs of each transcryptor, wherever it runs.

A `TranscryptorPort` is one step of the chain: the dealer-free set-up (`blind`), its rsk of a
batch (`transcrypt`), and its share of a session key (`session_key_share`). `LocalTranscryptor`
runs one in this process; `shugu.pep.remote.RemoteTranscryptor` asks a stand-alone transcryptor
server (`shugu pep transcryptor up`) over signed HTTP. The hub's service chains them in order.

Large batches use threads: libsodium's scalar multiplication runs with the GIL released (ctypes
releases it around every foreign call), so a batch split into one chunk per worker thread is
transcrypted on as many cores, with no copy of the factors or the data to another process
(BENCHMARKS.md, "PEP"). The chunks are joined in order and the whole batch is shuffled once.

The public key of a session, y(c)·G, follows the chain too: each transcryptor multiplies the
point it is given by its own kᵢ(c), from X = x·G to k(c)·X = y(c)·G. That is the same
multiplication a transcription applies to a batch's public key, so it reveals nothing new; the
job checks the key it combines from the shares against it.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.pep.batch import EncryptedBatch
from shugu.pep.distributed import SessionKeyShare, Transcryptor
from shugu.pep.group import GroupElement
from shugu.pep.parallel import transcrypt_parallel
from shugu.pep.sharing import SealedShare, seal_share

__all__ = ["LocalTranscryptor", "ShareAnswer", "TranscryptorPort"]


@dataclass(frozen=True, slots=True)
class ShareAnswer:
    """A transcryptor's share (sealed to the job's key, or in clear for an in-process job) and
    the session public key's next link kᵢ(c)·P."""

    share: SessionKeyShare | SealedShare
    public_key: GroupElement


class TranscryptorPort(Protocol):
    """One transcryptor of a chain, in this process or behind its own server."""

    @property
    def name(self) -> str:
        """Its name in the system and on the batches' routes."""
        ...

    def blind(self, point: GroupElement) -> GroupElement:
        """Its step of the dealer-free set-up: P ↦ bᵢ·P (once per system)."""
        ...

    def transcrypt(
        self,
        batch: EncryptedBatch,
        *,
        domain_from: str | None,
        domain_to: str,
        session_to: str,
        shuffle: bool,
        job: str,
        on_behalf_of: str,
    ) -> EncryptedBatch:
        """Its rsk of `batch` from the global session into `session_to`, its name on the route."""
        ...

    def session_key_share(
        self,
        context: str,
        public_key: GroupElement,
        recipient: bytes | None,
        *,
        job: str,
        on_behalf_of: str,
    ) -> ShareAnswer:
        """Its share kᵢ(c)·bᵢ (sealed to `recipient` if given) and kᵢ(c)·`public_key`."""
        ...

    def close(self) -> None:
        """Release connections (nothing for a local one)."""
        ...


class LocalTranscryptor:
    """A transcryptor in this process; batches of `parallel_min` or more are split over `pool`.

    Args:
        transcryptor: its secrets.
        pool: worker threads shared by the process's transcryptors (None: one thread).
        workers: how many threads `pool` has.
        parallel_min: the smallest batch worth splitting.
    """

    __slots__ = ("_parallel_min", "_pool", "_transcryptor", "_workers")

    def __init__(
        self,
        transcryptor: Transcryptor,
        pool: Executor | None = None,
        *,
        workers: int = 1,
        parallel_min: int = 2_000,
    ) -> None:
        if workers < 1 or parallel_min < 1:
            raise InvalidInputError(N_("workers and parallel_min must be at least 1"))
        self._transcryptor = transcryptor
        self._pool = pool
        self._workers = workers
        self._parallel_min = parallel_min

    def __repr__(self) -> str:
        return f"LocalTranscryptor({self.name!r}, workers={self._workers})"

    @property
    def name(self) -> str:
        """Its name."""
        return self._transcryptor.name

    @property
    def transcryptor(self) -> Transcryptor:
        """The transcryptor and its secrets (for the process that owns them)."""
        return self._transcryptor

    def blind(self, point: GroupElement) -> GroupElement:
        """bᵢ·P."""
        return self._transcryptor.blind(point)

    def transcrypt(
        self,
        batch: EncryptedBatch,
        *,
        domain_from: str | None,
        domain_to: str,
        session_to: str,
        shuffle: bool,
        job: str = "",
        on_behalf_of: str = "",
    ) -> EncryptedBatch:
        """Its rsk of `batch`, on the worker threads when the batch is large enough."""
        moves = {
            "domain_from": domain_from,
            "domain_to": domain_to,
            "session_from": None,
            "session_to": session_to,
        }
        if self._pool is None or self._workers < 2 or len(batch) < self._parallel_min:
            return self._transcryptor.transcrypt(batch, shuffle=shuffle, **moves)
        chunk = math.ceil(len(batch) / self._workers)
        return transcrypt_parallel(
            batch, self._transcryptor, self._pool, shuffle=shuffle, chunk=chunk, **moves
        )

    def session_key_share(
        self,
        context: str,
        public_key: GroupElement,
        recipient: bytes | None,
        *,
        job: str = "",
        on_behalf_of: str = "",
    ) -> ShareAnswer:
        """Its share (sealed when `recipient` is given) and kᵢ(c)·`public_key`."""
        share = self._transcryptor.session_key_share(context)
        sealed = share if recipient is None else seal_share(share, recipient)
        return ShareAnswer(sealed, self._transcryptor.rekey_factor(context) * public_key)

    def close(self) -> None:
        """Nothing to release."""

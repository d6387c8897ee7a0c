"""Transcription of large batches across processes.

A transcryption step is one rsk per ciphertext with the same two factors, so a batch splits into
chunks that worker processes transcrypt independently (in order, unshuffled); the parent joins
them and shuffles the whole batch once at the end, so the output order reveals nothing about
which chunk a ciphertext came from. Workers receive the step's two factors, never the
transcryptor's secrets. libsodium does the arithmetic, so the work scales with the processes
(near-linearly up to the machine's cores: BENCHMARKS.md).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor

from shugu.errors import InvalidInputError, UnavailableError
from shugu.i18n import N_
from shugu.pep.batch import CT, EncryptedBatch, rsk_batch, shuffle_batch
from shugu.pep.distributed import Transcryptor
from shugu.pep.factors import PseudonymizationInfo
from shugu.pep.group import GroupElement, Scalar

__all__ = [
    "DEFAULT_CHUNK",
    "transcrypt_on_ray",
    "transcrypt_parallel",
    "transcryption_pool",
    "usable_cpus",
]

DEFAULT_CHUNK = 20_000
"""Ciphertexts per task: ~2 s of work per core, small next to a million."""


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def transcryption_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A pool of `workers` processes (default: the CPUs this process may use), started with
    ``spawn`` so that no thread or lock of the parent is inherited."""
    count = workers or usable_cpus()
    return ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"))


def _rsk_chunk(data: bytes, public_key: bytes, s: bytes, k: bytes) -> bytes:
    batch = EncryptedBatch(data, GroupElement.from_bytes(public_key))
    return rsk_batch(batch, Scalar.from_bytes(s), Scalar.from_bytes(k), shuffle=False).ciphertexts


def transcrypt_parallel(
    batch: EncryptedBatch,
    transcryptor: Transcryptor,
    pool: Executor,
    *,
    domain_from: str | None,
    domain_to: str | None,
    session_from: str | None,
    session_to: str | None,
    shuffle: bool = True,
    chunk: int = DEFAULT_CHUNK,
) -> EncryptedBatch:
    """`transcryptor.transcrypt(batch, ...)`, with the rsk work spread over `pool`'s workers.

    The result equals the single-process one up to order (and is the same ciphertexts in the
    same order with ``shuffle=False``).

    Raises:
        InvalidInputError: the transcryptor already acted on this batch, a bad chunk size, or an
            invalid ciphertext (named by its position in its chunk's first failure).
    """
    parts, key, s, k, info = _plan(
        batch,
        transcryptor,
        chunk,
        domain_from=domain_from,
        domain_to=domain_to,
        session_from=session_from,
        session_to=session_to,
    )
    futures = [pool.submit(_rsk_chunk, part, key, s, k) for part in parts]
    joined = b"".join(future.result() for future in futures)
    return _finish(batch, transcryptor, info, joined, shuffle=shuffle)


def transcrypt_on_ray(
    batch: EncryptedBatch,
    transcryptor: Transcryptor,
    *,
    domain_from: str | None,
    domain_to: str | None,
    session_from: str | None,
    session_to: str | None,
    shuffle: bool = True,
    chunk: int = DEFAULT_CHUNK,
) -> EncryptedBatch:
    """`transcrypt_parallel` with Ray tasks instead of a process pool (the ``ray`` extra).

    Uses the Ray instance this process is connected to (`ray.init()` first; a cluster with
    ``RAY_ADDRESS``). Workers get the chunks and the step's two factors only.

    Raises:
        UnavailableError: Ray is not installed or not initialised.
    """
    try:
        import ray
    except ImportError as exc:
        raise UnavailableError(
            N_("Ray is not installed (install shugu with the ray extra)")
        ) from exc
    if not ray.is_initialized():
        raise UnavailableError(N_("Ray is not running in this process; call ray.init() first"))
    parts, key, s, k, info = _plan(
        batch,
        transcryptor,
        chunk,
        domain_from=domain_from,
        domain_to=domain_to,
        session_from=session_from,
        session_to=session_to,
    )
    task = ray.remote(_rsk_chunk)
    joined = b"".join(ray.get([task.remote(part, key, s, k) for part in parts]))
    return _finish(batch, transcryptor, info, joined, shuffle=shuffle)


def _plan(
    batch: EncryptedBatch,
    transcryptor: Transcryptor,
    chunk: int,
    *,
    domain_from: str | None,
    domain_to: str | None,
    session_from: str | None,
    session_to: str | None,
) -> tuple[list[bytes], bytes, bytes, bytes, PseudonymizationInfo]:
    """The chunks and the step's factors (checks as `Transcryptor.transcrypt` does)."""
    if transcryptor.name in batch.route:
        raise InvalidInputError(
            N_("transcryptor {transcryptor} has already transcrypted this batch"),
            transcryptor=transcryptor.name,
        )
    if chunk < 1:
        raise InvalidInputError(N_("the chunk size must be at least 1, not {chunk}"), chunk=chunk)
    info = transcryptor.pseudonymization_info(
        domain_from=domain_from,
        domain_to=domain_to,
        session_from=session_from,
        session_to=session_to,
    )
    data, step = batch.ciphertexts, chunk * CT
    parts = [data[i : i + step] for i in range(0, len(data), step)]
    return parts, batch.public_key.to_bytes(), info.s.to_bytes(), info.k.to_bytes(), info


def _finish(
    batch: EncryptedBatch,
    transcryptor: Transcryptor,
    info: PseudonymizationInfo,
    joined: bytes,
    *,
    shuffle: bool,
) -> EncryptedBatch:
    out = EncryptedBatch(joined, info.k * batch.public_key, (*batch.route, transcryptor.name))
    return shuffle_batch(out) if shuffle else out

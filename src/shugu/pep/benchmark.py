"""The figures of `shugu pep bench`: shugu's transcryption, encryption and decryption next to the
bare libsodium rsk loop, measured in the same run (the method of ``bench/pep.py``, condensed).

Rates are items per CPU-second of this process (`time.process_time`), so that other work on a
shared core does not count against either side. Each repetition runs every loop once, one after
the other; a figure is the median over repetitions, the ratio the median of the per-repetition
ratios of transcryption to the bare rsk loop (two libsodium scalar multiplications per item, no
objects, the floor of the scheme).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import rbcl

from shugu.errors import ShuguError
from shugu.i18n import N_
from shugu.pep.batch import EncryptedBatch, decrypt_batch, encrypt_batch
from shugu.pep.distributed import Transcryptor, setup_distributed
from shugu.pep.group import G, GroupElement, Scalar

__all__ = ["Workload", "measure", "summarise"]


@dataclass(frozen=True, slots=True)
class Workload:
    """Everything the loops work on, prepared once."""

    n: int
    hub: Transcryptor
    secret: Scalar
    messages: bytes
    batch: EncryptedBatch
    halves: tuple[tuple[bytes, bytes], ...]

    @classmethod
    def make(cls, n: int) -> Workload:
        """`n` random messages encrypted under a one-transcryptor system's session key."""
        hub = Transcryptor.generate("hub")
        system = setup_distributed([hub])
        secret = system.session_keys("run-1", [hub.session_key_share("run-1")]).secret
        messages = b"".join(GroupElement.random().to_bytes() for _ in range(n))
        batch = encrypt_batch(messages, secret * G)
        data = batch.ciphertexts
        halves = tuple((data[i : i + 32], data[i + 32 : i + 64]) for i in range(0, len(data), 64))
        return cls(n, hub, secret, messages, batch, halves)


def _bare_rsk(w: Workload) -> None:
    s, k = Scalar.random(), Scalar.random()
    ski, sb = (s * k.invert()).to_bytes(), s.to_bytes()
    mult = rbcl.crypto_scalarmult_ristretto255
    out = [mult(ski, b) + mult(sb, c) for b, c in w.halves]
    _expect("bare rsk", len(out), w.n)


def _transcrypt(w: Workload) -> None:
    out = w.hub.transcrypt(
        w.batch, domain_from="holder-A", domain_to="job-1", session_from=None, session_to="run-1"
    )
    _expect("transcrypt", len(out), w.n)


def _encrypt(w: Workload) -> None:
    _expect("encrypt", len(encrypt_batch(w.messages, w.batch.public_key)), w.n)


def _decrypt(w: Workload) -> None:
    _expect("decrypt", len(decrypt_batch(w.batch, w.secret)), 32 * w.n)


def _expect(loop: str, got: int, want: int) -> None:
    """Refuse a loop that produced the wrong amount of output: its rate would mean nothing."""
    if got != want:
        raise ShuguError(
            N_("benchmark loop {loop} produced {got} items instead of {want}"),
            loop=loop,
            got=got,
            want=want,
        )


LOOPS: dict[str, Callable[[Workload], None]] = {
    "bare rsk": _bare_rsk,
    "transcrypt": _transcrypt,
    "encrypt": _encrypt,
    "decrypt": _decrypt,
}


def measure(n: int = 4_000, reps: int = 5) -> dict[str, list[float]]:
    """Items per CPU-second of every loop, interleaved, `reps` times."""
    workload = Workload.make(n)
    rates: dict[str, list[float]] = {name: [] for name in LOOPS}
    for _ in range(reps):
        for name, loop in LOOPS.items():
            start = time.process_time()
            loop(workload)
            rates[name].append(n / max(time.process_time() - start, 1e-9))
    return rates


def summarise(rates: dict[str, list[float]]) -> dict[str, float]:
    """The figures `shugu pep bench --json` prints (issue 6)."""
    med = {name: statistics.median(values) for name, values in rates.items()}
    ratios = [a / b for a, b in zip(rates["transcrypt"], rates["bare rsk"], strict=True)]
    return {
        "transcryptions_per_s": round(med["transcrypt"], 1),
        "encryptions_per_s": round(med["encrypt"], 1),
        "decryptions_per_s": round(med["decrypt"], 1),
        "libsodium_rsk_per_s": round(med["bare rsk"], 1),
        "ratio": round(statistics.median(ratios), 3),
    }

"""The PEP benchmark: transcryption, encryption and decryption through shugu's API, each next to
the bare libsodium loop doing the same arithmetic in the same run.

    uv run --frozen python -m bench.pep             # ~1 min: 5 repetitions of 4,000 ciphertexts
    uv run --frozen python -m bench.pep --json      # the same, the summary printed as JSON
    uv run --frozen python -m bench.pep --quick     # ~15 s: 3 repetitions of 1,500

One core: the process pins itself to one CPU before anything else runs, and rates are items per
CPU-second of this process (`time.process_time`), so that other work sharing the core (a 2-core
machine is rarely idle) does not count against either side; wall-clock rates are recorded too.
Each repetition runs every loop once, one after the other, so a change in conditions during the
run hits the baselines and shugu alike; a figure is the median over repetitions, a ratio the
median of the per-repetition ratios. The bare loops call rbcl's libsodium wrappers on bytes
already split into 32-byte halves, keeping no objects; a second rsk floor calls the shared
library through ctypes directly, as shugu's own loops do. Prints a Markdown table (progress on
stderr) and writes ``bench/results/pep-<date>.json``.

When it can be installed, native libpep (libpep-py 0.13.0, in a throw-away Python 3.9 venv) runs
beside shugu in every repetition on the same core, and an interoperability check ends the
one-core part (`bench/libpep_compare.py`; ``--no-libpep`` skips it, a missing Python 3.9 or
network skips it with a message).
"""

from __future__ import annotations

import os

if hasattr(os, "sched_setaffinity"):
    ALL_CPUS = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
else:
    ALL_CPUS = []

import argparse
import ctypes
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import rbcl

from bench.libpep_compare import VENV, LibpepWorker, interop_check, start_worker
from shugu.pep import (
    ElGamal,
    G,
    GroupElement,
    Scalar,
    Transcryptor,
    _sodium,
    decrypt,
    decrypt_batch,
    encrypt,
    encrypt_batch,
    rsk,
    rsk_batch,
    setup_distributed,
)

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 0.9
MOVE = {
    "domain_from": "holder-A",
    "domain_to": "job-1",
    "session_from": None,
    "session_to": "run-1",
}


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclass
class Workload:
    """Everything the loops work on, prepared once."""

    n: int
    hub: Transcryptor
    y: Scalar
    s: Scalar
    k: Scalar
    messages: list[bytes]
    halves: list[tuple[bytes, bytes]]
    objects: list[ElGamal]
    batch: Any

    @classmethod
    def make(cls, n: int) -> Workload:
        hub = Transcryptor.generate("hub")
        system = setup_distributed([hub])
        y = system.session_keys("run-1", [hub.session_key_share("run-1")]).secret
        messages = [GroupElement.random() for _ in range(n)]
        batch = encrypt_batch(messages, y * G)
        data = batch.ciphertexts
        halves = [(data[i : i + 32], data[i + 32 : i + 64]) for i in range(0, len(data), 64)]
        objects = [ElGamal(GroupElement(b), GroupElement(c)) for b, c in halves]
        return cls(
            n,
            hub,
            y,
            Scalar.random(),
            Scalar.random(),
            [m.to_bytes() for m in messages],
            halves,
            objects,
            batch,
        )


# -- bare libsodium loops -------------------------------------------------------------------------


def bare_scalarmult(w: Workload) -> None:
    s, mult = w.s.to_bytes(), rbcl.crypto_scalarmult_ristretto255
    for b, _ in w.halves:
        mult(s, b)


def bare_rsk(w: Workload) -> None:
    ski, s = (w.s * w.k.invert()).to_bytes(), w.s.to_bytes()
    mult = rbcl.crypto_scalarmult_ristretto255
    out = [mult(ski, b) + mult(s, c) for b, c in w.halves]
    assert len(out) == w.n


def bare_rsk_ctypes(w: Workload) -> None:
    ski, s = (w.s * w.k.invert()).to_bytes(), w.s.to_bytes()
    mult, buf = _sodium.scalarmult, ctypes.create_string_buffer(64)
    lower, upper = buf, ctypes.byref(buf, 32)
    out = []
    for b, c in w.halves:
        mult(lower, ski, b)
        mult(upper, s, c)
        out.append(buf.raw)
    assert len(out) == w.n


def bare_encrypt(w: Workload) -> None:
    y = (w.y * G).to_bytes()
    rand, base = (
        rbcl.crypto_core_ristretto255_scalar_random,
        rbcl.crypto_scalarmult_ristretto255_base,
    )
    mult, add = rbcl.crypto_scalarmult_ristretto255, rbcl.crypto_core_ristretto255_add
    out = []
    for m in w.messages:
        r = rand()
        out.append(base(r) + add(m, mult(r, y)))
    assert len(out) == w.n


def bare_decrypt(w: Workload) -> None:
    y = w.y.to_bytes()
    mult, sub = rbcl.crypto_scalarmult_ristretto255, rbcl.crypto_core_ristretto255_sub
    out = [sub(c, mult(y, b)) for b, c in w.halves]
    assert len(out) == w.n


# -- shugu's API ----------------------------------------------------------------------------------


def shugu_transcrypt(w: Workload) -> None:
    assert len(w.hub.transcrypt(w.batch, **MOVE)) == w.n


def shugu_rsk_batch(w: Workload) -> None:
    assert len(rsk_batch(w.batch, w.s, w.k)) == w.n


def shugu_rsk_objects(w: Workload) -> None:
    s, k = w.s, w.k
    assert len([rsk(ct, s, k) for ct in w.objects]) == w.n


def shugu_encrypt_batch(w: Workload) -> None:
    assert len(encrypt_batch(w.messages, w.batch.public_key)) == w.n


def shugu_encrypt_objects(w: Workload) -> None:
    y = w.batch.public_key
    assert len([encrypt(GroupElement(m), y) for m in w.messages]) == w.n


def shugu_decrypt_batch(w: Workload) -> None:
    assert len(decrypt_batch(w.batch, w.y)) == 32 * w.n


def shugu_decrypt_objects(w: Workload) -> None:
    y = w.y
    assert len([decrypt(ct, y) for ct in w.objects]) == w.n


LOOPS: dict[str, Callable[[Workload], None]] = {
    "bare scalarmult": bare_scalarmult,
    "bare rsk": bare_rsk,
    "bare rsk (ctypes)": bare_rsk_ctypes,
    "bare encrypt": bare_encrypt,
    "bare decrypt": bare_decrypt,
    "transcrypt": shugu_transcrypt,
    "rsk_batch": shugu_rsk_batch,
    "rsk objects": shugu_rsk_objects,
    "encrypt_batch": shugu_encrypt_batch,
    "encrypt objects": shugu_encrypt_objects,
    "decrypt_batch": shugu_decrypt_batch,
    "decrypt objects": shugu_decrypt_objects,
}

ROWS: list[tuple[str, str, str, float | None]] = [
    # (label, shugu loop, baseline loop, target ratio)
    ("Transcryption: `Transcryptor.transcrypt`", "transcrypt", "bare rsk", TARGET_RATIO),
    ("Transcryption against the raw-ctypes rsk floor", "transcrypt", "bare rsk (ctypes)", None),
    ("`rsk_batch` (packed bytes, shuffled)", "rsk_batch", "bare rsk", None),
    ("`rsk` on single `ElGamal` objects", "rsk objects", "bare rsk", None),
    ("Encryption: `encrypt_batch`", "encrypt_batch", "bare encrypt", TARGET_RATIO),
    ("`encrypt` on single objects", "encrypt objects", "bare encrypt", None),
    ("Decryption: `decrypt_batch` (key checked)", "decrypt_batch", "bare decrypt", None),
    ("`decrypt` on single objects", "decrypt objects", "bare decrypt", None),
]


def measure(
    w: Workload, reps: int, libpep: LibpepWorker | None = None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Items per CPU-second and per wall-second of every loop, interleaved, `reps` times; with
    a libpep worker, its loops run in each repetition too (its own CPU time, the same core)."""
    cpu: dict[str, list[float]] = {name: [] for name in LOOPS}
    wall: dict[str, list[float]] = {name: [] for name in LOOPS}
    for rep in range(reps):
        for name, loop in LOOPS.items():
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            loop(w)
            cpu[name].append(w.n / (time.process_time() - start_cpu))
            wall[name].append(w.n / (time.perf_counter() - start_wall))
        if libpep is not None:
            theirs = libpep.ask({"op": "rates"})
            for name, value in theirs["cpu"].items():
                cpu.setdefault(name, []).append(value)
                wall.setdefault(name, []).append(theirs["wall"][name])
        say(
            f"repetition {rep + 1}/{reps}: transcrypt {cpu['transcrypt'][-1]:,.0f}/s, "
            f"bare rsk {cpu['bare rsk'][-1]:,.0f}/s (CPU time)"
        )
    return cpu, wall


def ratio(rates: dict[str, list[float]], ours: str, base: str) -> float:
    return statistics.median(a / b for a, b in zip(rates[ours], rates[base], strict=True))


def table(rates: dict[str, list[float]]) -> str:
    med = {name: statistics.median(values) for name, values in rates.items()}
    lines = [
        "| Measure (one core) | shugu | Bare libsodium loop (same run) | Ratio | Target |",
        "|---|---|---|---|---|",
        f"| Scalar multiplications (`crypto_scalarmult_ristretto255`) | | "
        f"{med['bare scalarmult']:,.0f}/s | | |",
    ]
    for label, ours, base, target in ROWS:
        r = ratio(rates, ours, base)
        goal = "" if target is None else f"≥ {target}× ({'met' if r >= target else '**not met**'})"
        lines.append(
            f"| {label} | {med[ours]:,.0f}/s | {base}: {med[base]:,.0f}/s | {r:.2f}× | {goal} |"
        )
    return "\n".join(lines)


LIBPEP_ROWS: list[tuple[str, str, str]] = [
    # (label, shugu loop, libpep loop)
    ("Encryption, batch", "encrypt_batch", "libpep encrypt_batch"),
    ("Encryption, one at a time", "encrypt objects", "libpep encrypt"),
    (
        "Pseudonymisation (rsk + shuffle: `transcrypt`, `pseudonymize_batch`)",
        "transcrypt",
        "libpep pseudonymize_batch",
    ),
    (
        "Pseudonymisation, one at a time (`rsk`, `pseudonymize`)",
        "rsk objects",
        "libpep pseudonymize",
    ),
    ("Decryption, batch", "decrypt_batch", "libpep decrypt_batch"),
    ("Decryption, one at a time", "decrypt objects", "libpep decrypt"),
]


def libpep_table(rates: dict[str, list[float]]) -> str:
    """shugu beside native libpep (libpep-py 0.13.0), per CPU-second on the same core."""
    med = {name: statistics.median(values) for name, values in rates.items()}
    lines = [
        "| Measure (one core) | shugu | libpep-py 0.13.0, native, same run | shugu / libpep |",
        "|---|---|---|---|",
    ]
    for label, ours, theirs in LIBPEP_ROWS:
        lines.append(
            f"| {label} | {med[ours]:,.0f}/s | {med[theirs]:,.0f}/s | "
            f"{ratio(rates, ours, theirs):.2f}× |"
        )
    return "\n".join(lines)


def interop_lines(result: dict[str, Any]) -> str:
    """The interoperability check as Markdown lines."""
    head = (
        f"Interoperability, {result['ciphertexts']} ciphertexts, pseudonymised from "
        f"({result['move']['domain_from']}, {result['move']['session_from']}) to "
        f"({result['move']['domain_to']}, {result['move']['session_to']}), the same secrets fed "
        f"to both: {'all equal' if result['all_equal'] else '**DIFFERENT**'}"
    )
    checks = [
        f"- {'equal' if ok else '**different**'}: {name}" for name, ok in result["checks"].items()
    ]
    return "\n".join([head, "", *checks])


def summary(rates: dict[str, list[float]]) -> dict[str, float]:
    """The figures `shugu pep bench --json` reports (issue 6)."""
    med = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "transcryptions_per_s": round(med["transcrypt"], 1),
        "encryptions_per_s": round(med["encrypt_batch"], 1),
        "decryptions_per_s": round(med["decrypt_batch"], 1),
        "libsodium_rsk_per_s": round(med["bare rsk"], 1),
        "ratio": round(ratio(rates, "transcrypt", "bare rsk"), 3),
    }


def environment(load: tuple[float, float, float]) -> dict[str, Any]:
    _sodium.LIB.sodium_version_string.restype = ctypes.c_char_p
    return {
        "python": platform.python_version(),
        "rbcl": version("rbcl"),
        "libsodium": _sodium.LIB.sodium_version_string().decode(),
        "machine": platform.machine(),
        "cpu_affinity": sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "load_average_before": list(load),
        "load_average_after": list(os.getloadavg()),
    }


def _use_cpus(cpus: list[int]) -> None:
    """Worker initialiser: undo the benchmark's one-core pin (which importing this module in
    the worker applied again)."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(cpus))


def measure_scaling(size: int) -> dict[str, Any]:
    """Wall-clock transcription of `size` ciphertexts: one process, then one per CPU."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    from shugu.pep.batch import encrypt_batch
    from shugu.pep.distributed import Transcryptor
    from shugu.pep.group import GroupElement
    from shugu.pep.keys import make_global_keys
    from shugu.pep.parallel import transcrypt_parallel

    say(f"scaling: encrypting {size:,} identifiers")
    keys = make_global_keys()
    base = [GroupElement.random() for _ in range(1_000)]
    batch = encrypt_batch([base[i % len(base)] for i in range(size)], keys.public)
    custodian = Transcryptor.generate("custodian")
    move = {"domain_from": "holder-a", "domain_to": "job", "session_from": None, "session_to": None}
    figures: dict[str, Any] = {"size": size}
    for workers in sorted({1, len(ALL_CPUS) or 1}):
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_use_cpus, initargs=(ALL_CPUS,)
        ) as pool:
            list(pool.map(abs, range(workers * 4)))  # start the workers before timing
            start = time.perf_counter()
            transcrypt_parallel(batch, custodian, pool, **move)  # type: ignore[arg-type]
            seconds = time.perf_counter() - start
        figures[f"{workers}_processes_per_s"] = round(size / seconds, 1)
        say(f"scaling: {workers} process(es): {size / seconds:,.0f} transcriptions/s")
    figures |= _thread_scaling(batch, custodian, move, size)
    figures |= _holder_scaling(min(size, 200_000))
    figures |= _service_scaling(size)
    figures |= _remote_chain(size)
    figures |= _ray_scaling(batch, custodian, move, size)
    many = figures.get(f"{len(ALL_CPUS)}_processes_per_s")
    if many and len(ALL_CPUS) > 1:
        figures["speed_up"] = round(many / figures["1_processes_per_s"], 2)
    return figures


def _thread_scaling(batch: Any, custodian: Any, move: dict[str, Any], size: int) -> dict[str, Any]:
    """The same transcription on worker threads of this process (libsodium runs without the
    GIL), as the hub's service and a transcryptor server do."""
    from concurrent.futures import ThreadPoolExecutor

    from shugu.pep.parallel import transcrypt_parallel

    if ALL_CPUS and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(ALL_CPUS))
    workers = len(ALL_CPUS) or 1
    with ThreadPoolExecutor(workers) as pool:
        start = time.perf_counter()
        transcrypt_parallel(batch, custodian, pool, chunk=-(-size // workers), **move)
        seconds = time.perf_counter() - start
    say(f"scaling: {workers} threads: {size / seconds:,.0f} transcriptions/s")
    return {f"{workers}_threads_per_s": round(size / seconds, 1)}


def _through_the_service(hub: Any, size: int, request: int) -> float:
    """Seconds the hub's service takes for `size` fresh ciphertexts in requests of `request`."""
    from shugu.identity import Principal, Role
    from shugu.pep.service import GrantListPolicy, LinkGrant

    caller = Principal("01BENCHHOLDER0000000000000", "holder", frozenset({Role.HOLDER}))
    grant = LinkGrant("study", frozenset({"study"}), frozenset({caller.name}), frozenset())
    hub.pep.use_policy(GrantListPolicy((grant,)))
    public = hub.pep.public_info().public_key
    base = [GroupElement.random() for _ in range(1_000)]
    data = encrypt_batch([base[i % 1_000] for i in range(size)], public).ciphertexts
    step = request * 64
    start = time.perf_counter()
    for offset in range(0, len(data), step):
        hub.pep.transcrypt(
            caller,
            job="study",
            domain_from=None,
            domain_to="study",
            session="s1",
            ciphertexts=data[offset : offset + step],
        )
    return time.perf_counter() - start


def _holder_scaling(size: int) -> dict[str, Any]:
    """A holder's column of `size` identifiers encrypted (hash to the group, ElGamal) and the
    job's decryption of as many, on one worker thread and on one per CPU."""
    from shugu.pep.holder import decrypt_pseudonyms, encrypt_identifiers
    from shugu.pep.keys import make_global_keys

    if ALL_CPUS and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(ALL_CPUS))
    keys = make_global_keys()
    ids = [f"P-{i:09d}" for i in range(size)]
    figures: dict[str, Any] = {"holder_size": size}
    for workers in sorted({1, len(ALL_CPUS) or 1}):
        start = time.perf_counter()
        texts = encrypt_identifiers(ids, keys.public, workers=workers)
        encrypted = time.perf_counter() - start
        start = time.perf_counter()
        decrypt_pseudonyms(texts, keys.secret, workers=workers)
        decrypted = time.perf_counter() - start
        figures[f"holder_encrypt_{workers}_workers_per_s"] = round(size / encrypted, 1)
        figures[f"holder_decrypt_{workers}_workers_per_s"] = round(size / decrypted, 1)
        say(
            f"scaling: holder column, {workers} worker(s): encrypt {size / encrypted:,.0f}/s, "
            f"decrypt {size / decrypted:,.0f}/s"
        )
    return figures


def _service_scaling(size: int, request: int = 10_000) -> dict[str, Any]:
    """The hub's transcryptor service end to end (link policy, validation, the ledger record),
    `size` ciphertexts in requests of `request` (the API's default limit), with one worker thread
    and with one per CPU."""
    import tempfile

    from shugu.keys.sealing import KeyEncryptionKey
    from shugu.runtime import Hub
    from shugu.settings import PepSettings, Settings

    if ALL_CPUS and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(ALL_CPUS))
    figures: dict[str, Any] = {"service_request": request}
    for workers in sorted({1, len(ALL_CPUS) or 1}):
        with tempfile.TemporaryDirectory() as home:
            settings = Settings(
                home=Path(home),
                secret_key=KeyEncryptionKey.generate().to_text(),
                pep=PepSettings(workers=workers),
            )
            hub = Hub.open(settings)
            try:
                seconds = _through_the_service(hub, size, request)
            finally:
                hub.close()
        figures[f"service_{workers}_workers_per_s"] = round(size / seconds, 1)
        say(f"scaling: service, {workers} worker thread(s): {size / seconds:,.0f} transcriptions/s")
    return figures


def _remote_chain(size: int, request: int = 10_000) -> dict[str, Any]:
    """The service with a chain of two: the hub's `custodian`, then `auditor` served by
    `shugu pep transcryptor up` in a process of its own over HTTP on this machine (every
    ciphertext is transcrypted twice, once in each process)."""
    import socket
    import subprocess
    import tempfile

    import httpx

    from shugu.home import Home
    from shugu.keys.sealing import KeyEncryptionKey
    from shugu.pep.server import write_config
    from shugu.runtime import Hub
    from shugu.settings import PepSettings, Settings

    if ALL_CPUS and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(ALL_CPUS))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as root:
        settings = Settings(
            home=Path(root) / "hub",
            secret_key=KeyEncryptionKey.generate().to_text(),
            pep=PepSettings(transcryptors=["custodian", f"auditor=http://127.0.0.1:{port}"]),
        )
        settings.home.mkdir()
        hub = Hub.open(settings)  # the set-up waits for the auditor
        home = Home(Path(root) / "auditor")
        home.create()
        write_config(home.root, "auditor", hub.pep.client_public_key())
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")}
        command = [sys.executable, "-m", "shugu", "--home", str(home.root), "pep", "transcryptor"]
        server = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [*command, "up", "--port", str(port)],
            env=env | {"SHUGU_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
                if time.monotonic() > deadline or server.poll() is not None:
                    say("scaling: the transcryptor server did not start; remote chain skipped")
                    return {}
            seconds = _through_the_service(hub, size, request)
        finally:
            hub.close()
            server.terminate()
            server.wait(timeout=30)
    say(f"scaling: chain hub + transcryptor server: {size / seconds:,.0f} ciphertexts/s")
    return {"remote_chain_per_s": round(size / seconds, 1)}


def _warm(value: int) -> int:
    return value


def _ray_scaling(batch: Any, custodian: Any, move: dict[str, Any], size: int) -> dict[str, Any]:
    """The same transcription as Ray tasks on a local Ray with one CPU per core."""
    import time

    from shugu.pep.parallel import transcrypt_on_ray

    try:
        import ray
    except ImportError:
        say("scaling: Ray is not installed (the ray extra); skipped")
        return {}
    os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
    if ALL_CPUS and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(ALL_CPUS))  # Ray's processes inherit the affinity
    ray.init(num_cpus=len(ALL_CPUS) or 1, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(_warm)
        ray.get([task.remote(i) for i in range(8)])  # start the workers before timing
        start = time.perf_counter()
        transcrypt_on_ray(batch, custodian, **move)
        seconds = time.perf_counter() - start
    finally:
        ray.shutdown()
    say(f"scaling: Ray, {len(ALL_CPUS)} CPUs: {size / seconds:,.0f} transcriptions/s")
    return {"ray_per_s": round(size / seconds, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pep", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,500 ciphertexts, 3 repetitions")
    parser.add_argument("--n", type=int, help="ciphertexts per loop (default 4,000)")
    parser.add_argument("--reps", type=int, help="repetitions (default 5)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON too")
    parser.add_argument(
        "--scale",
        type=int,
        default=1_000_000,
        help="ciphertexts for the multi-process scaling run (default 1,000,000; 0 skips it)",
    )
    parser.add_argument(
        "--no-libpep", action="store_true", help="skip the comparison with native libpep"
    )
    parser.add_argument(
        "--libpep-python", help="the Python 3.9 to build libpep's venv with (default: found)"
    )
    parser.add_argument(
        "--libpep-venv", default=str(VENV), help=f"libpep-py's throw-away venv (default {VENV})"
    )
    args = parser.parse_args(argv)
    n = args.n or (1_500 if args.quick else 4_000)
    reps = args.reps or (3 if args.quick else 5)
    load = os.getloadavg()
    say(f"preparing {n:,} ciphertexts")
    libpep = start_worker(args, n)
    try:
        rates, wall = measure(Workload.make(n), reps, libpep)
        interop = interop_check(libpep) if libpep is not None else None
        if interop is not None and libpep is not None:
            interop["libpep"] = libpep.about
    finally:
        if libpep is not None:
            libpep.close()
    print(table(rates))
    if libpep is not None and interop is not None:
        print()
        print(libpep_table(rates))
        print()
        print(interop_lines(interop))
    else:
        print("\nlibpep: not measured (see the messages above)")
    if args.json:
        print(json.dumps(summary(rates)))
    scaling = measure_scaling(args.scale) if args.scale else None
    if scaling:
        print(json.dumps({"scaling": scaling}))
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if args.quick else ""
    path = RESULTS / f"pep-{datetime.now(UTC).date().isoformat()}{suffix}.json"
    record = {
        "summary": summary(rates),
        "ciphertexts_per_loop": n,
        "repetitions": reps,
        "rates_per_cpu_s": {name: [round(v, 1) for v in values] for name, values in rates.items()},
        "rates_per_wall_s": {name: [round(v, 1) for v in values] for name, values in wall.items()},
        "scaling": scaling,
        "libpep_interop": interop,
        "environment": environment(load),
    }
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    say(f"results written to {path}")


if __name__ == "__main__":
    main()

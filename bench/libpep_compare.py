"""libpep beside shugu in `bench.pep`: native libpep through its Python binding, on the same core,
in the same run, and an interoperability check between the two.

libpep-py 0.13.0 publishes one wheel for this platform, for CPython 3.9, so it runs in a
throw-away virtual environment outside the repository (``~/.cache/shugu-bench/libpep-py39`` by
default, created with ``python3.9 -m venv`` and ``pip install libpep-py==0.13.0``, reused when
present) as a child process (`bench/libpep_worker.py`) that answers JSON lines. When no Python
3.9 is found or the install fails (no network), every caller gets `None` and a message says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shugu.pep import (
    ElGamal,
    EncryptedBatch,
    G,
    GroupElement,
    PseudonymizationInfo,
    Scalar,
    decrypt,
    encrypt,
    make_session_keys,
    rsk,
    rsk_batch,
)

LIBPEP_PY = "libpep-py==0.13.0"
VENV = Path.home() / ".cache" / "shugu-bench" / "libpep-py39"
WORKER = Path(__file__).parent / "libpep_worker.py"
INTEROP_SIZE = 200
MOVE = {
    "domain_from": "holder-A",
    "domain_to": "job-1",
    "session_from": "run-0",
    "session_to": "run-1",
}


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def find_python39(given: str | None) -> str | None:
    """The interpreter to build the venv with: `given`, ``python3.9`` on the PATH, or pyenv's."""
    if given:
        return given
    found = shutil.which("python3.9")
    pyenv = sorted((Path.home() / ".pyenv" / "versions").glob("3.9*/bin/python3.9"))
    return found or (str(pyenv[-1]) if pyenv else None)


def _run(command: list[str], timeout: float) -> bool:
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        say(f"libpep: {' '.join(command[:3])} failed: {exc}")
        return False
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        say(f"libpep: {' '.join(command[:3])} failed: {' '.join(tail)}")
    return done.returncode == 0


def _has_libpep(python: Path) -> bool:
    return python.is_file() and _run([str(python), "-c", "import libpep"], 60)


def ensure_venv(python39: str | None, folder: Path) -> Path | None:
    """The venv's interpreter with libpep-py installed, creating the venv when needed."""
    python = folder / "bin" / "python"
    if _has_libpep(python):
        return python
    if python39 is None:
        say("libpep: no Python 3.9 found (libpep-py's only wheel here is for 3.9); skipped")
        return None
    say(f"libpep: creating {folder} with {python39} and installing {LIBPEP_PY}")
    if not python.is_file() and not _run([python39, "-m", "venv", str(folder)], 300):
        return None
    if not _run([str(python), "-m", "pip", "install", "--quiet", LIBPEP_PY], 600):
        say("libpep: could not install libpep-py (no network?); the comparison is skipped")
        return None
    return python if _has_libpep(python) else None


@dataclass
class LibpepWorker:
    """A running `bench/libpep_worker.py`, pinned to one core."""

    process: subprocess.Popen[str]
    about: dict[str, Any]

    @classmethod
    def start(cls, python: Path, n: int, cpu: int | None) -> LibpepWorker:
        command = [str(python), str(WORKER), "--n", str(n)]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        worker = cls(process, {})
        worker.about = worker.ask({"op": "version"})
        return worker

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request, return its answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the libpep worker stopped (see its error output above)")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def start_worker(args: Any, n: int) -> LibpepWorker | None:
    """The libpep worker on this process's core, or None (with a message) when unavailable."""
    if args.no_libpep:
        return None
    python = ensure_venv(find_python39(args.libpep_python), Path(args.libpep_venv))
    if python is None:
        return None
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    worker = LibpepWorker.start(python, n, cpus[0] if len(cpus) == 1 else None)
    say(f"libpep: worker started ({worker.about})")
    return worker


# -- interoperability -----------------------------------------------------------------------------


@dataclass
class Inputs:
    """What both libraries are given: one global key, the secrets, points and shugu's
    ciphertexts of them under the global key and under the source session's key."""

    x: Scalar
    pseudonymization_secret: bytes
    encryption_secret: bytes
    messages: list[GroupElement]

    @classmethod
    def make(cls, n: int) -> Inputs:
        return cls(
            Scalar.random(),
            os.urandom(32),
            os.urandom(32),
            [GroupElement.random() for _ in range(n)],
        )

    def session(self, name: str) -> Any:
        return make_session_keys(self.x, name, self.encryption_secret)

    @property
    def info(self) -> PseudonymizationInfo:
        return PseudonymizationInfo.derive(
            **MOVE,
            pseudonymization_secret=self.pseudonymization_secret,
            encryption_secret=self.encryption_secret,
        )


def _hexes(items: list[Any]) -> list[str]:
    return [item.hex() for item in items]


def interop_check(worker: LibpepWorker, n: int = INTEROP_SIZE) -> dict[str, Any]:
    """Ciphertexts of each library decrypt in the other to the same points; a pseudonymisation
    from (holder-A, run-0) to (job-1, run-1) with the same secrets gives the same bytes in both
    (neither rerandomises: both apply rsk), one by one and as a shuffled batch (compared as sorted
    sets), and decrypts with run-1's key to s(job-1)·s(holder-A)⁻¹·M in both."""
    inputs = Inputs.make(n)
    x, info = inputs.x, inputs.info
    source, target = inputs.session(MOVE["session_from"]), inputs.session(MOVE["session_to"])
    ours_global = [encrypt(m, x * G) for m in inputs.messages]
    ours_session = [encrypt(m, source.public) for m in inputs.messages]
    answer = worker.ask(
        {
            "op": "interop",
            **MOVE,
            "global_secret": x.hex(),
            "global_public": (x * G).hex(),
            "session_public": source.public.hex(),
            "pseudonymization_secret": inputs.pseudonymization_secret.hex(),
            "encryption_secret": inputs.encryption_secret.hex(),
            "messages": _hexes(inputs.messages),
            "global_ciphertexts": _hexes(ours_global),
            "session_ciphertexts": _hexes(ours_session),
        }
    )
    expected = _hexes(inputs.messages)
    moved_points = _hexes([(info.s * m) for m in inputs.messages])
    checks = {
        "the factors s and k derived from the same secrets and names": answer["factors"]
        == {"s": info.s.hex(), "k": info.k.hex()},
        "shugu's ciphertexts (global key) decrypt in libpep to the same points": answer[
            "decrypted_shugu_global"
        ]
        == expected,
        "shugu's ciphertexts (session key) decrypt in libpep to the same points": answer[
            "decrypted_shugu_session"
        ]
        == expected,
        "libpep's ciphertexts (global key) decrypt in shugu to the same points": _decrypt_hex(
            answer["libpep_global_ciphertexts"], x
        )
        == expected,
        "libpep's ciphertexts (session key) decrypt in shugu to the same points": _decrypt_hex(
            answer["libpep_session_ciphertexts"], source.secret
        )
        == expected,
    }
    for origin, texts in (
        ("shugu", _hexes(ours_session)),
        ("libpep", answer["libpep_session_ciphertexts"]),
    ):
        checks |= _moved_checks(
            origin, texts, answer["moved"][origin], info, target.secret, moved_points
        )
    return {"ciphertexts": n, "move": MOVE, "checks": checks, "all_equal": all(checks.values())}


def _decrypt_hex(texts: list[str], secret: Scalar) -> list[str]:
    return [decrypt(ElGamal.from_hex(t), secret).hex() for t in texts]


def _moved_checks(
    origin: str,
    texts: list[str],
    theirs: dict[str, list[str]],
    info: PseudonymizationInfo,
    target_secret: Scalar,
    moved_points: list[str],
) -> dict[str, bool]:
    ciphertexts = [ElGamal.from_hex(t) for t in texts]
    ours = [rsk(ct, info.s, info.k).hex() for ct in ciphertexts]
    batch = EncryptedBatch.from_ciphertexts(ciphertexts, G)
    packed = rsk_batch(batch, info.s, info.k).ciphertexts
    ours_batch = sorted(packed[i : i + 64].hex() for i in range(0, len(packed), 64))
    label = f"{origin}'s ciphertexts pseudonymised"
    decrypted_ours = _decrypt_hex(ours, target_secret)
    return {
        f"{label} one by one (shugu rsk, libpep pseudonymize): same bytes": (
            ours == theirs["pseudonymized"]
        ),
        f"{label} as a batch (rsk_batch, pseudonymize_batch), as sorted sets: same bytes": (
            ours_batch == sorted(theirs["pseudonymized_batch"])
        ),
        f"{label}, decrypted with the target session's key in each: the same points": (
            decrypted_ours == theirs["decrypted"]
        ),
        f"{label}, decrypted: s(to)·s(from)⁻¹·M": decrypted_ours == moved_points,
    }

"""libpep's side of `bench.pep`, run by a Python 3.9 interpreter that has ``libpep-py==0.13.0``
(the only wheel it publishes for this platform); `bench.pep` starts it, pinned to its own core,
and never imports it. Standard library and libpep only, Python 3.9 syntax.

    python3.9 bench/libpep_worker.py --n 4000 --cpu 0

It answers JSON lines on stdin with one JSON line each on stdout:

- ``{"op": "rates"}``: one repetition of every loop over `n` fresh pseudonyms, items per
  CPU-second and per wall-second (``{"cpu": {...}, "wall": {...}}``).
- ``{"op": "interop", ...}``: the secrets, keys, points and ciphertexts `bench.pep` sends, and
  what libpep computes from them (see `interop`).
- ``{"op": "version"}``: libpep's version and this interpreter's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib.metadata import version

from libpep import client, contexts, data, elgamal, factors, keys, transcryptor

Scalar = elgamal.arithmetic.scalars.ScalarNonZero
Point = elgamal.arithmetic.group_elements.GroupElement
DOMAIN_FROM, DOMAIN_TO = "holder-A", "job-1"
SESSION_FROM, SESSION_TO = "run-0", "run-1"


class Workload:
    """libpep's keys, factors and `n` pseudonyms, encrypted once, as `bench.pep` prepares its
    own: random global keys, the session keys of two contexts, random pseudonyms."""

    def __init__(self, n: int) -> None:
        self.n = n
        secret = factors.EncryptionSecret(os.urandom(32))
        global_keys = keys.make_pseudonym_global_keys()
        self.keys = keys.make_pseudonym_session_keys(
            global_keys.secret, contexts.EncryptionContext(SESSION_FROM), secret
        )
        self.info = factors.PseudonymizationInfo(
            contexts.PseudonymizationDomain(DOMAIN_FROM),
            contexts.PseudonymizationDomain(DOMAIN_TO),
            contexts.EncryptionContext(SESSION_FROM),
            contexts.EncryptionContext(SESSION_TO),
            factors.PseudonymizationSecret(os.urandom(32)),
            secret,
        )
        self.pseudonyms = [data.Pseudonym.random() for _ in range(n)]
        self.encrypted = client.encrypt_batch(list(self.pseudonyms), self.keys.public)


def encrypt_batch(w: Workload) -> None:
    assert len(client.encrypt_batch(list(w.pseudonyms), w.keys.public)) == w.n


def pseudonymize_batch(w: Workload) -> None:
    assert len(transcryptor.pseudonymize_batch(list(w.encrypted), w.info)) == w.n


def decrypt_batch(w: Workload) -> None:
    assert len(client.decrypt_batch(list(w.encrypted), w.keys.secret)) == w.n


def encrypt_each(w: Workload) -> None:
    public = w.keys.public
    assert len([client.encrypt(p, public) for p in w.pseudonyms]) == w.n


def pseudonymize_each(w: Workload) -> None:
    info = w.info
    assert len([transcryptor.pseudonymize(c, info) for c in w.encrypted]) == w.n


def decrypt_each(w: Workload) -> None:
    secret = w.keys.secret
    assert len([client.decrypt(c, secret) for c in w.encrypted]) == w.n


LOOPS = {
    "libpep encrypt_batch": encrypt_batch,
    "libpep pseudonymize_batch": pseudonymize_batch,
    "libpep decrypt_batch": decrypt_batch,
    "libpep encrypt": encrypt_each,
    "libpep pseudonymize": pseudonymize_each,
    "libpep decrypt": decrypt_each,
}


def rates(w: Workload) -> dict:
    cpu, wall = {}, {}
    for name, loop in LOOPS.items():
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        loop(w)
        cpu[name] = w.n / (time.process_time() - start_cpu)
        wall[name] = w.n / (time.perf_counter() - start_wall)
    return {"cpu": cpu, "wall": wall}


def session_secret(x: Scalar, secret: bytes, context: str) -> Scalar:
    """k(context)·x: libpep cannot load a session secret key from bytes, so the decryption
    below uses its ElGamal function with the scalar its own factor derivation gives."""
    return (
        factors.make_pseudonym_rekey_factor(factors.EncryptionSecret(secret), context)
        .scalar()
        .mul(x)
    )


def interop(request: dict) -> dict:
    """From shugu's secrets and ciphertexts: libpep's decryptions of shugu's ciphertexts, its
    own encryptions of the same points (global key and session key), its pseudonymisation of
    both sets from (domain_from, session_from) to (domain_to, session_to), one by one and as a
    batch, and the decryptions of its pseudonymisations with the target session's key."""
    x = Scalar.from_hex(request["global_secret"])
    ps, es = (
        bytes.fromhex(request["pseudonymization_secret"]),
        bytes.fromhex(request["encryption_secret"]),
    )
    info = factors.PseudonymizationInfo(
        contexts.PseudonymizationDomain(request["domain_from"]),
        contexts.PseudonymizationDomain(request["domain_to"]),
        contexts.EncryptionContext(request["session_from"]),
        contexts.EncryptionContext(request["session_to"]),
        factors.PseudonymizationSecret(ps),
        factors.EncryptionSecret(es),
    )
    global_public = keys.PseudonymGlobalPublicKey.from_hex(request["global_public"])
    session_public = keys.PseudonymSessionPublicKey.from_hex(request["session_public"])
    pseudonyms = [data.Pseudonym.from_hex(m) for m in request["messages"]]
    from_secret = session_secret(x, es, request["session_from"])
    to_secret = session_secret(x, es, request["session_to"])

    def decrypt_all(texts: list, y: Scalar) -> list:
        return [
            elgamal.decrypt(elgamal.ElGamal.from_bytes(bytes.fromhex(t)), y).to_hex() for t in texts
        ]

    ours_global = [client.encrypt_global(p, global_public).to_bytes().hex() for p in pseudonyms]
    ours_session = [client.encrypt(p, session_public).to_bytes().hex() for p in pseudonyms]
    moved = {}
    for source, texts in (("shugu", request["session_ciphertexts"]), ("libpep", ours_session)):
        encrypted = [data.EncryptedPseudonym.from_bytes(bytes.fromhex(t)) for t in texts]
        one_by_one = [transcryptor.pseudonymize(e, info).to_bytes().hex() for e in encrypted]
        batch = [e.to_bytes().hex() for e in transcryptor.pseudonymize_batch(encrypted, info)]
        moved[source] = {
            "pseudonymized": one_by_one,
            "pseudonymized_batch": batch,
            "decrypted": decrypt_all(one_by_one, to_secret),
        }
    return {
        "decrypted_shugu_global": decrypt_all(request["global_ciphertexts"], x),
        "decrypted_shugu_session": decrypt_all(request["session_ciphertexts"], from_secret),
        "libpep_global_ciphertexts": ours_global,
        "libpep_session_ciphertexts": ours_session,
        "moved": moved,
        "factors": {"s": info.s.scalar().to_hex(), "k": info.k.scalar().to_hex()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--cpu", type=int)
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    workload = Workload(args.n)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "rates":
            answer = rates(workload)
        elif request["op"] == "interop":
            answer = interop(request)
        else:
            answer = {
                "libpep_py": version("libpep-py"),
                "python": platform.python_version(),
                "cpu_affinity": sorted(os.sched_getaffinity(0))
                if hasattr(os, "sched_getaffinity")
                else None,
            }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()

"""The properties issue 6 asks of transcryption, with one transcryptor (the hub as custodian):
holders' ciphertexts of one identifier meet in a job's domain, and nowhere else."""

from __future__ import annotations

import hashlib

import pytest

from shugu.errors import InvalidInputError
from shugu.pep import (
    DistributedKeys,
    EncryptedBatch,
    GroupElement,
    KeyPair,
    Transcryptor,
    decrypt_batch,
    encrypt_batch,
    setup_distributed,
    split_points,
)

PATIENTS = ["110101199003077777", "310104198512120011", "440305200001010022"]


def identifier_point(identifier: str) -> GroupElement:
    """What a holder encrypts: the hash-to-group of the normalised identifier."""
    return GroupElement.from_hash(hashlib.sha512(identifier.strip().upper().encode()).digest())


@pytest.fixture
def hub() -> Transcryptor:
    return Transcryptor.generate("hub")


@pytest.fixture
def system(hub: Transcryptor) -> DistributedKeys:
    return setup_distributed([hub])


def keys_for(system: DistributedKeys, hub: Transcryptor, session: str) -> KeyPair:
    return system.session_keys(session, [hub.session_key_share(session)])


def to_job(
    hub: Transcryptor, batch: EncryptedBatch, job: str, session: str, domain: str | None = None
) -> EncryptedBatch:
    return hub.transcrypt(
        batch, domain_from=domain, domain_to=job, session_from=None, session_to=session
    )


def pseudonyms(
    system: DistributedKeys, hub: Transcryptor, batch: EncryptedBatch, session: str
) -> set[bytes]:
    return set(split_points(system.decrypt(batch, keys_for(system, hub, session))))


def test_same_identifier_same_pseudonym_in_one_job(
    hub: Transcryptor, system: DistributedKeys
) -> None:
    a = encrypt_batch([identifier_point(p) for p in PATIENTS], system.public_key)
    b = encrypt_batch([identifier_point(p) for p in reversed(PATIENTS)], system.public_key)
    from_a = pseudonyms(system, hub, to_job(hub, a, "job-1", "run-1"), "run-1")
    from_b = pseudonyms(system, hub, to_job(hub, b, "job-1", "run-1"), "run-1")
    assert from_a == from_b and len(from_a) == len(PATIENTS)
    assert not from_a & {identifier_point(p).to_bytes() for p in PATIENTS}


def test_two_jobs_get_unlinkable_pseudonyms(hub: Transcryptor, system: DistributedKeys) -> None:
    batch = encrypt_batch([identifier_point(p) for p in PATIENTS], system.public_key)
    job1 = pseudonyms(system, hub, to_job(hub, batch, "job-1", "run-1"), "run-1")
    job2 = pseudonyms(system, hub, to_job(hub, batch, "job-2", "run-2"), "run-2")
    assert not job1 & job2


def test_a_job_pseudonym_does_not_depend_on_the_session(
    hub: Transcryptor, system: DistributedKeys
) -> None:
    batch = encrypt_batch([identifier_point(p) for p in PATIENTS], system.public_key)
    first = pseudonyms(system, hub, to_job(hub, batch, "job-1", "run-1"), "run-1")
    second = pseudonyms(system, hub, to_job(hub, batch, "job-1", "run-2"), "run-2")
    assert first == second


def test_holders_with_local_pseudonyms_meet_in_the_job(
    hub: Transcryptor, system: DistributedKeys
) -> None:
    """libpep's cross_holder flow: each holder keeps its own pseudonym s(H)·X, obtained from the
    transcryptor once, and sends it encrypted from its own domain."""
    point = identifier_point(PATIENTS[0])
    local = {}
    for holder in ("holder-A", "holder-B"):
        registration = to_job(hub, encrypt_batch([point], system.public_key), holder, holder)
        local[holder] = system.decrypt(registration, keys_for(system, hub, holder))
    assert local["holder-A"] != local["holder-B"]  # the holders cannot link each other
    met = set()
    for holder, pseudonym in local.items():
        batch = encrypt_batch(pseudonym, system.public_key)
        moved = to_job(hub, batch, "study", "run-1", domain=holder)
        met |= pseudonyms(system, hub, moved, "run-1")
    direct = pseudonyms(
        system,
        hub,
        to_job(hub, encrypt_batch([point], system.public_key), "study", "run-1"),
        "run-1",
    )
    assert met == direct and len(met) == 1


def test_the_intermediary_sees_only_different_bytes(
    hub: Transcryptor, system: DistributedKeys
) -> None:
    point = identifier_point(PATIENTS[1])
    a = encrypt_batch([point], system.public_key).ciphertexts
    b = encrypt_batch([point], system.public_key).ciphertexts
    assert a != b
    assert a[:32] != b[:32] and a[32:] != b[32:]  # no half repeats either
    out_a = to_job(hub, EncryptedBatch(a, system.public_key), "job-1", "run-1").ciphertexts
    out_b = to_job(hub, EncryptedBatch(b, system.public_key), "job-1", "run-1").ciphertexts
    assert len({a, b, out_a, out_b}) == 4
    assert not {a[:32], a[32:], b[:32], b[32:]} & {out_a[:32], out_a[32:], out_b[32:], out_b[:32]}


def test_the_job_key_cannot_read_holder_batches(hub: Transcryptor, system: DistributedKeys) -> None:
    batch = encrypt_batch([identifier_point(PATIENTS[2])], system.public_key)
    with pytest.raises(InvalidInputError, match="cannot decrypt the batch"):
        decrypt_batch(batch, keys_for(system, hub, "run-1").secret)
    other_session = to_job(hub, batch, "job-1", "run-2")
    with pytest.raises(InvalidInputError, match="cannot decrypt the batch"):
        system.decrypt(other_session, keys_for(system, hub, "run-1"))

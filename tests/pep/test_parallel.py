"""Transcription across processes gives what one process gives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shugu.errors import InvalidInputError
from shugu.pep.batch import decrypt_batch, encrypt_batch, split_points
from shugu.pep.distributed import Transcryptor
from shugu.pep.group import GroupElement
from shugu.pep.keys import make_global_keys
from shugu.pep.parallel import transcrypt_parallel, transcryption_pool

MOVE = {
    "domain_from": "holder-a",
    "domain_to": "job-7",
    "session_from": None,
    "session_to": None,
}


@pytest.fixture(scope="module")
def pool() -> Iterator[object]:
    with transcryption_pool(2) as workers:
        yield workers


def test_parallel_equals_single_process(pool: object) -> None:
    keys = make_global_keys()
    messages = [GroupElement.random() for _ in range(301)]
    batch = encrypt_batch(messages, keys.public)
    custodian = Transcryptor.generate("custodian")
    one = custodian.transcrypt(batch, shuffle=False, **MOVE)
    many = transcrypt_parallel(batch, custodian, pool, shuffle=False, chunk=64, **MOVE)  # type: ignore[arg-type]
    assert many.ciphertexts == one.ciphertexts
    assert many.public_key == one.public_key
    assert many.route == ("custodian",)
    shuffled = transcrypt_parallel(batch, custodian, pool, chunk=50, **MOVE)  # type: ignore[arg-type]
    assert shuffled.ciphertexts != one.ciphertexts
    assert sorted(split_points(decrypt_batch(shuffled, keys.secret))) == sorted(
        split_points(decrypt_batch(one, keys.secret))
    )


def test_refusals(pool: object) -> None:
    keys = make_global_keys()
    batch = encrypt_batch([GroupElement.random()], keys.public)
    custodian = Transcryptor.generate("custodian")
    done = custodian.transcrypt(batch, **MOVE)
    with pytest.raises(InvalidInputError, match="already transcrypted"):
        transcrypt_parallel(done, custodian, pool, **MOVE)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="chunk size"):
        transcrypt_parallel(batch, custodian, pool, chunk=0, **MOVE)  # type: ignore[arg-type]

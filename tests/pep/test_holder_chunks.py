"""The holder's column functions in chunks on worker threads: same result as one thread, errors
named by their position in the whole column, progress reported in order."""

from __future__ import annotations

import pytest

from shugu.errors import InvalidInputError
from shugu.pep import holder
from shugu.pep.batch import EncryptedBatch
from shugu.pep.group import G, Scalar
from shugu.pep.holder import (
    decrypt_pseudonyms,
    encrypt_identifiers,
    identifier_point,
    pack_ciphertexts,
    unpack_ciphertexts,
)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holder, "CHUNK", 7)


def test_threads_give_the_same_pseudonyms_and_report_progress() -> None:
    secret = Scalar.random()
    ids = [f"id-{i}" if i % 5 else None for i in range(50)]
    seen: list[tuple[int, int]] = []
    texts = encrypt_identifiers(
        ids, secret * G, workers=2, progress=lambda d, t: seen.append((d, t))
    )
    assert [t is None for t in texts] == [i is None for i in ids]
    assert seen == [(min(k, 40), 40) for k in range(7, 47, 7)]
    one = decrypt_pseudonyms(texts, secret)
    two = decrypt_pseudonyms(texts, secret, workers=2)
    assert one == two
    assert [p for p in one if p is not None] == [
        identifier_point(i).hex() for i in ids if i is not None
    ]


def test_an_invalid_point_is_named_by_its_place_in_the_whole_column() -> None:
    secret = Scalar.random()
    texts = encrypt_identifiers([f"x{i}" for i in range(30)], secret * G)
    data, present = unpack_ciphertexts(texts)
    broken = data[: 17 * 64] + bytes(range(64)) + data[18 * 64 :]
    bad = pack_ciphertexts(EncryptedBatch(broken, G).ciphertexts, present)
    for workers in (1, 2):
        with pytest.raises(InvalidInputError) as caught:
            decrypt_pseudonyms(bad, secret, workers=workers)
        assert "ciphertext 17 is not valid" in caught.value.render()


def test_a_short_column_is_split_evenly_over_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holder, "CHUNK", 16_384)
    seen: list[tuple[int, int]] = []
    encrypt_identifiers(
        [f"id-{i}" for i in range(10)],
        Scalar.random() * G,
        workers=2,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(5, 10), (10, 10)]

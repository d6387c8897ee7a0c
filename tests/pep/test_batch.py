"""Packed batches: the same results as the single-ciphertext primitives, shuffled output,
and clear errors for wrong keys and broken ciphertexts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from shugu.errors import InvalidInputError
from shugu.pep import (
    ElGamal,
    EncryptedBatch,
    G,
    GroupElement,
    Scalar,
    decrypt_batch,
    encrypt,
    encrypt_batch,
    pack_points,
    rekey,
    rekey_batch,
    rerandomize_batch,
    reshuffle,
    reshuffle_batch,
    rrsk_batch,
    rsk,
    rsk_batch,
    shuffle_batch,
    split_points,
)

N = 48


def _records(batch: EncryptedBatch) -> list[bytes]:
    data = batch.ciphertexts
    return [data[i : i + 64] for i in range(0, len(data), 64)]


@pytest.fixture
def setup() -> tuple[Scalar, list[GroupElement], EncryptedBatch]:
    y = Scalar.random()
    messages = [GroupElement.random() for _ in range(N)]
    return y, messages, encrypt_batch(messages, y * G)


def test_encrypt_and_decrypt_keep_the_order(setup: tuple) -> None:
    y, messages, batch = setup
    assert len(batch) == N
    assert split_points(decrypt_batch(batch, y)) == [m.to_bytes() for m in messages]
    assert batch.ciphertext(0).gb != batch.ciphertext(1).gb  # fresh randomness each


def test_encrypt_batch_takes_packed_bytes(setup: tuple) -> None:
    y, messages, _ = setup
    batch = encrypt_batch(pack_points(messages), y * G)
    assert decrypt_batch(batch, y) == pack_points(messages)


@pytest.mark.parametrize(
    ("name", "batch_op", "single_op"),
    [
        ("rsk", lambda b, s, k: rsk_batch(b, s, k), lambda c, s, k: rsk(c, s, k)),
        ("reshuffle", lambda b, s, k: reshuffle_batch(b, s), lambda c, s, k: reshuffle(c, s)),
        ("rekey", lambda b, s, k: rekey_batch(b, k), lambda c, s, k: rekey(c, k)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_batch_matches_the_primitive_and_shuffles(
    setup: tuple, name: str, batch_op: Callable, single_op: Callable
) -> None:
    _, _, batch = setup
    s, k = Scalar.random(), Scalar.random()
    out = batch_op(batch, s, k)
    expected = [single_op(ElGamal.from_bytes(r), s, k).to_bytes() for r in _records(batch)]
    assert Counter(_records(out)) == Counter(expected)  # the multiset is preserved
    assert _records(out) != expected  # the order is not (chance of equality 1/48!)


def test_shuffle_can_be_turned_off_for_workers(setup: tuple) -> None:
    _, _, batch = setup
    s, k = Scalar.random(), Scalar.random()
    out = rsk_batch(batch, s, k, shuffle=False)
    assert _records(out) == [rsk(ElGamal.from_bytes(r), s, k).to_bytes() for r in _records(batch)]


def test_shuffle_batch_permutes(setup: tuple) -> None:
    _, _, batch = setup
    out = shuffle_batch(batch)
    assert Counter(_records(out)) == Counter(_records(batch))
    assert out.ciphertexts != batch.ciphertexts


def test_rekey_moves_the_public_key(setup: tuple) -> None:
    y, messages, batch = setup
    k, s = Scalar.random(), Scalar.random()
    assert rekey_batch(batch, k).public_key == k * batch.public_key
    assert reshuffle_batch(batch, s).public_key == batch.public_key
    out = rsk_batch(batch, s, k)
    assert Counter(split_points(decrypt_batch(out, k * y))) == Counter(
        (s * m).to_bytes() for m in messages
    )


def test_rerandomize_and_rrsk(setup: tuple) -> None:
    y, messages, batch = setup
    fresh = rerandomize_batch(batch, shuffle=False)
    assert not set(_records(fresh)) & set(_records(batch))
    assert decrypt_batch(fresh, y) == decrypt_batch(batch, y)
    s, k = Scalar.random(), Scalar.random()
    out = rrsk_batch(batch, s, k)
    expected = {rsk(ElGamal.from_bytes(r), s, k).to_bytes() for r in _records(batch)}
    assert not set(_records(out)) & expected  # rerandomized as well
    assert Counter(split_points(decrypt_batch(out, k * y))) == Counter(
        (s * m).to_bytes() for m in messages
    )


def test_wrong_session_key_is_a_clear_error(setup: tuple) -> None:
    y, _, batch = setup
    with pytest.raises(InvalidInputError) as caught:
        decrypt_batch(rekey_batch(batch, Scalar.random()), y)
    assert "cannot decrypt the batch" in str(caught.value)
    assert caught.value.params["public_key"] != (y * G).hex()


def _broken(batch: EncryptedBatch, index: int, half: int, value: bytes) -> EncryptedBatch:
    data = bytearray(batch.ciphertexts)
    start = index * 64 + half * 32
    data[start : start + 32] = value
    return EncryptedBatch(bytes(data), batch.public_key)


OPS: dict[str, Callable[[EncryptedBatch, Scalar], object]] = {
    "rsk": lambda b, y: rsk_batch(b, Scalar.random(), Scalar.random()),
    "reshuffle": lambda b, y: reshuffle_batch(b, Scalar.random()),
    "rerandomize": lambda b, y: rerandomize_batch(b),
    "decrypt": lambda b, y: decrypt_batch(b, y),
}
INVALID = b"\x01" + bytes(31)  # a negative field element: not a valid encoding


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("half", [0, 1], ids=["gb", "gc"])
@pytest.mark.parametrize("value", [INVALID, bytes(32)], ids=["invalid", "identity"])
def test_broken_ciphertexts_are_reported_by_position(
    setup: tuple, op: str, half: int, value: bytes
) -> None:
    y, _, batch = setup
    with pytest.raises(InvalidInputError) as caught:
        OPS[op](_broken(batch, 7, half, value), y)
    assert caught.value.params["index"] == 7
    assert "ciphertext 7 is not valid" in str(caught.value)


@pytest.mark.parametrize("half", [0, 1], ids=["gb", "gc"])
@pytest.mark.parametrize("value", [INVALID, bytes(32)], ids=["invalid", "identity"])
def test_rekey_checks_both_halves(setup: tuple, half: int, value: bytes) -> None:
    _, _, batch = setup
    with pytest.raises(InvalidInputError, match="ciphertext 3 is not valid"):
        rekey_batch(_broken(batch, 3, half, value), Scalar.random())


def test_decrypting_to_the_identity_is_refused() -> None:
    y, r = Scalar.random(), Scalar.random()
    forged = (r * G).to_bytes() + (r * (y * G)).to_bytes()  # (rG, rY) encrypts the identity
    with pytest.raises(InvalidInputError, match="decrypts to the identity"):
        decrypt_batch(EncryptedBatch(forged, y * G), y)


@pytest.mark.parametrize("length", [1, 63, 65, 100])
def test_batch_length_must_be_whole_ciphertexts(length: int) -> None:
    with pytest.raises(InvalidInputError, match="multiple of 64 bytes"):
        EncryptedBatch(bytes(length), G)


def test_packing_errors() -> None:
    with pytest.raises(InvalidInputError, match="ciphertext 1 must be 64 bytes"):
        EncryptedBatch.from_ciphertexts([bytes(64), bytes(63)], G)
    with pytest.raises(InvalidInputError, match="message 0 must be 32 bytes"):
        encrypt_batch([bytes(31)], G)
    with pytest.raises(InvalidInputError, match="multiple of 32 bytes"):
        encrypt_batch(bytes(33), G)


@pytest.mark.parametrize("value", [INVALID, bytes(32)], ids=["invalid", "identity"])
def test_invalid_messages_are_refused(value: bytes) -> None:
    good = GroupElement.random().to_bytes()
    with pytest.raises(InvalidInputError, match="message 1 is not a valid group element"):
        encrypt_batch([good, value], G)


def test_base64_round_trip(setup: tuple) -> None:
    _, _, batch = setup
    texts = batch.to_base64()
    assert texts[0] == batch.ciphertext(0).to_base64()
    assert EncryptedBatch.from_base64(texts, batch.public_key) == batch


def test_single_and_batch_encryption_agree() -> None:
    y, m = Scalar.random(), GroupElement.random()
    single = encrypt(m, y * G)
    batch = EncryptedBatch.from_ciphertexts([single], y * G)
    assert decrypt_batch(batch, y) == m.to_bytes()


def test_batches_pickle_and_print_briefly(setup: tuple) -> None:
    """Batches cross process and Ray worker boundaries; their repr never dumps the bytes."""
    import pickle

    _, _, batch = setup
    assert pickle.loads(pickle.dumps(batch)) == batch
    assert repr(batch).startswith(f"EncryptedBatch({N} ciphertexts, public_key=")

"""n-PEP: the global secret split across transcryptors; each does its part, the client combines
the session key shares, and a missing transcryptor fails clearly."""

from __future__ import annotations

import pytest

from shugu.errors import InvalidInputError, NotFoundError
from shugu.pep import (
    DistributedKeys,
    EncryptedBatch,
    G,
    GroupElement,
    Scalar,
    SessionKeyShare,
    Transcryptor,
    decrypt_batch,
    encrypt_batch,
    rsk_batch,
    setup_distributed,
    split_points,
    transcrypt_chain,
)

MOVE = {"domain_from": None, "domain_to": "job-1", "session_from": None, "session_to": "run-1"}


def make_system(n: int) -> tuple[list[Transcryptor], DistributedKeys]:
    parties = [Transcryptor.generate(f"t{i}") for i in range(1, n + 1)]
    return parties, setup_distributed(parties)


def expected_pseudonym(parties: list[Transcryptor], point: GroupElement) -> bytes:
    s = Scalar.one()
    for party in parties:
        s = s * party.reshuffle_factor("job-1")
    return (s * point).to_bytes()


@pytest.mark.parametrize("n", [2, 3])
def test_chain_transcrypts_to_the_combined_domain(n: int) -> None:
    parties, system = make_system(n)
    points = [GroupElement.random() for _ in range(5)]
    out = transcrypt_chain(encrypt_batch(points, system.public_key), parties, **MOVE)
    assert out.route == tuple(p.name for p in parties)
    keys = system.session_keys("run-1", [p.session_key_share("run-1") for p in reversed(parties)])
    got = set(split_points(system.decrypt(out, keys)))
    assert got == {expected_pseudonym(parties, p) for p in points}


@pytest.mark.parametrize("n", [2, 3])
def test_cross_holder_through_the_chain(n: int) -> None:
    parties, system = make_system(n)
    x = GroupElement.random()
    keys = system.session_keys("run-1", [p.session_key_share("run-1") for p in parties])
    results = []
    for _holder in ("holder-A", "holder-B"):
        batch = encrypt_batch([x], system.public_key)
        results.append(system.decrypt(transcrypt_chain(batch, parties, **MOVE), keys))
    assert results[0] == results[1] == expected_pseudonym(parties, x)


def test_the_public_key_is_the_blinded_key_times_every_blinding_factor() -> None:
    parties, system = make_system(3)
    assert system.public_key != system.blinded_secret_key * G  # x' alone is not the key
    rebuilt = system.blinded_secret_key * G
    for party in parties:
        rebuilt = party.blind(rebuilt)
    assert rebuilt == system.public_key


@pytest.mark.parametrize("missing", [0, 1, 2])
def test_a_skipped_transcryptor_fails_clearly(missing: int) -> None:
    parties, system = make_system(3)
    keys = system.session_keys("run-1", [p.session_key_share("run-1") for p in parties])
    present = [p for i, p in enumerate(parties) if i != missing]
    out = transcrypt_chain(
        encrypt_batch([GroupElement.random()], system.public_key), present, **MOVE
    )
    with pytest.raises(InvalidInputError) as caught:
        system.decrypt(out, keys)
    assert caught.value.params["transcryptor"] == parties[missing].name
    assert "has not transcrypted this batch" in str(caught.value)
    with pytest.raises(InvalidInputError, match="cannot decrypt the batch"):
        decrypt_batch(out, keys.secret)  # without the route, the key check still catches it


def test_a_skipped_transcryptor_leaves_the_batch_undecryptable() -> None:
    """Cryptographically, not just by the route: forcing decryption gives a wrong pseudonym."""
    parties, system = make_system(2)
    keys = system.session_keys("run-1", [p.session_key_share("run-1") for p in parties])
    x = GroupElement.random()
    partial = parties[0].transcrypt(encrypt_batch([x], system.public_key), **MOVE)
    forced = EncryptedBatch(partial.ciphertexts, keys.public)  # lie about the key
    assert decrypt_batch(forced, keys.secret) != expected_pseudonym(parties, x)


def test_a_missing_share_is_not_found() -> None:
    parties, system = make_system(3)
    shares = [p.session_key_share("run-1") for p in parties[:2]]
    with pytest.raises(NotFoundError) as caught:
        system.session_keys("run-1", shares)
    assert caught.value.params == {"transcryptor": "t3", "count": 3}


def test_bad_shares_are_refused() -> None:
    parties, system = make_system(2)
    good = [p.session_key_share("run-1") for p in parties]
    with pytest.raises(InvalidInputError, match="for session run-2, not run-1"):
        system.session_keys("run-1", [good[0], parties[1].session_key_share("run-2")])
    with pytest.raises(InvalidInputError, match="two session key shares"):
        system.session_keys("run-1", [good[0], good[0], good[1]])
    stranger = SessionKeyShare("mallory", "run-1", Scalar.random())
    with pytest.raises(InvalidInputError, match="mallory is not a transcryptor"):
        system.session_keys("run-1", [*good, stranger])


def test_a_forged_share_gives_a_key_that_cannot_decrypt() -> None:
    parties, system = make_system(2)
    shares = [
        parties[0].session_key_share("run-1"),
        SessionKeyShare("t2", "run-1", Scalar.random()),
    ]
    keys = system.session_keys("run-1", shares)
    out = transcrypt_chain(
        encrypt_batch([GroupElement.random()], system.public_key), parties, **MOVE
    )
    with pytest.raises(InvalidInputError, match="cannot decrypt the batch"):
        system.decrypt(out, keys)


def test_no_single_transcryptor_can_decrypt_or_link() -> None:
    parties, system = make_system(2)
    x = GroupElement.random()
    batch = encrypt_batch([x], system.public_key)
    # Its own share combined with the public blinded key is not the session key...
    alone = system.blinded_secret_key * parties[0].session_key_share("run-1").share
    out = transcrypt_chain(batch, parties, **MOVE)
    with pytest.raises(InvalidInputError, match="cannot decrypt the batch"):
        decrypt_batch(out, alone)
    # ...and its own reshuffle factor does not give the job's pseudonym.
    assert (parties[0].reshuffle_factor("job-1") * x).to_bytes() != expected_pseudonym(parties, x)


def test_a_transcryptor_acts_once_per_batch() -> None:
    parties, system = make_system(2)
    once = parties[0].transcrypt(encrypt_batch([GroupElement.random()], system.public_key), **MOVE)
    with pytest.raises(InvalidInputError, match="t1 has already transcrypted"):
        parties[0].transcrypt(once, **MOVE)


def test_setup_checks_the_transcryptors() -> None:
    with pytest.raises(InvalidInputError, match="at least one transcryptor"):
        setup_distributed([])
    twin = Transcryptor.generate("same")
    with pytest.raises(InvalidInputError, match="unique"):
        setup_distributed([twin, Transcryptor.generate("same")])
    with pytest.raises(InvalidInputError, match="needs a name"):
        Transcryptor("", b"p", b"e")
    with pytest.raises(InvalidInputError, match="non-empty bytes"):
        Transcryptor("t", b"", b"e")
    assert "secret" not in repr(twin) and repr(twin) == "Transcryptor('same')"


def test_each_step_shuffles() -> None:
    parties, system = make_system(2)
    batch = encrypt_batch([GroupElement.random() for _ in range(40)], system.public_key)
    info = parties[0].pseudonymization_info(**MOVE)
    in_order = rsk_batch(batch, info.s, info.k, shuffle=False)
    step = parties[0].transcrypt(batch, **MOVE)
    assert step.ciphertexts != in_order.ciphertexts
    assert sorted(_chunks(step.ciphertexts)) == sorted(_chunks(in_order.ciphertexts))


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 64] for i in range(0, len(data), 64)]

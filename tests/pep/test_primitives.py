"""The PEP primitives: what each does to the plaintext and the key, and how they compose."""

from __future__ import annotations

import pytest

from shugu.errors import InvalidInputError
from shugu.pep import (
    G,
    GroupElement,
    KeyPair,
    PseudonymizationInfo,
    Scalar,
    combine_session_key_shares,
    decrypt,
    derive_factor,
    encrypt,
    make_blinded_global_secret_key,
    make_global_keys,
    make_pseudonym_rekey_factor,
    make_session_key_share,
    make_session_keys,
    rekey,
    rekey2,
    rerandomize,
    reshuffle,
    reshuffle2,
    rrsk,
    rrsk2,
    rsk,
    rsk2,
)
from shugu.pep.factors import FactorType, derive_legacy_factor


def _setup() -> tuple[Scalar, GroupElement, GroupElement]:
    y = Scalar.random()
    return y, y * G, GroupElement.random()


def test_rerandomize_keeps_the_plaintext_and_changes_the_bytes() -> None:
    y, gy, m = _setup()
    ct = encrypt(m, gy)
    again = rerandomize(ct, gy)
    assert again != ct and again.gb != ct.gb and again.gc != ct.gc
    assert decrypt(again, y) == m


def test_reshuffle_rekey_rsk_rrsk() -> None:
    y, gy, m = _setup()
    s, k, r = Scalar.random(), Scalar.random(), Scalar.random()
    ct = encrypt(m, gy)
    assert decrypt(reshuffle(ct, s), y) == s * m
    assert decrypt(rekey(ct, k), k * y) == m
    assert rsk(ct, s, k) == rekey(reshuffle(ct, s), k) == reshuffle(rekey(ct, k), s)
    assert rrsk(ct, gy, r, s, k) == rekey(reshuffle(rerandomize(ct, gy, r), s), k)
    assert decrypt(rrsk(ct, gy, None, s, k), k * y) == s * m


def test_from_to_variants_are_transitive() -> None:
    y, gy, m = _setup()
    s1, s2, s3, k1, k2, k3 = (Scalar.random() for _ in range(6))
    ct = encrypt(s1 * m, k1 * gy)
    assert rsk2(rsk2(ct, s1, s2, k1, k2), s2, s3, k2, k3) == rsk2(ct, s1, s3, k1, k3)
    assert decrypt(rsk2(ct, s1, s3, k1, k3), k3 * y) == s3 * m
    assert decrypt(reshuffle2(ct, s1, s2), k1 * y) == s2 * m
    assert decrypt(rekey2(ct, k1, k2), k2 * y) == s1 * m
    r = Scalar.random()
    assert decrypt(rrsk2(ct, k1 * gy, r, s1, s2, k1, k2), k2 * y) == s2 * m


def test_pseudonymization_info_reverses() -> None:
    info = PseudonymizationInfo.derive(
        domain_from="holder-A",
        domain_to="job-1",
        session_from=None,
        session_to="s",
        pseudonymization_secret=b"p",
        encryption_secret=b"e",
    )
    y, gy, m = _setup()
    there = rsk(encrypt(m, gy), info.s, info.k)
    back = info.reverse()
    assert decrypt(rsk(there, back.s, back.k), y) == m


def test_factor_inputs_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="non-empty bytes"):
        derive_factor(b"", FactorType.RESHUFFLE, "x")
    with pytest.raises(InvalidInputError, match="must be text"):
        derive_factor(b"k", FactorType.RESHUFFLE, 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="32-bit"):
        derive_legacy_factor(b"k", 1, -1, "x")


def test_factor_types_and_names_separate_factors() -> None:
    factors = {derive_factor(b"k", t, n) for t in FactorType for n in ("a", "b")}
    assert len(factors) == 6


def test_session_keys_match_the_rekey_factor() -> None:
    keys = make_global_keys()
    session = make_session_keys(keys.secret, "job-7", b"secret")
    assert session.secret == make_pseudonym_rekey_factor(b"secret", "job-7") * keys.secret
    m = GroupElement.random()
    ct = encrypt(m, keys.public)
    k = make_pseudonym_rekey_factor(b"secret", "job-7")
    assert decrypt(rekey(ct, k), session.secret) == m


def test_key_pair_must_belong_together() -> None:
    a, b = make_global_keys(), make_global_keys()
    with pytest.raises(InvalidInputError, match="does not belong to the public key"):
        KeyPair(a.public, b.secret)


def test_blinded_session_keys_equal_the_direct_ones() -> None:
    keys = make_global_keys()
    blindings = [Scalar.random(), Scalar.random()]
    secrets_ = [b"one", b"two"]
    blinded = make_blinded_global_secret_key(keys.secret, blindings)
    shares = [
        make_session_key_share(make_pseudonym_rekey_factor(e, "s"), b)
        for e, b in zip(secrets_, blindings, strict=True)
    ]
    combined = combine_session_key_shares(blinded, shares)
    k = make_pseudonym_rekey_factor(b"one", "s") * make_pseudonym_rekey_factor(b"two", "s")
    assert combined.secret == k * keys.secret
    with pytest.raises(InvalidInputError, match="at least one"):
        combine_session_key_shares(blinded, [])
    with pytest.raises(InvalidInputError, match="cancel out"):
        make_blinded_global_secret_key(keys.secret, [blindings[0], blindings[0].invert()])

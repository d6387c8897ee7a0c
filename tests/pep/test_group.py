"""Scalars, group elements and ciphertext encodings: validation with clear, translatable errors."""

from __future__ import annotations

import pickle

import pytest

from shugu.errors import InvalidInputError
from shugu.i18n import translate
from shugu.pep import ElGamal, G, GroupElement, Scalar, decrypt, encrypt
from shugu.pep._sodium import ORDER

# Encodings that are not canonical Ristretto255 points (from the ristretto255 test vectors'
# "bad encodings": a non-canonical field element, a negative one, and a non-square).
BAD_POINTS = [
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
]


def _error(call: object, *args: object) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def test_errors_keep_an_untranslated_template_and_their_values() -> None:
    err = _error(GroupElement.from_bytes, b"\x01" * 31)
    assert err.message == "a group element must be {expected} bytes, got {length}"
    assert err.params == {"expected": 32, "length": 31}
    assert str(err) == "a group element must be 32 bytes, got 31"
    assert pickle.loads(pickle.dumps(err)).params == err.params
    assert translate(err.message, "en") == err.message


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_group_element_wrong_length(length: int) -> None:
    assert "32 bytes" in str(_error(GroupElement.from_bytes, bytes(length)))


@pytest.mark.parametrize("encoding", BAD_POINTS, ids=["non-canonical", "negative", "non-square"])
def test_invalid_point_encodings(encoding: str) -> None:
    err = _error(GroupElement.from_hex, encoding)
    assert "not a canonical Ristretto255 point" in str(err)
    assert err.params["value"] == encoding


def test_identity_element_is_refused() -> None:
    assert str(_error(GroupElement.from_bytes, bytes(32))) == (
        "the identity element is not allowed here"
    )
    assert "identity" in str(_error(lambda: G - G))


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (bytes(31), "32 bytes, got 31"),
        (bytes(33), "32 bytes, got 33"),
        (bytes(32), "zero"),
        (ORDER.to_bytes(32, "little"), "not canonical"),
        ((ORDER + 1).to_bytes(32, "little"), "not canonical"),
        (b"\xff" * 32, "not canonical"),
    ],
    ids=["short", "long", "zero", "l", "l+1", "all-ones"],
)
def test_scalar_validation(data: bytes, fragment: str) -> None:
    assert fragment in str(_error(Scalar.from_bytes, data))


def test_hex_and_type_errors() -> None:
    assert "not a hexadecimal string" in str(_error(Scalar.from_hex, "zz"))
    assert "type str" in str(_error(GroupElement, "00" * 32))
    assert "64 bytes" in str(_error(GroupElement.from_hash, bytes(32)))
    assert "64 bytes" in str(_error(Scalar.from_hash, bytes(63)))


def test_largest_canonical_scalar_is_accepted() -> None:
    s = Scalar.from_bytes((ORDER - 1).to_bytes(32, "little"))
    assert s * s == Scalar.one()  # (−1)² = 1


def test_scalar_arithmetic_and_caching() -> None:
    s = Scalar.random()
    assert s * s.invert() == Scalar.one()
    assert s.invert() is s.invert()
    assert s.invert().invert() is s
    assert Scalar.from_hash(bytes(64)) == Scalar.one()  # 0 maps to 1


def test_secrets_are_not_shown() -> None:
    assert repr(Scalar.random()) == "Scalar(<redacted>)"


def test_values_pickle_and_hash() -> None:
    s, p = Scalar.random(), GroupElement.random()
    assert pickle.loads(pickle.dumps(s)) == s
    assert pickle.loads(pickle.dumps(p)) == p
    assert len({p, GroupElement(p.to_bytes())}) == 1


def test_point_arithmetic() -> None:
    a, b = Scalar.random(), Scalar.random()
    p = a * G
    assert (p + b * G) - b * G == p
    assert b * (a * G) == a * (b * G) == (a * b) * G
    assert G.multiply(a) == p  # fixed-base path
    assert GroupElement.random() != GroupElement.random()


def test_elgamal_encodings() -> None:
    y = Scalar.random()
    ct = encrypt(GroupElement.random(), y * G)
    assert ElGamal.from_bytes(ct.to_bytes()) == ct
    assert ElGamal.from_hex(ct.hex()) == ct
    text = ct.to_base64()
    assert len(text) == 88 and text.endswith("=")
    assert ElGamal.from_base64(text) == ct


@pytest.mark.parametrize(
    "text",
    ["not base64!", "", "A" * 88, "+" * 86 + "=="],
    ids=["alphabet", "empty", "unpadded-or-invalid", "standard-alphabet"],
)
def test_elgamal_base64_errors(text: str) -> None:
    assert isinstance(_error(ElGamal.from_base64, text), InvalidInputError)


def test_elgamal_base64_requires_padding() -> None:
    text = encrypt(GroupElement.random(), G).to_base64()
    assert "base64" in str(_error(ElGamal.from_base64, text.rstrip("=")))


@pytest.mark.parametrize("length", [0, 32, 63, 65, 96])
def test_elgamal_wrong_length(length: int) -> None:
    assert "64 bytes" in str(_error(ElGamal.from_bytes, b"\x01" * length))


def test_elgamal_identity_halves_are_refused() -> None:
    ct = encrypt(GroupElement.random(), G).to_bytes()
    for broken in (bytes(32) + ct[32:], ct[:32] + bytes(32)):
        assert "identity" in str(_error(ElGamal.from_bytes, broken))


def test_decrypt_with_a_wrong_key_gives_another_element() -> None:
    y, m = Scalar.random(), GroupElement.random()
    ct = encrypt(m, y * G)
    assert decrypt(ct, y) == m
    assert decrypt(ct, Scalar.random()) != m

"""Session key shares sealed to the job's X25519 key (RFC 9180 HPKE from `cryptography`)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from shugu.errors import InvalidInputError
from shugu.pep.distributed import SessionKeyShare
from shugu.pep.group import Scalar
from shugu.pep.sharing import (
    RecipientKey,
    SealedShare,
    open_session_key,
    recipient_public_key,
    seal_share,
)


def test_a_sealed_share_opens_for_its_recipient_only() -> None:
    recipient = RecipientKey.generate()
    share = SessionKeyShare("auditor", "study#run-1", Scalar.random())
    sealed = seal_share(share, recipient.public_bytes)
    assert share.share.to_bytes() not in sealed.sealed
    assert recipient.open(sealed) == share
    with pytest.raises(InvalidInputError, match="does not open"):
        RecipientKey.generate().open(sealed)


def test_sealing_is_randomised() -> None:
    recipient = RecipientKey.generate()
    share = SessionKeyShare("a", "j#s", Scalar.random())
    assert seal_share(share, recipient.public_bytes) != seal_share(share, recipient.public_bytes)


@pytest.mark.parametrize("position", [0, 31, 40, -1])
def test_an_altered_share_does_not_open(position: int) -> None:
    recipient = RecipientKey.generate()
    sealed = seal_share(SessionKeyShare("a", "j#s", Scalar.random()), recipient.public_bytes)
    raw = bytearray(sealed.sealed)
    raw[position] ^= 1
    with pytest.raises(InvalidInputError, match="does not open"):
        recipient.open(SealedShare("a", "j#s", bytes(raw)))
    with pytest.raises(InvalidInputError, match="does not open"):
        recipient.open(SealedShare("a", "j#s", sealed.sealed[:20]))


def test_a_recipient_key_must_be_32_bytes_and_is_never_shown() -> None:
    with pytest.raises(InvalidInputError, match="must be 32 bytes, got 31"):
        recipient_public_key(bytes(31))
    assert "hidden" in repr(RecipientKey.generate())


def _answer(
    recipient: RecipientKey, shares: list[Scalar], *, public_of: Scalar | None = None
) -> tuple[dict[str, Any], Scalar]:
    from shugu.pep.group import G

    blinded = Scalar.random()
    secret = blinded
    for share in shares:
        secret = secret * share
    sealed = [
        seal_share(SessionKeyShare(f"t{i}", "j#s", share), recipient.public_bytes)
        for i, share in enumerate(shares)
    ]
    return {
        "context": "j#s",
        "blinded_secret_key": blinded.hex(),
        "public_key": ((public_of or secret) * G).hex(),
        "shares": [
            {"transcryptor": s.transcryptor, "sealed": base64.b64encode(s.sealed).decode()}
            for s in sealed
        ],
    }, secret


def test_open_session_key_combines_checks_and_refuses() -> None:
    recipient = RecipientKey.generate()
    answer, secret = _answer(recipient, [Scalar.random(), Scalar.random()])
    assert open_session_key(answer, recipient) == secret
    with pytest.raises(InvalidInputError, match="does not open"):
        open_session_key(answer, RecipientKey.generate())
    unsealed = answer | {"shares": [{"transcryptor": "t0", "share": "ab" * 32}]}
    with pytest.raises(InvalidInputError, match="share of t0 unsealed"):
        open_session_key(unsealed, recipient)
    wrong, _ = _answer(recipient, [Scalar.random()], public_of=Scalar.random())
    with pytest.raises(InvalidInputError, match="do not combine"):
        open_session_key(wrong, recipient)
    with pytest.raises(InvalidInputError, match="malformed"):
        open_session_key({"context": "j#s"}, recipient)

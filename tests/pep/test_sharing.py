"""Session key shares sealed to the job's X25519 key (RFC 9180 HPKE from `cryptography`)."""

from __future__ import annotations

import pytest

from shugu.errors import InvalidInputError
from shugu.pep.distributed import SessionKeyShare
from shugu.pep.group import Scalar
from shugu.pep.sharing import RecipientKey, SealedShare, recipient_public_key, seal_share


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

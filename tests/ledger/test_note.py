"""Signed notes, verifier keys, checkpoints and cosignatures (C2SP)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.ledger.note import (
    COSIGNATURE_V1,
    Checkpoint,
    InvalidNoteError,
    NoteNotVerifiedError,
    Signer,
    Verifier,
    parse_note,
    verify_note,
)

# The example note and key of the Go checksum-database note format (golang.org/x/mod/sumdb/note).
GO_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZ"
    "b6KE6RyyBwJnAM=\n"
)

LOG = Signer("example.org/log", Ed25519PrivateKey.generate())
WITNESS = Signer("example.org/witness", Ed25519PrivateKey.generate(), COSIGNATURE_V1)
TEXT = Checkpoint("example.org/log", 7, bytes(range(32))).text()
NOTE = TEXT + "\n" + LOG.signature_line(TEXT)


def test_a_note_written_by_another_implementation_verifies() -> None:
    check = verify_note(GO_NOTE, [Verifier.parse(GO_KEY)])
    assert check.verified == (GO_KEY,)
    assert check.note.text.startswith("If you think")


def test_verifier_keys_round_trip_and_ids_are_checked() -> None:
    assert Verifier.parse(GO_KEY).encode() == GO_KEY
    bad_id = GO_KEY.replace("c74f20a3", "c74f20a4")
    with pytest.raises(InvalidNoteError, match="does not match"):
        Verifier.parse(bad_id)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("name+c74f20a3", id="two-parts"),
        pytest.param(
            "na me+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", id="space-in-name"
        ),
        pytest.param(
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", id="upper-hex"
        ),
        pytest.param("PeterNeumann+c74f20a3+!!!", id="bad-base64"),
        pytest.param("PeterNeumann+c74f20a3+AhpjZA==", id="short-key"),
        pytest.param(
            "PeterNeumann+c74f20a3+CRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", id="unknown-type"
        ),
    ],
)
def test_malformed_verifier_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidNoteError):
        Verifier.parse(key)


def test_unknown_keys_are_listed_and_ignored() -> None:
    cosigned = NOTE + WITNESS.signature_line(TEXT, timestamp=1_800_000_000)
    check = verify_note(cosigned, [LOG.verifier])
    assert check.unknown == (f"example.org/witness+{WITNESS.verifier.key_id.hex()}",)
    both = verify_note(cosigned, [LOG.verifier, WITNESS.verifier])
    assert set(both.verified) == {LOG.verifier.encode(), WITNESS.verifier.encode()}


def _resigned(line: str) -> str:
    """The log's signature line with its signature bytes replaced (same name and key id)."""
    blob = base64.b64decode(line.split(" ")[2])
    return f"— example.org/log {base64.b64encode(blob[:4] + bytes(64)).decode()}\n"


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(LOG.signature_line(TEXT), id="identical"),
        pytest.param(_resigned(LOG.signature_line(TEXT)), id="second-fails"),
    ],
)
def test_a_note_signed_twice_by_one_known_key_is_malformed(second: str) -> None:
    with pytest.raises(InvalidNoteError, match=r"signed twice by example\.org/log"):
        verify_note(NOTE + second, [LOG.verifier])


def test_repeated_identical_unknown_signatures_are_listed_once() -> None:
    line = WITNESS.signature_line(TEXT, timestamp=1_800_000_000)
    check = verify_note(NOTE + line + line, [LOG.verifier])
    assert len(check.unknown) == 1 and check.verified == (LOG.verifier.encode(),)


def test_a_failing_known_signature_rejects_the_note() -> None:
    forged = NOTE.replace("\n7\n", "\n8\n")
    with pytest.raises(NoteNotVerifiedError, match="does not verify"):
        verify_note(forged, [LOG.verifier])


def test_a_note_without_a_known_signature_is_rejected() -> None:
    with pytest.raises(NoteNotVerifiedError, match="no signature by a given key"):
        verify_note(NOTE, [WITNESS.verifier])


def test_same_name_other_key_is_unknown_not_failing() -> None:
    impostor = Signer("example.org/log", Ed25519PrivateKey.generate())
    with pytest.raises(NoteNotVerifiedError, match="no signature by a given key"):
        verify_note(NOTE, [impostor.verifier])


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param("text\n", id="no-signature-block"),
        pytest.param("text\n\n", id="no-signatures"),
        pytest.param("text\n\n— name\n", id="line-without-signature"),
        pytest.param("text\n\n- name AAAAAAAA\n", id="hyphen-not-em-dash"),
        pytest.param("text\n\n— name AAAA\n", id="too-short"),
        pytest.param("text\n\n— name AAAAAAAA", id="no-final-newline"),
        pytest.param("te\x07xt\n\n— name AAAAAAAA\n", id="control-character"),
    ],
)
def test_malformed_notes_are_refused(raw: str | bytes) -> None:
    with pytest.raises(InvalidNoteError):
        parse_note(raw)


def test_cosignatures_bind_the_timestamp() -> None:
    line = WITNESS.signature_line(TEXT, timestamp=1_800_000_000)
    blob = bytearray(base64.b64decode(line.split()[-1]))
    blob[4 + 7] ^= 1  # change the timestamp, keep the signature
    tampered = (
        line.split()[0]
        + " "
        + line.split()[1]
        + " "
        + base64.b64encode(bytes(blob)).decode()
        + "\n"
    )
    with pytest.raises(NoteNotVerifiedError, match="does not verify"):
        verify_note(NOTE + tampered, [LOG.verifier, WITNESS.verifier])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("origin\n7\n", id="too-few-lines"),
        pytest.param(
            "origin\n07\n" + base64.b64encode(bytes(32)).decode() + "\n", id="leading-zero"
        ),
        pytest.param("origin\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n", id="negative"),
        pytest.param("origin\n7\n" + base64.b64encode(bytes(31)).decode() + "\n", id="short-root"),
        pytest.param("origin\n7\nnot base64\n", id="root-not-base64"),
        pytest.param(
            "origin\n7\n" + base64.b64encode(bytes(32)).decode() + "\n\n", id="empty-extension"
        ),
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(InvalidNoteError):
        Checkpoint.parse(text)


def test_checkpoints_round_trip_with_extensions() -> None:
    checkpoint = Checkpoint("example.org/log", 123, bytes(32), ("ext line",))
    assert Checkpoint.parse(checkpoint.text()) == checkpoint


def test_keys_whose_base64_holds_a_plus_sign_parse() -> None:
    for _ in range(200):
        signer = Signer("example.org/log", Ed25519PrivateKey.generate())
        encoded = signer.verifier.encode()
        if "+" in encoded.split("+", 2)[2]:
            break
    assert Verifier.parse(encoded) == signer.verifier

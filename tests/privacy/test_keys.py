"""Pseudonym keys: never shown, stored sealed, created once."""

from __future__ import annotations

import base64
import json
import pickle
import stat
import threading
from pathlib import Path

import pytest

from shugu.errors import ConflictError, InvalidInputError, NotFoundError
from shugu.keys.sealing import KeyEncryptionKey
from shugu.privacy.keys import KEY_BYTES, KeyStore, PseudonymKey

SECRET = bytes(range(32))


def secret_forms(secret: bytes) -> list[str]:
    return [
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        base64.b64encode(secret).decode(),
        secret.hex(),
        repr(secret),
    ]


def test_repr_and_str_never_show_the_secret() -> None:
    key = PseudonymKey(SECRET, holder="clinic-a")
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert "clinic-a" in text
        assert key.key_id in text
        for form in secret_forms(SECRET):
            assert form not in text


def test_hmac_key_is_unpadded_base64url_of_the_secret() -> None:
    key = PseudonymKey(SECRET)
    assert key.hmac_key() == base64.urlsafe_b64encode(SECRET).decode().rstrip("=")
    assert len(key.hmac_key()) == 43


def test_from_text_round_trips() -> None:
    key = PseudonymKey.generate(holder="h")
    again = PseudonymKey.from_text(key.hmac_key(), holder="h")
    assert again == key
    assert again.key_id == key.key_id
    assert hash(again) == hash(key)


@pytest.mark.parametrize("text", ["", "not base64!", "AAAA", SECRET.hex()], ids=str)
def test_from_text_rejects_bad_text(text: str) -> None:
    with pytest.raises(InvalidInputError):
        PseudonymKey.from_text(text)


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_wrong_secret_length_is_rejected(size: int) -> None:
    with pytest.raises(InvalidInputError) as info:
        PseudonymKey(bytes(size))
    assert info.value.params == {"expected": KEY_BYTES, "actual": size}


def test_generated_keys_differ() -> None:
    assert PseudonymKey.generate() != PseudonymKey.generate()


def test_derived_keys_are_stable_and_distinct() -> None:
    key = PseudonymKey(SECRET, holder="h")
    shift = key.derive("date-shift")
    assert shift == PseudonymKey(SECRET).derive("date-shift")
    assert shift != key
    assert shift != key.derive("other")
    assert shift.holder == "h/date-shift"


def test_key_id_is_not_the_secret_and_is_stable() -> None:
    key = PseudonymKey(SECRET)
    assert key.key_id == PseudonymKey(SECRET).key_id
    assert len(key.key_id) == 16
    assert key.key_id not in "".join(secret_forms(SECRET))


def test_keys_pickle() -> None:
    key = PseudonymKey(SECRET, holder="h")
    again = pickle.loads(pickle.dumps(key))
    assert again == key
    assert again.holder == "h"


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


def test_get_or_create_stores_a_sealed_0600_file(tmp_path: Path, kek: KeyEncryptionKey) -> None:
    folder = tmp_path / "keys"
    key = KeyStore(folder, kek).get_or_create("hospital-a")
    path = folder / "hospital-a.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0
    text = path.read_text()
    for form in secret_forms(key._secret):
        assert form not in text
    record = json.loads(text)
    assert record["holder"] == "hospital-a"
    assert record["key_id"] == key.key_id
    assert sorted(p.name for p in folder.iterdir()) == ["hospital-a.json"]  # no temp file left


def test_keys_survive_a_new_store_and_differ_per_holder(
    tmp_path: Path, kek: KeyEncryptionKey
) -> None:
    first = KeyStore(tmp_path, kek)
    a = first.get_or_create("hospital-a")
    b = first.get_or_create("hospital-b")
    again = KeyStore(tmp_path, kek)
    assert again.get("hospital-a") == a
    assert again.get_or_create("hospital-a") == a
    assert a != b
    assert again.holders() == ["hospital-a", "hospital-b"]


def test_get_of_an_unknown_holder_is_not_found(tmp_path: Path, kek: KeyEncryptionKey) -> None:
    with pytest.raises(NotFoundError) as info:
        KeyStore(tmp_path, kek).get("nobody")
    assert info.value.params["holder"] == "nobody"


def test_another_kek_cannot_open_the_key(tmp_path: Path, kek: KeyEncryptionKey) -> None:
    KeyStore(tmp_path, kek).get_or_create("h")
    with pytest.raises(InvalidInputError):
        KeyStore(tmp_path, KeyEncryptionKey.generate()).get("h")


def test_a_key_file_renamed_to_another_holder_does_not_open(
    tmp_path: Path, kek: KeyEncryptionKey
) -> None:
    KeyStore(tmp_path, kek).get_or_create("a")
    record = json.loads((tmp_path / "a.json").read_text())
    record["holder"] = "b"
    (tmp_path / "b.json").write_text(json.dumps(record))
    with pytest.raises(InvalidInputError):
        KeyStore(tmp_path, kek).get("b")


@pytest.mark.parametrize("content", ["", "{}", "[1]", '{"format": 1, "holder": "h"}'])
def test_a_damaged_key_file_names_its_path(
    tmp_path: Path, kek: KeyEncryptionKey, content: str
) -> None:
    (tmp_path / "h.json").write_text(content)
    with pytest.raises(InvalidInputError) as info:
        KeyStore(tmp_path, kek).get("h")
    assert info.value.params["path"] == str(tmp_path / "h.json")


@pytest.mark.parametrize("holder", ["", "../x", "a/b", ".hidden", "x.", "a b", "x" * 129])
def test_bad_holder_names_are_rejected(tmp_path: Path, kek: KeyEncryptionKey, holder: str) -> None:
    with pytest.raises(InvalidInputError):
        KeyStore(tmp_path, kek).get_or_create(holder)
    assert not list(tmp_path.iterdir())


def test_racing_creators_agree_on_one_key(tmp_path: Path, kek: KeyEncryptionKey) -> None:
    results: list[PseudonymKey] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        results.append(KeyStore(tmp_path, kek).get_or_create("shared"))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(key == results[0] for key in results)
    assert KeyStore(tmp_path, kek).get("shared") == results[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.json"]


def test_create_refuses_to_replace_a_key(tmp_path: Path, kek: KeyEncryptionKey) -> None:
    store = KeyStore(tmp_path, kek)
    created = store.create("h")
    with pytest.raises(ConflictError) as info:
        store.create("h")
    assert info.value.params["holder"] == "h"
    assert store.get("h") == created


def test_an_existing_key_is_never_replaced(tmp_path: Path, kek: KeyEncryptionKey) -> None:
    store = KeyStore(tmp_path, kek)
    original = store.get_or_create("h")
    assert store._create(tmp_path / "h.json", PseudonymKey.generate(holder="h"), "h") is False
    assert store.get("h") == original

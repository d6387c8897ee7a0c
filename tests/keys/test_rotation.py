"""Rotating the key-encryption key: everything sealed again under a new key, the hub working
after, an interrupted rotation finished by running it again, and refusals that change nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from shugu.db import Database
from shugu.errors import InvalidInputError
from shugu.home import Home
from shugu.home.keyring import Keyring
from shugu.keys import load_kek
from shugu.keys.models import HubKeyRow
from shugu.keys.rotation import purpose_of, rotate
from shugu.keys.sealing import KeyEncryptionKey
from shugu.pep.group import Scalar
from shugu.pep.session_keys import default_path, read_session_key, write_session_key
from shugu.privacy.keys import KeyStore
from shugu.runtime import Hub
from shugu.settings import Settings
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    ok_json(shugu(path, "init", "--operator", "exchange", "--json"))
    ok_json(shugu(path, "participant", "apply", "holder-a", "--role", "holder", "--json"))
    ok_json(shugu(path, "participant", "approve", "holder-a", "--json"))
    ok_json(shugu(path, "privacy", "keygen", "holder-a", "--json"))
    ok_json(shugu(path, "pep", "keygen", "--json"))
    return path


def _rows(settings: Settings) -> dict[str, bytes]:
    db = Database.open(settings.resolved_database_url)
    try:
        with db.session() as session:
            rows = session.scalars(select(HubKeyRow)).all()
            return {r.name: r.sealed_private_key for r in rows if r.sealed_private_key}
    finally:
        db.dispose()


def _opens_everything(settings: Settings, kek: KeyEncryptionKey) -> None:
    for name, blob in _rows(settings).items():
        purpose = purpose_of(name)
        assert purpose is not None
        kek.open(blob, purpose=purpose)
    home = Home(settings.home)
    for name in Keyring(home.identities, kek).names():
        Keyring(home.identities, kek).load(name)
    for holder in KeyStore(home.pseudonym_keys, kek).holders():
        KeyStore(home.pseudonym_keys, kek).get(holder)


def _state(home: Path) -> dict[str, object]:
    settings = Settings(home=home)
    kek = load_kek(settings)
    return {
        "pep": ok_json(shugu(home, "pep", "keygen", "--json"))["public_key"],
        "pseudonym_key": KeyStore(Home(home).pseudonym_keys, kek).get("holder-a").key_id,
        "identity": Keyring(Home(home).identities, kek).load("holder-a").public_key,
    }


def test_rotation_seals_everything_under_a_new_key_and_the_hub_works(home: Path) -> None:
    settings = Settings(home=home)
    old = load_kek(settings)
    before = _state(home)
    secret = Scalar.random()
    session_file = default_path(Home(home).pep_sessions, "j#s")
    write_session_key(session_file, old, job="j", session="s", context="j#s", secret=secret)
    report = ok_json(shugu(home, "key", "rotate", "--json"))
    assert report == {
        "hub_keys": 5,  # CA, log key, PEP client key, custodian, system
        "identities": 2,
        "pseudonym_keys": 1,
        "session_keys": 1,
        "key_file_replaced": True,
        "resumed": False,
    }
    assert read_session_key(session_file, load_kek(settings)) == secret
    with pytest.raises(InvalidInputError, match="does not open"):
        read_session_key(session_file, old)
    new = load_kek(settings)
    assert not new.same_key(old) and not new.has_previous
    assert not Home(home).previous_secret_file.exists()
    assert (home / "secret.key").stat().st_mode & 0o077 == 0
    _opens_everything(settings, new)
    with pytest.raises(InvalidInputError, match="cannot be opened"):
        _opens_everything(settings, old)
    assert _state(home) == before
    # the CA key signs, the log key checkpoints
    ok_json(shugu(home, "participant", "apply", "runner", "--role", "user", "--json"))
    ok_json(shugu(home, "participant", "approve", "runner", "--json"))
    ok_json(shugu(home, "--as", "runner", "ledger", "verify", "--json"))
    shown = shugu(home, "key", "rotate")
    assert shown.exit_code == 0 and "sealed again under the new key: 5 hub keys" in shown.stdout


def test_an_interrupted_rotation_still_opens_and_finishes_when_run_again(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shugu.keys.rotation as rotation

    settings = Settings(home=home)
    old = load_kek(settings)
    before = _state(home)
    write = rotation._write_private
    calls = {"n": 0}

    def failing(path: Path, text: str) -> None:
        calls["n"] += 1
        if path.parent.name == "identities":  # after the key files and the database
            raise OSError("disk full")
        write(path, text)

    monkeypatch.setattr(rotation, "_write_private", failing)
    with pytest.raises(OSError, match="disk full"):
        rotate(settings)
    monkeypatch.setattr(rotation, "_write_private", write)
    halfway = load_kek(settings)
    assert Home(home).previous_secret_file.exists() and halfway.has_previous
    assert _state(home) == before  # everything opens, under either key
    new_key = (home / "secret.key").read_text()
    report = rotate(settings)
    assert report.resumed and report.key_file_replaced
    assert (home / "secret.key").read_text() == new_key  # the same rotation, finished
    assert not Home(home).previous_secret_file.exists()
    _opens_everything(settings, load_kek(settings))
    with pytest.raises(InvalidInputError):
        _opens_everything(settings, old)


def test_a_crash_before_the_new_key_was_written_rotates_on_the_next_run(home: Path) -> None:
    settings = Settings(home=home)
    current = (home / "secret.key").read_text()
    Home(home).previous_secret_file.write_text(current)  # kept, but no new key yet
    report = rotate(settings)
    assert report.resumed
    assert (home / "secret.key").read_text() != current
    assert not Home(home).previous_secret_file.exists()
    _opens_everything(settings, load_kek(settings))


def test_a_secret_that_does_not_open_stops_the_rotation_before_anything_changes(
    home: Path,
) -> None:
    path = Home(home).identities / "holder-a.json"
    record = json.loads(path.read_text())
    stranger = KeyEncryptionKey.generate().seal(b"x" * 32, purpose="identity:holder-a")
    record["sealed_private_key"] = base64.b64encode(stranger).decode()
    path.write_text(json.dumps(record))
    key_before, rows_before = (home / "secret.key").read_text(), _rows(Settings(home=home))
    result = shugu(home, "key", "rotate")
    assert result.exit_code == 3
    assert "holder-a.json" in result.stderr and "nothing was changed" in result.stderr
    assert (home / "secret.key").read_text() == key_before
    assert _rows(Settings(home=home)) == rows_before
    assert not Home(home).previous_secret_file.exists()


def test_an_unknown_kind_of_hub_key_stops_the_rotation(home: Path) -> None:
    settings = Settings(home=home)
    db = Database.open(settings.resolved_database_url)
    with db.session() as session:
        row = session.get(HubKeyRow, "log")
        assert row is not None
        session.add(
            HubKeyRow(
                name="mystery",
                sealed_private_key=row.sealed_private_key,
                public_key=b"",
                certificate_pem="",
                created_at=row.created_at,
            )
        )
    db.dispose()
    key_before = (home / "secret.key").read_text()
    result = shugu(home, "key", "rotate")
    assert result.exit_code == 3 and "mystery is of an unknown kind" in result.stderr
    assert (home / "secret.key").read_text() == key_before


def test_a_key_from_the_environment_is_rotated_with_the_previous_one_configured(
    hub: Hub, settings: Settings
) -> None:
    public = hub.pep.public_info().public_key
    hub.close()
    old, new = load_kek(settings), KeyEncryptionKey.generate()
    during = Settings.model_validate(
        settings.model_dump()
        | {"secret_key": new.to_text(), "previous_secret_keys": [old.to_text()]}
    )
    report = rotate(during)
    assert not report.key_file_replaced and report.resumed and report.hub_keys == 5
    after = Settings.model_validate(
        settings.model_dump() | {"secret_key": new.to_text(), "previous_secret_keys": []}
    )
    _opens_everything(after, load_kek(after))
    reopened = Hub.open(after)
    try:
        assert reopened.pep.public_info().public_key == public
    finally:
        reopened.close()

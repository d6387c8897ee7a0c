"""A home made before key custody moved into `shugu.keys` (see tests/fixtures/README.md) opens,
rotates and restores with today's code: the purpose labels stayed byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shugu.home import Home
from shugu.home.keyring import Keyring
from shugu.keys import load_kek
from shugu.keys.rotation import rotate
from shugu.pep.session_keys import read_session_key
from shugu.privacy.keys import KeyStore
from shugu.runtime import Hub
from shugu.settings import Settings
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.usefixtures("clean_environment")

FIXTURE = Path(__file__).parent.parent / "fixtures" / "home-2026-11-27"
NAMES = {"beijing-research", "exchange-operator", "hangzhou-pharma", "shanghai-hospital"}


@pytest.fixture
def old_home(tmp_path: Path) -> Path:
    path = tmp_path / "old-home"
    shutil.copytree(FIXTURE, path)
    return path


def _opens_all(home: Path) -> None:
    settings = Settings(home=home)
    kek = load_kek(settings)
    layout = Home(home)
    keyring = Keyring(layout.identities, kek)
    assert set(keyring.names()) == NAMES
    for name in NAMES:
        keyring.load(name)
    assert KeyStore(layout.pseudonym_keys, kek).get("clinic-a").holder == "clinic-a"
    (session_file,) = layout.pep_sessions.glob("*.json")
    read_session_key(session_file, kek)  # a scalar, opened under its purpose
    hub = Hub.open(settings)  # opens the CA, log and PEP keys sealed by the old code
    try:
        assert hub.identity.ca_certificate_pem().startswith("-----BEGIN CERTIFICATE-----")
        assert hub.ledger.size() >= 11
        hub.pep.public_info()
    finally:
        hub.close()


def test_an_old_home_opens(old_home: Path) -> None:
    _opens_all(old_home)
    verified = ok_json(shugu(old_home, "ledger", "verify", "--json"))
    assert verified["size"] >= 11


def test_an_old_home_rotates_and_still_opens(old_home: Path) -> None:
    before = (old_home / "secret.key").read_text()
    report = rotate(Settings(home=old_home))
    assert (old_home / "secret.key").read_text() != before
    assert report.hub_keys >= 4 and report.identities == 4
    assert report.pseudonym_keys == 1 and report.session_keys == 1
    _opens_all(old_home)
    ok_json(shugu(old_home, "ledger", "verify", "--json"))


def test_an_old_home_backs_up_and_restores(old_home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "old.shugu-backup"
    env = {"SHUGU_BACKUP_PASSPHRASE": "correct horse battery staple"}
    ok_json(shugu(old_home, "backup", str(archive), "--json", env=env))
    restored = tmp_path / "restored"
    ok_json(shugu(restored, "restore", str(archive), "--json", env=env))
    _opens_all(restored)

"""`shugu backup` / `shugu restore`: round trip, and bad archives that leave the home intact.

The encryption itself (passphrases, tampering, the earlier format) is in test_backup_crypto.py.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shugu.home.backup import restore_backup
from shugu.settings import Settings
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture
from tests.home.backups import (
    PASSPHRASE,
    make_home,
    manifest_of,
    names,
    open_sealed,
    restore_leftovers,
    rewrite_tar,
    seal,
    snapshot,
    use_backup_environment,
    write_legacy_archive,
)

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_backup_environment(monkeypatch, PASSPHRASE)
    return make_home(tmp_path / "home")


def test_backup_and_restore_round_trip(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "home.backup"
    summary = ok_json(shugu(home, "backup", str(archive), "--json"))
    assert summary["files"] >= 4 and archive.stat().st_mode & 0o777 == 0o600
    ok_json(shugu(home, "participant", "apply", "after-backup", "--role", "user", "--json"))
    assert "after-backup" in names(home)
    refused = shugu(home, "restore", str(archive))
    assert refused.exit_code == 6 and "--force" in refused.stderr
    restored = ok_json(shugu(home, "restore", str(archive), "--force", "--json"))
    assert restored["previous_home"] and Path(restored["previous_home"]).is_dir()
    assert names(home) == ["exchange", "holder-a"]
    shown = ok_json(shugu(home, "--as", "holder-a", "participant", "show", "--json"))
    assert shown["participant"]["status"] == "approved"


def test_restore_into_a_new_home(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "home.backup"
    ok_json(shugu(home, "backup", str(archive), "--json"))
    fresh = tmp_path / "elsewhere"
    ok_json(shugu(fresh, "restore", str(archive), "--json"))
    assert names(fresh) == ["exchange", "holder-a"]


def test_backup_refuses_to_overwrite(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "exists.backup"
    archive.write_bytes(b"precious")
    result = shugu(home, "backup", str(archive))
    assert result.exit_code == 6 and archive.read_bytes() == b"precious"


REASONS = {
    "not-an-archive": "is not a shugu backup",
    "truncated": "",
    "no-manifest": "no readable manifest",
    "tampered": "does not match its checksum",
    "missing-member": "cli.json is missing",
    "duplicate": "unexpected entry cli.json",
    "traversal": "unexpected entry ../escape.txt",
    "wrong-format": "of a supported format",
}
KINDS = list(REASONS)


def _bad_tar(good: bytes, kind: str, other_format: str) -> bytes:
    manifest = manifest_of(good)
    if kind == "no-manifest":
        return rewrite_tar(good, drop="manifest.json")
    if kind == "tampered":
        return rewrite_tar(good, replace={"cli.json": b'{"default_identity": "holder-a"}\n'})
    if kind == "missing-member":
        return rewrite_tar(good, drop="cli.json")
    if kind == "duplicate":
        return rewrite_tar(good, add={"cli.json": b'{"default_identity": "holder-a"}\n'})
    if kind == "traversal":
        return rewrite_tar(good, add={"../escape.txt": b"x"})
    assert kind == "wrong-format"
    changed = manifest | {"format": other_format}
    return rewrite_tar(good, replace={"manifest.json": json.dumps(changed).encode()})


def _bad_archive(home: Path, tmp_path: Path, container: str, kind: str) -> Path:
    """A bad archive of `kind` in either container: the earlier tar.gz or the encrypted one
    (crafted by someone who knows the passphrase, so only the checks inside can catch it)."""
    good = tmp_path / f"good-{container}"
    bad = tmp_path / f"{kind}-{container}"
    if container == "legacy":
        write_legacy_archive(home, good)
        tar, other_format = gzip.decompress(good.read_bytes()), "shugu-home-backup/2"
    else:
        ok_json(shugu(home, "backup", str(good), "--json"))
        tar, other_format = open_sealed(good), "shugu-home-backup/1"
    if kind == "not-an-archive":
        bad.write_text("hello")
    elif kind == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif container == "legacy":
        bad.write_bytes(gzip.compress(_bad_tar(tar, kind, other_format)))
    else:
        seal(_bad_tar(tar, kind, other_format), bad)
    return bad


@pytest.mark.parametrize("container", ["legacy", "encrypted"])
@pytest.mark.parametrize("kind", KINDS)
def test_bad_archives_are_refused_and_the_home_is_untouched(
    home: Path, tmp_path: Path, container: str, kind: str
) -> None:
    archive = _bad_archive(home, tmp_path, container, kind)
    before = snapshot(home)
    result = shugu(home, "restore", str(archive), "--force")
    assert result.exit_code == 3, result.stderr
    assert str(archive) in result.stderr and REASONS[kind] in result.stderr
    assert snapshot(home) == before
    assert not (tmp_path / "escape.txt").exists()
    assert restore_leftovers(tmp_path) == []


def test_backup_of_an_external_database_is_refused(home: Path, tmp_path: Path) -> None:
    env = {"SHUGU_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"}
    result = shugu(home, "backup", str(tmp_path / "x.backup"), env=env)
    assert result.exit_code == 3 and "pg_dump" in result.stderr
    assert not (tmp_path / "x.backup").exists()


def test_two_restores_in_the_same_second_keep_both_previous_homes(
    home: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "home.backup"
    ok_json(shugu(home, "backup", str(archive), "--json"))
    settings = Settings(home=home)
    now = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    kept = [
        restore_backup(settings, archive, passphrase=PASSPHRASE, force=True, now=now)[1]
        for _ in range(2)
    ]
    assert [p.name for p in kept if p] == [
        "home.replaced-20261204T093000",
        "home.replaced-20261204T093000-2",
    ]
    assert all(p and p.is_dir() for p in kept) and names(home) == ["exchange", "holder-a"]

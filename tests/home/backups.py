"""Helpers of the backup tests: a home, the environment, a writer of the earlier (unencrypted)
format, and ways to open and re-seal an encrypted archive."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from shugu.home._sealed_archive import OpeningReader, ScryptParams, SealingWriter
from tests.cli.test_cli import ok_json, shugu

PASSPHRASE = "correct horse battery staple"
TEST_KDF = ScryptParams(log2_n=10, r=8, p=1)


def use_backup_environment(monkeypatch: pytest.MonkeyPatch, passphrase: str | None) -> None:
    """Cheap scrypt (the setting meant for tests) and, unless None, the passphrase."""
    monkeypatch.setenv("SHUGU_BACKUP_KDF__LOG2_N", str(TEST_KDF.log2_n))
    if passphrase is None:
        monkeypatch.delenv("SHUGU_BACKUP_PASSPHRASE", raising=False)
    else:
        monkeypatch.setenv("SHUGU_BACKUP_PASSPHRASE", passphrase)


def make_home(path: Path) -> Path:
    """A home with an operator and one approved holder."""
    ok_json(shugu(path, "init", "--operator", "exchange", "--json"))
    ok_json(shugu(path, "participant", "apply", "holder-a", "--role", "holder", "--json"))
    ok_json(shugu(path, "participant", "approve", "holder-a", "--json"))
    return path


def names(home: Path) -> list[str]:
    """The participants the home's hub knows."""
    listing = ok_json(shugu(home, "participant", "list", "--json"))
    return sorted(p["name"] for p in listing["items"])


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file of the home and its bytes (SQLite's -wal and -shm aside)."""
    return {
        str(p.relative_to(home)): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def restore_leftovers(folder: Path) -> list[str]:
    """Staging folders a restore left behind in `folder`."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".restore-")]


def write_legacy_archive(home: Path, target: Path) -> None:
    """Write `home` the way shugu wrote backups before they were encrypted (format 1): a tar.gz,
    `manifest.json` first with the SHA-256 of every member, `secret.key` among them in clear."""
    snapshot_db = target.with_name("legacy-hub.db")
    source, copy = sqlite3.connect(home / "hub.db"), sqlite3.connect(snapshot_db)
    source.backup(copy)
    revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    copy.close()
    source.close()
    members = [("hub.db", snapshot_db)] + [
        (p.relative_to(home).as_posix(), p)
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.relative_to(home).as_posix().startswith("hub.db")
    ]
    manifest = {
        "format": "shugu-home-backup/1",
        "shugu_version": "0.1.0",
        "revision": revision,
        "created_at": "2026-11-30T10:00:00+00:00",
        "files": {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in members},
    }
    with tarfile.open(target, "w:gz") as archive:
        _add(archive, "manifest.json", json.dumps(manifest, indent=2).encode())
        for name, path in members:
            _add(archive, name, path.read_bytes())
    target.chmod(0o600)
    snapshot_db.unlink()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def open_sealed(archive: Path, passphrase: str = PASSPHRASE) -> bytes:
    """The tar inside an encrypted archive."""
    with archive.open("rb") as raw:
        reader = OpeningReader.open(raw, passphrase, source=str(archive))
        with gzip.GzipFile(fileobj=reader, mode="rb") as unpacked:
            return unpacked.read()


def seal(tar: bytes, target: Path, passphrase: str = PASSPHRASE) -> None:
    """Encrypt a tar the way `shugu backup` does (a crafted but validly encrypted archive)."""
    with target.open("wb") as raw:
        writer = SealingWriter(raw, passphrase, TEST_KDF)
        with gzip.GzipFile(fileobj=writer, mode="wb", mtime=0) as packed:
            packed.write(tar)
        writer.finish()


def rewrite_tar(
    tar: bytes,
    *,
    drop: str | None = None,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
) -> bytes:
    """`tar` with a member dropped, some replaced, some added at the end."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar)) as source, tarfile.open(fileobj=out, mode="w") as t:
        for member in source:
            if member.name == drop:
                continue
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            data = (replace or {}).get(member.name, data)
            member.size = len(data)
            t.addfile(member, io.BytesIO(data))
        for name, data in (add or {}).items():
            _add(t, name, data)
    return out.getvalue()


def manifest_of(tar: bytes) -> dict:  # type: ignore[type-arg]
    """The manifest of a backup's tar."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as opened:
        return json.loads(opened.extractfile("manifest.json").read())  # type: ignore[union-attr,no-any-return]

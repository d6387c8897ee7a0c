"""Backup and restore of an embedded home (SQLite hub database, identities, files, key).

A backup is a gzipped tar with `manifest.json` first (the format, the shugu version, the schema
revision, and the SHA-256 of every other member), encrypted under a passphrase: scrypt derives the
key and libsodium's secretstream seals the stream chunk by chunk (see `_sealed_archive`). The
archive holds the home's key-encryption key; without the passphrase it gives nothing away, and no
byte of it can be changed unnoticed. Writing and reading both stream, in bounded memory.

The database is copied with SQLite's online backup API, so a backup taken while the hub runs is
consistent. A restore decrypts and checks the whole archive into a sibling folder before it touches
the home, and only then swaps it into place: a wrong passphrase or a bad archive leaves the home
exactly as it was. Archives of the earlier, unencrypted format (`shugu-home-backup/1`) still
restore; `archive_is_encrypted` tells the caller to warn that such an archive held the key in clear.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from shugu import __version__
from shugu.db import Database
from shugu.errors import ConflictError, InvalidInputError, NotFoundError
from shugu.home import Home
from shugu.home._sealed_archive import (
    CHUNK_BYTES,
    MAGIC,
    OpeningReader,
    ScryptParams,
    SealingWriter,
    is_sealed,
)
from shugu.i18n import N_
from shugu.settings import Settings

FORMAT = "shugu-home-backup/2"
LEGACY_FORMAT = "shugu-home-backup/1"
GZIP_MAGIC = b"\x1f\x8b"
MANIFEST = "manifest.json"
DATABASE = "hub.db"
MAX_MEMBER_BYTES = 64 * 1024**3
MAX_MANIFEST_BYTES = 64 * 1024**2
MIN_PASSPHRASE_CHARS = 8
COMPRESS_LEVEL = 6

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup holds."""

    path: Path
    files: int
    bytes: int
    revision: str | None
    created_at: str


def _require_embedded(settings: Settings) -> None:
    if not settings.is_embedded_sqlite:
        raise InvalidInputError(
            N_(
                "backup and restore cover an embedded home; this hub uses an external database "
                "({url}): back it up with the database's own tools (pg_dump)"
            ),
            url="SHUGU_DATABASE_URL",
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _snapshot_database(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _collect(home: Home, staging: Path) -> list[tuple[str, Path]]:
    members: list[tuple[str, Path]] = []
    db_file = home.root / DATABASE
    if db_file.exists():
        _snapshot_database(db_file, staging / DATABASE)
        members.append((DATABASE, staging / DATABASE))
    for path in sorted(home.root.rglob("*")):
        relative = path.relative_to(home.root).as_posix()
        if path.is_file() and not relative.startswith(DATABASE) and not path.is_symlink():
            members.append((relative, path))
    return members


def check_backup_target(settings: Settings, target: Path) -> None:
    """Raise what `create_backup` would refuse before any work (ask the passphrase after this).

    Raises:
        InvalidInputError: the hub database is not the home's own SQLite file.
        NotFoundError: the home is not initialised.
        ConflictError: `target` exists.
    """
    _require_embedded(settings)
    home = Home(settings.home)
    if not home.is_initialised():
        raise NotFoundError(N_("{home} is not a shugu home"), home=str(home.root))
    if target.exists():
        raise ConflictError(N_("{path} already exists; choose another file"), path=str(target))


def scrypt_params(settings: Settings) -> ScryptParams:
    """The scrypt cost new backups are written with (`SHUGU_BACKUP_KDF__*`)."""
    kdf = settings.backup_kdf
    return ScryptParams(log2_n=kdf.log2_n, r=kdf.r, p=kdf.p)


def create_backup(
    settings: Settings,
    target: Path,
    *,
    passphrase: str,
    now: datetime,
    progress: Progress | None = None,
) -> BackupSummary:
    """Write a backup of the home to `target`, encrypted under `passphrase`.

    Refuses to overwrite an existing file and a passphrase shorter than 8 characters.
    """
    check_backup_target(settings, target)
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise InvalidInputError(
            N_("a backup passphrase needs at least {count} characters"),
            count=MIN_PASSPHRASE_CHARS,
        )
    db = Database.open(settings.resolved_database_url)
    revision = db.current_revision()
    db.dispose()
    with tempfile.TemporaryDirectory(prefix="shugu-backup-") as staging_dir:
        members = _collect(Home(settings.home), Path(staging_dir))
        manifest = {
            "format": FORMAT,
            "shugu_version": __version__,
            "revision": revision,
            "created_at": now.isoformat(),
            "files": {name: _sha256(path) for name, path in members},
        }
        partial = target.with_name(target.name + ".partial")
        try:
            sealed = _Sealing(passphrase, scrypt_params(settings))
            _write_archive(partial, sealed, manifest, members, progress)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    size = target.stat().st_size
    return BackupSummary(target, len(members), size, revision, str(manifest["created_at"]))


@dataclass(frozen=True, slots=True)
class _Sealing:
    passphrase: str
    params: ScryptParams


def _write_archive(
    path: Path,
    sealing: _Sealing,
    manifest: dict[str, Any],
    members: list[tuple[str, Path]],
    progress: Progress | None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as raw:
        sealed = SealingWriter(raw, sealing.passphrase, sealing.params)
        with gzip.GzipFile(fileobj=sealed, mode="wb", compresslevel=COMPRESS_LEVEL, mtime=0) as gz:
            _write_tar(gz, manifest, members, progress)
        sealed.finish()
        raw.flush()
        os.fsync(raw.fileno())
    path.chmod(0o600)


def _write_tar(
    stream: gzip.GzipFile,
    manifest: dict[str, Any],
    members: list[tuple[str, Path]],
    progress: Progress | None = None,
) -> None:
    with tarfile.open(fileobj=stream, mode="w|") as archive:
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        info.mode = 0o600
        archive.addfile(info, io.BytesIO(data))
        for name, source in members:
            if progress:
                progress(name)
            info = archive.gettarinfo(str(source), arcname=name)
            info.mode = 0o600
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with source.open("rb") as handle:
                archive.addfile(info, handle)


def _bad(message: str, **params: Any) -> InvalidInputError:
    return InvalidInputError(message, **params)


def _safe_name(name: str) -> bool:
    pure = PurePosixPath(name)
    return not pure.is_absolute() and ".." not in pure.parts and name not in ("", ".")


def archive_is_encrypted(source: Path) -> bool:
    """Whether `source` is an encrypted backup; `False` for the earlier, unencrypted format.

    Raises:
        NotFoundError: `source` is not a file.
        InvalidInputError: `source` is neither.
    """
    if not source.is_file():
        raise NotFoundError(N_("{path} does not exist"), path=str(source))
    with source.open("rb") as handle:
        lead = handle.read(len(MAGIC))
    if is_sealed(lead):
        return True
    if lead.startswith(GZIP_MAGIC):
        return False
    raise _bad(N_("{path} is not a shugu backup"), path=str(source))


def check_restore_target(settings: Settings, source: Path, *, force: bool) -> None:
    """Raise what `restore_backup` would refuse before reading the archive.

    Raises:
        InvalidInputError: an external database, or `source` is not a shugu backup.
        NotFoundError: `source` does not exist.
        ConflictError: the home is not empty and `force` is not set.
    """
    _require_embedded(settings)
    archive_is_encrypted(source)
    home = Home(settings.home)
    occupied = home.root.exists() and any(home.root.iterdir())
    if occupied and not force:
        raise ConflictError(
            N_("{home} is not empty; pass --force to replace it (the old home is kept aside)"),
            home=str(home.root),
        )


def restore_backup(
    settings: Settings,
    source: Path,
    *,
    passphrase: str | None,
    force: bool,
    now: datetime,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], Path | None]:
    """Restore `source` into the home; return its manifest and where the old home was kept.

    `passphrase` opens an encrypted archive; an archive of the earlier format needs none.

    Raises:
        InvalidInputError: a wrong passphrase, or the archive is not a complete, intact backup.
        ConflictError: the home is not empty and `force` is not set.
    """
    check_restore_target(settings, source, force=force)
    home = Home(settings.home)
    home.root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=home.root.parent))
    try:
        manifest = _verify_and_extract(source, passphrase, staging, progress)
        Database.open(f"sqlite:///{staging / DATABASE}").dispose()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    kept: Path | None = None
    if home.root.exists():
        kept = _aside(home.root, now)
        home.root.rename(kept)
    staging.rename(home.root)
    home.root.chmod(0o700)
    home.ensure_folders()
    return manifest, kept


def _aside(root: Path, now: datetime) -> Path:
    """A free name for the replaced home: `HOME.replaced-YYYYMMDDTHHMMSS`, then `-2`, `-3`…"""
    stem = f"{root.name}.replaced-{now:%Y%m%dT%H%M%S}"
    candidate, number = root.with_name(stem), 1
    while candidate.exists():
        number += 1
        candidate = root.with_name(f"{stem}-{number}")
    return candidate


def _verify_and_extract(
    source: Path, passphrase: str | None, staging: Path, progress: Progress | None
) -> dict[str, Any]:
    encrypted = archive_is_encrypted(source)
    with source.open("rb") as raw:
        try:
            plain = _plaintext(raw, source, passphrase) if encrypted else raw
            with gzip.GzipFile(fileobj=plain, mode="rb") as unpacked:
                fmt = FORMAT if encrypted else LEGACY_FORMAT
                manifest = _extract(unpacked, source, fmt, staging, progress)
                while unpacked.read(CHUNK_BYTES):  # to the verified end of the stream
                    pass
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise _bad(
                N_("{path} is damaged: {reason}"), path=str(source), reason=str(exc)
            ) from exc
    return manifest


def _plaintext(raw: BinaryIO, source: Path, passphrase: str | None) -> OpeningReader:
    if passphrase is None:
        raise _bad(
            N_("{path} is encrypted: a passphrase is needed to restore it"), path=str(source)
        )
    return OpeningReader.open(raw, passphrase, source=str(source))


def _extract(
    stream: gzip.GzipFile, source: Path, fmt: str, staging: Path, progress: Progress | None
) -> dict[str, Any]:
    manifest: dict[str, Any] = {}
    expected: dict[str, str] = {}
    seen: set[str] = set()
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for index, member in enumerate(archive):
            if index == 0:
                manifest = _read_manifest(archive, member, source, fmt)
                expected = dict(manifest.get("files", {}))
                continue
            _check_member(member, expected, seen, source)
            if progress:
                progress(member.name)
            archive.extract(member, staging, filter="data")
            if _sha256(staging / member.name) != expected[member.name]:
                raise _bad(
                    N_("{path}: {name} does not match its checksum"),
                    path=str(source),
                    name=member.name,
                )
            seen.add(member.name)
    if not manifest:
        raise _bad(N_("{path} is not a shugu backup (no readable manifest)"), path=str(source))
    missing = sorted(set(expected) - seen)
    if missing:
        raise _bad(N_("{path} is incomplete: {name} is missing"), path=str(source), name=missing[0])
    return manifest


def _read_manifest(
    archive: tarfile.TarFile, member: tarfile.TarInfo, source: Path, fmt: str
) -> dict[str, Any]:
    manifest: object = None
    if member.name == MANIFEST and member.isfile() and member.size <= MAX_MANIFEST_BYTES:
        handle = archive.extractfile(member)
        try:
            manifest = json.loads(handle.read()) if handle else None
        except ValueError:
            manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise _bad(N_("{path} is not a shugu backup (no readable manifest)"), path=str(source))
    if manifest.get("format") != fmt:
        raise _bad(N_("{path} is not a shugu backup of a supported format"), path=str(source))
    return manifest


def _check_member(
    member: tarfile.TarInfo, expected: dict[str, str], seen: set[str], source: Path
) -> None:
    name = member.name
    if not member.isfile() or not _safe_name(name) or name not in expected or name in seen:
        raise _bad(N_("{path} holds an unexpected entry {name}"), path=str(source), name=name)
    if member.size > MAX_MEMBER_BYTES:
        raise _bad(N_("{path}: {name} is implausibly large"), path=str(source), name=name)

"""Backup and restore of an embedded home (SQLite hub database, identities, files, key).

A backup is a gzipped tar with `manifest.json` first: the format, the shugu version, the schema
revision, and the SHA-256 of every other member. The database is copied with SQLite's online
backup API, so a backup taken while the hub runs is consistent. A restore checks the whole archive
before touching the home, unpacks into a sibling folder, and only then swaps it into place: a bad
archive leaves the home exactly as it was.

The archive contains the home's key-encryption key: keep it as safe as the home itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from shugu import __version__
from shugu.db import Database
from shugu.errors import ConflictError, InvalidInputError, NotFoundError
from shugu.home import Home
from shugu.i18n import N_
from shugu.settings import Settings

FORMAT = "shugu-home-backup/1"
MANIFEST = "manifest.json"
DATABASE = "hub.db"
MAX_MEMBER_BYTES = 64 * 1024**3

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


def create_backup(
    settings: Settings, target: Path, *, now: datetime, progress: Progress | None = None
) -> BackupSummary:
    """Write a backup of the home to `target` (refuses to overwrite an existing file)."""
    _require_embedded(settings)
    home = Home(settings.home)
    if not home.is_initialised():
        raise NotFoundError(N_("{home} is not a shugu home"), home=str(home.root))
    if target.exists():
        raise ConflictError(N_("{path} already exists; choose another file"), path=str(target))
    db = Database.open(settings.resolved_database_url)
    revision = db.current_revision()
    db.dispose()
    with tempfile.TemporaryDirectory(prefix="shugu-backup-") as staging_dir:
        members = _collect(home, Path(staging_dir))
        manifest = {
            "format": FORMAT,
            "shugu_version": __version__,
            "revision": revision,
            "created_at": now.isoformat(),
            "files": {name: _sha256(path) for name, path in members},
        }
        partial = target.with_name(target.name + ".partial")
        try:
            _write_archive(partial, manifest, members, progress)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    size = target.stat().st_size
    return BackupSummary(target, len(members), size, revision, str(manifest["created_at"]))


def _write_archive(
    path: Path, manifest: dict[str, Any], members: list[tuple[str, Path]], progress: Progress | None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
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
    path.chmod(0o600)


def _bad(message: str, **params: Any) -> InvalidInputError:
    return InvalidInputError(message, **params)


def _safe_name(name: str) -> bool:
    pure = PurePosixPath(name)
    return not pure.is_absolute() and ".." not in pure.parts and name not in ("", ".")


def read_manifest(archive: tarfile.TarFile, source: Path) -> dict[str, Any]:
    """The archive's manifest, checked for format."""
    try:
        member = archive.getmember(MANIFEST)
        handle = archive.extractfile(member)
        manifest = json.loads(handle.read()) if handle else None
    except (KeyError, ValueError) as exc:
        raise _bad(
            N_("{path} is not a shugu backup (no readable manifest)"), path=str(source)
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(N_("{path} is not a shugu backup of a supported format"), path=str(source))
    return manifest


def _verify_and_extract(source: Path, staging: Path, progress: Progress | None) -> dict[str, Any]:
    try:
        archive = tarfile.open(source, "r:gz")  # noqa: SIM115 - closed by the `with` below
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _bad(
            N_("{path} is not a readable backup archive: {reason}"),
            path=str(source),
            reason=str(exc),
        ) from exc
    with archive:
        seen: set[str] = set()
        try:
            manifest = read_manifest(archive, source)
            expected: dict[str, str] = dict(manifest.get("files", {}))
            for member in archive:
                if member.name == MANIFEST:
                    continue
                _check_member(member, expected, source)
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
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise _bad(
                N_("{path} is damaged: {reason}"), path=str(source), reason=str(exc)
            ) from exc
    missing = sorted(set(expected) - seen)
    if missing:
        raise _bad(N_("{path} is incomplete: {name} is missing"), path=str(source), name=missing[0])
    return manifest


def _check_member(member: tarfile.TarInfo, expected: dict[str, str], source: Path) -> None:
    if not member.isfile() or not _safe_name(member.name) or member.name not in expected:
        raise _bad(
            N_("{path} holds an unexpected entry {name}"), path=str(source), name=member.name
        )
    if member.size > MAX_MEMBER_BYTES:
        raise _bad(N_("{path}: {name} is implausibly large"), path=str(source), name=member.name)


def restore_backup(
    settings: Settings,
    source: Path,
    *,
    force: bool,
    now: datetime,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], Path | None]:
    """Restore `source` into the home; return its manifest and where the old home was kept.

    Raises:
        InvalidInputError: the archive is not a complete, intact shugu backup.
        ConflictError: the home is not empty and `force` is not set.
    """
    _require_embedded(settings)
    home = Home(settings.home)
    if not source.is_file():
        raise NotFoundError(N_("{path} does not exist"), path=str(source))
    occupied = home.root.exists() and any(home.root.iterdir())
    if occupied and not force:
        raise ConflictError(
            N_("{home} is not empty; pass --force to replace it (the old home is kept aside)"),
            home=str(home.root),
        )
    home.root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=home.root.parent))
    try:
        manifest = _verify_and_extract(source, staging, progress)
        Database.open(f"sqlite:///{staging / DATABASE}").dispose()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    kept: Path | None = None
    if home.root.exists():
        kept = home.root.with_name(f"{home.root.name}.replaced-{now:%Y%m%dT%H%M%S}")
        home.root.rename(kept)
    staging.rename(home.root)
    home.root.chmod(0o700)
    home.ensure_folders()
    return manifest, kept

"""`shugu backup` / `shugu restore`: round trip, and bad archives that leave the home intact."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    ok_json(shugu(path, "init", "--operator", "exchange", "--json"))
    ok_json(shugu(path, "participant", "apply", "holder-a", "--role", "holder", "--json"))
    ok_json(shugu(path, "participant", "approve", "holder-a", "--json"))
    return path


def _names(home: Path) -> list[str]:
    listing = ok_json(shugu(home, "participant", "list", "--json"))
    return sorted(p["name"] for p in listing["items"])


def _snapshot(home: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(home)): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_backup_and_restore_round_trip(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "home.tar.gz"
    summary = ok_json(shugu(home, "backup", str(archive), "--json"))
    assert summary["files"] >= 4 and archive.stat().st_mode & 0o777 == 0o600
    ok_json(shugu(home, "participant", "apply", "after-backup", "--role", "user", "--json"))
    assert "after-backup" in _names(home)
    refused = shugu(home, "restore", str(archive))
    assert refused.exit_code == 6 and "--force" in refused.stderr
    restored = ok_json(shugu(home, "restore", str(archive), "--force", "--json"))
    assert restored["previous_home"] and Path(restored["previous_home"]).is_dir()
    assert _names(home) == ["exchange", "holder-a"]
    shown = ok_json(shugu(home, "--as", "holder-a", "participant", "show", "--json"))
    assert shown["participant"]["status"] == "approved"


def test_restore_into_a_new_home(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "home.tar.gz"
    ok_json(shugu(home, "backup", str(archive), "--json"))
    fresh = tmp_path / "elsewhere"
    ok_json(shugu(fresh, "restore", str(archive), "--json"))
    assert _names(fresh) == ["exchange", "holder-a"]


def test_backup_refuses_to_overwrite(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "exists.tar.gz"
    archive.write_bytes(b"precious")
    result = shugu(home, "backup", str(archive))
    assert result.exit_code == 6 and archive.read_bytes() == b"precious"


def _rewrite(
    archive: Path,
    target: Path,
    *,
    drop: str | None = None,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
) -> None:
    with tarfile.open(archive, "r:gz") as source, tarfile.open(target, "w:gz") as out:
        for member in source:
            if member.name == drop:
                continue
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            data = (replace or {}).get(member.name, data)
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
        for name, data in (add or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def _bad_archives(good: Path, tmp_path: Path) -> dict[str, Path]:
    bad = {
        name: tmp_path / f"{name}.tar.gz"
        for name in (
            "not-gzip",
            "truncated",
            "no-manifest",
            "tampered",
            "missing-member",
            "traversal",
            "wrong-format",
        )
    }
    bad["not-gzip"].write_text("hello")
    bad["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _rewrite(good, bad["no-manifest"], drop="manifest.json")
    _rewrite(good, bad["tampered"], replace={"cli.json": b'{"default_identity": "holder-a"}\n'})
    _rewrite(good, bad["missing-member"], drop="cli.json")
    _rewrite(good, bad["traversal"], add={"../escape.txt": b"x"})
    with tarfile.open(good) as opened:
        manifest = json.loads(opened.extractfile("manifest.json").read())  # type: ignore[union-attr]
    _rewrite(
        good,
        bad["wrong-format"],
        replace={"manifest.json": json.dumps(manifest | {"format": "x/9"}).encode()},
    )
    return bad


@pytest.mark.parametrize(
    "kind",
    [
        "not-gzip",
        "truncated",
        "no-manifest",
        "tampered",
        "missing-member",
        "traversal",
        "wrong-format",
    ],
)
def test_bad_archives_are_refused_and_the_home_is_untouched(
    home: Path, tmp_path: Path, kind: str
) -> None:
    good = tmp_path / "good.tar.gz"
    ok_json(shugu(home, "backup", str(good), "--json"))
    archive = _bad_archives(good, tmp_path)[kind]
    before = _snapshot(home)
    result = shugu(home, "restore", str(archive), "--force")
    assert result.exit_code == 3, result.stderr
    assert str(archive) in result.stderr
    assert _snapshot(home) == before
    assert not (tmp_path / "escape.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".restore-")] == []


def test_backup_of_an_external_database_is_refused(home: Path, tmp_path: Path) -> None:
    env = {"SHUGU_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"}
    result = shugu(home, "backup", str(tmp_path / "x.tar.gz"), env=env)
    assert result.exit_code == 3 and "pg_dump" in result.stderr
    assert not (tmp_path / "x.tar.gz").exists()

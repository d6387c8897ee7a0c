"""Encrypted backups: the passphrase, tampering anywhere, truncation, the earlier unencrypted
format, the key never in clear, the terminal prompt, and bounded memory for a large home."""

from __future__ import annotations

import base64
import doctest
import gzip
import logging
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import termios
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from shugu.home import _sealed_archive
from shugu.home._sealed_archive import ABYTES, CHUNK_BYTES, HEADER, HEADER_BYTES
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture
from tests.home.backups import (
    PASSPHRASE,
    TEST_KDF,
    make_home,
    names,
    open_sealed,
    restore_leftovers,
    snapshot,
    use_backup_environment,
    write_legacy_archive,
)

pytestmark = pytest.mark.usefixtures("clean_environment")

BLOCK = CHUNK_BYTES + ABYTES
"""One full chunk of the encrypted stream on disk."""


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A home with a 300 kB incompressible file (so its archive has several chunks), and the
    archive; built once, each test works on copies."""
    folder = tmp_path_factory.mktemp("made")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("SHUGU_")]:
            patch.delenv(name)
        patch.setenv("LANG", "C.UTF-8")
        use_backup_environment(patch, PASSPHRASE)
        home = make_home(folder / "home")
        (home / "files" / "blob.bin").write_bytes(os.urandom(300_000))
        archive = folder / "home.backup"
        ok_json(shugu(home, "backup", str(archive), "--json"))
        yield home, archive


@pytest.fixture
def home(made: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_backup_environment(monkeypatch, PASSPHRASE)
    return Path(shutil.copytree(made[0], tmp_path / "home"))


@pytest.fixture
def archive(made: tuple[Path, Path]) -> bytes:
    return made[1].read_bytes()


def _refused(home: Path, archive: Path, *, reason: str = "", named: bool = True) -> str:
    """Restore `archive` over `home`; check it fails with exit 3 and changes nothing."""
    before = snapshot(home)
    result = shugu(home, "restore", str(archive), "--force")
    assert result.exit_code == 3, result.output + result.stderr
    assert reason in result.stderr and (str(archive) in result.stderr or not named)
    assert snapshot(home) == before
    assert restore_leftovers(home.parent) == []
    assert [p.name for p in home.parent.iterdir() if ".replaced-" in p.name] == []
    return result.stderr


def test_the_archive_has_several_chunks_and_records_its_parameters(archive: bytes) -> None:
    magic, version, kdf, log2_n, r, p, chunk, _salt, _stream = HEADER.unpack(archive[:HEADER_BYTES])
    assert (magic, version, kdf, chunk) == (b"SHUGUBAK", 2, 1, CHUNK_BYTES)
    assert (log2_n, r, p) == (TEST_KDF.log2_n, TEST_KDF.r, TEST_KDF.p)
    assert len(archive) > HEADER_BYTES + 3 * BLOCK


def test_the_key_encryption_key_is_not_in_the_archive(
    made: tuple[Path, Path], archive: bytes, tmp_path: Path
) -> None:
    text = (made[0] / "secret.key").read_text().strip()
    raw = base64.b64decode(text)
    assert len(raw) == 32
    for needle in (text.encode(), raw, raw[:16], raw[16:]):
        assert needle not in archive
    with pytest.raises(OSError):
        gzip.decompress(archive)
    assert text.encode() in open_sealed(made[1])  # it is in there, encrypted
    legacy = tmp_path / "legacy.tar.gz"
    write_legacy_archive(made[0], legacy)
    assert text.encode() in gzip.decompress(legacy.read_bytes())  # where the old format had it


def test_a_wrong_passphrase_is_refused_and_the_home_is_untouched(
    home: Path, made: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHUGU_BACKUP_PASSPHRASE", PASSPHRASE + "!")
    _refused(home, made[1], reason="wrong passphrase")


def _flip(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


POSITIONS = {
    "magic": 0,
    "version": 9,
    "kdf-cost": 11,
    "chunk-size": 22,
    "salt": 30,
    "stream-header": 50,
    "first-chunk": HEADER_BYTES + 100,
    "middle-chunk": HEADER_BYTES + 2 * BLOCK + 1_000,
    "chunk-tag": HEADER_BYTES + 3 * BLOCK - 1,
    "last-byte": -1,
}


@pytest.mark.parametrize("where", list(POSITIONS))
def test_one_changed_byte_anywhere_is_refused(
    home: Path, archive: bytes, tmp_path: Path, where: str
) -> None:
    changed = tmp_path / "changed.backup"
    changed.write_bytes(_flip(archive, POSITIONS[where]))
    _refused(home, changed)


CUTS = {
    "inside-the-header": 40,
    "after-the-header": HEADER_BYTES,
    "at-a-chunk-boundary": HEADER_BYTES + 2 * BLOCK,
    "inside-a-chunk": HEADER_BYTES + 2 * BLOCK + 500,
    "last-byte": -1,
}


@pytest.mark.parametrize("where", list(CUTS))
def test_a_truncated_archive_is_refused(
    home: Path, archive: bytes, tmp_path: Path, where: str
) -> None:
    cut = tmp_path / "cut.backup"
    cut.write_bytes(archive[: CUTS[where]])
    _refused(home, cut)


def test_a_cut_at_a_chunk_boundary_says_truncated(
    home: Path, archive: bytes, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.backup"
    cut.write_bytes(archive[: HEADER_BYTES + 2 * BLOCK])
    _refused(home, cut, reason="truncated")


def test_appended_bytes_and_reordered_chunks_are_refused(
    home: Path, archive: bytes, tmp_path: Path
) -> None:
    longer = tmp_path / "longer.backup"
    longer.write_bytes(archive + b"\x00")
    _refused(home, longer)
    first, second = HEADER_BYTES + BLOCK, HEADER_BYTES + 2 * BLOCK
    swapped = tmp_path / "swapped.backup"
    swapped.write_bytes(
        archive[:first]
        + archive[second : second + BLOCK]
        + archive[first:second]
        + archive[second + BLOCK :]
    )
    _refused(home, swapped, reason="chunk 2")


def test_without_a_passphrase_or_terminal_both_commands_exit_3(
    home: Path, made: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_backup_environment(monkeypatch, None)
    target = tmp_path / "new.backup"
    result = shugu(home, "backup", str(target))
    assert result.exit_code == 3 and "SHUGU_BACKUP_PASSPHRASE" in result.stderr
    assert not target.exists() and not target.with_name("new.backup.partial").exists()
    stderr = _refused(home, made[1], reason="SHUGU_BACKUP_PASSPHRASE", named=False)
    assert "terminal" in stderr
    zh = shugu(home, "--lang", "zh_CN", "backup", str(target))
    assert zh.exit_code == 3 and "SHUGU_BACKUP_PASSPHRASE" in zh.stderr and "终端" in zh.stderr


def test_a_short_passphrase_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHUGU_BACKUP_PASSPHRASE", "short")
    result = shugu(home, "backup", str(tmp_path / "x.backup"))
    assert result.exit_code == 3 and "8 characters" in result.stderr
    assert list(tmp_path.glob("x.backup*")) == []


def test_the_passphrase_never_shows_in_output_or_logs(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sesame-0123456789-unique"
    monkeypatch.setenv("SHUGU_BACKUP_PASSPHRASE", secret)
    archive = tmp_path / "x.backup"
    results = [
        shugu(home, "backup", str(archive)),
        shugu(home, "restore", str(archive), "--force"),
        shugu(home, "restore", str(archive), "--force", "--json"),
    ]
    monkeypatch.setenv("SHUGU_BACKUP_PASSPHRASE", secret + "-wrong")
    results.append(shugu(home, "restore", str(archive), "--force"))
    assert [r.exit_code for r in results] == [0, 0, 0, 3]
    for result in results:
        assert secret not in result.stdout + result.stderr
    assert secret not in caplog.text
    assert secret.encode() not in archive.read_bytes()


def test_restore_reads_the_parameters_from_the_archive(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHUGU_BACKUP_KDF__LOG2_N", "11")
    archive = tmp_path / "x.backup"
    ok_json(shugu(home, "backup", str(archive), "--json"))
    assert HEADER.unpack(archive.read_bytes()[:HEADER_BYTES])[3] == 11
    monkeypatch.setenv("SHUGU_BACKUP_KDF__LOG2_N", "12")
    ok_json(shugu(tmp_path / "fresh", "restore", str(archive), "--json"))
    assert names(tmp_path / "fresh") == ["exchange", "holder-a"]


def test_the_passphrase_is_compared_in_one_unicode_form(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = "pässwörter über alles"
    monkeypatch.setenv("SHUGU_BACKUP_PASSPHRASE", unicodedata.normalize("NFC", typed))
    archive = tmp_path / "x.backup"
    ok_json(shugu(home, "backup", str(archive), "--json"))
    monkeypatch.setenv("SHUGU_BACKUP_PASSPHRASE", unicodedata.normalize("NFD", typed))
    ok_json(shugu(tmp_path / "fresh", "restore", str(archive), "--json"))


def test_an_archive_of_the_earlier_format_restores_with_a_warning(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_backup_environment(monkeypatch, None)  # it needs no passphrase
    legacy = tmp_path / "old.tar.gz"
    write_legacy_archive(home, legacy)
    fresh = tmp_path / "fresh"
    result = shugu(fresh, "restore", str(legacy), "--json")
    assert result.exit_code == 0, result.stderr
    assert "unencrypted" in result.stderr and "in clear" in result.stderr
    assert ok_json(result)["created_at"] == "2026-11-30T10:00:00+00:00"
    assert names(fresh) == ["exchange", "holder-a"]
    assert (fresh / "files" / "blob.bin").read_bytes() == (home / "files" / "blob.bin").read_bytes()
    again = shugu(tmp_path / "zh", "--lang", "zh_CN", "restore", str(legacy))
    assert again.exit_code == 0 and "未加密" in again.stderr


# The terminal: a real pseudo-terminal, `python -m shugu` in it, answers typed at its prompts.


def _wait_until_echo_is_off(terminal: int) -> None:
    """Wait for the hidden prompt to take the terminal (getpass turns echo off and discards what
    was typed before): the pseudo-terminal's two ends share their settings."""
    for _ in range(2_000):
        if not termios.tcgetattr(terminal)[3] & termios.ECHO:
            return
        select.select([], [], [], 0.01)
    raise AssertionError("the prompt never turned echo off")


def _on_terminal(args: list[str], answers: list[tuple[str, str]]) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")}
    env |= {"LANG": "C.UTF-8", "SHUGU_BACKUP_KDF__LOG2_N": str(TEST_KDF.log2_n)}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the CLI with the pseudo-terminal as its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "shugu", *args], env)
    seen, pending = b"", list(answers)
    try:
        while True:
            ready, _, _ = select.select([terminal], [], [], 120)
            assert ready, f"the command stopped answering: {seen!r}"
            try:
                data = os.read(terminal, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            seen += data
            if pending and pending[0][0].encode() in seen:
                seen = seen.replace(pending[0][0].encode(), b"<asked>", 1)
                _wait_until_echo_is_off(terminal)
                os.write(terminal, pending.pop(0)[1].encode() + b"\n")
    finally:
        os.close(terminal)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_on_a_terminal_backup_asks_twice_without_echo(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = "typed at the terminal 42"
    archive = tmp_path / "typed.backup"
    code, screen = _on_terminal(
        ["--home", str(home), "backup", str(archive)],
        [("backup passphrase", typed), ("repeat the passphrase", typed)],
    )
    assert code == 0, screen
    assert typed not in screen
    monkeypatch.setenv("SHUGU_BACKUP_PASSPHRASE", typed)
    ok_json(shugu(tmp_path / "fresh", "restore", str(archive), "--json"))
    assert (tmp_path / "fresh" / "files" / "blob.bin").is_file()


@pytest.mark.slow
def test_on_a_terminal_two_different_answers_write_nothing_and_restore_asks_once(
    made: tuple[Path, Path], home: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "typed.backup"
    code, screen = _on_terminal(
        ["--home", str(home), "backup", str(archive)],
        [("backup passphrase", PASSPHRASE), ("repeat the passphrase", PASSPHRASE + "x")],
    )
    assert code == 3 and "differ" in screen and list(tmp_path.glob("typed.backup*")) == []
    code, screen = _on_terminal(
        ["--home", str(tmp_path / "fresh"), "restore", str(made[1])],
        [("backup passphrase", PASSPHRASE)],
    )
    assert code == 0, screen
    assert PASSPHRASE not in screen and "repeat" not in screen
    assert names(tmp_path / "fresh") == ["exchange", "holder-a"]


# Bounded memory: the peak resident size of a backup and a restore of a home with a 300 MB file
# against the same commands on the small home, each in its own process.


def _peak_kib(args: list[str], env: dict[str, str], log: Path) -> int:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "shugu", *args], env=env, stdout=sink, stderr=sink
        )
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.send_signal(signal.SIGKILL)
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, log.read_text()
    return usage.ru_maxrss


@pytest.mark.slow
def test_a_large_home_streams_in_bounded_memory(home: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")}
    env |= {"LANG": "C.UTF-8", "SHUGU_BACKUP_PASSPHRASE": PASSPHRASE}
    env |= {"SHUGU_BACKUP_KDF__LOG2_N": str(TEST_KDF.log2_n)}
    size = 300 * 1024**2

    def peaks(source: Path, label: str) -> tuple[int, int]:
        archive = tmp_path / f"{label}.backup"
        backup = _peak_kib(["--home", str(source), "backup", str(archive)], env, tmp_path / "log")
        target = ["--home", str(tmp_path / f"{label}-restored"), "restore", str(archive)]
        return backup, _peak_kib(target, env, tmp_path / "log")

    small = peaks(home, "small")
    with (home / "files" / "large.bin").open("wb") as handle:
        for _ in range(size // (1 << 20)):
            handle.write(os.urandom(1 << 20))
    large = peaks(home, "large")
    restored = tmp_path / "large-restored" / "files" / "large.bin"
    assert restored.stat().st_size == size
    for small_kib, large_kib in zip(small, large, strict=True):
        assert (large_kib - small_kib) * 1024 < size // 10, (small, large)


def test_doctests() -> None:
    result = doctest.testmod(_sealed_archive)
    assert result.attempted > 0 and result.failed == 0

"""Settings, ids, clock, sealing, doctests of pure modules, and the shared conformance folder."""

from __future__ import annotations

import doctest
import importlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shugu.clock import ManualClock
from shugu.errors import InvalidInputError
from shugu.ids import is_id, new_id
from shugu.keys.sealing import KeyEncryptionKey
from shugu.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared"

PURE_MODULES = [
    "shugu.clock",
    "shugu.ids",
    "shugu.errors",
    "shugu.i18n",
    "shugu.keys.sealing",
    "shugu.signing.httpsig",
    "shugu.api.ratelimit",
]


@pytest.mark.parametrize("name", PURE_MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_settings_read_the_shugu_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHUGU_HOME", str(tmp_path))
    monkeypatch.setenv("SHUGU_RATE_LIMIT__PER_MINUTE", "7")
    monkeypatch.setenv("SHUGU_SECRET_KEY", KeyEncryptionKey.generate().to_text())
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.rate_limit.per_minute == 7
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'hub.db'}"
    assert "SecretStr('**********')" in repr(settings)


def test_ids_sort_by_time() -> None:
    early = new_id(datetime(2026, 1, 1, tzinfo=UTC))
    late = new_id(datetime(2026, 1, 2, tzinfo=UTC))
    assert early < late and is_id(early) and not is_id("x" * 26)


def test_manual_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))


def test_sealed_secrets_are_bound_to_key_and_purpose() -> None:
    kek = KeyEncryptionKey.generate()
    blob = kek.seal(b"private key bytes", purpose="identity:a")
    assert kek.open(blob, purpose="identity:a") == b"private key bytes"
    with pytest.raises(InvalidInputError):
        kek.open(blob, purpose="identity:b")
    with pytest.raises(InvalidInputError):
        KeyEncryptionKey.generate().open(blob, purpose="identity:a")
    with pytest.raises(InvalidInputError):
        kek.open(blob[:-1] + bytes([blob[-1] ^ 1]), purpose="identity:a")
    assert "hidden" in repr(kek) and kek.to_text() not in repr(kek)


@pytest.mark.parametrize("text", ["not base64!", "AAAA"])
def test_bad_secret_keys_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        KeyEncryptionKey.from_text(text)


def test_the_shared_conformance_folder_is_there() -> None:
    if not (SHARED / "conformance").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the shared conformance folder is missing at {SHARED / 'conformance'}")
        pytest.skip("shared/ is not beside this checkout")
    assert (SHARED / "conformance" / "rfc6962").is_dir()
    assert (SHARED / "conformance" / "pep").is_dir()

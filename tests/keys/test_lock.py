"""The key lock: running hubs and transcryptor hosts hold it shared; rotation refuses while they
do, on SQLite (a file lock) and PostgreSQL (an advisory lock), and goes ahead once they stop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shugu.db import Database
from shugu.errors import ConflictError
from shugu.keys.lock import KeyLock
from shugu.keys.rotation import rotate
from shugu.runtime import Hub
from shugu.settings import Settings


def test_rotation_refuses_while_a_hub_runs(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    hub = Hub.open(settings)
    try:
        with pytest.raises(ConflictError, match="holds the key lock"):
            rotate(settings)
        hub.identity.ca_certificate_pem()  # the hub is untouched and still works
    finally:
        hub.close()
    rotate(settings)  # the hub stopped: the rotation goes ahead


def test_two_hubs_share_the_lock_and_both_block_rotation(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    first, second = Hub.open(settings), Hub.open(settings)
    try:
        first.close()
        with pytest.raises(ConflictError):
            rotate(settings)  # the second hub still holds it
    finally:
        second.close()
    rotate(settings)


def test_a_hub_in_another_process_blocks_rotation(settings: Settings, tmp_path: Path) -> None:
    """A hub in another process (another host, on PostgreSQL) counts, and its death frees it."""
    settings.home.mkdir(parents=True, exist_ok=True)
    Hub.open(settings).close()  # create the database and its keys
    script = textwrap.dedent(
        f"""
        import sys
        from shugu.runtime import Hub
        from shugu.settings import Settings
        hub = Hub.open(Settings(home={str(settings.home)!r}, database_url={settings.database_url!r},
                                secret_key={settings.secret_key.get_secret_value()!r}))
        print("open", flush=True)
        sys.stdin.read()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "open"
            with pytest.raises(ConflictError):
                rotate(settings)
        finally:
            child.kill()  # a crash: the operating system or the server drops its lock
            child.wait()
    rotate(settings)


def test_an_exclusive_holding_refuses_a_second(settings: Settings) -> None:
    db = Database.open(settings.resolved_database_url)
    try:
        held = KeyLock.exclusive(db)
        with pytest.raises(ConflictError):
            KeyLock.exclusive(db)
        held.release()
        held.release()  # idempotent
        KeyLock.exclusive(db).release()
    finally:
        db.dispose()

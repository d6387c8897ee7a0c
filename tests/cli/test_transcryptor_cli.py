"""`shugu pep transcryptor init|show|up` and `shugu pep hub-key`: a transcryptor run by another
party, in its own home and its own process, in the hub's chain; bad set-ups are refused."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture
from tests.cli.test_pep_cli import _job_pseudonyms

pytestmark = pytest.mark.usefixtures("clean_environment")

GRANTS = {
    "grants": [
        {
            "job": "study-1",
            "domains": ["study-1"],
            "submitters": ["holder-a"],
            "key_receivers": ["runner"],
        }
    ]
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def hub_key(tmp_path: Path) -> str:
    home = tmp_path / "hub"
    ok_json(shugu(home, "init", "--operator", "exchange", "--json"))
    key = ok_json(shugu(home, "pep", "hub-key", "--json"))["client_key"]
    assert key == ok_json(shugu(home, "pep", "keygen", "--json"))["client_key"]
    assert len(bytes.fromhex(key)) == 32
    return str(key)


def test_init_and_show(tmp_path: Path, hub_key: str) -> None:
    home = tmp_path / "t1"
    created = ok_json(
        shugu(
            home, "pep", "transcryptor", "init", "--name", "auditor", "--hub-key", hub_key, "--json"
        )
    )
    assert created["name"] == "auditor" and created["hub_key"] == hub_key
    shown = ok_json(shugu(home, "pep", "transcryptor", "show", "--json"))
    assert shown == {"name": "auditor", "joined": False, "hub_key": hub_key, "ledger_size": 0}
    assert (home / "secret.key").stat().st_mode & 0o077 == 0
    again = shugu(home, "pep", "transcryptor", "init", "--name", "auditor", "--hub-key", hub_key)
    assert again.exit_code == 6 and "already initialised" in again.stderr
    # a transcryptor home backs up and restores like any embedded home, secrets included
    archive = tmp_path / "t1.backup"
    env = {
        "SHUGU_BACKUP_PASSPHRASE": "a transcryptor's passphrase",
        "SHUGU_BACKUP_KDF__LOG2_N": "10",
    }
    ok_json(shugu(home, "backup", str(archive), "--json", env=env))
    fresh = tmp_path / "t1-restored"
    ok_json(shugu(fresh, "restore", str(archive), "--json", env=env))
    assert ok_json(shugu(fresh, "pep", "transcryptor", "show", "--json")) == shown


@pytest.mark.parametrize(
    ("name", "key", "needle"),
    [
        pytest.param("auditor", "zz", "must be hexadecimal", id="not-hex"),
        pytest.param("auditor", "ab" * 16, "must be 32 bytes", id="short-key"),
        pytest.param("Auditor!", "ab" * 32, "lower-case letters", id="bad-name"),
    ],
)
def test_init_refuses_bad_input_and_writes_nothing(
    tmp_path: Path, name: str, key: str, needle: str
) -> None:
    home = tmp_path / "t1"
    result = shugu(home, "pep", "transcryptor", "init", "--name", name, "--hub-key", key)
    assert result.exit_code == 3 and needle in result.stderr
    assert not home.exists()


def test_init_refuses_a_hub_home_and_show_needs_init(tmp_path: Path, hub_key: str) -> None:
    result = shugu(
        tmp_path / "hub", "pep", "transcryptor", "init", "--name", "a", "--hub-key", hub_key
    )
    assert result.exit_code == 6 and "a home of its own" in result.stderr
    assert not (tmp_path / "hub" / "transcryptor.json").exists()
    missing = shugu(tmp_path / "nowhere", "pep", "transcryptor", "show")
    assert missing.exit_code == 4 and "transcryptor init" in missing.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A hub whose chain is `custodian` then `auditor`, served by `shugu pep transcryptor up` in
    a process of its own."""
    port = _free_port()
    env = {
        "SHUGU_PEP__TRANSCRYPTORS": json.dumps(["custodian", f"auditor=http://127.0.0.1:{port}"])
    }
    hub = tmp_path / "hub"
    ok_json(shugu(hub, "init", "--operator", "exchange", "--json", env=env))  # set-up deferred
    for name, role in (("holder-a", "holder"), ("runner", "user")):
        ok_json(shugu(hub, "participant", "apply", name, "--role", role, "--json", env=env))
        ok_json(shugu(hub, "participant", "approve", name, "--json", env=env))
    (hub / "pep-links.json").write_text(json.dumps(GRANTS))
    key = ok_json(shugu(hub, "pep", "hub-key", "--json", env=env))["client_key"]
    home = tmp_path / "auditor"
    ok_json(
        shugu(home, "pep", "transcryptor", "init", "--name", "auditor", "--hub-key", key, "--json")
    )
    log = tmp_path / "auditor.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")}
    with log.open("wb") as stream:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shugu",
                "--home",
                str(home),
                "pep",
                "transcryptor",
                "up",
                "--port",
                str(port),
            ],
            env=clean | {"SHUGU_LOG_JSON": "false"},
            stdout=subprocess.DEVNULL,
            stderr=stream,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the transcryptor did not start: {log.read_text()}")
            time.sleep(0.1)
        yield hub, home, env
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.slow
def test_a_transcryptor_in_its_own_process_in_the_chain(
    served: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    hub, home, env = served
    info = ok_json(shugu(hub, "pep", "keygen", "--json", env=env))
    assert info["transcryptors"] == ["custodian", "auditor"]
    source = tmp_path / "ids.jsonl"
    source.write_text(
        '{"id": "110101-x", "diagnosis": "J45"}\n{"id": "p-2", "diagnosis": "E11"}\n'
        '{"id": " 110101-X", "diagnosis": "I10"}\n'
    )
    ids = _job_pseudonyms(hub, tmp_path, "holder-a", source, "study-1", env=env)
    assert ids[0] == ids[2] != ids[1] and len(ids[0]) == 64
    entries = ok_json(shugu(hub, "ledger", "entries", "--json", env=env))["items"]
    issued = [e["entry"] for e in entries if e["entry"]["type"] == "pep.session_key.issued"]
    assert issued and len(issued[0]["payload"]["recipient_key"]) == 64
    shown = ok_json(shugu(home, "pep", "transcryptor", "show", "--json"))
    assert shown["joined"] is True and shown["ledger_size"] == 3

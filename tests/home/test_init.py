"""`shugu init` leaves nothing or a working home: on failure, when killed part-way, and when two
run at once; it never writes into a folder that is not empty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shugu.errors import ConflictError, UnavailableError
from shugu.home.init import initialise
from shugu.runtime import hub as hub_module
from shugu.settings import Settings
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.usefixtures("clean_environment")


def _leftovers(home: Path) -> list[Path]:
    """What an init on `home` left: the home's contents and any staging folder beside it."""
    inside = list(home.iterdir()) if home.exists() else []
    beside = list(home.parent.glob(f".{home.name}.init-*"))
    return inside + beside


def test_a_failed_init_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"

    def broken(*args: object, **kwargs: object) -> None:
        raise UnavailableError("the database is down")

    monkeypatch.setattr(hub_module.Hub, "open", broken)
    with pytest.raises(UnavailableError):
        initialise(Settings(home=home), operator_name="exchange", display_name="Exchange")
    assert not home.exists() and _leftovers(home) == []


def test_an_empty_folder_is_initialised_and_a_full_one_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    ok_json(shugu(empty, "init", "--json"))
    ok_json(shugu(empty, "participant", "list", "--json"))
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    with pytest.raises(ConflictError, match="not empty"):
        initialise(Settings(home=full), operator_name="exchange", display_name="Exchange")
    assert [p.name for p in full.iterdir()] == ["notes.txt"]
    assert shugu(full, "init").exit_code == 6


def _init_process(home: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")}
    return subprocess.Popen(
        [sys.executable, "-m", "shugu", "--home", str(home), "init", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


@pytest.mark.slow
def test_init_killed_half_way_leaves_nothing_or_a_working_home(tmp_path: Path) -> None:
    started = time.monotonic()
    probe = _init_process(tmp_path / "probe")
    assert probe.wait(timeout=60) == 0
    took = time.monotonic() - started
    outcomes = set()
    for step in range(8):
        home = tmp_path / f"home-{step}"
        child = _init_process(home)
        time.sleep(took * step / 8)
        child.send_signal(signal.SIGKILL)
        child.wait()
        if home.exists() and any(home.iterdir()):
            ok_json(shugu(home, "participant", "list", "--json"))  # a working home
            outcomes.add("working")
        else:
            outcomes.add("nothing")
            ok_json(shugu(home, "init", "--json"))  # and init can simply run again
            assert _leftovers(home) == list(home.iterdir())  # the staging is gone
            ok_json(shugu(home, "participant", "list", "--json"))
    assert "nothing" in outcomes  # the kills did land before the end

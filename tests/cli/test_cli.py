"""The `shugu` CLI on an embedded home: every command, its JSON output, errors and exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shugu.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SHUGU_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)


def shugu(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, ["--home", str(home), *args], env=env)


def ok_json(result: Result) -> dict:  # type: ignore[type-arg]
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    ok_json(shugu(path, "init", "--operator", "exchange", "--json"))
    return path


def test_version() -> None:
    result = runner.invoke(app, ["version", "--json"])
    assert json.loads(result.stdout)["shugu"] == "0.1.0"


def test_init_makes_a_private_home_with_sealed_keys(home: Path) -> None:
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    identity = json.loads((home / "identities" / "exchange.json").read_text())
    assert set(identity) == {
        "name",
        "participant_id",
        "public_key",
        "sealed_private_key",
        "certificate_pem",
    }
    assert "PRIVATE KEY" not in (home / "identities" / "exchange.json").read_text()
    assert stat.S_IMODE((home / "identities" / "exchange.json").stat().st_mode) == 0o600


def test_init_twice_is_a_conflict(home: Path) -> None:
    result = shugu(home, "init")
    assert result.exit_code == 6
    assert "already initialised" in result.stderr


def test_onboarding_walk(home: Path) -> None:
    applied = ok_json(
        shugu(
            home,
            "participant",
            "apply",
            "hangzhou-pharma",
            "--role",
            "holder",
            "--display-name",
            "杭州示例制药",
            "--json",
        )
    )
    assert applied["status"] == "applied"
    pending = ok_json(shugu(home, "participant", "list", "--status", "applied", "--json"))
    assert [p["name"] for p in pending["items"]] == ["hangzhou-pharma"]
    approval = ok_json(shugu(home, "participant", "approve", "hangzhou-pharma", "--json"))
    assert approval["participant"]["status"] == "approved"
    shown = ok_json(shugu(home, "--as", "hangzhou-pharma", "participant", "show", "--json"))
    assert shown["participant"]["name"] == "hangzhou-pharma"
    assert "BEGIN CERTIFICATE" in shown["certificate"]["pem"]
    stored = json.loads((home / "identities" / "hangzhou-pharma.json").read_text())
    assert stored["certificate_pem"] == approval["certificate"]["pem"]
    people = shugu(home, "participant", "list")
    assert people.exit_code == 0 and "hangzhou-pharma" in people.stdout
    human = shugu(home, "participant", "show", "hangzhou-pharma")
    assert "SHA-256" in human.stdout and "role:holder" in human.stdout
    revoked = ok_json(
        shugu(home, "participant", "revoke", "hangzhou-pharma", "--reason", "breach", "--json")
    )
    assert revoked["status"] == "revoked"
    refused = shugu(home, "--as", "hangzhou-pharma", "participant", "show")
    assert refused.exit_code == 5
    assert "revoked" in refused.stderr


def test_reject_an_application(home: Path) -> None:
    ok_json(shugu(home, "participant", "apply", "doubtful", "--role", "user", "--json"))
    rejected = ok_json(
        shugu(home, "participant", "reject", "doubtful", "--reason", "no licence", "--json")
    )
    assert rejected["status"] == "rejected" and rejected["reason"] == "no licence"
    refused = shugu(home, "--as", "doubtful", "participant", "list")
    assert refused.exit_code == 5 and "rejected" in refused.stderr


def test_a_failed_application_leaves_no_identity_behind(home: Path) -> None:
    result = shugu(home, "participant", "apply", "bad-role", "--role", "king")
    assert result.exit_code == 3
    assert not (home / "identities" / "bad-role.json").exists()
    ok_json(shugu(home, "participant", "apply", "first", "--role", "user", "--json"))
    before = (home / "identities" / "first.json").read_text()
    again = shugu(home, "participant", "apply", "first", "--role", "user")
    assert again.exit_code == 6
    assert (home / "identities" / "first.json").read_text() == before


def test_wrong_role_and_unknown_participant(home: Path) -> None:
    ok_json(shugu(home, "participant", "apply", "some-user", "--role", "user", "--json"))
    ok_json(shugu(home, "participant", "approve", "some-user", "--json"))
    waiting = ok_json(shugu(home, "participant", "apply", "waiting", "--role", "holder", "--json"))
    hidden = shugu(home, "--as", "some-user", "participant", "approve", "waiting")
    assert hidden.exit_code == 4  # pending applications are not visible to users
    wrong = shugu(home, "--as", "some-user", "participant", "approve", waiting["id"])
    assert wrong.exit_code == 5
    assert "needs one of the roles operator" in wrong.stderr
    missing = shugu(home, "participant", "approve", "nobody")
    assert missing.exit_code == 4
    unknown_identity = shugu(home, "--as", "ghost", "participant", "list")
    assert unknown_identity.exit_code == 4


def test_messages_follow_the_language(home: Path) -> None:
    result = shugu(home, "--lang", "zh_CN", "participant", "approve", "nobody")
    assert result.exit_code == 4
    assert "未找到参与方 nobody" in result.stderr
    via_locale = shugu(home, "participant", "approve", "nobody", env={"LANG": "zh_CN.UTF-8"})
    assert "未找到参与方" in via_locale.stderr


def test_an_uninitialised_home_is_explained(tmp_path: Path) -> None:
    result = shugu(tmp_path / "nothing", "participant", "list")
    assert result.exit_code == 4
    assert "shugu --home" in result.stderr and "init" in result.stderr


def test_an_unreachable_database_exits_unavailable(home: Path) -> None:
    env = {"SHUGU_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    result = shugu(home, "participant", "list", env=env)
    assert result.exit_code == 7
    assert "cannot connect to the database" in result.stderr


def test_usage_errors_exit_2(home: Path) -> None:
    assert shugu(home, "no-such-command").exit_code == 2
    assert shugu(home, "participant", "apply").exit_code == 2


def test_demo_runs_in_a_fresh_home_and_refuses_a_used_one(tmp_path: Path, home: Path) -> None:
    result = shugu(tmp_path / "demo-home", "demo")
    assert result.exit_code == 0, result.output + result.stderr
    assert "beijing-research" in result.stdout and "signed by the hub CA" in result.stdout
    assert "2 patients appear at both holders" in result.stdout
    assert "refused: beijing-research is a key receiver here" in result.stdout
    assert "the ledger verifies: 9 entries" in result.stdout  # the refusal is one of them
    assert "shugu --home" in result.stdout and " up" in result.stdout
    assert not {"P-1001", "p-1003"} & set(result.stdout.split())  # identifiers never shown
    again = shugu(tmp_path / "demo-home", "demo")
    assert again.exit_code == 6


def test_text_from_the_hub_is_printed_literally(home: Path) -> None:
    ok_json(
        shugu(
            home,
            "participant",
            "apply",
            "odd-name",
            "--role",
            "user",
            "--display-name",
            "[/] [bold]x :ab: ",
            "--json",
        )
    )
    listing = shugu(home, "participant", "list")
    assert listing.exit_code == 0, listing.stderr
    assert "[/] [bold]x :ab:" in listing.stdout


def test_a_bad_setting_is_explained(home: Path) -> None:
    result = shugu(home, "participant", "list", env={"SHUGU_PORT": "abc"})
    assert result.exit_code == 3
    assert "SHUGU_PORT" in result.stderr and "Traceback" not in result.stderr


def test_init_with_a_secret_key_from_the_environment(tmp_path: Path) -> None:
    from shugu.keys.sealing import KeyEncryptionKey

    env = {"SHUGU_SECRET_KEY": KeyEncryptionKey.generate().to_text()}
    home = tmp_path / "env-home"
    ok_json(shugu(home, "init", "--json", env=env))
    assert not (home / "secret.key").exists()
    assert ok_json(shugu(home, "participant", "list", "--json", env=env))["items"]
    assert shugu(home, "participant", "list").exit_code == 4


def test_an_applicant_can_read_its_own_status_and_reason(home: Path) -> None:
    ok_json(shugu(home, "participant", "apply", "hopeful", "--role", "user", "--json"))
    assert ok_json(shugu(home, "participant", "status", "hopeful", "--json"))["status"] == "applied"
    ok_json(
        shugu(home, "participant", "reject", "hopeful", "--reason", "licence expired", "--json")
    )
    mine = ok_json(shugu(home, "participant", "status", "hopeful", "--json"))
    assert (mine["status"], mine["reason"]) == ("rejected", "licence expired")

"""`shugu pep …` on an embedded home: keygen, encrypt, transcrypt, session-key, decrypt on JSON
lines and Parquet, the operator's grants file, refusals and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from shugu.keys import load_kek
from shugu.pep import G, Scalar
from shugu.pep.session_keys import default_path, write_session_key
from shugu.settings import Settings
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.usefixtures("clean_environment")

GRANTS = {
    "grants": [
        {
            "job": "study-1",
            "domains": ["study-1"],
            "submitters": ["holder-a", "holder-b"],
            "key_receivers": ["runner"],
        },
        {
            "job": "study-2",
            "domains": ["study-2"],
            "submitters": ["holder-a"],
            "key_receivers": ["runner"],
        },
    ]
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    ok_json(shugu(path, "init", "--operator", "exchange", "--json"))
    for name, role in (("holder-a", "holder"), ("holder-b", "holder"), ("runner", "user")):
        ok_json(shugu(path, "participant", "apply", name, "--role", role, "--json"))
        ok_json(shugu(path, "participant", "approve", name, "--json"))
    (path / "pep-links.json").write_text(json.dumps(GRANTS))
    return path


def _job_pseudonyms(
    home: Path, tmp: Path, holder: str, source: Path, job: str, env: dict[str, str] | None = None
) -> list[str]:
    """Encrypt `source`'s id column, transcrypt it as `holder` into `job`, fetch the session key
    as `runner` (once per job), decrypt; the rows must stay aligned with their diagnoses."""
    stem = f"{holder}-{job}"
    suffix = source.suffix
    encrypted, moved, plain = (tmp / f"{stem}-{n}{suffix}" for n in ("enc", "moved", "plain"))
    key = tmp / f"{stem}.key"

    def run(*args: str) -> None:
        ok_json(shugu(home, *args, "--json", env=env))

    run("pep", "encrypt", str(source), "--column", "id", "--out", str(encrypted))
    args = ["--to-domain", job, "--session", "s1", "--column", "id", "--out", str(moved)]
    run("--as", holder, "pep", "transcrypt", str(encrypted), *args)
    if not key.exists():
        session = ["--job", job, "--session", "s1", "--out", str(key)]
        run("--as", "runner", "pep", "session-key", *session)
    run(
        "pep",
        "decrypt",
        str(moved),
        "--session-key",
        str(key),
        "--column",
        "id",
        "--out",
        str(plain),
    )
    frame = pl.read_parquet(plain) if suffix == ".parquet" else pl.read_ndjson(plain)
    assert frame["diagnosis"].to_list() == ["J45", "E11", "I10"]  # rows stay aligned
    return frame["id"].to_list()


def test_round_trip_across_holders_and_jobs(home: Path, tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_text(
        "".join(
            json.dumps({"id": i, "diagnosis": d}) + "\n"
            for i, d in (("110101-x", "J45"), ("p-2", "E11"), (None, "I10"))
        )
    )
    b = tmp_path / "b.parquet"
    pl.DataFrame(
        {"id": [" 110101-X", "P-2", None], "diagnosis": ["J45", "E11", "I10"]}
    ).write_parquet(b)
    from_a = _job_pseudonyms(home, tmp_path, "holder-a", a, "study-1")
    from_b = _job_pseudonyms(home, tmp_path, "holder-b", b, "study-1")
    other = _job_pseudonyms(home, tmp_path, "holder-a", a, "study-2")
    assert from_a == from_b and from_a[2] is None and len(from_a[0]) == 64
    assert not {from_a[0], from_a[1]} & {other[0], other[1]}
    entries = ok_json(shugu(home, "ledger", "entries", "--json"))["items"]
    types = [e["entry"]["type"] for e in entries]
    assert types.count("pep.transcription") == 3 and "pep.session_key.issued" in types


def test_keygen_shows_the_public_info(home: Path, tmp_path: Path) -> None:
    first = ok_json(shugu(home, "pep", "keygen", "--out", str(tmp_path / "pub.json"), "--json"))
    again = ok_json(shugu(home, "pep", "keygen", "--json"))
    assert first == again and first["transcryptors"] == ["custodian"]
    assert json.loads((tmp_path / "pub.json").read_text()) == first
    shown = shugu(home, "pep", "keygen")
    assert first["public_key"][:40] in shown.stdout


def test_a_job_without_a_grant_is_refused(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "ids.jsonl"
    source.write_text('{"id": "a"}\n')
    enc = tmp_path / "enc.jsonl"
    ok_json(shugu(home, "pep", "encrypt", str(source), "--out", str(enc), "--json"))
    refused = shugu(
        home,
        "--as",
        "holder-b",
        "pep",
        "transcrypt",
        str(enc),
        "--to-domain",
        "study-2",
        "--session",
        "s",
        "--out",
        str(tmp_path / "x.jsonl"),
    )
    assert refused.exit_code == 5 and "may not submit" in refused.stderr
    no_key = shugu(
        home,
        "--as",
        "holder-a",
        "pep",
        "session-key",
        "--job",
        "study-1",
        "--session",
        "s",
        "--out",
        str(tmp_path / "k.json"),
    )
    assert no_key.exit_code == 5 and "needs one of the roles" in no_key.stderr


def test_the_runner_cannot_submit_its_guesses(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "guesses.jsonl"
    source.write_text('{"id": "110101-x"}\n{"id": "p-2"}\n')
    enc = tmp_path / "enc.jsonl"
    ok_json(shugu(home, "pep", "encrypt", str(source), "--out", str(enc), "--json"))
    args = ["--to-domain", "study-1", "--session", "s1", "--out", str(tmp_path / "moved.jsonl")]
    refused = shugu(home, "--as", "runner", "pep", "transcrypt", str(enc), *args)
    assert refused.exit_code == 5, refused.stderr
    assert "runner is a key receiver here (job study-1, domains study-1)" in refused.stderr
    assert not (tmp_path / "moved.jsonl").exists()
    entries = ok_json(shugu(home, "ledger", "entries", "--json"))["items"]
    [entry] = [e["entry"] for e in entries if e["entry"]["type"].startswith("pep.")]
    assert entry["type"] == "pep.transcription.refused"
    assert entry["payload"]["reason"] == "key_receiver" and entry["subjects"] == ["study-1"]


@pytest.mark.parametrize(
    ("grants", "needle"),
    [
        pytest.param(
            {"grants": [{"job": "j", "domains": ["j"], "callers": ["holder-a", "runner"]}]},
            'uses the old form "callers"; rewrite each grant as',
            id="old-form",
        ),
        pytest.param(
            {"grants": [GRANTS["grants"][0] | {"submitters": ["holder-a", "runner"]}]},
            "runner would both submit into domain study-1",
            id="both",
        ),
        pytest.param(
            {"grants": [GRANTS["grants"][0] | {"submitters": ["*"]}]},
            "'*' is not allowed in submitters",
            id="wildcard",
        ),
    ],
)
def test_a_refused_grants_file_stops_the_hub(
    home: Path, tmp_path: Path, grants: dict[str, object], needle: str
) -> None:
    (home / "pep-links.json").write_text(json.dumps(grants))
    source = tmp_path / "ids.jsonl"
    source.write_text('{"id": "a"}\n')
    result = shugu(home, "pep", "encrypt", str(source), "--out", str(tmp_path / "enc.jsonl"))
    assert result.exit_code == 3 and needle in result.stderr
    assert "pep-links.json are refused" in result.stderr
    assert not (tmp_path / "enc.jsonl").exists()


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        pytest.param('{"a": 1, "b": 2}\n', [], "choose a column", id="two-columns"),
        pytest.param('{"id": 1.5}\n', [], "text or integers", id="float-column"),
        pytest.param("not json\n", [], "cannot read", id="bad-json"),
    ],
)
def test_bad_files_are_reported(
    home: Path, tmp_path: Path, content: str, args: list[str], needle: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(content)
    result = shugu(home, "pep", "encrypt", str(source), "--out", str(tmp_path / "o.jsonl"), *args)
    assert result.exit_code == 3 and needle in result.stderr


def test_decrypt_refuses_a_bad_key_file_and_non_ciphertexts(home: Path, tmp_path: Path) -> None:
    key = tmp_path / "k.json"
    key.write_text('{"secret_key": "zz"}')
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "abc"}\n')
    bad_key = shugu(
        home,
        "pep",
        "decrypt",
        str(source),
        "--session-key",
        str(key),
        "--out",
        str(tmp_path / "o.jsonl"),
    )
    assert bad_key.exit_code == 3 and "not a session key file" in bad_key.stderr
    secret = Scalar.random()
    key.unlink()
    key.write_text(json.dumps({"secret_key": secret.hex(), "public_key": (secret * G).hex()}))
    clear = shugu(
        home, "pep", "decrypt", str(source), "--session-key", str(key), "--out", str(tmp_path / "o")
    )
    assert clear.exit_code == 3 and "not a session key file" in clear.stderr  # never in clear
    key.unlink()
    kek = load_kek(Settings(home=home))
    write_session_key(key, kek, job="j", session="s", context="j#s", secret=secret)
    result = shugu(
        home,
        "pep",
        "decrypt",
        str(source),
        "--session-key",
        str(key),
        "--out",
        str(tmp_path / "o.jsonl"),
    )
    assert result.exit_code == 3 and "row 0: not an encrypted pseudonym" in result.stderr


def test_bench_prints_the_figures() -> None:
    from typer.testing import CliRunner

    from shugu.cli import app

    result = CliRunner().invoke(app, ["pep", "bench", "--n", "200", "--reps", "1", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures) == {
        "transcryptions_per_s",
        "encryptions_per_s",
        "decryptions_per_s",
        "libsodium_rsk_per_s",
        "ratio",
    }
    assert all(v > 0 for v in figures.values())


def test_session_keys_are_kept_sealed_in_the_home(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    source.write_text('{"id": "110101-x", "diagnosis": "J45"}\n{"id": "p-2", "diagnosis": "E11"}\n')
    enc, moved = tmp_path / "enc.jsonl", tmp_path / "moved.jsonl"
    ok_json(
        shugu(home, "pep", "encrypt", str(source), "--column", "id", "--out", str(enc), "--json")
    )
    args = ["--to-domain", "study-1", "--session", "s1", "--column", "id", "--out", str(moved)]
    ok_json(shugu(home, "--as", "holder-a", "pep", "transcrypt", str(enc), *args, "--json"))
    fetched = ok_json(
        shugu(
            home,
            "--as",
            "runner",
            "pep",
            "session-key",
            "--job",
            "study-1",
            "--session",
            "s1",
            "--json",
        )
    )
    from shugu.home import Home

    path = Path(fetched["out"])
    assert path == default_path(Home(home).pep_sessions, "study-1#s1")
    assert path.stat().st_mode & 0o077 == 0
    record = json.loads(path.read_text())
    assert set(record) == {"format", "job", "session", "context", "public_key", "sealed_secret_key"}
    again = shugu(
        home, "--as", "runner", "pep", "session-key", "--job", "study-1", "--session", "s1"
    )
    assert again.exit_code == 6 and "never overwritten" in again.stderr
    plain = tmp_path / "plain.jsonl"
    decrypt = ["pep", "decrypt", str(moved), "--column", "id", "--out", str(plain), "--json"]
    ok_json(shugu(home, *decrypt, "--job", "study-1", "--session", "s1"))
    assert len(json.loads(plain.read_text().splitlines()[0])["id"]) == 64
    missing = shugu(home, "pep", "decrypt", str(moved), "--out", str(tmp_path / "x.jsonl"))
    assert missing.exit_code == 3 and "--session-key FILE, or --job and --session" in missing.stderr
    unknown = shugu(home, *decrypt[:-1], "--job", "study-2", "--session", "s1")
    assert unknown.exit_code == 3 and "no session key for job study-2" in unknown.stderr
    other = tmp_path / "other"
    ok_json(shugu(other, "init", "--operator", "exchange", "--json"))
    foreign = shugu(other, *decrypt[:-1], "--session-key", str(path))
    assert foreign.exit_code == 3 and "does not open with this home's key" in foreign.stderr

"""`shugu privacy anonymize|risk`: ARX's Adult references through the CLI, the JSON contract,
and every bad input refused before the search with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture
from tests.shared import ADULT, require_shared

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture
def needs_adult() -> None:
    """The Adult data set: skip without ../shared/, fail in CI."""
    require_shared(ADULT / "adult.csv")


KEYS = {
    "transformation",
    "information_loss",
    "information_loss_relative",
    "suppressed",
    "equivalence_classes",
    "nodes_checked",
    "search_ms",
}


def _anonymize(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    return ok_json(
        shugu(
            tmp_path / "none",
            "privacy",
            "anonymize",
            str(ADULT / "adult.csv"),
            "--qi",
            "all",
            "--hierarchies",
            str(ADULT),
            "--json",
            *args,
        )
    )


@pytest.mark.usefixtures("needs_adult")
@pytest.mark.parametrize(
    ("metric", "suppression", "loss", "levels", "suppressed"),
    [
        ("entropy", "0.04", 255559.85, [1, 0, 1, 1, 3, 2, 2, 0, 1], 906),
        ("entropy", "0", 407289.54, [1, 2, 1, 1, 3, 2, 2, 1, 1], 0),
        ("loss", "0", 0.57315097, [0, 4, 1, 1, 3, 2, 2, 1, 0], 0),
        ("loss", "0.04", 0.26611082, [0, 3, 0, 1, 1, 1, 1, 2, 0], 1178),
    ],
)
def test_the_four_arx_references(
    tmp_path: Path, metric: str, suppression: str, loss: float, levels: list[int], suppressed: int
) -> None:
    result = _anonymize(tmp_path, "--k", "5", "--metric", metric, "--suppression", suppression)
    assert set(result) == KEYS
    assert result["information_loss"] == pytest.approx(loss, rel=5e-7)
    assert list(result["transformation"].values()) == levels
    assert list(result["transformation"]) == [
        "sex",
        "age",
        "race",
        "marital-status",
        "education",
        "native-country",
        "workclass",
        "occupation",
        "salary-class",
    ]
    assert result["suppressed"] == suppressed
    assert result["search_ms"] > 0
    assert result["nodes_checked"] <= 12_960


@pytest.mark.usefixtures("needs_adult")
def test_l_diversity_and_t_closeness_with_a_sensitive_column(tmp_path: Path) -> None:
    diverse = _anonymize(
        tmp_path, "--k", "5", "--l", "2", "--sensitive", "salary-class", "--metric", "loss"
    )
    assert "salary-class" not in diverse["transformation"]
    close = _anonymize(
        tmp_path,
        "--k",
        "5",
        "--t",
        "0.15",
        "--sensitive",
        "salary-class",
        "--metric",
        "entropy",
        "--suppression",
        "0.04",
    )
    assert close["information_loss"] >= 255559.85  # a stricter model never loses less


@pytest.mark.usefixtures("needs_adult")
def test_out_and_report_files(tmp_path: Path) -> None:
    out, report = tmp_path / "release.csv", tmp_path / "report.json"
    _anonymize(tmp_path, "--k", "5", "--metric", "loss", "--out", str(out), "--report", str(report))
    release = pl.read_csv(out, separator=",", infer_schema_length=0)
    assert release.height == 30_162
    sizes = release.group_by(release.columns).len()["len"]
    assert sizes.min() >= 5
    full = json.loads(report.read_text(encoding="utf-8"))
    assert full["risk_after"]["prosecutor"]["highest"] <= 0.2
    assert full["risk_before"]["prosecutor"]["highest"] == 1.0


def _small(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "t.csv"
    data.write_text("age;zip;disease\n31;a;flu\n32;a;cold\n33;b;flu\n34;b;cold\n", "utf-8")
    folder = tmp_path / "h"
    folder.mkdir()
    (folder / "t_hierarchy_age.csv").write_text(
        "31;31-32;*\n32;31-32;*\n33;33-34;*\n34;33-34;*\n", "utf-8"
    )
    (folder / "t_hierarchy_zip.csv").write_text("a;*\nb;*\n", "utf-8")
    return data, folder


def _fails(tmp_path: Path, *args: str) -> str:
    result = shugu(tmp_path / "none", "privacy", "anonymize", *args)
    assert result.exit_code in {3, 4}, result.stdout + result.stderr
    assert result.stdout == ""
    return str(result.stderr)


def test_small_table_by_hand(tmp_path: Path) -> None:
    data, folder = _small(tmp_path)
    result = ok_json(
        shugu(
            tmp_path / "none",
            "privacy",
            "anonymize",
            str(data),
            "--qi",
            "age,zip",
            "--hierarchies",
            str(folder),
            "--k",
            "2",
            "--metric",
            "loss",
            "--json",
        )
    )
    assert result["transformation"] == {"age": 1, "zip": 0}
    assert result["equivalence_classes"] == 2


def test_bad_inputs_are_refused_before_the_search(tmp_path: Path) -> None:
    data, folder = _small(tmp_path)
    base = [str(data), "--hierarchies", str(folder), "--metric", "loss"]
    assert "nope" in _fails(tmp_path, *base, "--qi", "age,nope", "--k", "2")
    assert "5" in _fails(tmp_path, *base, "--qi", "age,zip", "--k", "5")  # k > 4 records
    assert "sensitive" in _fails(tmp_path, *base, "--qi", "age,zip", "--l", "2")
    (folder / "t_hierarchy_zip.csv").write_text("a;*\n", "utf-8")
    assert "b" in _fails(tmp_path, *base, "--qi", "age,zip", "--k", "2")  # value not in hierarchy
    (folder / "t_hierarchy_zip.csv").write_text("a;*\nb;x;*\n", "utf-8")
    assert "zip" in _fails(tmp_path, *base, "--qi", "age,zip", "--k", "2")  # ragged depths
    missing = _fails(
        tmp_path,
        str(data),
        "--hierarchies",
        str(tmp_path / "no"),
        "--qi",
        "age",
        "--k",
        "2",
        "--metric",
        "loss",
    )
    assert "no" in missing


def test_risk_reports_every_model(tmp_path: Path) -> None:
    data, folder = _small(tmp_path)
    report = ok_json(
        shugu(tmp_path / "none", "privacy", "risk", str(data), "--qi", "age,zip", "--json")
    )
    assert report["prosecutor"]["highest"] == 1.0
    assert report["sample_uniqueness"] == 1.0
    assert report["quasi_identifiers"] == ["age", "zip"]
    coarse = ok_json(
        shugu(
            tmp_path / "none",
            "privacy",
            "risk",
            str(data),
            "--qi",
            "all",
            "--hierarchies",
            str(folder),
            "--json",
        )
    )
    assert coarse["quasi_identifiers"] == ["age", "zip"]
    refused = shugu(tmp_path / "none", "privacy", "risk", str(data), "--qi", "all")
    assert refused.exit_code == 4

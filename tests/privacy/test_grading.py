"""Grading catalogues: bundled ones load, levels follow the classification, rules escalate."""

from __future__ import annotations

from pathlib import Path

import pytest

from shugu.errors import InvalidInputError, NotFoundError
from shugu.privacy.grading import ColumnGrade, Grade, catalogue_names, load_catalogue
from shugu.privacy.labels import CLASSIFICATION, Label


def test_bundled_catalogues_load_and_cite_their_source() -> None:
    names = catalogue_names()
    assert {"default", "finance", "health"} <= set(names)
    for name in names:
        catalogue = load_catalogue(name)
        assert catalogue.id == name
        assert catalogue.catalogue.citation


def test_every_label_is_classified() -> None:
    assert set(CLASSIFICATION) == set(Label)


@pytest.mark.parametrize(
    ("label", "level"),
    [(Label.CN_RESIDENT_ID, 4), (Label.EMAIL, 3), (Label.CN_USCC, 2), (None, 1), (Label.ICD10, 4)],
)
def test_default_column_levels(label: Label | None, level: int) -> None:
    assert ColumnGrade.of(label, load_catalogue("default")).level == level


def test_industry_overrides_apply() -> None:
    finance = load_catalogue("finance")
    assert ColumnGrade.of(Label.BANK_CARD, finance).level == 4
    assert ColumnGrade.of(Label.CN_MOBILE, finance).level == 3
    assert ColumnGrade.of(None, finance).level == 2


def test_dataset_grade_is_the_highest_column_level_until_a_rule_escalates() -> None:
    catalogue = load_catalogue("default")
    columns = [ColumnGrade.of(Label.CN_RESIDENT_ID, catalogue), ColumnGrade.of(None, catalogue)]
    small = catalogue.grade(columns, rows=1_000)
    assert (small.grade, small.level, small.reasons) == (Grade.GENERAL, 4, ())
    large = catalogue.grade(columns, rows=1_000_000)
    assert large.grade is Grade.IMPORTANT
    assert large.reasons == ("sensitive_rows >= 1000000",)
    nothing = catalogue.grade([ColumnGrade.of(None, catalogue)], rows=50_000_000)
    assert (nothing.grade, nothing.level) == (Grade.GENERAL, 1)


def test_core_is_never_assigned() -> None:
    catalogue = load_catalogue("default")
    columns = [ColumnGrade.of(label, catalogue) for label in Label]
    assert catalogue.grade(columns, rows=10**9).grade is not Grade.CORE


def test_unknown_catalogue_names_the_bundled_ones() -> None:
    with pytest.raises(NotFoundError, match="bundled: default, finance, health"):
        load_catalogue("nope")


def test_own_catalogue_file_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[catalogue]\nid = "mine"\ntitle_en = "x"\ntitle_zh = "x"\ncitation = "x"\n'
        "[column]\nsensitive = 5\npersonal = 4\norganisation = 2\nnone = 1\n"
        "[labels]\nnot_a_label = 3\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInputError, match=r"labels\.not_a_label"):
        load_catalogue(str(path))
    path.write_text(path.read_text(encoding="utf-8").replace("not_a_label", "email"), "utf-8")
    assert ColumnGrade.of(Label.EMAIL, load_catalogue(str(path))).level == 3


def test_broken_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[catalogue\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="cannot read grading catalogue"):
        load_catalogue(str(path))

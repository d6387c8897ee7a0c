"""ARX hierarchy tables: reading, checks, the folder convention, registry hierarchies."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from shugu.errors import InvalidInputError, NotFoundError
from shugu.privacy.anonymity import Hierarchy, coerce_hierarchy, read_hierarchies


def test_reads_an_arx_file_with_bom_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "adult_hierarchy_sex.csv"
    path.write_bytes("\ufeffMale;*\r\n\r\nFemale;*\r\n".encode())
    hierarchy = Hierarchy.from_csv(path)
    assert hierarchy.rows == (("Male", "*"), ("Female", "*"))
    assert hierarchy.height == 2
    assert hierarchy.source == "adult_hierarchy_sex.csv"


def test_inconsistent_depth_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "x_hierarchy_age.csv"
    path.write_text("1;0-4;*\n2;0-4\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"row 2: 2 levels, but the first row has 3"):
        Hierarchy.from_csv(path)


def test_a_raw_value_twice_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="'a' appears twice"):
        Hierarchy.from_rows([["a", "*"], ["a", "*"]])


def test_a_hierarchy_must_be_a_tree() -> None:
    with pytest.raises(InvalidInputError, match="not a tree: 'x' on level 1"):
        Hierarchy.from_rows([["a", "x", "p"], ["b", "x", "q"]])


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="has no rows"):
        Hierarchy.from_rows([])
    with pytest.raises(NotFoundError, match="not found"):
        Hierarchy.from_csv(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe;*")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        Hierarchy.from_csv(bad)


def test_folder_files_are_matched_by_column(tmp_path: Path) -> None:
    (tmp_path / "adult_hierarchy_sex.csv").write_text("Male;*\nFemale;*\n", encoding="utf-8")
    (tmp_path / "adult_hierarchy_marital-status.csv").write_text("a;*\n", encoding="utf-8")
    (tmp_path / "notes.csv").write_text("x;y\n", encoding="utf-8")
    found = read_hierarchies(tmp_path)
    assert sorted(found) == ["marital-status", "sex"]
    (tmp_path / "other_hierarchy_sex.csv").write_text("Male;*\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"two hierarchy files .* column sex"):
        read_hierarchies(tmp_path)
    with pytest.raises(NotFoundError, match="hierarchy folder"):
        read_hierarchies(tmp_path / "nowhere")


def test_registry_hierarchies_are_materialised() -> None:
    registry = pytest.importorskip("shugu.privacy.hierarchy")
    ages = pl.Series("age", [23, 47, 23, 95])
    age = coerce_hierarchy(registry.AgeHierarchy(), "age", ages)
    assert age.rows[0] == ("23", "20-24", "20-29", "*")
    assert age.height == 4
    table = registry.TableHierarchy("sex", [["m", "*"], ["f", "*"]])
    assert coerce_hierarchy(table, "sex", pl.Series(["m"])).rows == (("f", "*"), ("m", "*"))
    with pytest.raises(InvalidInputError, match="is not a hierarchy"):
        coerce_hierarchy(42, "sex", pl.Series(["m"]))

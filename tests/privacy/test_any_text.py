"""Any Unicode text in any cell gets a label or a clear `ShuguError`, never another exception.

The cells mix arbitrary characters (surrogates aside: no file or Arrow string can hold them) with
the ones that broke validators before: digits of other scripts (``\\d`` in polars matches ``١``),
full-width forms, control characters, BOMs and zero-width spaces, and identifiers with one such
character swapped in. Each property runs over a handful of examples so the default run stays fast;
a failure prints the cells that broke it.
"""

from __future__ import annotations

import csv
import string
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shugu.errors import ShuguError
from shugu.privacy.detect import ColumnDetector, find_in_text, validate
from shugu.privacy.hierarchy import HierarchyRegistry
from shugu.privacy.ingest import open_source
from shugu.privacy.keys import PseudonymKey
from shugu.privacy.labels import Label
from shugu.privacy.profile import parse_profile
from shugu.privacy.protect import protect_source
from shugu.privacy.scan import scan_source

KEY = PseudonymKey(bytes(range(32)), holder="clinic-a")
REGISTRY = HierarchyRegistry.builtin()
SEEDS = [
    "440305199003071236",
    "11010519491231002X",
    "13800138000",
    "4111111111111111",
    "91350100M000100Y43",
    "2024-03-05",
    "2024年3月5日",
    "192.168.1.1",
    "110105",
    "J45.9",
    "张三 电话13800138000，身份证11010519491231002X",
]
ODD = st.one_of(
    st.characters(categories=["Nd"]),  # digits of every script
    st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),  # full-width forms
    st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]),  # controls, format, spaces
)
CHARS = st.one_of(st.characters(exclude_categories=["Cs"]), ODD)


@st.composite
def swapped(draw: st.DrawFn) -> str:
    """A known identifier with one character replaced by an odd one."""
    seed = draw(st.sampled_from(SEEDS))
    at = draw(st.integers(0, len(seed) - 1))
    return seed[:at] + draw(ODD) + seed[at + 1 :]


@st.composite
def foreign_digits(draw: st.DrawFn) -> str:
    """A known identifier with some of its digits written in another script (٤٤٠٣٠٥...)."""
    seed = draw(st.sampled_from(SEEDS))
    digit = draw(st.characters(categories=["Nd"]))
    zero = ord(digit) - unicodedata.digit(digit)
    spots = draw(st.sets(st.sampled_from([i for i, c in enumerate(seed) if c.isascii()])))
    return "".join(
        chr(zero + int(c)) if i in spots and c in string.digits else c for i, c in enumerate(seed)
    )


CELL = st.one_of(st.text(CHARS, max_size=40), swapped(), foreign_digits(), st.sampled_from(SEEDS))
CELLS = st.lists(CELL, min_size=1, max_size=6)
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LENIENT = """
[profile]
name = "lenient"
[[steps]]
column = "a"
transform = "pseudonymize"
[[steps]]
column = "b"
transform = "mask"
keep_first = 2
keep_last = 2
[[steps]]
column = "c"
transform = "suppress"
values = ["x"]
"""
STRICT = """
[profile]
name = "strict"
[[steps]]
column = "d"
transform = "date_shift"
subject = "a"
max_days = 30
[[steps]]
column = "c"
transform = "generalize"
hierarchy = "date"
level = 1
[[steps]]
column = "b"
transform = "generalize"
hierarchy = "region"
level = 1
[[steps]]
column = "a"
transform = "generalize"
hierarchy = "icd10"
level = 1
"""


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _files(folder: Path, cells: list[str]) -> list[Path]:
    """The cells as the columns a..d of a Parquet file and of a CSV file (every field quoted)."""
    columns = dict.fromkeys("abcd", cells)
    parquet = folder / "cells.parquet"
    pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String)).write_parquet(parquet)
    text = folder / "cells.csv"
    with text.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(["a", "b", "c", "d"])
        writer.writerows([cell] * 4 for cell in cells)
    return [parquet, text]


@FAST
@given(cells=CELLS)
@example(cells=["440305١٩٩٠٠٣071236"])  # the cell that made `shugu privacy scan` crash
def test_every_validator_and_the_text_finder_take_any_text(cells: list[str]) -> None:
    series = pl.Series("v", cells, dtype=pl.String)
    for label in Label:
        assert validate(label, series).len() == len(cells)
    found = find_in_text(series)
    assert all(isinstance(label, Label) and n > 0 for label, n in found.items())
    detector = ColumnDetector("证件号")
    detector.update(series)
    assert detector.verdict().rows_checked <= len(cells)


@FAST
@given(cells=CELLS)
@example(cells=["440305١٩٩٠٠٣071236"])  # the cell that made `shugu privacy scan` crash
def test_scan_labels_any_text_or_says_why(folder: Path, cells: list[str]) -> None:
    for path in _files(folder, cells):
        try:
            with open_source(path) as source:
                report = scan_source(source, full=True)
        except ShuguError:
            continue  # a CSV the reader refuses, with a reason: allowed
        assert [c.verdict.name for c in report.columns] == ["a", "b", "c", "d"]
        assert all(c.verdict.label is None or c.verdict.label in Label for c in report.columns)


@FAST
@given(cells=CELLS)
@example(cells=["440305١٩٩٠٠٣071236"])  # the cell that made `shugu privacy scan` crash
def test_protect_writes_any_text_or_says_why(folder: Path, cells: list[str]) -> None:
    parquet, _ = _files(folder, cells)
    lenient = parse_profile(LENIENT, format="toml")
    with open_source(parquet) as source:  # steps that read no value: always written
        report = protect_source(source, lenient, folder / "out.parquet", registry=REGISTRY, key=KEY)
    assert report.rows_out == len(cells)
    strict = parse_profile(STRICT, format="toml")
    try:  # dates, regions and codes that do not parse: refused with the value named
        with open_source(parquet) as source:
            protect_source(source, strict, folder / "out2.parquet", registry=REGISTRY, key=KEY)
    except ShuguError as error:
        assert "column" in str(error)

"""The shared hierarchy registry: built-ins, ARX tables, fingerprints, errors."""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shugu.errors import InvalidInputError, NotFoundError
from shugu.privacy.hierarchy import (
    AgeHierarchy,
    HierarchyRegistry,
    InvalidValueError,
    TableHierarchy,
    parse_dates,
)

REGISTRY = HierarchyRegistry.builtin()
ZIP_ROWS = "10115;1011*;101**;*\n10117;1011*;101**;*\n10243;1024*;102**;*\n"


def generalize(name: str, values: list[object], level: int, dtype: pl.DataType | None = None):
    series = pl.Series("col", values, dtype=dtype)
    return REGISTRY.get(name).generalize(series, level).to_list()


# -- age -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (0, [0, 4, 5, 47, 89, 90, 117, None]),
        (1, ["0-4", "0-4", "5-9", "45-49", "85-89", "90+", "90+", None]),
        (2, ["0-9", "0-9", "0-9", "40-49", "80-89", "90+", "90+", None]),
        (3, ["*", "*", "*", "*", "*", "*", "*", None]),
    ],
)
def test_age_levels(level: int, expected: list[object]) -> None:
    assert generalize("age", [0, 4, 5, 47, 89, 90, 117, None], level) == expected


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([34, 35], pl.UInt8()),
        ([34.9, 35.0], pl.Float64()),
        (["34", " 35.5 "], pl.String()),
    ],
    ids=["uint8", "float", "text"],
)
def test_age_reads_numbers_and_text(values: list[object], dtype: pl.DataType) -> None:
    assert generalize("age", values, 1, dtype) == ["30-34", "35-39"]


@pytest.mark.parametrize(
    ("good", "bad"), [(30, -1), ("30", "abc"), (30.0, float("nan")), ("30", "-3")], ids=str
)
def test_age_rejects_values_that_are_no_age(good: object, bad: object) -> None:
    with pytest.raises(InvalidValueError) as info:
        generalize("age", [good, bad, None], 1)
    assert info.value.params == {"column": "col", "value": str(bad)}
    assert "col" in str(info.value)
    assert "This error occurred" not in str(info.value)


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=150))
def test_age_band_contains_the_age(age: int) -> None:
    for level in (1, 2):
        label = generalize("age", [age], level)[0]
        if age >= 90:
            assert label == "90+"
        else:
            low, high = (int(part) for part in label.split("-"))
            assert low <= age <= high
            assert high - low + 1 == (5 if level == 1 else 10)


def test_age_labels_list_every_band() -> None:
    age = REGISTRY.get("age")
    assert age.labels(1)[:3] == ("0-4", "5-9", "10-14")
    assert age.labels(1)[-1] == "90+"
    assert len(age.labels(2)) == 10
    assert age.labels(3) == ("*",)
    assert age.labels(0) is None


def test_custom_age_bands_must_divide_the_top() -> None:
    with pytest.raises(InvalidInputError):
        AgeHierarchy(widths=(7,), top=90)
    assert AgeHierarchy("age3", widths=(3,), top=9).generalize(pl.Series([10]), 1).to_list() == [
        "9+"
    ]


# -- dates ---------------------------------------------------------------------------------------

DATE_TEXTS = [
    "2024-03-05",
    "2024-3-5",
    "2024/03/05",
    "2024/3/5",
    "2024.03.05",
    "20240305",
    "2024年3月5日",
    " 2024-03-05 ",
    "2024-03-05T10:30:00",
    "2024-03-05 10:30:00+08:00",
]


@pytest.mark.parametrize("text", DATE_TEXTS)
def test_dates_read_iso_like_text(text: str) -> None:
    assert generalize("date", [text, None], 1) == ["2024-03", None]
    assert generalize("date", [text], 2) == ["2024"]


def test_dates_read_date_and_datetime_dtypes() -> None:
    day = dt.date(2024, 3, 5)
    assert generalize("date", [day, None], 1) == ["2024-03", None]
    assert generalize("date", [dt.datetime(2024, 12, 31, 23, 59)], 2) == ["2024"]
    assert generalize("date", [day], 3) == ["*"]
    assert generalize("date", [day], 0) == [day]


def test_mixed_date_forms_in_one_column() -> None:
    values = ["2024-01-31", "2023/12/01", "20220615", None, "2021年7月8日"]
    assert generalize("date", values, 1) == ["2024-01", "2023-12", "2022-06", None, "2021-07"]


@pytest.mark.parametrize(
    "bad", ["2024-02-30", "24-03-05", "2024035", "hello", "2024-13-01", "+2024-03-05", "-"]
)
def test_unreadable_dates_name_the_column_and_value(bad: str) -> None:
    values = pl.Series("visit", ["2024-03-05", bad])
    with pytest.raises(InvalidValueError) as info:
        REGISTRY.get("date").generalize(values, 1)
    assert info.value.params == {"column": "visit", "value": bad}


@pytest.mark.parametrize("name", ["age", "date", "region", "icd10"])
def test_blank_text_counts_as_missing(name: str) -> None:
    assert generalize(name, ["", "  ", None], 1) == [None, None, None]


def test_parse_dates_runs_lazily_in_both_engines() -> None:
    frame = pl.LazyFrame({"d": ["2024/03/05", "20240101", None]})
    plan = frame.select(parse_dates(pl.col("d"), column="d"))
    expected = [dt.date(2024, 3, 5), dt.date(2024, 1, 1), None]
    assert plan.collect(engine="in-memory")["d"].to_list() == expected
    assert plan.collect(engine="streaming")["d"].to_list() == expected


def test_date_rejects_other_dtypes() -> None:
    with pytest.raises(InvalidInputError) as info:
        generalize("date", [1, 2], 1)
    assert info.value.params["hierarchy"] == "date"


# -- regions and ICD-10 --------------------------------------------------------------------------


def test_region_levels_for_text_and_integers() -> None:
    codes = ["110105", "440305", " 510104", None]
    assert generalize("region", codes, 1) == ["110100", "440300", "510100", None]
    assert generalize("region", codes, 2) == ["110000", "440000", "510000", None]
    assert generalize("region", [110105, None], 1) == ["110100", None]
    assert generalize("region", [110105], 2) == ["110000"]
    assert generalize("region", [110105], 3) == ["*"]


@pytest.mark.parametrize("bad", ["11010", "1101050", "11O105", "-11010", 99999, 1_000_000], ids=str)
def test_region_rejects_malformed_codes(bad: object) -> None:
    with pytest.raises(InvalidValueError) as info:
        generalize("region", [bad], 1)
    assert info.value.params["value"] == str(bad)


def test_icd10_levels() -> None:
    codes = ["J45.9", "j459", " I10 ", "C34.1", "U07.1", "S72.00", "Z00.0", None]
    assert generalize("icd10", codes, 1) == ["J45", "J45", "I10", "C34", "U07", "S72", "Z00", None]
    assert generalize("icd10", codes, 2) == ["X", "X", "IX", "II", "XXII", "XIX", "XXI", None]
    assert REGISTRY.get("icd10").labels(2)[0] == "I"


def test_icd10_rejects_codes_outside_any_chapter_at_level_2_only() -> None:
    assert generalize("icd10", ["D49"], 1) == ["D49"]
    with pytest.raises(InvalidValueError) as info:
        generalize("icd10", ["D49.0"], 2)
    assert info.value.params["value"] == "D49.0"
    with pytest.raises(InvalidValueError):
        generalize("icd10", ["123"], 1)


# -- tables (ARX) --------------------------------------------------------------------------------


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_table_from_arx_csv(tmp_path: Path) -> None:
    table = TableHierarchy.from_csv(write(tmp_path / "zip.csv", ZIP_ROWS))
    assert (table.name, table.levels) == ("zip", 3)
    values = pl.Series("zip", ["10117", None, "10243"])
    assert table.generalize(values, 1).to_list() == ["1011*", None, "1024*"]
    assert table.generalize(values, 3).to_list() == ["*", None, "*"]
    assert table.generalize(pl.Series("zip", [10115]), 2).to_list() == ["101**"]
    assert table.labels(2) == ("101**", "102**")


def test_table_reads_bom_quotes_and_blank_lines(tmp_path: Path) -> None:
    text = '\ufeff"a;b";ab\n\nc;cd\n'
    table = TableHierarchy.from_csv(write(tmp_path / "t.csv", text))
    assert table.generalize(pl.Series(["a;b", "c"]), 1).to_list() == ["ab", "cd"]


def test_table_value_missing_names_value_column_and_hierarchy(tmp_path: Path) -> None:
    table = TableHierarchy.from_csv(write(tmp_path / "zip.csv", ZIP_ROWS))
    with pytest.raises(InvalidValueError) as info:
        table.generalize(pl.Series("postcode", ["10115", "99999"]), 1)
    assert info.value.params == {"column": "postcode", "value": "99999", "hierarchy": "zip"}


@pytest.mark.parametrize(
    ("text", "line", "params"),
    [
        ("a;x;*\nb;y\n", 2, {"found": 2, "expected": 3, "first": 1}),
        ("a;x;*\nb;;*\n", 2, {"field": 2}),
        ("a;x;*\n\nb;y;*\na;z;*\n", 4, {"value": "a", "first": 1}),
        ("a;x;P\nb;x;Q\n", 2, {"value": "x", "level": 1, "found": "Q", "expected": "P"}),
        ("a\n", 1, {}),
    ],
    ids=["ragged", "empty-field", "repeated", "split-parent", "no-level"],
)
def test_bad_tables_name_file_and_line(tmp_path: Path, text: str, line: int, params: dict) -> None:
    with pytest.raises(InvalidInputError) as info:
        TableHierarchy.from_csv(write(tmp_path / "bad.csv", text))
    assert info.value.params["file"] == "bad.csv"
    assert info.value.params["line"] == line
    assert params.items() <= info.value.params.items()


def test_non_utf8_table_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "gbk.csv", "a;x\n北京;华北\n", encoding="gbk")
    with pytest.raises(InvalidInputError) as info:
        TableHierarchy.from_csv(path)
    assert info.value.params == {"file": "gbk.csv", "line": 2}


def test_empty_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        TableHierarchy.from_csv(write(tmp_path / "empty.csv", "\n"))


# -- the registry --------------------------------------------------------------------------------


def test_builtin_registry() -> None:
    assert REGISTRY.names() == ["age", "date", "icd10", "region"]
    assert "age" in REGISTRY
    assert len(REGISTRY) == 4


def test_unknown_hierarchy_lists_the_known_ones() -> None:
    with pytest.raises(NotFoundError) as info:
        REGISTRY.get("agee")
    assert info.value.params["known"] == "age, date, icd10, region"


def test_level_out_of_range() -> None:
    for level in (-1, 4, True):
        with pytest.raises(InvalidInputError):
            REGISTRY.get("age").expr("a", pl.Int64(), level)  # type: ignore[arg-type]


def test_from_folder_adds_tables_by_stem(tmp_path: Path) -> None:
    write(tmp_path / "zip.csv", ZIP_ROWS)
    write(tmp_path / "notes.txt", "ignored")
    registry = HierarchyRegistry.from_folder(tmp_path)
    assert registry.names() == ["age", "date", "icd10", "region", "zip"]
    assert registry.get("zip").levels == 3


def test_from_folder_reports_the_bad_file(tmp_path: Path) -> None:
    write(tmp_path / "good.csv", ZIP_ROWS)
    write(tmp_path / "bad.csv", "a;b;c\nd;e\n")
    with pytest.raises(InvalidInputError) as info:
        HierarchyRegistry.from_folder(tmp_path)
    assert (info.value.params["file"], info.value.params["line"]) == ("bad.csv", 2)


@pytest.mark.parametrize("stem", ["age", "ICD10"])
def test_from_folder_rejects_a_builtin_name(tmp_path: Path, stem: str) -> None:
    write(tmp_path / f"{stem}.csv", ZIP_ROWS)
    with pytest.raises(InvalidInputError) as info:
        HierarchyRegistry.from_folder(tmp_path)
    assert info.value.params["name"] == stem


def test_from_folder_of_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        HierarchyRegistry.from_folder(tmp_path / "nope")


def test_duplicate_names_in_a_registry() -> None:
    with pytest.raises(InvalidInputError):
        HierarchyRegistry([AgeHierarchy(), AgeHierarchy()])


def test_fingerprint_ignores_row_order_but_not_content(tmp_path: Path) -> None:
    one, two, three = tmp_path / "1", tmp_path / "2", tmp_path / "3"
    for folder in (one, two, three):
        folder.mkdir()
    write(one / "zip.csv", ZIP_ROWS)
    write(two / "zip.csv", "".join(reversed(ZIP_ROWS.splitlines(keepends=True))))
    write(three / "zip.csv", ZIP_ROWS.replace("1024*", "1020*"))
    first, second, third = (HierarchyRegistry.from_folder(f) for f in (one, two, three))
    assert first.fingerprint() == second.fingerprint()
    assert first.fingerprint() != third.fingerprint()
    assert first.fingerprint() != REGISTRY.fingerprint()
    assert len(first.fingerprint()) == 64


def test_fingerprint_is_stable_across_processes(tmp_path: Path) -> None:
    write(tmp_path / "zip.csv", ZIP_ROWS)
    code = (
        "import sys; from pathlib import Path;"
        "from shugu.privacy.hierarchy import HierarchyRegistry as R;"
        "print(R.builtin().fingerprint(), R.from_folder(Path(sys.argv[1])).fingerprint())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    expected = f"{REGISTRY.fingerprint()} {HierarchyRegistry.from_folder(tmp_path).fingerprint()}\n"
    assert runs == {expected}


def test_two_holders_with_one_registry_generalise_identically(tmp_path: Path) -> None:
    for holder in ("a", "b"):
        (tmp_path / holder).mkdir()
        write(tmp_path / holder / "zip.csv", ZIP_ROWS)
    registries = [HierarchyRegistry.from_folder(tmp_path / h) for h in ("a", "b")]
    assert registries[0].fingerprint() == registries[1].fingerprint()
    frame = pl.DataFrame({"zip": ["10115", "10243"], "age": [33, 71], "d": ["2024-03-05"] * 2})
    outputs = [
        frame.select(
            r.get("zip").expr("zip", pl.String(), 2),
            r.get("age").expr("age", pl.Int64(), 1),
            r.get("date").expr("d", pl.String(), 1),
        )
        for r in registries
    ]
    assert outputs[0].equals(outputs[1])


# -- errors raised from inside a plan ------------------------------------------------------------


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_plan_errors_keep_their_template_and_parameters(engine: str) -> None:
    plan = pl.LazyFrame({"age": [3, -4]}).select(REGISTRY.get("age").expr("age", pl.Int64(), 1))
    with pytest.raises(InvalidValueError) as info:
        plan.collect(engine=engine)  # type: ignore[call-overload]
    error = info.value
    assert error.params == {"column": "age", "value": "-4"}
    assert str(error) == "column age: '-4' is not an age (whole years, 0 or more)"
    assert error.render("zh_CN")  # renders (translated once the catalogue has the message)
    again = pickle.loads(pickle.dumps(error))
    assert (again.message, again.params) == (error.message, error.params)


def test_long_sample_values_are_shortened() -> None:
    with pytest.raises(InvalidValueError) as info:
        generalize("region", ["9" * 100], 1)
    assert len(info.value.params["value"]) == 40


# -- the ISO fast path (integer arithmetic over the bytes) agrees with the general parser ---------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-02-29", dt.date(2024, 2, 29)),  # leap year
        ("2000-02-29", dt.date(2000, 2, 29)),  # divisible by 400: leap
        ("1000-01-01", dt.date(1000, 1, 1)),  # the first year the fast path reads
        ("9999-12-31", dt.date(9999, 12, 31)),
        ("1970-01-01", dt.date(1970, 1, 1)),
        ("1969-12-31", dt.date(1969, 12, 31)),
        ("0999-12-31", dt.date(999, 12, 31)),  # left to the general parser
        ("2023-04-30", dt.date(2023, 4, 30)),
    ],
)
def test_iso_dates_read_exactly(text: str, day: dt.date) -> None:
    frame = pl.DataFrame({"d": [text, None, text]})
    parsed = frame.select(parse_dates(pl.col("d"), column="d"))["d"].to_list()
    assert parsed == [day, None, day]
    assert generalize("date", [text, None], 1) == [f"{day.year:04}-{day.month:02}", None]
    assert generalize("date", [text], 2) == [f"{day.year:04}"]


@pytest.mark.parametrize(
    "bad", ["2023-02-29", "1900-02-29", "2100-02-29", "2024-04-31", "2024-00-10", "2024-01-00"]
)
def test_iso_dates_that_do_not_exist_are_errors(bad: str) -> None:
    values = pl.Series("visit", ["2024-03-05", None, bad, "2024-03-06"])
    for level in (1, 2):
        with pytest.raises(InvalidValueError) as info:
            REGISTRY.get("date").generalize(values, level)
        assert info.value.params == {"column": "visit", "value": bad}
    with pytest.raises(InvalidValueError) as info:
        values.to_frame().select(parse_dates(pl.col("visit"), column="visit"))
    assert info.value.params == {"column": "visit", "value": bad}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
            st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
            st.none(),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_iso_fast_path_agrees_with_the_calendar(texts: list[str | None]) -> None:
    def day(text: str | None) -> dt.date | None:
        return None if text is None else dt.date.fromisoformat(text)

    try:
        expected = [day(t) for t in texts]
    except ValueError:  # some value is no date: the column is an error
        with pytest.raises(InvalidValueError):
            pl.DataFrame({"d": texts}, schema={"d": pl.String}).select(
                parse_dates(pl.col("d"), column="d")
            )
        return
    frame = pl.DataFrame({"d": texts}, schema={"d": pl.String})
    assert frame.select(parse_dates(pl.col("d"), column="d"))["d"].to_list() == expected
    years = [None if d is None else f"{d.year:04}" for d in expected]
    assert generalize("date", texts, 2, pl.String) == years


def test_iso_fast_path_reads_sliced_and_chunked_columns() -> None:
    values = pl.concat(
        [pl.Series("d", ["2024-01-31", "x", "2023-12-01"]), pl.Series("d", ["2020-02-29", None])],
        rechunk=False,
    ).slice(2)
    assert generalize("date", values.to_list(), 1) == ["2023-12", "2020-02", None]
    assert REGISTRY.get("date").generalize(values, 1).to_list() == ["2023-12", "2020-02", None]


@pytest.mark.parametrize("text", ["0000-01-01", "0000/12/31", "00000229"])
def test_year_zero_is_no_date(text: str) -> None:
    frame = pl.DataFrame({"d": ["2024-01-01", text]}, schema={"d": pl.String})
    with pytest.raises(InvalidValueError, match="is not a date"):
        frame.select(parse_dates(pl.col("d"), column="d"))

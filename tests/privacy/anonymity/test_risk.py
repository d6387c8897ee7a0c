"""Re-identification risk on hand-checked tables."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from shugu.errors import InvalidInputError, NotFoundError
from shugu.privacy.anonymity import risk

# classes: A (1 record), B (2), C (3)
SAMPLE = pl.DataFrame(
    {"zip": ["a", "b", "b", "c", "c", "c"], "sex": ["m", "f", "f", "m", "m", "m"]}
)


def test_prosecutor_risk_and_sample_uniqueness() -> None:
    report = risk(SAMPLE, ["zip", "sex"])
    assert (report.records, report.classes) == (6, 3)
    assert report.prosecutor.highest == 1.0
    assert report.prosecutor.average == pytest.approx(3 / 6)
    assert report.prosecutor.records_at_risk == 1.0  # 1, 1/2 and 1/3 all exceed 0.2
    assert report.sample_uniqueness == pytest.approx(1 / 6)
    # the sample stands in for the population: journalist equals prosecutor
    assert report.journalist == report.prosecutor
    assert report.marketer == pytest.approx(3 / 6)
    assert report.population == "sample" and report.population_uniqueness is None
    strict = risk(SAMPLE, ["zip", "sex"], threshold=0.4)
    assert strict.prosecutor.records_at_risk == pytest.approx(3 / 6)


def test_population_table_lowers_journalist_and_marketer_risk() -> None:
    population = pl.DataFrame(
        {"zip": ["a"] * 4 + ["b"] * 2 + ["c"] * 10, "sex": ["m"] * 4 + ["f"] * 2 + ["m"] * 10}
    )
    report = risk(SAMPLE, ["zip", "sex"], population=population)
    assert report.journalist.highest == pytest.approx(1 / 2)
    expected = (1 / 4 + 2 / 2 + 3 / 10) / 6
    assert report.journalist.average == pytest.approx(expected)
    assert report.marketer == pytest.approx(expected)
    assert report.population_uniqueness == 0.0
    assert report.prosecutor.highest == 1.0


def test_arrow_tables_and_nulls_are_accepted() -> None:
    table = pa.table({"zip": ["a", None, None], "sex": ["m", "f", "f"]})
    report = risk(table, ["zip", "sex"])
    assert report.classes == 2
    assert report.prosecutor.highest == 1.0


def test_bad_requests() -> None:
    with pytest.raises(NotFoundError, match="column age not found"):
        risk(SAMPLE, ["age"])
    with pytest.raises(InvalidInputError, match="at least one quasi-identifier"):
        risk(SAMPLE, [])
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        risk(SAMPLE, ["zip"], threshold=2)

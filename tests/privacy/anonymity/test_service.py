"""`anonymize`: bad requests fail before any search; the release, summary and risk reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from shugu.errors import InvalidInputError, NotFoundError
from shugu.privacy.anonymity import (
    DistinctLDiversity,
    HierarchicalTCloseness,
    Hierarchy,
    KAnonymity,
    anonymize,
    service,
)

AGE = Hierarchy.from_rows(
    [["1", "1-2", "*"], ["2", "1-2", "*"], ["3", "3-4", "*"], ["4", "3-4", "*"]]
)
SEX = Hierarchy.from_rows([["m", "*"], ["f", "*"]])
HIERARCHIES = {"age": AGE, "sex": SEX}
TABLE = pl.DataFrame(
    {
        "age": ["1", "2", "3", "4", "3", "1"],
        "sex": ["m", "m", "f", "f", "f", "f"],
        "disease": ["flu", "cold", "flu", "cold", "flu", "flu"],
    }
)


@pytest.fixture
def no_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a search starts: these errors must come first."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the search ran")

    monkeypatch.setattr(service, "optimal", refuse)
    monkeypatch.setattr(service, "heuristic", refuse)


CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    (
        "unknown qi",
        lambda: anonymize(TABLE, ["age", "zip"], HIERARCHIES, models=[KAnonymity(2)]),
        NotFoundError,
        "column zip not found",
    ),
    (
        "unknown sensitive",
        lambda: anonymize(
            TABLE, ["age"], HIERARCHIES, models=[DistinctLDiversity(2)], sensitive="dx"
        ),
        NotFoundError,
        "column dx not found",
    ),
    (
        "missing value",
        lambda: anonymize(
            TABLE,
            ["age", "sex"],
            {"age": Hierarchy.from_rows([["1", "*"], ["2", "*"]]), "sex": SEX},
            models=[KAnonymity(2)],
        ),
        InvalidInputError,
        r"column age: 2 distinct values are not in its hierarchy \('3', '4'\)",
    ),
    (
        "k above the table",
        lambda: anonymize(TABLE, ["age"], HIERARCHIES, models=[KAnonymity(7)]),
        InvalidInputError,
        "at least 7 records, but the table has only 6",
    ),
    (
        "no hierarchy",
        lambda: anonymize(TABLE, ["age", "disease"], HIERARCHIES, models=[KAnonymity(2)]),
        InvalidInputError,
        "disease has no hierarchy",
    ),
    (
        "no sensitive",
        lambda: anonymize(TABLE, ["age"], HIERARCHIES, models=[DistinctLDiversity(2)]),
        InvalidInputError,
        "needs a sensitive column",
    ),
    (
        "sensitive is a qi",
        lambda: anonymize(
            TABLE, ["age", "sex"], HIERARCHIES, models=[DistinctLDiversity(2)], sensitive="sex"
        ),
        InvalidInputError,
        "both a quasi-identifier and sensitive",
    ),
    (
        "qi twice",
        lambda: anonymize(TABLE, ["age", "age"], HIERARCHIES, models=[KAnonymity(2)]),
        InvalidInputError,
        "named twice: age",
    ),
    (
        "no qi",
        lambda: anonymize(TABLE, [], HIERARCHIES, models=[KAnonymity(2)]),
        InvalidInputError,
        "at least one quasi-identifier",
    ),
    (
        "no model",
        lambda: anonymize(TABLE, ["age"], HIERARCHIES, models=[]),
        InvalidInputError,
        "at least one privacy model",
    ),
    (
        "suppression",
        lambda: anonymize(TABLE, ["age"], HIERARCHIES, models=[KAnonymity(2)], suppression=1.5),
        InvalidInputError,
        "between 0 and 1, not 1.5",
    ),
    (
        "metric",
        lambda: anonymize(TABLE, ["age"], HIERARCHIES, models=[KAnonymity(2)], metric="nope"),
        InvalidInputError,
        "unknown metric nope",
    ),
    (
        "empty table",
        lambda: anonymize(TABLE.clear(), ["age"], HIERARCHIES, models=[KAnonymity(1)]),
        InvalidInputError,
        "no records",
    ),
    (
        "no t hierarchy",
        lambda: anonymize(
            TABLE, ["age"], HIERARCHIES, models=[HierarchicalTCloseness(0.5)], sensitive="disease"
        ),
        InvalidInputError,
        "needs a hierarchy for the sensitive column disease",
    ),
]


@pytest.mark.parametrize(("name", "call", "error", "message"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.usefixtures("no_search")
def test_bad_requests_fail_before_the_search(
    name: str, call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_no_solution_is_a_clear_error() -> None:
    with pytest.raises(
        InvalidInputError,
        match="no transformation satisfies the privacy models with at most 0 records",
    ):
        anonymize(
            TABLE, ["age", "sex"], HIERARCHIES, models=[DistinctLDiversity(3)], sensitive="disease"
        )


def test_release_summary_and_risk() -> None:
    result = anonymize(
        TABLE.to_arrow(),
        ["age", "sex"],
        HIERARCHIES,
        models=[KAnonymity(2)],
        suppression=1 / 6,
        metric="loss",
    )
    assert result.transformation == {"age": 1, "sex": 0}
    assert result.suppressed == 1
    assert result.equivalence_classes == 2
    assert result.table.to_dict(as_series=False) == {
        "age": ["1-2", "1-2", "3-4", "3-4", "3-4", "*"],
        "sex": ["m", "m", "f", "f", "f", "*"],
        "disease": ["flu", "cold", "flu", "cold", "flu", "flu"],
    }
    expected = ((1 + 4 / 9) * (1 + 1 / 6)) ** 0.5 - 1  # see test_models_metrics
    assert result.information_loss == pytest.approx(expected)
    assert result.information_loss_relative == pytest.approx(expected)  # the top costs 1
    summary = result.summary()
    assert list(summary) == [
        "transformation",
        "information_loss",
        "information_loss_relative",
        "suppressed",
        "equivalence_classes",
        "nodes_checked",
        "search_ms",
    ]
    assert summary["nodes_checked"] >= 1
    assert isinstance(summary["search_ms"], float) and 0 < summary["search_ms"] < 60_000
    assert result.risk_before.prosecutor.highest == 1.0
    assert result.risk_before.records == 6
    assert result.risk_after.records == 5
    assert result.risk_after.prosecutor.highest == pytest.approx(1 / 2)
    assert result.risk_after.classes == 2


def test_integer_columns_match_text_hierarchies() -> None:
    table = pl.DataFrame({"age": [1, 2, 3, 4], "sex": ["m", "m", "f", "f"]})
    result = anonymize(
        table, ["age", "sex"], HIERARCHIES, models=[KAnonymity(2)], metric="precision"
    )
    assert result.transformation == {"age": 1, "sex": 0}
    assert result.table["age"].to_list() == ["1-2", "1-2", "3-4", "3-4"]


def test_t_closeness_with_the_models_own_hierarchy() -> None:
    disease = Hierarchy.from_rows([["flu", "*"], ["cold", "*"]])
    result = anonymize(
        TABLE,
        ["age", "sex"],
        HIERARCHIES,
        models=[HierarchicalTCloseness(0.2, disease)],
        sensitive="disease",
    )
    assert result.suppressed == 0
    assert result.exact

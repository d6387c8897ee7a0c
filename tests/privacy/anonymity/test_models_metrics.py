"""Privacy models and metrics on hand-checked examples."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from shugu.errors import InvalidInputError
from shugu.privacy.anonymity import (
    DistinctLDiversity,
    EntropyLDiversity,
    EqualDistanceTCloseness,
    HierarchicalTCloseness,
    Hierarchy,
    KAnonymity,
    Metric,
    RecursiveCLDiversity,
)
from shugu.privacy.anonymity.data import encode
from shugu.privacy.anonymity.metrics import make_loss_function
from shugu.privacy.anonymity.models import SensitiveTree
from shugu.privacy.anonymity.search import Evaluator, Lattice

NO_REFERENCE = np.zeros(0)


def _check(
    model: object,
    sizes: list[float],
    hist: list[list[float]] | None,
    reference: np.ndarray = NO_REFERENCE,
) -> list[bool]:
    array = None if hist is None else np.array(hist, dtype=np.float64)
    return model.check(np.array(sizes, dtype=np.float64), array, reference).tolist()  # type: ignore[attr-defined]


def test_k_anonymity_counts_records() -> None:
    assert _check(KAnonymity(3), [2, 3, 5], None) == [False, True, True]


def test_distinct_l_diversity_counts_values() -> None:
    assert _check(DistinctLDiversity(2), [2, 2], [[2, 0], [1, 1]]) == [False, True]


def test_entropy_l_diversity_uses_log2_l() -> None:
    hist = [[1, 1], [3, 1], [4, 0]]
    assert _check(EntropyLDiversity(2), [2, 4, 4], hist) == [True, False, False]
    # entropy of (3, 1) is 0.811 bits >= log2(1.5) = 0.585
    assert _check(EntropyLDiversity(1.5), [2, 4, 4], hist) == [True, True, False]


def test_recursive_cl_diversity() -> None:
    hist = [[3, 1, 0], [2, 1, 1], [4, 0, 0]]
    # (2,2): r1 < 2 * (r2 + r3): 3 < 2 false; 2 < 4 true; one value only false
    assert _check(RecursiveCLDiversity(2, 2), [4, 4, 4], hist) == [False, True, False]
    assert _check(RecursiveCLDiversity(4, 2), [4, 4, 4], hist) == [True, True, False]


def test_equal_distance_t_closeness() -> None:
    reference = np.array([0.5, 0.5])
    hist = [[3, 1], [2, 2]]  # distances 0.25 and 0
    assert _check(EqualDistanceTCloseness(0.25), [4, 4], hist, reference) == [True, True]
    assert _check(EqualDistanceTCloseness(0.2), [4, 4], hist, reference) == [False, True]


def test_hierarchical_t_closeness_follows_li_et_al() -> None:
    hierarchy = Hierarchy.from_rows([["s0", "low", "*"], ["s1", "low", "*"], ["s2", "high", "*"]])
    tree = SensitiveTree.build(hierarchy, ["s0", "s1", "s2"], "s")
    reference = np.full(3, 1 / 3)
    # all s0: node "low" moves 1/3 at cost 1/2, the root moves 1/3 at cost 1: 1/6 + 1/3
    distance = tree.distance(np.array([[1.0, 0.0, 0.0]]), reference)
    assert distance[0] == pytest.approx(0.5)
    model = HierarchicalTCloseness(0.5).prepare(tree)
    assert _check(model, [3], [[3, 0, 0]], reference) == [True]
    assert _check(HierarchicalTCloseness(0.49).prepare(tree), [3], [[3, 0, 0]], reference) == [
        False
    ]
    # a class like the table costs nothing; equal distance would charge the s0 case 2/3
    assert tree.distance(np.array([[1 / 3, 1 / 3, 1 / 3]]), reference)[0] == pytest.approx(0.0)
    assert _check(EqualDistanceTCloseness(0.66), [3], [[3, 0, 0]], reference) == [False]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: KAnonymity(0), "k must be"),
        (lambda: DistinctLDiversity(0), "l must be"),
        (lambda: EntropyLDiversity(0.5), "l must be at least 1"),
        (lambda: RecursiveCLDiversity(0, 2), "c must be positive"),
        (lambda: EqualDistanceTCloseness(1.5), "t must be between"),
        (lambda: HierarchicalTCloseness(-0.1), "t must be between"),
    ],
    ids=["k", "distinct", "entropy", "recursive", "equal-t", "hierarchical-t"],
)
def test_bad_parameters_are_refused(make: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make()  # type: ignore[operator]


# -- metrics ---------------------------------------------------------------------------------
# Six records, age banded 1-2 / 3-4 and sex raw ([1, 0]): classes (1-2, m) of 2, (3-4, f) of 3
# and (1-2, f) of 1; with k = 2 and one record allowed, (1, f) is suppressed.

AGE = Hierarchy.from_rows(
    [["1", "1-2", "*"], ["2", "1-2", "*"], ["3", "3-4", "*"], ["4", "3-4", "*"]]
)
SEX = Hierarchy.from_rows([["m", "*"], ["f", "*"]])
TABLE = pl.DataFrame({"age": ["1", "2", "3", "4", "3", "1"], "sex": ["m", "m", "f", "f", "f", "f"]})


def _value(metric: str, levels: tuple[int, int] = (1, 0)) -> tuple[float, int]:
    table = encode(TABLE, ["age", "sex"], {"age": AGE, "sex": SEX})
    result = Evaluator(table, [KAnonymity(2)], limit=1).evaluate(levels)
    assert result.ok
    classes = result.known_classes
    return make_loss_function(Metric(metric), table).value(classes), classes.n_suppressed


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # 4 records at -log2(2/3), 2 at -log2(1/3): 6 log2 3 - 4
        ("entropy", 6 * math.log2(3) - 4),
        # the one suppressed record adds 1 * log2(1/1) = 0 per attribute
        ("entropy-nm", 6 * math.log2(3) - 4),
        # age: (5 * 1/2 + 1 - 6/4) / (6 - 6/4) = 4/9; sex: (5 * 1/2 + 1 - 3) / 3 = 1/6
        ("loss", math.sqrt((1 + 4 / 9) * (1 + 1 / 6)) - 1),
        # age: (5 * 1/2 + 1) / 6; sex: (0 + 1) / 6; averaged
        ("precision", (3.5 / 6 + 1 / 6) / 2),
        # kept classes 2^2 + 3^2, plus N * S = 6
        ("discernibility", 19.0),
        # every class squared, the suppressed one too
        ("discernibility-star", 14.0),
    ],
)
def test_metric_values_by_hand(metric: str, expected: float) -> None:
    value, suppressed = _value(metric)
    assert suppressed == 1
    assert value == pytest.approx(expected, rel=1e-12)


def test_bounds_never_exceed_values() -> None:
    table = encode(TABLE, ["age", "sex"], {"age": AGE, "sex": SEX})
    lattice = Lattice.build(table.heights)
    evaluator = Evaluator(table, [KAnonymity(2)], limit=6)
    for metric in Metric:
        function = make_loss_function(metric, table)
        bounds = function.bounds(lattice.nodes)
        for i, node in enumerate(lattice.nodes.tolist()):
            value = function.value(evaluator.evaluate(node).known_classes)
            assert bounds[i] <= value + 1e-9, (metric, node)


def test_metric_names() -> None:
    assert Metric.parse("loss") is Metric.LOSS
    with pytest.raises(InvalidInputError, match="unknown metric nope"):
        Metric.parse("nope")

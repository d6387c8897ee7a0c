"""The search is exact: on small random tables it finds the least loss any satisfying
transformation has (checked by brute force against the naive reference), its release really
satisfies the models, and the heuristic mode returns a satisfying transformation."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shugu.errors import InvalidInputError
from shugu.privacy.anonymity import (
    DistinctLDiversity,
    EntropyLDiversity,
    EqualDistanceTCloseness,
    HierarchicalTCloseness,
    Hierarchy,
    KAnonymity,
    PrivacyModel,
    RecursiveCLDiversity,
    anonymize,
)
from shugu.privacy.anonymity.search import Lattice

from .naive import brute_force, evaluate

METRICS = ["entropy", "entropy-nm", "loss", "precision", "discernibility", "discernibility-star"]


@st.composite
def hierarchies(draw: st.DrawFn, prefix: str) -> Hierarchy:
    """A random tree hierarchy over 2-5 raw values, 2-4 levels."""
    size = draw(st.integers(2, 5))
    height = draw(st.integers(2, 4))
    labels = [f"{prefix}{i}" for i in range(size)]
    rows = [[label] for label in labels]
    current = labels
    for level in range(1, height):
        groups = draw(st.integers(1, len(set(current))))
        top = level == height - 1 and draw(st.booleans())
        parent = {
            v: "*" if top else f"{prefix}L{level}G{draw(st.integers(0, groups - 1))}"
            for v in sorted(set(current))
        }
        current = [parent[v] for v in current]
        for row, value in zip(rows, current, strict=True):
            row.append(value)
    return Hierarchy.from_rows(rows)


@st.composite
def problems(draw: st.DrawFn) -> dict[str, object]:
    dims = draw(st.integers(1, 3))
    found = [draw(hierarchies(f"q{d}_")) for d in range(dims)]
    n = draw(st.integers(1, 24))
    records = [
        tuple(draw(st.sampled_from([row[0] for row in h.rows])) for h in found) for _ in range(n)
    ]
    sensitive_hierarchy = Hierarchy.from_rows(
        [["s0", "low", "*"], ["s1", "low", "*"], ["s2", "high", "*"]]
    )
    sensitive = [draw(st.sampled_from(["s0", "s1", "s2"])) for _ in range(n)]
    model_choices: list[PrivacyModel] = [
        KAnonymity(draw(st.integers(1, 4))),
        DistinctLDiversity(draw(st.integers(1, 3))),
        EntropyLDiversity(draw(st.sampled_from([1.0, 1.5, 2.0]))),
        RecursiveCLDiversity(draw(st.sampled_from([1.0, 2.0, 3.0])), draw(st.integers(1, 3))),
        EqualDistanceTCloseness(draw(st.sampled_from([0.1, 0.3, 0.6]))),
        HierarchicalTCloseness(draw(st.sampled_from([0.1, 0.3, 0.6]))),
    ]
    picked = draw(
        st.lists(st.sampled_from(range(len(model_choices))), min_size=1, max_size=2, unique=True)
    )
    models = [model_choices[i] for i in picked]
    needs = any(m.needs_sensitive for m in models)
    return {
        "hierarchies": found,
        "records": records,
        "sensitive": sensitive if needs else None,
        "sensitive_hierarchy": sensitive_hierarchy,
        "models": [m for m in models if m.min_class_size <= n] or [KAnonymity(1)],
        "suppression": draw(st.sampled_from([0.0, 0.1, 0.3, 1.0])),
        "metric": draw(st.sampled_from(METRICS)),
    }


def _frame(problem: dict[str, object]) -> tuple[pl.DataFrame, list[str], dict[str, object]]:
    found = problem["hierarchies"]
    assert isinstance(found, list)
    names = [f"q{d}" for d in range(len(found))]
    records = problem["records"]
    assert isinstance(records, list)
    data: dict[str, list[str]] = {name: [r[d] for r in records] for d, name in enumerate(names)}
    given_hierarchies: dict[str, object] = dict(zip(names, found, strict=True))
    if problem["sensitive"] is not None:
        assert isinstance(problem["sensitive"], list)
        data["s"] = problem["sensitive"]
        given_hierarchies["s"] = problem["sensitive_hierarchy"]
    return pl.DataFrame(data), names, given_hierarchies


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_search_finds_the_brute_force_optimum(problem: dict[str, object]) -> None:
    frame, names, given_hierarchies = _frame(problem)
    found, models = problem["hierarchies"], problem["models"]
    assert isinstance(found, list) and isinstance(models, list)
    sensitive = "s" if problem["sensitive"] is not None else None
    args = (
        problem["records"],
        problem["sensitive"],
        found,
        models,
        problem["suppression"],
        problem["metric"],
    )
    every = brute_force(*args, sensitive_hierarchy=problem["sensitive_hierarchy"])  # type: ignore[arg-type]
    satisfying = [o for o in every if o.ok]
    run = lambda: anonymize(  # noqa: E731
        frame,
        names,
        given_hierarchies,  # type: ignore[arg-type]
        models=models,
        sensitive=sensitive,
        suppression=problem["suppression"],  # type: ignore[arg-type]
        metric=problem["metric"],  # type: ignore[arg-type]
    )
    if not satisfying:
        with pytest.raises(InvalidInputError, match="no transformation satisfies"):
            run()
        return
    result = run()
    best = min(o.value for o in satisfying)
    assert math.isclose(result.information_loss, best, rel_tol=1e-9, abs_tol=1e-9)
    levels = tuple(result.transformation.values())
    own = evaluate(*args, levels, sensitive_hierarchy=problem["sensitive_hierarchy"])  # type: ignore[arg-type]
    assert own.ok, "the release satisfies the models within the suppression limit"
    assert own.suppressed == result.suppressed
    assert math.isclose(own.value, result.information_loss, rel_tol=1e-9, abs_tol=1e-9)
    assert result.exact


@settings(max_examples=40, deadline=None)
@given(problems())
def test_heuristic_mode_returns_a_satisfying_transformation(problem: dict[str, object]) -> None:
    frame, names, given_hierarchies = _frame(problem)
    found, models = problem["hierarchies"], problem["models"]
    assert isinstance(found, list) and isinstance(models, list)
    sensitive = "s" if problem["sensitive"] is not None else None
    try:
        result = anonymize(
            frame,
            names,
            given_hierarchies,  # type: ignore[arg-type]
            models=models,
            sensitive=sensitive,
            suppression=problem["suppression"],  # type: ignore[arg-type]
            metric=problem["metric"],  # type: ignore[arg-type]
            max_nodes=0,
        )
    except InvalidInputError:
        return  # the greedy walk starts at the top; when the top fails it gives up
    assert not result.exact
    args = (
        problem["records"],
        problem["sensitive"],
        found,
        models,
        problem["suppression"],
        problem["metric"],
    )
    own = evaluate(
        *args,
        tuple(result.transformation.values()),
        sensitive_hierarchy=problem["sensitive_hierarchy"],
    )  # type: ignore[arg-type]
    assert own.ok


def test_released_table_is_k_anonymous() -> None:
    ages = [str(a) for a in range(20, 60)]
    age = Hierarchy.from_rows([[a, f"{int(a) // 10 * 10}s", "*"] for a in ages])
    sex = Hierarchy.from_rows([["m", "*"], ["f", "*"]])
    frame = pl.DataFrame({"age": ages * 2, "sex": ["m"] * 40 + ["f"] * 40, "pay": list(range(80))})
    result = anonymize(
        frame, ["age", "sex"], {"age": age, "sex": sex}, models=[KAnonymity(10)], metric="loss"
    )
    released = result.table
    assert released["pay"].to_list() == list(range(80))
    kept = released.filter(pl.col("age") != "*")
    sizes = kept.group_by(["age", "sex"]).len()["len"]
    assert sizes.min() >= 10  # type: ignore[operator]
    assert result.transformation == {"age": 1, "sex": 0}
    assert result.equivalence_classes == 8


def test_lattice_boxes_and_maxima() -> None:
    lattice = Lattice.build([2, 3])
    assert lattice.nodes.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    flags = pl.Series([0] * 6).to_numpy().copy()
    lattice.below(flags, lattice.index([1, 1]), 7)
    assert flags.tolist() == [7, 7, 0, 7, 7, 0]
    members = flags == 7
    assert lattice.maximal(members).tolist() == [lattice.index([1, 1])]
    assert lattice.children(lattice.index([1, 1])) == [lattice.index([0, 1]), lattice.index([1, 0])]


MID_MODELS: list[tuple[str, list[PrivacyModel], float]] = [
    ("k3", [KAnonymity(3)], 0.0),
    ("k3-10%", [KAnonymity(3)], 0.1),
    ("distinct2-10%", [DistinctLDiversity(2)], 0.1),
    ("recursive-10%", [KAnonymity(2), RecursiveCLDiversity(3, 2)], 0.1),
    ("equal-t-10%", [EqualDistanceTCloseness(0.3)], 0.1),
    ("tree-t-5%", [HierarchicalTCloseness(0.25)], 0.05),
]


@pytest.mark.parametrize(
    ("name", "models", "suppression"), MID_MODELS, ids=[m[0] for m in MID_MODELS]
)
@pytest.mark.parametrize("metric", METRICS)
def test_mid_sized_lattice_against_brute_force(
    name: str, models: list[PrivacyModel], suppression: float, metric: str
) -> None:
    import random

    rng = random.Random(name)
    shapes = [(6, [2, 6]), (5, [5]), (8, [2, 4, 8]), (4, [2, 4])]  # group widths, nested
    found = []
    for d, (size, widths) in enumerate(shapes):
        rows = [
            [f"q{d}_{i}", *(f"q{d}L{level}G{i // w}" for level, w in enumerate(widths, start=1))]
            for i in range(size)
        ]
        found.append(Hierarchy.from_rows(rows))
    records = [tuple(rng.choice(h.rows)[0] for h in found) for _ in range(120)]
    sensitive = [rng.choice(["s0", "s0", "s1", "s2"]) for _ in range(120)]
    sensitive_hierarchy = Hierarchy.from_rows(
        [["s0", "low", "*"], ["s1", "low", "*"], ["s2", "high", "*"]]
    )
    problem: dict[str, object] = {
        "hierarchies": found,
        "records": records,
        "sensitive": sensitive,
        "sensitive_hierarchy": sensitive_hierarchy,
    }
    frame, names, given_hierarchies = _frame(problem)
    every = brute_force(records, sensitive, found, models, suppression, metric, sensitive_hierarchy)
    best = min(o.value for o in every if o.ok)
    result = anonymize(
        frame,
        names,
        given_hierarchies,  # type: ignore[arg-type]
        models=models,
        sensitive="s",
        suppression=suppression,
        metric=metric,
    )
    assert math.isclose(result.information_loss, best, rel_tol=1e-9, abs_tol=1e-9)
    assert result.nodes_checked <= len(every)

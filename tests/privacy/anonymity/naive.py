"""A slow, obviously correct reference: records generalised one by one, classes counted with a
Counter, models and metrics written straight from their definitions. The property tests
compare the search against it over every transformation of small lattices."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from shugu.privacy.anonymity import (
    DistinctLDiversity,
    EntropyLDiversity,
    EqualDistanceTCloseness,
    HierarchicalTCloseness,
    Hierarchy,
    KAnonymity,
    PrivacyModel,
    RecursiveCLDiversity,
)

TOLERANCE = 1e-12


@dataclass(frozen=True)
class Outcome:
    levels: tuple[int, ...]
    ok: bool
    suppressed: int
    value: float


def _label(hierarchy: Hierarchy, value: str, level: int) -> str:
    return next(row[level] for row in hierarchy.rows if row[0] == value)


def _entropy(counts: Sequence[int]) -> float:
    total = sum(counts)
    return -sum(c / total * math.log2(c / total) for c in counts if c)


def _tree_emd(p: dict[str, float], q: dict[str, float], hierarchy: Hierarchy) -> float:
    height = hierarchy.height - 1
    present = [row for row in hierarchy.rows if row[0] in q]
    net = {row[0]: p.get(row[0], 0.0) - q[row[0]] for row in present}
    cost = 0.0
    for level in range(1, height + 1):
        children: dict[str, list[str]] = defaultdict(list)
        for row in present:
            if row[level - 1] not in children[row[level]]:
                children[row[level]].append(row[level - 1])
        following = {}
        for node, kids in children.items():
            positive = sum(max(net[k], 0.0) for k in kids)
            negative = sum(max(-net[k], 0.0) for k in kids)
            cost += level / height * min(positive, negative)
            following[node] = positive - negative
        net = following
    return cost


def class_ok(
    model: PrivacyModel,
    values: list[str],
    reference: dict[str, float],
    sensitive_hierarchy: Hierarchy | None,
) -> bool:
    counts = Counter(values)
    size = len(values)
    if isinstance(model, KAnonymity):
        return size >= model.k
    if isinstance(model, DistinctLDiversity):
        return len(counts) >= model.l
    if isinstance(model, EntropyLDiversity):
        diverse = _entropy(list(counts.values())) >= math.log2(model.l) - TOLERANCE
        return len(counts) >= math.ceil(model.l) and diverse
    if isinstance(model, RecursiveCLDiversity):
        ranked = sorted(counts.values(), reverse=True) + [0] * len(reference)
        return len(counts) >= model.l and ranked[0] < model.c * sum(ranked[model.l - 1 :])
    p = {v: c / size for v, c in counts.items()}
    if isinstance(model, EqualDistanceTCloseness):
        distance = 0.5 * sum(abs(p.get(v, 0.0) - q) for v, q in reference.items())
        return distance <= model.t + TOLERANCE
    assert isinstance(model, HierarchicalTCloseness) and sensitive_hierarchy is not None
    return _tree_emd(p, reference, sensitive_hierarchy) <= model.t + TOLERANCE


def _metric(
    metric: str,
    records: list[tuple[str, ...]],
    generalised: list[tuple[str, ...]],
    kept: list[bool],
    levels: tuple[int, ...],
    hierarchies: list[Hierarchy],
) -> float:
    n, s = len(records), kept.count(False)
    dims = range(len(hierarchies))
    if metric in ("entropy", "entropy-nm"):
        total = 0.0
        for d in dims:
            raw = Counter(r[d] for r in records)
            gen = Counter(g[d] for g in generalised)
            total += sum(
                -math.log2(raw[r[d]] / gen[g[d]]) for r, g in zip(records, generalised, strict=True)
            )
            if metric == "entropy-nm" and s:
                lost = Counter(g[d] for g, k in zip(generalised, kept, strict=True) if not k)
                total += sum(c * math.log2(s / c) for c in lost.values())
        return total
    if metric == "loss":
        values = []
        for d in dims:
            rows = hierarchies[d].rows
            shares = Counter(row[levels[d]] for row in rows)
            agg = (
                sum(shares[g[d]] / len(rows) for g, k in zip(generalised, kept, strict=True) if k)
                + s
            )
            low = n / len(rows)
            values.append(0.0 if len(rows) <= 1 else max((agg - low) / (n - low), 0.0))
        return math.prod((v + 1.0) ** (1 / len(values)) for v in values) - 1.0
    if metric == "precision":
        fractions = [
            levels[d] / (hierarchies[d].height - 1) if hierarchies[d].height > 1 else 0.0
            for d in dims
        ]
        return sum(((n - s) * f + s) / n for f in fractions) / len(fractions)
    sizes = Counter(generalised)
    if metric == "discernibility-star":
        return float(sum(c * c for c in sizes.values()))
    kept_sizes = Counter(g for g, k in zip(generalised, kept, strict=True) if k)
    return float(sum(c * c for c in kept_sizes.values()) + n * s)


def evaluate(
    records: list[tuple[str, ...]],
    sensitive: list[str] | None,
    hierarchies: list[Hierarchy],
    models: Sequence[PrivacyModel],
    suppression: float,
    metric: str,
    levels: tuple[int, ...],
    sensitive_hierarchy: Hierarchy | None = None,
) -> Outcome:
    generalised = [
        tuple(_label(h, v, level) for h, v, level in zip(hierarchies, r, levels, strict=True))
        for r in records
    ]
    members: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, g in enumerate(generalised):
        members[g].append(i)
    reference: dict[str, float] = {}
    if sensitive is not None:
        reference = {v: c / len(sensitive) for v, c in Counter(sensitive).items()}
    kept = [True] * len(records)
    for rows in members.values():
        values = [sensitive[i] for i in rows] if sensitive is not None else [""] * len(rows)
        if not all(class_ok(m, values, reference, sensitive_hierarchy) for m in models):
            for i in rows:
                kept[i] = False
    suppressed = kept.count(False)
    ok = suppressed <= math.floor(suppression * len(records) + 1e-9)
    value = _metric(metric, records, generalised, kept, levels, hierarchies)
    return Outcome(levels, ok, suppressed, value)


def brute_force(
    records: list[tuple[str, ...]],
    sensitive: list[str] | None,
    hierarchies: list[Hierarchy],
    models: Sequence[PrivacyModel],
    suppression: float,
    metric: str,
    sensitive_hierarchy: Hierarchy | None = None,
) -> list[Outcome]:
    """Every transformation, evaluated."""
    return [
        evaluate(
            records,
            sensitive,
            hierarchies,
            models,
            suppression,
            metric,
            levels,
            sensitive_hierarchy,
        )
        for levels in itertools.product(*[range(h.height) for h in hierarchies])
    ]

"""Optimal search over the generalisation lattice.

A transformation gives every quasi-identifier a level; the lattice holds all of them, ordered
component-wise. The search returns the transformation of least information loss among those
whose release satisfies the privacy models with at most the allowed number of records
suppressed. It is exact: every transformation it does not evaluate is proven unable to beat
the result, by one of three facts.

1. *Monotone failure.* Classes only merge going up the lattice. A merged class that is
   smaller than the models' minimum class size, lacks the distinct sensitive values they
   require, or lacks a value t-closeness cannot do without (see `models`), was made of
   classes that all did; so the records in such classes never grow in number going up, and
   when they exceed the suppression limit at a node, they do at every node below it. The same
   holds for the full check when every model is monotone (always without suppression; with
   suppression for k-anonymity and distinct l-diversity).
2. *Lower bounds.* Each metric bounds its value from below per transformation, cheaply and
   for the whole lattice at once (`metrics`); nodes bounded at or above the best value found
   are out (values within a relative 1e-9 of the best count as ties; the first found stays).
3. *Monotone metrics.* For the monotone entropy and DM*, no node above a satisfying node can
   do better than it.

Order of work: the search first walks down from the top to a locally minimal satisfying node,
each step to the satisfying child of highest bound (the smallest step down, which finds many
satisfying nodes and the failing children that close large parts of the lattice); that yields
a good best value early. It then repeatedly takes the *maximal* nodes among those still open
(bound below the best, not yet decided) and evaluates them, lowest bound first, walking down
again from any that satisfies. A maximal open node that fails closes everything below it.

Evaluating a node groups the table's rows (distinct records) by their generalised values. The
quasi-identifiers are split in two halves; the dense class ids of each half's sub-transformation
are cached, so a node costs one multiply-add over the rows and a `numpy.bincount` over the
mixed-radix keys ``id_a * n_b + id_b``.

Lattices larger than `max_nodes` are searched heuristically (`heuristic`): a greedy walk down
from the top, to the satisfying child of least information loss, until no child satisfies;
the result satisfies the models but need not be optimal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shugu.errors import ConflictError, InvalidInputError
from shugu.i18n import N_
from shugu.privacy.anonymity.data import (
    EncodedTable,
    FloatArray,
    IntArray,
    dense_ids,
    dot,
    weighted_counts,
)
from shugu.privacy.anonymity.metrics import LossFunction, Metric, NodeClasses
from shugu.privacy.anonymity.models import PrivacyModel

__all__ = ["Evaluator", "Lattice", "SearchOutcome", "heuristic", "optimal"]

BoolArray = npt.NDArray[np.bool_]
_PASS, _OPEN, _FAIL = 1, 0, -1
_RELATIVE_TIE = 1e-9  # values closer than this (relative) tie; the first found is kept


@dataclass(frozen=True)
class Lattice:
    """All transformations of quasi-identifiers with the given hierarchy heights.

    Attributes:
        heights: levels per quasi-identifier (a height of 3 allows levels 0, 1 and 2).
        nodes: one row of levels per transformation, in mixed-radix order (node i has index i).
        strides: the index step of one level up in each quasi-identifier.
    """

    heights: tuple[int, ...]
    nodes: IntArray
    strides: IntArray

    @classmethod
    def build(cls, heights: Sequence[int]) -> Lattice:
        """The full lattice (callers check `size` first)."""
        grids = np.meshgrid(*[np.arange(h, dtype=np.int64) for h in heights], indexing="ij")
        nodes = np.stack([g.ravel() for g in grids], axis=1)
        strides = np.array(
            [math.prod(heights[d + 1 :]) for d in range(len(heights))], dtype=np.int64
        )
        return cls(tuple(heights), nodes, strides)

    @staticmethod
    def size(heights: Sequence[int]) -> int:
        """Number of transformations."""
        return math.prod(heights)

    def index(self, levels: Sequence[int]) -> int:
        """The index of a transformation."""
        return int(
            sum(level * stride for level, stride in zip(levels, self.strides.tolist(), strict=True))
        )

    def below(self, flags: npt.NDArray[Any], i: int, value: object) -> None:
        """Set `flags` (one per node) to `value` at node `i` and every node under it."""
        box = tuple(slice(0, level + 1) for level in self.nodes[i].tolist())
        flags.reshape(self.heights)[box] = value

    def above(self, flags: npt.NDArray[Any], i: int, value: object) -> None:
        """Set `flags` (one per node) to `value` at node `i` and every node over it."""
        box = tuple(slice(level, None) for level in self.nodes[i].tolist())
        flags.reshape(self.heights)[box] = value

    def maximal(self, members: BoolArray) -> IntArray:
        """The members with no member one level above them."""
        grid = members.reshape(self.heights)
        covered = np.zeros_like(grid)
        for d in range(len(self.heights)):
            lower = tuple(
                slice(None, -1) if e == d else slice(None) for e in range(len(self.heights))
            )
            upper = tuple(
                slice(1, None) if e == d else slice(None) for e in range(len(self.heights))
            )
            covered[lower] |= grid[upper]
        return np.flatnonzero(grid & ~covered)

    def children(self, i: int) -> list[int]:
        """The nodes one level down from node `i` in one quasi-identifier."""
        return [i - int(self.strides[d]) for d in range(len(self.heights)) if self.nodes[i, d] > 0]


@dataclass(frozen=True)
class Evaluation:
    """Whether a node satisfies the models (`ok`) or their monotone part, and its classes.

    `classes` is None when the monotone part fails (nothing more was computed).
    """

    levels: tuple[int, ...]
    classes: NodeClasses | None
    ok: bool
    monotone_ok: bool

    @property
    def known_classes(self) -> NodeClasses:
        """The classes of a node that passed the monotone part."""
        if self.classes is None:
            raise ConflictError(
                N_("node {levels} failed the monotone part of the models; it has no classes"),
                levels=",".join(map(str, self.levels)),
            )
        return self.classes


class _Half:
    """Half of the quasi-identifiers: the rows' ids per sub-transformation, cached.

    The half's raw-value combinations (its bottom) are few; ids on any levels are computed over
    those combinations and spread to the rows with one gather.
    """

    def __init__(self, table: EncodedTable, dims: tuple[int, ...]) -> None:
        self.columns = [table.columns[d] for d in dims]
        self.dims = dims
        raw = [c.row_codes[0] for c in self.columns] or [np.zeros(table.n_rows, dtype=np.int64)]
        self.base, count = dense_ids(raw, [c.card(0) for c in self.columns] or [1])
        representative = np.zeros(count, dtype=np.int64)
        representative[self.base] = np.arange(self.base.size, dtype=np.int64)
        self.codes = [[codes[representative] for codes in c.row_codes] for c in self.columns]
        self.cache: dict[tuple[int, ...], tuple[IntArray, int]] = {}
        if not dims:
            self.cache[()] = (np.zeros(table.n_rows, dtype=np.int64), 1)

    def ids(self, levels: Sequence[int]) -> tuple[IntArray, int]:
        sub = tuple(levels[d] for d in self.dims)
        found = self.cache.get(sub)
        if found is None:
            codes = [codes[level] for codes, level in zip(self.codes, sub, strict=True)]
            cards = [c.card(level) for c, level in zip(self.columns, sub, strict=True)]
            small, count = dense_ids(codes, cards)
            found = self.cache[sub] = (small[self.base], count)
        return found


class Evaluator:
    """Groups rows into classes per transformation and checks the privacy models.

    Args:
        table: the encoded table.
        models: the privacy models, prepared for the table.
        limit: the largest number of records that may be suppressed.
    """

    def __init__(self, table: EncodedTable, models: Sequence[PrivacyModel], limit: int) -> None:
        self.table = table
        self.models = tuple(models)
        self.limit = limit
        self.min_size = max([1, *(m.min_class_size for m in models)])
        self.content_models = tuple(m for m in models if m.needs_sensitive)
        if self.content_models:
            self._sensitive()
        self.monotone = limit == 0 or all(m.monotone_with_suppression for m in models)
        self.halves = tuple(_Half(table, dims) for dims in _split(table))
        self._bound = max(1 << 16, 8 * table.n_rows)
        self.count = 0

    def _sensitive(self) -> IntArray:
        """The sensitive value of each row, which the content models need."""
        if self.table.sensitive is None:
            labels = ", ".join(m.label for m in self.content_models)
            raise InvalidInputError(N_("{model} needs a sensitive column"), model=labels)
        return self.table.sensitive

    def _keys(self, levels: Sequence[int]) -> tuple[IntArray, int]:
        ids_a, n_a = self.halves[0].ids(levels)
        ids_b, n_b = self.halves[1].ids(levels)
        if n_b == 1:
            return ids_a, n_a
        if n_a == 1:
            return ids_b, n_b
        keys, size = ids_a * n_b + ids_b, n_a * n_b
        if size > self._bound:
            return dense_ids([keys], [size])
        return keys, size

    def evaluate(self, levels: Sequence[int]) -> Evaluation:
        """Group the rows under `levels` and check the models."""
        self.count += 1
        levels = tuple(int(x) for x in levels)
        keys, size = self._keys(levels)
        weights = self.table.weights
        sizes = weighted_counts(keys, weights, size)
        if size <= 2 * keys.size:
            below = dot(sizes, sizes < self.min_size)
        else:
            below = dot(weights, sizes[keys] < self.min_size)
        if below > self.limit:
            return Evaluation(levels, None, ok=False, monotone_ok=False)
        failing = sizes < self.min_size
        if self.content_models:
            monotone_failing, failing = self._content_failing(keys, sizes, failing)
            if dot(sizes, monotone_failing) > self.limit:
                return Evaluation(levels, None, ok=False, monotone_ok=False)
            below = dot(sizes, failing)
        classes = NodeClasses(levels, keys, sizes, failing, round(below))
        return Evaluation(levels, classes, ok=below <= self.limit, monotone_ok=True)

    def _content_failing(
        self, keys: IntArray, sizes: FloatArray, failing: BoolArray
    ) -> tuple[BoolArray, BoolArray]:
        """`failing` plus the classes that fail the models' monotone parts, and their checks."""
        sensitive = self._sensitive()
        candidates = np.flatnonzero(~failing)
        if candidates.size == 0:
            return failing, failing
        width = len(self.table.sensitive_labels)
        if sizes.size * width <= self._bound:
            cells = weighted_counts(
                keys * width + sensitive, self.table.weights, sizes.size * width
            )
            hist = cells.reshape(sizes.size, width)[candidates]
        else:
            slot = np.full(sizes.size, -1, dtype=np.int64)
            slot[candidates] = np.arange(candidates.size, dtype=np.int64)
            row_slot = slot[keys]
            rows = np.flatnonzero(row_slot >= 0)
            cells = weighted_counts(
                row_slot[rows] * width + sensitive[rows],
                self.table.weights[rows],
                candidates.size * width,
            )
            hist = cells.reshape(candidates.size, width)
        kept_sizes = sizes[candidates]
        reference = self.table.sensitive_distribution
        monotone_ok = np.ones(candidates.size, dtype=np.bool_)
        for model in self.content_models:
            monotone_ok &= model.check_monotone(kept_sizes, hist, reference)
        ok = monotone_ok.copy()
        for model in self.content_models:
            ok &= model.check(kept_sizes, hist, reference)
        monotone_failing = failing.copy()
        monotone_failing[candidates[~monotone_ok]] = True
        failing = failing.copy()
        failing[candidates[~ok]] = True
        return monotone_failing, failing


def _split(table: EncodedTable) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two halves of the quasi-identifiers with balanced raw-value cardinality products."""
    order = sorted(range(len(table.columns)), key=lambda d: -table.columns[d].card(0))
    halves: tuple[list[int], list[int]] = ([], [])
    weight = [0.0, 0.0]
    for d in order:
        side = 0 if weight[0] <= weight[1] else 1
        halves[side].append(d)
        weight[side] += math.log(max(table.columns[d].card(0), 1))
    return tuple(sorted(halves[0])), tuple(sorted(halves[1]))


@dataclass(frozen=True)
class SearchOutcome:
    """The best transformation found.

    Attributes:
        evaluation: its classes and checks.
        value: its information loss.
        nodes_checked: transformations whose classes were computed.
        exact: True when the search proved optimality.
    """

    evaluation: Evaluation
    value: float
    nodes_checked: int
    exact: bool


class _State:
    """Bookkeeping of the exact search: statuses, bounds, the best node."""

    def __init__(
        self, lattice: Lattice, bounds: FloatArray, evaluator: Evaluator, loss: LossFunction
    ) -> None:
        self.lattice, self.bounds, self.evaluator, self.loss = lattice, bounds, evaluator, loss
        n = lattice.nodes.shape[0]
        self.status = np.zeros(n, dtype=np.int8)
        self.done = np.zeros(n, dtype=np.bool_)
        self.best_value = math.inf
        self.best: Evaluation | None = None
        self.best_index = -1
        self.exact_bounds = loss.metric is Metric.ENTROPY or (
            evaluator.limit == 0 and loss.exact_without_suppression
        )

    def threshold(self) -> float:
        return (
            self.best_value - _RELATIVE_TIE * abs(self.best_value)
            if math.isfinite(self.best_value)
            else math.inf
        )

    def open_mask(self) -> BoolArray:
        mask: BoolArray = (self.bounds < self.threshold()) & (self.status != _FAIL) & ~self.done
        return mask

    def _mark(self, index: int, below: bool, status: int) -> None:
        if below:
            self.lattice.below(self.status, index, status)
        else:
            self.lattice.above(self.status, index, status)

    def evaluate(self, index: int) -> bool:
        """Evaluate node `index`, record what follows from it; True when it satisfies."""
        self.done[index] = True
        result = self.evaluator.evaluate(tuple(self.lattice.nodes[index]))
        if not result.monotone_ok or (not result.ok and self.evaluator.monotone):
            self._mark(index, below=True, status=_FAIL)
            return False
        if not result.ok:
            return False
        if self.evaluator.monotone:
            self._mark(index, below=False, status=_PASS)
        value = (
            float(self.bounds[index])
            if self.exact_bounds
            else self.loss.value(result.known_classes)
        )
        self._consider(index, value, result)
        if self.loss.metric.monotone:
            self.lattice.above(self.done, index, True)
        return True

    def _consider(self, index: int, value: float, result: Evaluation | None) -> None:
        if value < self.threshold():
            self.best_value, self.best, self.best_index = value, result, index

    def satisfies(self, index: int) -> bool:
        """Whether node `index` satisfies, evaluating it only when not yet known."""
        if self.status[index] == _FAIL:
            return False
        if self.status[index] == _PASS and self.exact_bounds:
            self._consider(index, float(self.bounds[index]), None)
            return True
        if self.done[index]:
            return False
        return self.evaluate(index)


def _descend(state: _State, index: int) -> None:
    """Walk down from satisfying node `index` to the child of least bound that satisfies."""
    lattice, bounds = state.lattice, state.bounds
    while True:
        children = sorted(lattice.children(index), key=lambda c: -bounds[c])
        following = next(
            (c for c in children if bounds[c] < state.threshold() and state.satisfies(c)), None
        )
        if following is None:
            return
        index = following


def _maximal(state: _State) -> IntArray:
    maximal = state.lattice.maximal(state.open_mask())
    return maximal[np.argsort(state.bounds[maximal], kind="stable")]


def optimal(lattice: Lattice, evaluator: Evaluator, loss: LossFunction) -> SearchOutcome | None:
    """The transformation of least loss that satisfies the models, or None if none does."""
    state = _State(lattice, loss.bounds(lattice.nodes), evaluator, loss)
    top = lattice.nodes.shape[0] - 1
    if state.satisfies(top):
        _descend(state, top)
    while True:
        maximal = _maximal(state)
        if maximal.size == 0:
            break
        for index in maximal.tolist():
            if (
                state.bounds[index] < state.threshold()
                and state.status[index] != _FAIL
                and not state.done[index]
                and state.satisfies(index)
            ):
                _descend(state, index)
    if state.best_index < 0:
        return None
    best = state.best or evaluator.evaluate(tuple(lattice.nodes[state.best_index]))
    return SearchOutcome(best, state.best_value, evaluator.count, exact=True)


def heuristic(
    heights: Sequence[int], evaluator: Evaluator, loss: LossFunction
) -> SearchOutcome | None:
    """Greedy walk down from the top; satisfies the models, optimality not guaranteed."""
    current = evaluator.evaluate(tuple(h - 1 for h in heights))
    if not current.ok:
        return None
    value = loss.value(current.known_classes)
    while True:
        step = _best_child(current.levels, evaluator, loss.value)
        if step is None or step[1] >= value:
            return SearchOutcome(current, value, evaluator.count, exact=False)
        current, value = step


def _best_child(
    levels: tuple[int, ...], evaluator: Evaluator, value: Callable[[NodeClasses], float]
) -> tuple[Evaluation, float] | None:
    best: tuple[Evaluation, float] | None = None
    for d, level in enumerate(levels):
        if level == 0:
            continue
        child = evaluator.evaluate((*levels[:d], level - 1, *levels[d + 1 :]))
        if child.ok:
            score = value(child.known_classes)
            if best is None or score < best[1]:
                best = (child, score)
    return best

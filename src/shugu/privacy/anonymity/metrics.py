"""Information-loss metrics, defined as ARX 3.9 defines them (`org.deidentifier.arx.metric.v2`).

Notation: N records, quasi-identifiers d = 1..D with hierarchy heights h_d + 1 (levels 0..h_d),
a transformation puts d on level l_d; S records are suppressed (their whole class failed the
privacy model). Every metric is also given a *lower bound* per transformation that never
exceeds its value; the search prunes every transformation whose bound is above the best
value found.

- ``entropy``: non-uniform entropy (Gionis & Tassa 2009, "k-Anonymization with minimal loss of
  information"; ARX's monotone variant, `Metric.createEntropyMetric(true)`, the one behind
  ARX's own test expectations). For each attribute, the sum over records of
  ``-log2(f(raw value) / f(generalised value))``, f being frequencies in the input table;
  summed over attributes. Suppressed records count as generalised, not as suppressed, so the
  value depends on the transformation alone and is its own lower bound.
- ``entropy-nm``: ARX's non-monotone variant (`createEntropyMetric()`): as ``entropy``, plus
  for each attribute ``sum_v c_v log2(S / c_v)`` over the suppressed records' generalised
  values v (c_v of them).
- ``loss``: the generalisation-intensity "Loss" metric (Iyengar 2002, "Transforming data to
  satisfy privacy constraints"; ARX's default, `createLossMetric()`). A value covering m of the
  hierarchy's R raw values has share m / R. For each attribute
  ``A_d = sum over kept records of share + S`` (a suppressed record counts as fully
  generalised), normalised as ``(A_d - N/R) / (N - N/R)`` (0 when R = 1), and the attributes
  are aggregated by ARX's geometric mean ``prod(1 + v_d) ** (1/D) - 1``.
- ``precision``: Sweeney's precision (Sweeney 2002, "Achieving k-anonymity privacy protection
  using generalization and suppression"; ARX's `createPrecisionMetric()`): for each attribute
  ``((N - S) * l_d / h_d + S) / N`` (0 when h_d = 0), averaged over attributes.
- ``discernibility``: the discernibility metric (Bayardo & Agrawal 2005, "Data privacy through
  optimal k-anonymization"; ARX's `createDiscernabilityMetric()`):
  ``sum over kept classes |E|^2 + N * S``.
- ``discernibility-star``: DM* (ARX's monotone `createDiscernabilityMetric(true)`):
  ``sum over all classes |E|^2``, suppressed ones included.

Lower bounds: the entropy, loss and precision values with S = 0 (a suppressed record never
costs less than a generalised one). For both discernibility metrics ``N^2 / m``, m bounding the
number of classes (the product of the level cardinalities, at most the number of distinct raw
combinations): by Cauchy-Schwarz ``sum |E|^2 >= N^2 / m``, and DM >= DM* since a suppressed
class of size s costs N * s >= s^2.

>>> Metric("loss").monotone, Metric("entropy").monotone
(False, True)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.privacy.anonymity.data import (
    EncodedTable,
    FloatArray,
    IntArray,
    dot,
    weighted_counts,
)

__all__ = ["LossFunction", "Metric", "NodeClasses", "make_loss_function"]

BoolArray = npt.NDArray[np.bool_]


class Metric(StrEnum):
    """The information-loss metrics (see the module docstring for their definitions)."""

    ENTROPY = "entropy"
    ENTROPY_NM = "entropy-nm"
    LOSS = "loss"
    PRECISION = "precision"
    DISCERNIBILITY = "discernibility"
    DISCERNIBILITY_STAR = "discernibility-star"

    @property
    def monotone(self) -> bool:
        """True when no generalisation of a transformation has a lower value."""
        return self in (Metric.ENTROPY, Metric.DISCERNIBILITY_STAR)

    @classmethod
    def parse(cls, value: str | Metric) -> Metric:
        """The metric called `value`.

        Raises:
            InvalidInputError: no such metric (the message lists them).
        """
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                N_("unknown metric {metric} (known: {known})"),
                metric=str(value),
                known=", ".join(m.value for m in cls),
            ) from None


@dataclass(frozen=True)
class NodeClasses:
    """The equivalence classes of one transformation.

    Attributes:
        levels: the transformation.
        row_class: the class of every row.
        sizes: records per class (ids without rows have size 0).
        suppressed: which classes are suppressed.
        n_suppressed: records suppressed.
    """

    levels: tuple[int, ...]
    row_class: IntArray
    sizes: FloatArray
    suppressed: BoolArray
    n_suppressed: int

    @property
    def n_classes(self) -> int:
        """Number of classes kept (non-empty and not suppressed)."""
        return int(np.count_nonzero((self.sizes > 0) & ~self.suppressed))

    def suppressed_rows(self) -> IntArray:
        """The rows whose records are suppressed."""
        return np.flatnonzero(self.suppressed[self.row_class])


class LossFunction(ABC):
    """A metric bound to a table: per-level tables, bounds and values."""

    metric: Metric

    def __init__(self, table: EncodedTable) -> None:
        self.table = table
        self.n = float(table.n_records)

    @abstractmethod
    def bounds(self, nodes: IntArray) -> FloatArray:
        """A lower bound of the value of each transformation (rows of `nodes` are levels)."""

    @abstractmethod
    def value(self, classes: NodeClasses) -> float:
        """The metric's value for the classes of a transformation."""

    @property
    def exact_without_suppression(self) -> bool:
        """True when the bound is the value whenever nothing is suppressed."""
        return True


def _raw_frequencies(table: EncodedTable, d: int) -> FloatArray:
    """Records per raw value of quasi-identifier `d`."""
    column = table.columns[d]
    return weighted_counts(column.row_codes[0], table.weights, column.card(0))


class _Entropy(LossFunction):
    metric = Metric.ENTROPY

    def __init__(self, table: EncodedTable) -> None:
        super().__init__(table)
        self.per_level = [self._column(d) for d in range(len(table.columns))]

    def _column(self, d: int) -> FloatArray:
        column = self.table.columns[d]
        raw = _raw_frequencies(self.table, d)
        values = []
        for parent in column.parents:
            generalised = np.bincount(parent, weights=raw)[parent]
            values.append(float(-(raw * np.log2(raw / generalised)).sum()))
        return np.array(values) + 0.0  # -0.0 -> 0.0

    def bounds(self, nodes: IntArray) -> FloatArray:
        total = np.zeros(nodes.shape[0])
        for d, table in enumerate(self.per_level):
            total += table[nodes[:, d]]
        return total

    def value(self, classes: NodeClasses) -> float:
        return float(sum(t[level] for t, level in zip(self.per_level, classes.levels, strict=True)))


class _EntropyNM(_Entropy):
    metric = Metric.ENTROPY_NM

    def value(self, classes: NodeClasses) -> float:
        base = super().value(classes)
        if classes.n_suppressed == 0:
            return base
        rows = classes.suppressed_rows()
        w, s = self.table.weights[rows], float(classes.n_suppressed)
        for column, level in zip(self.table.columns, classes.levels, strict=True):
            counts = np.bincount(column.row_codes[level][rows], weights=w)
            counts = counts[counts > 0]
            base += float((counts * np.log2(s / counts)).sum())
        return base


class _Loss(LossFunction):
    metric = Metric.LOSS

    def __init__(self, table: EncodedTable) -> None:
        super().__init__(table)
        self.domains = [float(len(c.hierarchy.rows)) for c in table.columns]
        self.sums = [
            np.array(
                [
                    dot(_raw_frequencies(table, d), s[p])
                    for s, p in zip(c.shares, c.parents, strict=True)
                ]
            )
            for d, c in enumerate(table.columns)
        ]

    def _normalise(self, aggregate: FloatArray, d: int) -> FloatArray:
        domain = self.domains[d]
        if domain <= 1:
            return np.zeros_like(aggregate)
        low = self.n / domain
        return np.maximum((aggregate - low) / (self.n - low), 0.0)

    @staticmethod
    def _aggregate(values: FloatArray) -> FloatArray:
        dims = values.shape[-1]
        product: FloatArray = np.prod(np.power(values + 1.0, 1.0 / dims), axis=-1)
        return product - 1.0

    def bounds(self, nodes: IntArray) -> FloatArray:
        per_dim = np.stack(
            [self._normalise(sums[nodes[:, d]], d) for d, sums in enumerate(self.sums)], axis=-1
        )
        return self._aggregate(per_dim)

    def value(self, classes: NodeClasses) -> float:
        rows = classes.suppressed_rows()
        w, s = self.table.weights[rows], float(classes.n_suppressed)
        per_dim = []
        for d, level in enumerate(classes.levels):
            column = self.table.columns[d]
            shares = column.shares[level][column.row_codes[level][rows]]
            aggregate = self.sums[d][level] - dot(w, shares) + s
            per_dim.append(self._normalise(np.array([aggregate]), d)[0])
        return float(self._aggregate(np.array(per_dim)))


class _Precision(LossFunction):
    metric = Metric.PRECISION

    def __init__(self, table: EncodedTable) -> None:
        super().__init__(table)
        self.tops = np.array([max(c.height - 1, 0) for c in table.columns], dtype=np.float64)

    def _fractions(self, nodes: IntArray) -> FloatArray:
        return np.where(self.tops > 0, nodes / np.maximum(self.tops, 1.0), 0.0)

    def bounds(self, nodes: IntArray) -> FloatArray:
        return np.asarray(self._fractions(nodes).mean(axis=-1), dtype=np.float64)

    def value(self, classes: NodeClasses) -> float:
        fractions = self._fractions(np.array(classes.levels))
        s = float(classes.n_suppressed)
        return float((((self.n - s) * fractions + s) / self.n).mean())


class _Discernibility(LossFunction):
    metric = Metric.DISCERNIBILITY

    def bounds(self, nodes: IntArray) -> FloatArray:
        product = np.ones(nodes.shape[0])
        for d, column in enumerate(self.table.columns):
            cards = np.array(
                [column.card(level) for level in range(column.height)], dtype=np.float64
            )
            product *= cards[nodes[:, d]]
        classes = np.minimum(product, float(self.table.n_combinations))
        return self.n * self.n / np.maximum(classes, 1.0)

    @property
    def exact_without_suppression(self) -> bool:
        return False

    def value(self, classes: NodeClasses) -> float:
        kept = classes.sizes[~classes.suppressed]
        return dot(kept, kept) + self.n * classes.n_suppressed


class _DiscernibilityStar(_Discernibility):
    metric = Metric.DISCERNIBILITY_STAR

    def value(self, classes: NodeClasses) -> float:
        return dot(classes.sizes, classes.sizes)


_FUNCTIONS: dict[Metric, type[LossFunction]] = {
    Metric.ENTROPY: _Entropy,
    Metric.ENTROPY_NM: _EntropyNM,
    Metric.LOSS: _Loss,
    Metric.PRECISION: _Precision,
    Metric.DISCERNIBILITY: _Discernibility,
    Metric.DISCERNIBILITY_STAR: _DiscernibilityStar,
}


def make_loss_function(metric: Metric, table: EncodedTable) -> LossFunction:
    """The metric bound to `table` (per-level values precomputed)."""
    return _FUNCTIONS[metric](table)

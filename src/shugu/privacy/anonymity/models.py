"""Privacy models: what every equivalence class of a release must satisfy.

A release satisfies a set of models when every equivalence class that is kept satisfies every
model; the records of the other classes are suppressed, and the release is acceptable when no
more than the suppression limit (a fraction of the records) are. The checks follow the papers
the models come from, as ARX implements them:

- **k-anonymity** (Sweeney 2002): a class has at least k records.
- **distinct l-diversity** (Machanavajjhala et al. 2007): at least l distinct sensitive values.
- **entropy l-diversity** (ibid.): at least ceil(l) distinct values and
  ``-sum p_s log2 p_s >= log2 l`` over the class's sensitive frequencies ``p_s``.
- **recursive (c,l)-diversity** (ibid.): with the sensitive counts sorted ``r_1 >= r_2 >= ...
  >= r_m``, at least l values and ``r_1 < c (r_l + r_{l+1} + ... + r_m)``.
- **t-closeness** (Li, Li & Venkatasubramanian 2007): the earth mover's distance between the
  class's sensitive distribution P and the table's Q is at most t. With *equal distance* it is
  ``1/2 sum |p_i - q_i|``; with a *hierarchical distance* over the sensitive attribute's
  hierarchy of height H, every inner node N of the tree carries
  ``cost(N) = level(N)/H * min(pos(N), neg(N))``, where pos and neg sum the positive and
  negative net surpluses ``p - q`` of N's children (a child's net surplus is pos - neg), and the
  distance is the sum of the costs.

Monotonicity (what the search may prune on): without suppression every model here is monotone
under generalisation, since merging classes that each satisfy a model yields a class that
satisfies it (for entropy and recursive l-diversity this is proven in Machanavajjhala et al.;
for t-closeness, the EMD to a fixed Q is convex in P). With suppression, only k-anonymity and
distinct l-diversity stay monotone: merging a satisfying class with a failing one can fail an
entropy, recursive or t-closeness check, so a coarser transformation may suppress *more*. Each
model therefore also names a necessary part that merging preserves (`check_monotone`): at
least ceil(l) distinct values for entropy and recursive l-diversity, and for t-closeness every
sensitive value v whose share q_v alone exceeds t (equal distance: a class without v is at
least q_v away) or t * H (hierarchical: the missing q_v moves at least one level, at cost
q_v / H or more). The search prunes on those parts and on the minimum class size.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from shugu.errors import ConflictError, InvalidInputError
from shugu.i18n import N_
from shugu.privacy.anonymity.hierarchies import Hierarchy

__all__ = [
    "DistinctLDiversity",
    "EntropyLDiversity",
    "EqualDistanceTCloseness",
    "HierarchicalTCloseness",
    "KAnonymity",
    "PrivacyModel",
    "RecursiveCLDiversity",
    "SensitiveTree",
]

BoolArray = npt.NDArray[np.bool_]
_TOLERANCE = 1e-12  # thresholds reached exactly stay reached despite floating-point rounding
FloatArray = npt.NDArray[np.float64]


_WHOLE = N_("{model}: {name} must be a whole number of at least 1, not {value}")
_AT_LEAST_ONE = N_("{model}: {name} must be at least 1, not {value}")
_POSITIVE = N_("{model}: {name} must be positive, not {value}")
_FRACTION = N_("{model}: {name} must be between 0 and 1, not {value}")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check(ok: bool, template: str, model: str, name: str, value: object) -> None:
    if not ok:
        raise InvalidInputError(template, model=model, name=name, value=value)


@dataclass(frozen=True)
class SensitiveTree:
    """The sensitive attribute's hierarchy as parent maps between levels of present values.

    Attributes:
        groups: for each level j >= 1, the level-(j-1) nodes ordered by their parent on level
            j, and where each parent's children start in that order; level 0 nodes are the
            sensitive codes.
        height: the hierarchy height H (levels above the raw values).
    """

    groups: tuple[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]], ...]
    height: int

    @classmethod
    def build(cls, hierarchy: Hierarchy, labels: Sequence[str], column: str) -> SensitiveTree:
        """Build the tree over the sensitive `labels` present in the data.

        Raises:
            InvalidInputError: a sensitive value is not in the hierarchy, or it has one level.
        """
        rows = {row[0]: row for row in hierarchy.rows}
        missing = [label for label in labels if label not in rows]
        if missing:
            raise InvalidInputError(
                N_("column {column}: {count} distinct values are not in its hierarchy ({values})"),
                column=column,
                count=len(missing),
                values=", ".join(f"'{v}'" for v in missing[:5]),
            )
        if hierarchy.height < 2:
            raise InvalidInputError(
                N_("hierarchical t-closeness needs a hierarchy of 2 levels or more for {column}"),
                column=column,
            )
        paths = [rows[label] for label in labels]
        groups = []
        below = {label: i for i, label in enumerate(labels)}
        for level in range(1, hierarchy.height):
            above: dict[str, int] = {}
            parent = np.zeros(len(below), dtype=np.int64)
            for path in paths:
                parent[below[path[level - 1]]] = above.setdefault(path[level], len(above))
            order = np.argsort(parent, kind="stable")
            starts = np.flatnonzero(np.diff(parent[order], prepend=-1))
            groups.append((order, starts))
            below = above
        return cls(tuple(groups), hierarchy.height - 1)

    def distance(self, p: FloatArray, q: FloatArray) -> FloatArray:
        """Hierarchical EMD between each row of `p` (classes x values) and `q`."""
        net = p - q
        cost = np.zeros(p.shape[0])
        for level, (order, starts) in enumerate(self.groups, start=1):
            positive = np.add.reduceat(np.maximum(net, 0.0)[:, order], starts, axis=1)
            negative = np.add.reduceat(np.maximum(-net, 0.0)[:, order], starts, axis=1)
            cost += level / self.height * np.minimum(positive, negative).sum(axis=1)
            net = positive - negative
        return cost


class PrivacyModel(ABC):
    """A privacy model checked class by class."""

    needs_sensitive: ClassVar[bool] = True
    monotone_with_suppression: ClassVar[bool] = False
    label: ClassVar[str]

    @property
    @abstractmethod
    def min_class_size(self) -> int:
        """Classes smaller than this fail the model whatever their content."""

    @abstractmethod
    def check(self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray) -> BoolArray:
        """Which classes satisfy the model.

        Args:
            sizes: records per class.
            hist: records per class and sensitive value (classes x values), or None.
            reference: the sensitive distribution of the whole table.
        """

    def check_monotone(
        self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray
    ) -> BoolArray:
        """A necessary part of `check` that merging classes preserves (all true by default).

        Classes failing it fail the model at every coarser transformation too, whatever else
        merges into them, so the search may prune on it even with suppression.
        """
        return np.ones(sizes.size, dtype=np.bool_)

    def prepare(self, tree: SensitiveTree | None) -> PrivacyModel:
        """The model ready for a table (hierarchical t-closeness takes the tree here)."""
        return self


@dataclass(frozen=True)
class KAnonymity(PrivacyModel):
    """Every class has at least `k` records (Sweeney 2002)."""

    k: int
    needs_sensitive: ClassVar[bool] = False
    monotone_with_suppression: ClassVar[bool] = True
    label: ClassVar[str] = "k-anonymity"

    def __post_init__(self) -> None:
        _check(_whole(self.k), _WHOLE, self.label, "k", self.k)

    @property
    def min_class_size(self) -> int:
        return self.k

    def check(self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray) -> BoolArray:
        return np.asarray(sizes >= self.k, dtype=np.bool_)


def _counts(hist: FloatArray | None) -> FloatArray:
    """The per-class counts of the sensitive values, which every content model needs."""
    if hist is None:
        raise InvalidInputError(
            N_("this privacy model needs a sensitive column, and none was given")
        )
    return hist


def _distinct(hist: FloatArray | None) -> npt.NDArray[np.int64]:
    hist = _counts(hist)
    return np.asarray(np.count_nonzero(hist, axis=1), dtype=np.int64)


@dataclass(frozen=True)
class DistinctLDiversity(PrivacyModel):
    """Every class holds at least `l` distinct sensitive values."""

    l: int  # noqa: E741 - the model's own name
    monotone_with_suppression: ClassVar[bool] = True
    label: ClassVar[str] = "distinct l-diversity"

    def __post_init__(self) -> None:
        _check(_whole(self.l), _WHOLE, self.label, "l", self.l)

    @property
    def min_class_size(self) -> int:
        return self.l

    def check(self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray) -> BoolArray:
        return np.asarray(_distinct(hist) >= self.l, dtype=np.bool_)

    def check_monotone(
        self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray
    ) -> BoolArray:
        return self.check(sizes, hist, reference)


@dataclass(frozen=True)
class EntropyLDiversity(PrivacyModel):
    """Every class's sensitive values have an entropy of at least log2(`l`)."""

    l: float  # noqa: E741 - the model's own name
    label: ClassVar[str] = "entropy l-diversity"

    def __post_init__(self) -> None:
        _check(_number(self.l) and self.l >= 1, _AT_LEAST_ONE, self.label, "l", self.l)

    @property
    def min_class_size(self) -> int:
        return math.ceil(self.l)

    def check(self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray) -> BoolArray:
        hist = _counts(hist)
        total = hist.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(hist > 0, hist * np.log2(np.where(hist > 0, hist, 1.0)), 0.0)
            entropy = np.log2(np.maximum(total, 1.0)) - terms.sum(axis=1) / np.maximum(total, 1.0)
        diverse = entropy >= math.log2(self.l) - _TOLERANCE
        return np.asarray((_distinct(hist) >= self.min_class_size) & diverse, dtype=np.bool_)

    def check_monotone(
        self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray
    ) -> BoolArray:
        return np.asarray(_distinct(hist) >= self.min_class_size, dtype=np.bool_)


@dataclass(frozen=True)
class RecursiveCLDiversity(PrivacyModel):
    """The most frequent sensitive value is rarer than `c` times the l-th to last together."""

    c: float
    l: int  # noqa: E741 - the model's own name
    label: ClassVar[str] = "recursive (c,l)-diversity"

    def __post_init__(self) -> None:
        _check(_number(self.c) and self.c > 0, _POSITIVE, self.label, "c", self.c)
        _check(_whole(self.l), _WHOLE, self.label, "l", self.l)

    @property
    def min_class_size(self) -> int:
        return self.l

    def check(self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray) -> BoolArray:
        hist = _counts(hist)
        ranked = -np.sort(-hist, axis=1)  # r_1 >= r_2 >= ... (absent values count 0)
        tail = ranked[:, self.l - 1 :].sum(axis=1)
        return np.asarray(
            (_distinct(hist) >= self.l) & (ranked[:, 0] < self.c * tail), dtype=np.bool_
        )

    def check_monotone(
        self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray
    ) -> BoolArray:
        return np.asarray(_distinct(hist) >= self.l, dtype=np.bool_)


@dataclass(frozen=True)
class EqualDistanceTCloseness(PrivacyModel):
    """Every class's sensitive distribution is within `t` of the table's (equal-distance EMD)."""

    t: float
    label: ClassVar[str] = "t-closeness (equal distance)"

    def __post_init__(self) -> None:
        _check(_number(self.t) and 0 <= self.t <= 1, _FRACTION, self.label, "t", self.t)

    @property
    def min_class_size(self) -> int:
        return 1

    def check(self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray) -> BoolArray:
        hist = _counts(hist)
        p = hist / np.maximum(sizes, 1.0)[:, None]
        return bool_le(0.5 * np.abs(p - reference).sum(axis=1), self.t)

    def check_monotone(
        self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray
    ) -> BoolArray:
        # a class without value v is at least q_v away: every value with q_v > t must occur
        return _has_all(hist, reference > self.t + _TOLERANCE)


@dataclass(frozen=True)
class HierarchicalTCloseness(PrivacyModel):
    """Every class is within `t` of the table, by the EMD over the sensitive hierarchy.

    Args:
        t: the threshold, 0 to 1.
        hierarchy: the sensitive attribute's hierarchy; None takes it from the hierarchies
            given to `anonymize`.
    """

    t: float
    hierarchy: Hierarchy | None = None
    tree: SensitiveTree | None = field(default=None, compare=False, repr=False)
    label: ClassVar[str] = "t-closeness (hierarchical distance)"

    def __post_init__(self) -> None:
        _check(_number(self.t) and 0 <= self.t <= 1, _FRACTION, self.label, "t", self.t)

    @property
    def min_class_size(self) -> int:
        return 1

    def prepare(self, tree: SensitiveTree | None) -> PrivacyModel:
        return HierarchicalTCloseness(self.t, self.hierarchy, tree)

    def check(self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray) -> BoolArray:
        hist, tree = _counts(hist), self._tree()
        p = hist / np.maximum(sizes, 1.0)[:, None]
        return bool_le(tree.distance(p, reference), self.t)

    def check_monotone(
        self, sizes: FloatArray, hist: FloatArray | None, reference: FloatArray
    ) -> BoolArray:
        # the q_v missing at leaf v moves at least one level, at cost q_v / H or more
        return _has_all(hist, reference / self._tree().height > self.t + _TOLERANCE)

    def _tree(self) -> SensitiveTree:
        if self.tree is None:
            raise ConflictError(
                N_("{model} was used before it was prepared with the sensitive hierarchy"),
                model=self.label,
            )
        return self.tree


def _has_all(hist: FloatArray | None, required: BoolArray) -> BoolArray:
    """Which classes (rows of `hist`) hold every required value."""
    hist = _counts(hist)
    if not required.any():
        return np.ones(hist.shape[0], dtype=np.bool_)
    return np.asarray((hist[:, required] > 0).all(axis=1), dtype=np.bool_)


def bool_le(values: FloatArray, bound: float) -> BoolArray:
    """`values <= bound`, tolerating rounding error of the order of 1e-12."""
    return np.asarray(values <= bound + _TOLERANCE, dtype=np.bool_)

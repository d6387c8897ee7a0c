"""Integer encoding of a table for the anonymity search.

Each quasi-identifier is encoded once per hierarchy level into small integer codes (dense over
the values present in the data), and the records are collapsed into *rows*: the distinct
combinations of raw quasi-identifier values (and the sensitive value, when there is one) with
their record counts. Every equivalence class of every transformation is a union of rows, so
the search works on rows, never on records.

Grouping uses mixed-radix integer keys: the key of a row under a transformation is
``((c_1 * n_2 + c_2) * n_3 + c_3) ...`` over the level codes ``c_i`` and the level
cardinalities ``n_i``, compacted to dense ids (`dense_ids`) whenever the radix product would
grow past a bound, so keys never overflow and counting stays a `numpy.bincount`.

>>> ids, n = dense_ids([np.array([0, 1, 0, 1]), np.array([2, 2, 2, 0])], [2, 3])
>>> ids.tolist(), n
([0, 2, 0, 1], 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.privacy.anonymity.hierarchies import Hierarchy

__all__ = [
    "Column",
    "EncodedTable",
    "FloatArray",
    "IntArray",
    "dense_ids",
    "dot",
    "encode",
    "weighted_counts",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_GROWTH = 8  # keys may grow to this many times their count before they are compacted
_SPARSE = 32  # compaction marks occupancy up to this many slots per key, else sorts
_SHOWN_MISSING = 5


def dot(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """The dot product of two vectors, without BLAS.

    OpenBLAS may spread even short products over threads, which stall for milliseconds when
    other processes keep the cores busy; the search takes thousands of these products.
    """
    return float(np.einsum("i,i->", a, b, dtype=np.float64, casting="unsafe"))


def weighted_counts(keys: IntArray, weights: FloatArray, size: int) -> FloatArray:
    """The sum of `weights` per key, for keys 0 .. size-1."""
    return np.bincount(keys, weights=weights, minlength=size).astype(np.float64, copy=False)


def _compact(keys: IntArray, size: int) -> tuple[IntArray, int]:
    """Renumber `keys` (all in [0, size)) densely from 0, keeping their order."""
    if keys.size == 0:
        return keys, 0
    if size <= _SPARSE * keys.size + 1024:
        seen = np.zeros(size, dtype=np.bool_)
        seen[keys] = True
        present = np.flatnonzero(seen)
        rank = np.empty(size, dtype=np.int64)  # only the present slots are ever read
        rank[present] = np.arange(present.size, dtype=np.int64)
        return rank[keys], int(present.size)
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.empty(ordered.size, dtype=np.int64)
    starts[0] = 0
    np.cumsum(ordered[1:] != ordered[:-1], out=starts[1:])
    ids = np.empty_like(starts)
    ids[order] = starts
    return ids, int(starts[-1]) + 1


def dense_ids(codes: Sequence[IntArray], cards: Sequence[int]) -> tuple[IntArray, int]:
    """Dense ids (0 .. n-1, in key order) of the combinations of `codes` (one array a column).

    Args:
        codes: equally long arrays, column `i` holding values in ``[0, cards[i])``.
        cards: the cardinality of each column.

    Returns:
        The id of each position and the number of distinct combinations.
    """
    length = codes[0].size if codes else 0
    keys = np.zeros(length, dtype=np.int64)
    size = 1
    bound = _GROWTH * length + 64
    for column, card in zip(codes, cards, strict=True):
        if card == 1:
            continue
        if size * card > bound:
            keys, size = _compact(keys, size)
        keys = keys * card + column
        size *= card
    return _compact(keys, size)


@dataclass(frozen=True)
class Column:
    """One quasi-identifier, encoded.

    Attributes:
        name: the column name.
        hierarchy: its hierarchy.
        labels: per level, the label of each code (codes are dense over the data's values).
        row_codes: per level, the code of each row.
        parents: per level, the code on that level of each raw value (level-0 code).
        shares: per level, for each code, the fraction of the hierarchy's raw values it
            covers (ARX's domain share, used by the loss metric).
    """

    name: str
    hierarchy: Hierarchy
    labels: tuple[tuple[str, ...], ...]
    row_codes: tuple[IntArray, ...]
    parents: tuple[IntArray, ...]
    shares: tuple[FloatArray, ...]

    @property
    def height(self) -> int:
        """Number of levels, the raw values included."""
        return len(self.labels)

    def card(self, level: int) -> int:
        """Number of distinct values present on `level`."""
        return len(self.labels[level])


@dataclass(frozen=True)
class EncodedTable:
    """The rows of a table and its encoded quasi-identifiers and sensitive attribute.

    Attributes:
        columns: the quasi-identifiers, in the order given.
        counts: records per row.
        record_rows: the row of each record (input order).
        sensitive: the sensitive value code of each row, or None.
        sensitive_labels: the label of each sensitive code.
    """

    columns: tuple[Column, ...]
    counts: IntArray
    record_rows: IntArray
    sensitive: IntArray | None = None
    sensitive_labels: tuple[str, ...] = ()
    weights: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", self.counts.astype(np.float64))

    @property
    def n_records(self) -> int:
        """Number of records."""
        return int(self.record_rows.size)

    @property
    def n_rows(self) -> int:
        """Number of rows (distinct combinations)."""
        return int(self.counts.size)

    @property
    def heights(self) -> tuple[int, ...]:
        """Hierarchy height of each quasi-identifier."""
        return tuple(column.height for column in self.columns)

    @cached_property
    def sensitive_distribution(self) -> FloatArray:
        """Frequency of each sensitive value over all records (t-closeness's reference)."""
        if self.sensitive is None:
            return np.zeros(0)
        counts = weighted_counts(self.sensitive, self.weights, len(self.sensitive_labels))
        return counts / self.n_records

    @cached_property
    def n_combinations(self) -> int:
        """Number of distinct raw quasi-identifier combinations (the most classes possible)."""
        levels = [0] * len(self.columns)
        return dense_ids(self.codes(levels), self.cards(levels))[1]

    def codes(self, levels: Sequence[int]) -> list[IntArray]:
        """The row codes of each quasi-identifier at the given levels."""
        return [c.row_codes[level] for c, level in zip(self.columns, levels, strict=True)]

    def cards(self, levels: Sequence[int]) -> list[int]:
        """The cardinality of each quasi-identifier at the given levels."""
        return [c.card(level) for c, level in zip(self.columns, levels, strict=True)]


def _raw_positions(values: pl.Series, hierarchy: Hierarchy, column: str) -> IntArray:
    """The hierarchy row of every value; a value the hierarchy lacks is an error."""
    raw = hierarchy.raw_values()
    text = values.cast(pl.String)
    positions = text.replace_strict(
        pl.Series(raw, dtype=pl.String),
        pl.Series(range(len(raw)), dtype=pl.Int64),
        default=None,
        return_dtype=pl.Int64,
    )
    missing = positions.is_null()
    if missing.any():
        absent = text.filter(missing).unique(maintain_order=True)
        shown = ", ".join("null" if v is None else f"'{v}'" for v in absent.head(_SHOWN_MISSING))
        raise InvalidInputError(
            N_("column {column}: {count} distinct values are not in its hierarchy ({values})"),
            column=column,
            count=absent.len(),
            values=shown,
        )
    return positions.to_numpy().astype(np.int64, copy=False)


def _level_codes(
    hierarchy: Hierarchy, present: IntArray, level: int
) -> tuple[IntArray, tuple[str, ...], FloatArray]:
    """Codes (per hierarchy row) of `level`, dense over the labels of the present rows."""
    labels = hierarchy.labels(level)
    index: dict[str, int] = {}
    for position in present.tolist():
        index.setdefault(labels[position], len(index))
    codes = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    covered = np.zeros(len(index), dtype=np.float64)
    per_label: dict[str, int] = {}
    for label in labels:
        per_label[label] = per_label.get(label, 0) + 1
    for label, code in index.items():
        covered[code] = per_label[label] / len(labels)
    return codes, tuple(index), covered


@dataclass(frozen=True)
class _Levels:
    """A column's codes per record and per raw value, labels and shares, level by level."""

    records: list[IntArray]
    parents: tuple[IntArray, ...]
    labels: tuple[tuple[str, ...], ...]
    shares: tuple[FloatArray, ...]


def _encode_levels(values: pl.Series, hierarchy: Hierarchy, name: str) -> _Levels:
    positions = _raw_positions(values, hierarchy, name)
    present = np.flatnonzero(np.bincount(positions, minlength=len(hierarchy.rows)))
    per_level = [_level_codes(hierarchy, present, level) for level in range(hierarchy.height)]
    raw = per_level[0][0]
    parents = []
    for codes, _, _ in per_level:
        parent = np.zeros(len(present), dtype=np.int64)
        parent[raw[present]] = codes[present]
        parents.append(parent)
    return _Levels(
        records=[codes[positions] for codes, _, _ in per_level],
        parents=tuple(parents),
        labels=tuple(level_labels for _, level_labels, _ in per_level),
        shares=tuple(share for _, _, share in per_level),
    )


def _encode_sensitive(
    frame: pl.DataFrame, sensitive: str | None
) -> tuple[IntArray | None, tuple[str, ...]]:
    """Codes of the sensitive values per record (nulls read as the empty text), and labels."""
    if sensitive is None:
        return None, ()
    text = frame[sensitive].cast(pl.String).fill_null("")
    categories = text.unique(maintain_order=True)
    codes = text.replace_strict(
        categories, pl.Series(range(len(categories)), dtype=pl.Int64), return_dtype=pl.Int64
    )
    return codes.to_numpy().astype(np.int64, copy=False), tuple(categories.to_list())


def encode(
    frame: pl.DataFrame,
    qi: Sequence[str],
    hierarchies: Mapping[str, Hierarchy],
    sensitive: str | None = None,
) -> EncodedTable:
    """Encode `frame`'s quasi-identifiers `qi` (and `sensitive`) for the search.

    Raises:
        InvalidInputError: a value is missing from its hierarchy.
    """
    encoded = [_encode_levels(frame[name], hierarchies[name], name) for name in qi]
    level0 = [levels.records[0] for levels in encoded]
    cards0 = [len(levels.labels[0]) for levels in encoded]
    sensitive_codes, sensitive_labels = _encode_sensitive(frame, sensitive)
    if sensitive_codes is not None:
        level0.append(sensitive_codes)
        cards0.append(len(sensitive_labels))
    record_rows, n_rows = dense_ids(level0, cards0)
    first = np.zeros(n_rows, dtype=np.int64)
    first[record_rows] = np.arange(record_rows.size, dtype=np.int64)  # any record of the row
    counts = np.bincount(record_rows, minlength=n_rows).astype(np.int64)
    columns = tuple(
        Column(
            name=name,
            hierarchy=hierarchies[name],
            labels=levels.labels,
            row_codes=tuple(codes[first] for codes in levels.records),
            parents=levels.parents,
            shares=levels.shares,
        )
        for name, levels in zip(qi, encoded, strict=True)
    )
    return EncodedTable(
        columns=columns,
        counts=counts,
        record_rows=record_rows,
        sensitive=None if sensitive_codes is None else sensitive_codes[first],
        sensitive_labels=sensitive_labels,
    )

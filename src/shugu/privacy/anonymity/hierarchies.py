"""Generalisation hierarchies for the anonymity search, in ARX's table form.

A hierarchy is a table: one row per raw value, one column per level, the raw value first and
the coarsest value last (ARX's CSV format: `;`-separated, no header). Every row has the same
number of levels, and each level must be a function of the level below it (a tree): the search
relies on generalisation only ever merging classes.

Files in a folder are matched to columns by ARX's naming convention
``<anything>_hierarchy_<column>.csv``.

Hierarchies of the space's shared registry (`shugu.privacy.hierarchy`) can be used too:
`coerce_hierarchy` turns a table hierarchy into its rows and materialises a rule-based one
(age bands, dates) over the values present in the column.

>>> h = Hierarchy.from_rows([["a", "x", "*"], ["b", "x", "*"], ["c", "y", "*"]])
>>> h.height, h.labels(1)
(3, ('x', 'x', 'y'))
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import polars as pl

from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_

__all__ = [
    "Hierarchy",
    "HierarchyLike",
    "RuleHierarchy",
    "coerce_hierarchy",
    "read_hierarchies",
]

_MARKER = "_hierarchy_"


@runtime_checkable
class RuleHierarchy(Protocol):
    """A hierarchy of the shared registry: `levels` is the top level, `generalize` maps values."""

    levels: int

    def generalize(self, values: pl.Series, level: int) -> pl.Series: ...


@dataclass(frozen=True)
class Hierarchy:
    """A generalisation hierarchy as a table of rows (raw value, level 1, ..., top level).

    Attributes:
        rows: one tuple per raw value, all of the same length (`height`).
        source: where the rows came from, for messages (a file name).
    """

    rows: tuple[tuple[str, ...], ...]
    source: str = "<rows>"

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[str]], *, source: str = "<rows>") -> Hierarchy:
        """Build and check a hierarchy (consistent depth, unique raw values, a tree).

        Raises:
            InvalidInputError: no rows, rows of different lengths, a raw value twice, or a value
                that generalises to two different values on the next level.
        """
        table = tuple(tuple(str(cell) for cell in row) for row in rows)
        _check_shape(table, source)
        _check_tree(table, source)
        return cls(table, source)

    @classmethod
    def from_csv(cls, path: Path, *, sep: str = ";") -> Hierarchy:
        """Read an ARX hierarchy file (UTF-8, with or without BOM, blank lines ignored).

        Raises:
            NotFoundError: the file does not exist.
            InvalidInputError: the file is not UTF-8 text or breaks a rule of `from_rows`.
        """
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise NotFoundError(N_("hierarchy file {file} not found"), file=str(path)) from None
        except UnicodeDecodeError:
            raise InvalidInputError(
                N_("hierarchy file {file} is not UTF-8 text"), file=path.name
            ) from None
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
        rows = [row for row in reader if any(cell.strip() for cell in row)]
        return cls.from_rows(rows, source=path.name)

    @property
    def height(self) -> int:
        """The number of levels, the raw values included (ARX's hierarchy height)."""
        return len(self.rows[0])

    def raw_values(self) -> tuple[str, ...]:
        """The raw values (level 0), in file order."""
        return self.labels(0)

    def labels(self, level: int) -> tuple[str, ...]:
        """The value of every row at `level`, in row order."""
        return tuple(row[level] for row in self.rows)


HierarchyLike = Hierarchy | RuleHierarchy


def _check_shape(rows: tuple[tuple[str, ...], ...], source: str) -> None:
    if not rows:
        raise InvalidInputError(N_("hierarchy {hierarchy} has no rows"), hierarchy=source)
    height = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != height:
            raise InvalidInputError(
                N_(
                    "hierarchy {hierarchy}, row {row}: {found} levels,"
                    " but the first row has {expected}"
                ),
                hierarchy=source,
                row=number,
                found=len(row),
                expected=height,
            )
    seen: set[str] = set()
    for row in rows:
        if row[0] in seen:
            raise InvalidInputError(
                N_("hierarchy {hierarchy}: the raw value '{value}' appears twice"),
                hierarchy=source,
                value=row[0],
            )
        seen.add(row[0])


def _check_tree(rows: tuple[tuple[str, ...], ...], source: str) -> None:
    for level in range(1, len(rows[0]) - 1):
        parent: dict[str, str] = {}
        for row in rows:
            known = parent.setdefault(row[level], row[level + 1])
            if known != row[level + 1]:
                raise InvalidInputError(
                    N_(
                        "hierarchy {hierarchy} is not a tree: '{value}' on level {level}"
                        " generalises to both '{first}' and '{second}'"
                    ),
                    hierarchy=source,
                    value=row[level],
                    level=level,
                    first=known,
                    second=row[level + 1],
                )


def read_hierarchies(folder: Path, *, sep: str = ";") -> dict[str, Hierarchy]:
    """Read every ``<anything>_hierarchy_<column>.csv`` in `folder`, keyed by column.

    Raises:
        NotFoundError: the folder does not exist.
        InvalidInputError: two files name the same column, or a file is malformed.
    """
    if not folder.is_dir():
        raise NotFoundError(N_("hierarchy folder {folder} not found"), folder=str(folder))
    found: dict[str, Hierarchy] = {}
    for path in sorted(folder.glob(f"*{_MARKER}*.csv")):
        column = path.stem.rsplit(_MARKER, 1)[1]
        if column in found:
            raise InvalidInputError(
                N_("two hierarchy files in {folder} are for column {column}"),
                folder=str(folder),
                column=column,
            )
        found[column] = Hierarchy.from_csv(path, sep=sep)
    return found


def coerce_hierarchy(hierarchy: Any, column: str, values: pl.Series) -> Hierarchy:
    """Return `hierarchy` as a table `Hierarchy` for `column`.

    A registry table hierarchy contributes its full rows; a rule-based one is materialised over
    the distinct non-null `values` (so its domain, which the loss metric uses, is the values
    present in the data).

    Raises:
        InvalidInputError: `hierarchy` is neither kind.
    """
    if isinstance(hierarchy, Hierarchy):
        return hierarchy
    definition = getattr(hierarchy, "definition", None)
    if callable(definition):
        described = definition()
        if isinstance(described, dict) and described.get("kind") == "table":
            return Hierarchy.from_rows(described["rows"], source=column)
    if isinstance(hierarchy, RuleHierarchy):
        distinct = values.drop_nulls().unique().sort()
        levels = [distinct.cast(pl.String)]
        levels += [
            hierarchy.generalize(distinct, level) for level in range(1, hierarchy.levels + 1)
        ]
        return Hierarchy.from_rows(
            list(zip(*(s.to_list() for s in levels), strict=True)), source=column
        )
    raise InvalidInputError(
        N_("column {column}: {kind} is not a hierarchy"),
        column=column,
        kind=type(hierarchy).__name__,
    )

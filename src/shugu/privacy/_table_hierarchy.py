"""Table hierarchies: `TableHierarchy`, read from ARX's CSV format (`;`-separated, the raw
value first and then one column per level, no header) and checked row by row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.privacy._hierarchy_base import Hierarchy, ensure_valid


def _table_error(message: str, source: str, line: int, **params: Any) -> InvalidInputError:
    return InvalidInputError(message, file=source, line=line, **params)


_WIDTH = N_("hierarchy file {file}, line {line}: {found} fields, but line {first} has {expected}")
_EMPTY = N_("hierarchy file {file}, line {line}: field {field} is empty")
_REPEATED = N_(
    "hierarchy file {file}, line {line}: value {value} is listed again (first on line {first})"
)
_SPLIT = N_(
    "hierarchy file {file}, line {line}: {value} at level {level} generalises to {found},"
    " but to {expected} on line {first}"
)


def _check_row(row: list[str], line: int, width: tuple[int, int], source: str) -> None:
    first_line, expected = width
    if len(row) != expected:
        raise _table_error(
            _WIDTH, source, line, found=len(row), first=first_line, expected=expected
        )
    for position, cell in enumerate(row, start=1):
        if not cell.strip():
            raise _table_error(_EMPTY, source, line, field=position)


def _check_rows(rows: Sequence[tuple[int, list[str]]], source: str) -> None:
    """Same width, no empty field, each raw value once, each level a function of the one below."""
    width = (rows[0][0], len(rows[0][1]))
    seen: dict[tuple[int, str], tuple[str, int]] = {}
    for line, row in rows:
        _check_row(row, line, width, source)
        for level, cell in enumerate(row[:-1]):
            parent, first = seen.setdefault((level, cell), (row[level + 1], line))
            if level == 0 and first != line:
                raise _table_error(_REPEATED, source, line, value=cell, first=first)
            if parent != row[level + 1]:
                raise _table_error(
                    _SPLIT,
                    source,
                    line,
                    value=cell,
                    level=level,
                    found=row[level + 1],
                    expected=parent,
                    first=first,
                )


class TableHierarchy(Hierarchy):
    """A hierarchy given as a table: each row a raw value followed by its value at each level.

    Args:
        name: registry name.
        rows: the rows, each at least 2 values, all of the same length.
        source: where the rows came from, for error messages (a file name).
        lines: the line number of each row in `source` (default 1, 2, ...).
    """

    _top_is_star = False

    def __init__(
        self,
        name: str,
        rows: Sequence[Sequence[str]],
        *,
        source: str | None = None,
        lines: Sequence[int] | None = None,
    ) -> None:
        source = source or name
        numbered = list(zip(lines or range(1, len(rows) + 1), (list(r) for r in rows), strict=True))
        if not numbered:
            raise InvalidInputError(N_("hierarchy file {file} has no rows"), file=source)
        if len(numbered[0][1]) < 2:
            raise _table_error(
                N_(
                    "hierarchy file {file}, line {line}: a row needs a value and at least one level"
                ),
                source,
                numbered[0][0],
            )
        _check_rows(numbered, source)
        self.name = name
        self.source = source
        self.levels = len(numbered[0][1]) - 1
        self.description = source
        self._rows = sorted(tuple(row) for _, row in numbered)
        columns = list(zip(*self._rows, strict=True))
        self._columns = [pl.Series(c, dtype=pl.String) for c in columns]

    @classmethod
    def from_csv(cls, path: Path, *, name: str | None = None) -> TableHierarchy:
        """Read an ARX hierarchy file (`;`-separated, no header, UTF-8 with or without BOM)."""
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _table_error(
                N_("hierarchy file {file}, line {line}: not UTF-8 text"),
                path.name,
                data[: exc.start].count(b"\n") + 1,
            ) from exc
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
        rows: list[list[str]] = []
        lines: list[int] = []
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(reader.line_num)
        except csv.Error as exc:
            raise _table_error(
                N_("hierarchy file {file}, line {line}: {detail}"),
                path.name,
                reader.line_num,
                detail=str(exc),
            ) from exc
        return cls(name or path.stem, rows, source=path.name, lines=lines)

    def definition(self) -> dict[str, Any]:
        return {"kind": "table", "version": 1, "rows": [list(r) for r in self._rows]}

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype == pl.String or dtype.is_integer()

    def labels(self, level: int) -> tuple[str, ...] | None:
        self.check_level(level)
        return tuple(self._columns[level].unique().sort()) if level else None

    def _generalize(self, expr: pl.Expr, dtype: pl.DataType, level: int, column: str) -> pl.Expr:
        text = expr if dtype == pl.String else expr.cast(pl.String)
        mapped = text.replace_strict(
            self._columns[0], self._columns[level], default=None, return_dtype=pl.String
        )
        message = N_("column {column}: value '{value}' is not in hierarchy {hierarchy}")
        return ensure_valid(
            expr, mapped, column=column, message=message, dtype=pl.String(), hierarchy=self.name
        )

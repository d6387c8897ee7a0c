"""The space's shared generalisation hierarchies, and the registry that names them.

A hierarchy maps a raw value (level 0) to ever coarser values (levels 1 to `levels`). Holders
who generalise with the same registry get identical bands; `HierarchyRegistry.fingerprint()` lets
them check that they do (a SHA-256 over the canonical JSON, RFC 8785, of every definition).

Built-ins:

- ``age`` (years, integer, float or numeric text): 1 five-year bands "20-24", 2 ten-year bands
  "20-29", 3 "*"; ages of 90 and over fall into "90+" on levels 1 and 2.
- ``date`` (Date, Datetime, or text such as 2024-03-05, 2024/3/5, 2024.03.05, 20240305,
  2024年3月5日, with an optional time part after "T" or a space): 1 "2024-03", 2 "2024", 3 "*".
- ``region`` (a 6-digit GB/T 2260 division code, text or integer): 1 the prefecture-level city
  "110100", 2 the province "110000", 3 "*". Only the form is checked, not that the code exists.
- ``icd10`` (an ICD-10 code such as J45.9 or J459, any case): 1 the 3-character category "J45",
  2 the chapter's roman numeral "X", 3 "*".

Table hierarchies are read from ARX's CSV format: one row per raw value, `;`-separated, the raw
value first and then one column per level, no header. They apply through a vectorised lookup;
a value missing from the table is an error naming the value and the column.

Every level above 0 yields text. Nulls stay null, and so does blank text (empty or only
spaces); a value that cannot be read (an age of -3, a date of 2024-02-30) is an error naming the
column and the value, never silently null.

>>> import polars as pl
>>> registry = HierarchyRegistry.builtin()
>>> registry.get("age").generalize(pl.Series("age", [3, 47, 95, None]), 1).to_list()
['0-4', '45-49', '90+', None]
>>> registry.get("date").generalize(pl.Series("d", ["2024/03/05"]), 1).to_list()
['2024-03']
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import string
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import rfc8785

from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.privacy.reference import icd10_chapters

__all__ = [
    "AgeHierarchy",
    "DateHierarchy",
    "Hierarchy",
    "HierarchyRegistry",
    "Icd10Hierarchy",
    "InvalidValueError",
    "RegionHierarchy",
    "TableHierarchy",
    "ensure_valid",
    "is_date_dtype",
    "parse_dates",
]

STAR = "*"
_CARRY_MARK = "shugu-invalid-value:"
_SAMPLE_CHARS = 40
_DATE_FORMATS = (  # fast paths, in order: (exact shape, strptime format)
    (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "%Y-%m-%d"),
    (r"^[0-9]{4}/[0-9]{2}/[0-9]{2}$", "%Y/%m/%d"),
    (r"^[0-9]{8}$", "%Y%m%d"),
)
_LOOSE_DATE = (
    r"^\s*([0-9]{4})(?:[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?|([0-9]{2})([0-9]{2}))(?:[T\s].*)?$"
)
_NOT_A_DATE = N_(
    "column {column}: '{value}' is not a date"
    " (expected e.g. 2024-03-05, 2024/03/05, 20240305 or 2024年3月5日)"
)


# -- checks that run inside a polars plan --------------------------------------------------------


class InvalidValueError(InvalidInputError):
    """A value in the data cannot be read; raised from inside a polars plan.

    Polars re-raises an exception from a Python callback as ``type(err)(str(err) + context)``.
    While in flight this error's text carries its template and parameters (as JSON behind a
    marker), and the re-raised copy restores them, so callers get the usual message and
    `render("zh_CN")` still works.
    """

    _carry = False

    def __init__(self, message: str, **params: Any) -> None:
        if not params and message.startswith(_CARRY_MARK):
            payload = json.loads(message[len(_CARRY_MARK) :].split("\n", 1)[0])
            message, params = payload["message"], payload["params"]
        super().__init__(message, **params)

    @classmethod
    def in_flight(cls, message: str, **params: Any) -> InvalidValueError:
        """The error to raise inside a plan (its text carries the template and parameters)."""
        error = cls(message, **params)
        error._carry = True
        return error

    def __str__(self) -> str:
        if self._carry:
            return _CARRY_MARK + json.dumps({"message": self.message, "params": self.params})
        return super().__str__()


Repair = Callable[[pl.Series], pl.Series]


def _sample(value: object) -> str:
    text = str(value)
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"


def _on(series: pl.Series, build: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """Evaluate the expression `build(value)` over a Series."""
    return series.to_frame("value").select(build(pl.col("value"))).to_series()


def _filled(raw: pl.Series) -> pl.Series:
    """True where a value is present: not null and, for text, not blank."""
    if raw.dtype != pl.String:
        return raw.is_not_null()
    return (raw.str.strip_chars().str.len_bytes() > 0).fill_null(False)


def _check_batch(
    series: Sequence[pl.Series],
    *,
    column: str,
    message: str,
    params: dict[str, Any],
    repair: Repair | None,
) -> pl.Series:
    raw, out = series
    lost = out.is_null() & raw.is_not_null()
    if not lost.any() or not (lost := lost & _filled(raw)).any():
        return out
    if repair is not None:
        out = out.clone().scatter(lost.arg_true(), repair(raw.filter(lost)))
        lost = out.is_null() & _filled(raw)
        if not lost.any():
            return out
    value = _sample(raw.filter(lost)[0])
    raise InvalidValueError.in_flight(message, column=column, value=value, **params)


def ensure_valid(
    raw: pl.Expr,
    out: pl.Expr,
    *,
    column: str,
    message: str,
    dtype: pl.DataType,
    repair: Repair | None = None,
    **params: Any,
) -> pl.Expr:
    """`out`, checked: where `raw` holds a value but `out` is null, raise `InvalidValueError`.

    The check runs per batch inside the plan (vectorised), so a lazy chain fails with a clear
    message rather than writing nulls. `repair`, if given, gets the raw values that failed (a
    slow path, e.g. trimming spaces) and returns their output, null where still unreadable.
    `message` gets `column`, `value` (the first bad raw value, shortened) and `params`.
    """
    check = partial(_check_batch, column=column, message=message, params=params, repair=repair)
    return pl.map_batches([raw, out], check, return_dtype=dtype, is_elementwise=True)


def is_date_dtype(dtype: pl.DataType) -> bool:
    """True for the dtypes `parse_dates` and the date hierarchy read (Date, Datetime, String)."""
    return dtype == pl.Date or isinstance(dtype, pl.Datetime) or dtype == pl.String


def _parse_loose(values: pl.Series) -> pl.Series:
    parts = values.str.extract_groups(_LOOSE_DATE).struct
    month = pl.coalesce(parts.field("2"), parts.field("4"))
    day = pl.coalesce(parts.field("3"), parts.field("5"))
    text = pl.concat_str([parts.field("1"), pl.lit("-"), month, pl.lit("-"), day])
    return pl.select(text.str.to_date("%Y-%m-%d", strict=False)).to_series()


def _fill(parsed: pl.Series, mask: pl.Series, found: pl.Series) -> pl.Series:
    return found if mask.all() else parsed.scatter(mask.arg_true(), found)


def _parse_date_batch(values: pl.Series, *, column: str) -> pl.Series:
    parsed = pl.repeat(None, len(values), dtype=pl.Date, eager=True)
    for shape, form in _DATE_FORMATS:
        todo = parsed.is_null() & values.is_not_null()
        fits = todo & values.str.contains(shape)
        if fits.any():
            rest = values if fits.all() else values.filter(fits)
            parsed = _fill(parsed, fits, rest.str.to_date(form, strict=False))
    todo = parsed.is_null() & values.is_not_null()
    if not todo.any() or not (todo := todo & _filled(values)).any():
        return parsed
    parsed = _fill(parsed, todo, _parse_loose(values.filter(todo)))
    lost = parsed.is_null() & todo
    if lost.any():
        value = _sample(values.filter(lost)[0])
        raise InvalidValueError.in_flight(_NOT_A_DATE, column=column, value=value)
    return parsed


def parse_dates(expr: pl.Expr, *, column: str) -> pl.Expr:
    """Text dates in ISO-like forms → Date, vectorised; an unreadable value raises.

    Accepts 2024-03-05, 2024-3-5, 2024/03/05, 2024.03.05, 20240305 and 2024年3月5日, with
    surrounding spaces and an optional time part after "T" or a space (ignored). Years have
    four digits; dates must exist (2024-02-30 is an error).
    """
    parse = partial(_parse_date_batch, column=column)
    return expr.map_batches(parse, return_dtype=pl.Date, is_elementwise=True)


def _star(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_not_null()).then(pl.lit(STAR)).otherwise(pl.lit(None, pl.String))


def _fingerprint(definition: object) -> str:
    return hashlib.sha256(rfc8785.dumps(definition)).hexdigest()  # type: ignore[arg-type]


# -- the hierarchy interface ---------------------------------------------------------------------


class Hierarchy(ABC):
    """A generalisation hierarchy: level 0 is the raw value, `levels` the coarsest.

    Attributes:
        name: the name the registry knows it by.
        levels: the highest level (valid levels are 0 to `levels`).
        description: what it generalises, in English (an `N_` template for built-ins).
    """

    name: str
    levels: int
    description: str
    _top_is_star: ClassVar[bool] = True

    @abstractmethod
    def definition(self) -> dict[str, Any]:
        """The canonical, JSON-ready definition (what the fingerprint covers)."""

    @abstractmethod
    def accepts(self, dtype: pl.DataType) -> bool:
        """True when a column of `dtype` can be generalised."""

    @abstractmethod
    def _generalize(self, expr: pl.Expr, dtype: pl.DataType, level: int, column: str) -> pl.Expr:
        """The expression for 0 < level < `levels` (or up to `levels` for table hierarchies)."""

    def labels(self, level: int) -> tuple[str, ...] | None:
        """The values level `level` can produce, or None when the set is open (e.g. dates)."""
        self.check_level(level)
        return (STAR,) if level == self.levels and self._top_is_star else None

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the canonical definition."""
        return _fingerprint(self.definition())

    def check_level(self, level: int) -> None:
        """Raise `InvalidInputError` unless 0 <= level <= `levels`."""
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= self.levels:
            raise InvalidInputError(
                N_("level {level} is out of range for hierarchy {hierarchy} (0 to {top})"),
                level=level,
                hierarchy=self.name,
                top=self.levels,
            )

    def check_dtype(self, column: str, dtype: pl.DataType) -> None:
        """Raise `InvalidInputError` when a column of `dtype` cannot be generalised."""
        if not self.accepts(dtype):
            raise InvalidInputError(
                N_("column {column} has type {dtype}, which hierarchy {hierarchy} cannot read"),
                column=column,
                dtype=str(dtype),
                hierarchy=self.name,
            )

    def output_dtype(self, dtype: pl.DataType, level: int) -> pl.DataType:
        """The dtype of the generalised column (text from level 1 on)."""
        return dtype if level == 0 else pl.String()

    def expr(self, column: str, dtype: pl.DataType, level: int) -> pl.Expr:
        """The polars expression generalising `column` (of `dtype`) to `level`, named `column`."""
        self.check_level(level)
        self.check_dtype(column, dtype)
        source = pl.col(column)
        if level == 0:
            return source
        if level == self.levels and self._top_is_star:
            return _star(source).alias(column)
        return self._generalize(source, dtype, level, column).alias(column)

    def generalize(self, values: pl.Series, level: int) -> pl.Series:
        """Generalise a Series to `level` (vectorised)."""
        name = values.name
        return values.to_frame().select(self.expr(name, values.dtype, level)).to_series()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, levels={self.levels})"


# -- built-ins -----------------------------------------------------------------------------------


def _whole_years(number: pl.Expr, integer: bool) -> pl.Expr:
    years = number.cast(pl.Int64) if integer else number.floor().cast(pl.Int64, strict=False)
    return pl.when(years >= 0).then(years)


def _years_from_text(values: pl.Series) -> pl.Series:
    return _on(
        values, lambda v: _whole_years(v.str.strip_chars().cast(pl.Float64, strict=False), False)
    )


class AgeHierarchy(Hierarchy):
    """Ages in whole years: bands of `widths[i]` years at level i+1, all ages >= `top` together.

    Fractional ages are floored (34.9 → 34); text is read as a number ("34", " 34.5 ").

    Args:
        name: registry name.
        widths: band width per level, e.g. (5, 10); each must divide `top`.
        top: the first age of the open top band ("90+").
    """

    def __init__(self, name: str = "age", widths: Sequence[int] = (5, 10), top: int = 90) -> None:
        if not widths or top < 1 or any(w < 1 or top % w for w in widths):
            raise InvalidInputError(
                N_("age bands of {widths} years must each divide the top age {top}"),
                widths=list(widths),
                top=top,
            )
        self.name = name
        self.widths = tuple(widths)
        self.top = top
        self.levels = len(self.widths) + 1
        self.description = N_("age in years: bands, then all")

    def definition(self) -> dict[str, Any]:
        return {"kind": "age", "version": 1, "widths": list(self.widths), "top": self.top}

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype.is_integer() or dtype.is_float() or dtype == pl.String

    def _bands(self, level: int) -> list[str]:
        width = self.widths[level - 1]
        low = range(0, self.top, width)
        return [f"{start}-{start + width - 1}" for start in low] + [f"{self.top}+"]

    def labels(self, level: int) -> tuple[str, ...] | None:
        self.check_level(level)
        if 0 < level < self.levels:
            return tuple(self._bands(level))
        return super().labels(level)

    def _years(self, expr: pl.Expr, dtype: pl.DataType, column: str) -> pl.Expr:
        number = expr.cast(pl.Float64, strict=False) if dtype == pl.String else expr
        years = _whole_years(number, dtype.is_integer())
        repair = _years_from_text if dtype == pl.String else None
        message = N_("column {column}: '{value}' is not an age (whole years, 0 or more)")
        return ensure_valid(
            expr, years, column=column, message=message, dtype=pl.Int64(), repair=repair
        )

    def _generalize(self, expr: pl.Expr, dtype: pl.DataType, level: int, column: str) -> pl.Expr:
        width = self.widths[level - 1]
        band = (self._years(expr, dtype, column) // width).clip(upper_bound=self.top // width)
        return pl.lit(pl.Series(self._bands(level), dtype=pl.String)).gather(band)


_DATE_LEVELS = {1: "%Y-%m", 2: "%Y"}


def _date_text_batch(values: pl.Series, *, level: int, column: str) -> pl.Series:
    return _parse_date_batch(values, column=column).dt.strftime(_DATE_LEVELS[level])


class DateHierarchy(Hierarchy):
    """Dates: level 1 year and month "2024-03", level 2 year "2024", level 3 "*".

    A Datetime is read in its own time zone.
    """

    def __init__(self, name: str = "date") -> None:
        self.name = name
        self.levels = 3
        self.description = N_("dates: year and month, year, then all")

    def definition(self) -> dict[str, Any]:
        return {"kind": "date", "version": 1, "formats": [_DATE_LEVELS[1], _DATE_LEVELS[2]]}

    def accepts(self, dtype: pl.DataType) -> bool:
        return is_date_dtype(dtype)

    def _generalize(self, expr: pl.Expr, dtype: pl.DataType, level: int, column: str) -> pl.Expr:
        if dtype == pl.String:
            labels = partial(_date_text_batch, level=level, column=column)
            return expr.map_batches(labels, return_dtype=pl.String, is_elementwise=True)
        return expr.dt.strftime(_DATE_LEVELS[level])


def _region_code(text: pl.Expr, keep: int) -> pl.Expr:
    valid = text.str.contains(r"^[0-9]{6}$")
    return pl.when(valid).then(pl.concat_str([text.str.slice(0, keep), pl.lit("0" * (6 - keep))]))


def _region_from_untrimmed(values: pl.Series, *, keep: int) -> pl.Series:
    return _on(values, lambda v: _region_code(v.str.strip_chars(), keep))


class RegionHierarchy(Hierarchy):
    """GB/T 2260 division codes: level 1 city "110100", level 2 province "110000", level 3 "*".

    Codes are text or integers of exactly six digits; only the form is checked, not that the
    division exists.
    """

    _KEEP: ClassVar[dict[int, int]] = {1: 4, 2: 2}

    def __init__(self, name: str = "region") -> None:
        self.name = name
        self.levels = 3
        self.description = N_("GB/T 2260 region codes: city, province, then all")

    def definition(self) -> dict[str, Any]:
        return {"kind": "region", "version": 1, "digits": 6, "keep": [4, 2]}

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype.is_integer() or dtype == pl.String

    def _generalize(self, expr: pl.Expr, dtype: pl.DataType, level: int, column: str) -> pl.Expr:
        keep = self._KEEP[level]
        repair: Repair | None = None
        out: pl.Expr
        if dtype.is_integer():
            step = 10 ** (6 - keep)
            code = expr.cast(pl.Int64)
            out = pl.when(code.is_between(100_000, 999_999)).then(
                (code // step * step).cast(pl.String)
            )
        else:
            out = _region_code(expr, keep)
            repair = partial(_region_from_untrimmed, keep=keep)
        message = N_("column {column}: '{value}' is not a 6-digit region code")
        return ensure_valid(
            expr, out, column=column, message=message, dtype=pl.String(), repair=repair
        )


@cache
def _icd10_categories() -> tuple[pl.Series, pl.Series, pl.Series]:
    """Every letter-and-two-digits category; those in a chapter; and that chapter's numeral."""
    every = [f"{letter}{number:02d}" for letter in string.ascii_uppercase for number in range(100)]
    placed = [
        (c, next((ch.chapter for ch in icd10_chapters() if ch.contains(c)), None)) for c in every
    ]
    inside = [(c, numeral) for c, numeral in placed if numeral]
    return (
        pl.Series(every, dtype=pl.String),
        pl.Series([c for c, _ in inside], dtype=pl.String),
        pl.Series([numeral for _, numeral in inside], dtype=pl.String),
    )


def _icd10_of(category: pl.Expr, level: int) -> pl.Expr:
    every, inside, numerals = _icd10_categories()
    if level == 1:
        return pl.when(category.is_in(every)).then(category)
    return category.replace_strict(inside, numerals, default=None, return_dtype=pl.String)


def _icd10_from_untidy(values: pl.Series, *, level: int) -> pl.Series:
    return _on(
        values, lambda v: _icd10_of(v.str.strip_chars().str.slice(0, 3).str.to_uppercase(), level)
    )


class Icd10Hierarchy(Hierarchy):
    """ICD-10 codes: level 1 the 3-character category "J45", level 2 the chapter "X", 3 "*".

    A code is read by its first three characters (after trimming and upper-casing), which must
    be a letter and two digits; "J45.9", "j459" and "J45.901+" all fall in J45. Level 2 needs
    the category to lie in a chapter (D49, for one, does not).
    """

    def __init__(self, name: str = "icd10") -> None:
        self.name = name
        self.levels = 3
        self.description = N_("ICD-10 codes: category, chapter, then all")

    def definition(self) -> dict[str, Any]:
        chapters = [[c.chapter, c.first, c.last] for c in icd10_chapters()]
        return {"kind": "icd10", "version": 1, "chapters": chapters}

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype == pl.String

    def labels(self, level: int) -> tuple[str, ...] | None:
        self.check_level(level)
        if level == 2:
            return tuple(c.chapter for c in icd10_chapters())
        return super().labels(level)

    def _generalize(self, expr: pl.Expr, dtype: pl.DataType, level: int, column: str) -> pl.Expr:
        out = _icd10_of(expr.str.slice(0, 3), level)
        if level == 1:
            message = N_("column {column}: '{value}' is not an ICD-10 code")
        else:
            message = N_("column {column}: '{value}' is not an ICD-10 code of any chapter")
        repair = partial(_icd10_from_untidy, level=level)
        return ensure_valid(
            expr, out, column=column, message=message, dtype=pl.String(), repair=repair
        )


# -- table hierarchies (ARX CSV) -----------------------------------------------------------------


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


# -- the registry --------------------------------------------------------------------------------

_BUILTINS: tuple[Callable[[], Hierarchy], ...] = (
    AgeHierarchy,
    DateHierarchy,
    RegionHierarchy,
    Icd10Hierarchy,
)


class HierarchyRegistry:
    """The hierarchies of a space, by name.

    Args:
        hierarchies: the hierarchies; two with the same name (ignoring case) are an error.
    """

    def __init__(self, hierarchies: Iterable[Hierarchy]) -> None:
        self._items: dict[str, Hierarchy] = {}
        folded: dict[str, str] = {}
        for hierarchy in hierarchies:
            clash = folded.setdefault(hierarchy.name.casefold(), hierarchy.name)
            if hierarchy.name in self._items or clash != hierarchy.name:
                raise InvalidInputError(N_("two hierarchies are named {name}"), name=hierarchy.name)
            self._items[hierarchy.name] = hierarchy

    @classmethod
    def builtin(cls) -> HierarchyRegistry:
        """The built-in hierarchies: age, date, region, icd10."""
        return cls(make() for make in _BUILTINS)

    @classmethod
    def from_folder(cls, folder: Path) -> HierarchyRegistry:
        """The built-ins plus every `*.csv` ARX table in `folder`, named by file stem.

        Raises:
            NotFoundError: the folder does not exist.
            InvalidInputError: a bad file (naming the file and line) or a name clash.
        """
        if not folder.is_dir():
            raise NotFoundError(N_("hierarchy folder {folder} not found"), folder=str(folder))
        builtin = cls.builtin()
        tables: list[Hierarchy] = []
        for path in sorted(folder.glob("*.csv")):
            if path.stem.casefold() in {n.casefold() for n in builtin.names()}:
                raise InvalidInputError(
                    N_("hierarchy file {file}: the name {name} is taken by a built-in hierarchy"),
                    file=path.name,
                    name=path.stem,
                )
            tables.append(TableHierarchy.from_csv(path))
        return cls([*builtin, *tables])

    def get(self, name: str) -> Hierarchy:
        """The hierarchy called `name`.

        Raises:
            NotFoundError: no such hierarchy (the message lists the known ones).
        """
        try:
            return self._items[name]
        except KeyError:
            raise NotFoundError(
                N_("unknown hierarchy {name} (known: {known})"),
                name=name,
                known=", ".join(self.names()),
            ) from None

    def names(self) -> list[str]:
        """The names, sorted."""
        return sorted(self._items)

    def definitions(self) -> dict[str, dict[str, Any]]:
        """Every hierarchy's canonical definition, by name."""
        return {name: self._items[name].definition() for name in self.names()}

    def fingerprint(self) -> str:
        """SHA-256 (hex) over the canonical definitions: equal registries, equal fingerprints."""
        return _fingerprint({"format": 1, "hierarchies": self.definitions()})

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Hierarchy]:
        return iter(self._items[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._items)

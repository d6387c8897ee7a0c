"""The hierarchy interface, `Hierarchy`, and the checks that run inside a polars plan
(`InvalidValueError`, `ensure_valid`, `parse_dates`), shared by the built-in hierarchies and
the table hierarchies.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from typing import Any, ClassVar

import numpy as np
import polars as pl
import pyarrow as pa
import rfc8785

from shugu.errors import InvalidInputError
from shugu.i18n import N_

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


_FIRST_YEAR, _LAST_YEAR = 1000, 9999
_YEARS = np.arange(_FIRST_YEAR, _LAST_YEAR + 1)
_LEAP = ((_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))).astype(np.int32)
_YEAR_START = (  # days from 1970-01-01 to 1 January of each year
    np.concatenate(([0], np.cumsum(365 + _LEAP)[:-1])).astype(np.int32)
    + (date(_FIRST_YEAR, 1, 1) - date(1970, 1, 1)).days
)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
_MONTH_START = np.concatenate(([0], np.cumsum(_MONTH_DAYS)[:-1])).astype(np.int32)
_ISO_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9])
_ISO_WIDTH = 10


def _iso_bytes(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(rows, their bytes as a (len(rows), 10) uint8 array) for the 10-byte values of `values`."""
    text = values.to_arrow()
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if not pa.types.is_large_string(text.type):
        text = text.cast(pa.large_string())
    count = len(text)
    _, offsets_buffer, data_buffer = text.buffers()
    if count == 0 or data_buffer is None:
        return np.zeros(0, dtype=np.int64), np.zeros((0, _ISO_WIDTH), dtype=np.uint8)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[text.offset : text.offset + count + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    if not text.null_count and offsets[-1] - offsets[0] == _ISO_WIDTH * count:
        lengths = np.diff(offsets)
        if (lengths == _ISO_WIDTH).all():  # every value ten bytes: a view, no copy
            block = data[offsets[0] : offsets[-1]].reshape(count, _ISO_WIDTH)
            return np.arange(count), block
    fits = np.diff(offsets) == _ISO_WIDTH
    if text.null_count:
        fits &= text.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(fits)
    starts = offsets[:-1][rows]
    if len(data) < 8 or len(rows) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, _ISO_WIDTH), dtype=np.uint8)
    # gather 8 + 2 bytes per value through overlapping views of the data buffer
    head = np.lib.stride_tricks.as_strided(data, (len(data) - 7, 8), (1, 1), writeable=False)
    tail = np.lib.stride_tricks.as_strided(data, (len(data) - 1, 2), (1, 1), writeable=False)
    block = np.concatenate([head[starts], tail[starts + 8]], axis=1)
    return rows, block


def _iso_dates(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The fast path for ``YYYY-MM-DD`` text with a year from 1000 to 9999, by integer arithmetic
    over the UTF-8 bytes: (days since 1970-01-01, which values it read).

    A value it does not read (another shape, spaces, a date that does not exist, a year before
    1000) is left to the general parser, which reads it or reports it.
    """
    count = len(values)
    days = np.zeros(count, dtype=np.int32)
    read = np.zeros(count, dtype=bool)
    rows, block = _iso_bytes(values)
    if not len(rows):
        return days, read
    columns = np.ascontiguousarray(block.T)  # one row per byte position
    digits = columns[_ISO_DIGITS] - np.uint8(48)  # not a digit: above 9
    ok = (digits.max(axis=0) <= 9) & (columns[4] == 45) & (columns[7] == 45)  # "-"
    d = digits.astype(np.int32)
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    month = d[4] * 10 + d[5]
    day = d[6] * 10 + d[7]
    ok &= (year >= _FIRST_YEAR) & (month >= 1) & (month <= 12)
    index = np.where(ok, year - _FIRST_YEAR, 0)
    month = np.where(ok, month, 1)
    leap = _LEAP[index]
    ok &= (day >= 1) & (day <= _MONTH_DAYS[month] + (leap & (month == 2)))
    days[rows] = _YEAR_START[index] + _MONTH_START[month] + (leap & (month > 2)) + day - 1
    read[rows] = ok
    return days, read


def _parse_date_batch(values: pl.Series, *, column: str) -> pl.Series:
    days, fast = _iso_dates(values)
    parsed = pl.Series(values.name, days, dtype=pl.Int32).cast(pl.Date)
    if fast.all():
        return parsed
    slow = pl.Series(~fast)
    found = _parse_general(values.filter(slow), column=column)
    return parsed.scatter(slow.arg_true(), found)


def _parse_general(values: pl.Series, *, column: str) -> pl.Series:
    parsed = pl.repeat(None, len(values), dtype=pl.Date, eager=True)
    for shape, form in _DATE_FORMATS:
        todo = parsed.is_null() & values.is_not_null()
        fits = todo & values.str.contains(shape)
        if fits.any():
            rest = values if fits.all() else values.filter(fits)
            parsed = _fill(parsed, fits, rest.str.to_date(form, strict=False))
    parsed = _before_year_one_is_none(parsed)
    todo = parsed.is_null() & values.is_not_null()
    if not todo.any() or not (todo := todo & _filled(values)).any():
        return parsed
    parsed = _before_year_one_is_none(_fill(parsed, todo, _parse_loose(values.filter(todo))))
    lost = parsed.is_null() & todo
    if lost.any():
        value = _sample(values.filter(lost)[0])
        raise InvalidValueError.in_flight(_NOT_A_DATE, column=column, value=value)
    return parsed


def _before_year_one_is_none(parsed: pl.Series) -> pl.Series:
    """Year 0 and earlier are no calendar date (the proleptic Gregorian calendar starts at 1)."""
    early = parsed.dt.year() < 1
    if not early.any():
        return parsed
    return parsed.zip_with(
        ~early.fill_null(False), pl.repeat(None, len(parsed), dtype=pl.Date, eager=True)
    )


def _date_text_batch(values: pl.Series, *, form: str, column: str) -> pl.Series:
    """Text dates formatted by `form` (``%Y-%m`` or ``%Y``); ISO dates by slicing their text."""
    _, fast = _iso_dates(values)
    width = {"%Y-%m": 7, "%Y": 4}[form]
    cut = values.str.slice(0, width)
    if fast.all():
        return cut
    slow = pl.Series(~fast)
    found = _parse_general(values.filter(slow), column=column).dt.strftime(form)
    return cut.scatter(slow.arg_true(), found)


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

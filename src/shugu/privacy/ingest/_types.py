"""Type inference and conversion: CSV text typed as int64, float64 or text (the rules are in
the package docstring), and Python values (spreadsheet cells, SQL rows) turned into Arrow
values, with `_BAD` for a value that does not fit its column.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_INT_FIRST = r"^-?(0|[1-9][0-9]{0,14})$"  # what makes a column int64
_INT_LATER = r"^-?(0|[1-9][0-9]{0,17})$"  # what an int64 column accepts (fits without loss)
_DECIMAL = r"^-?(0|[1-9][0-9]*)\.[0-9]+$"
_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"  # plain numbers (a float64 column takes any)


def _infer_csv_type(column: pa.ChunkedArray) -> pa.DataType:
    """int64, float64 or string for a column of CSV text (see the package docstring)."""
    values = column.drop_null()
    if len(values) == 0:
        return pa.string()
    digits = pc.binary_length(pc.utf8_ltrim(values, characters="-"))
    is_int = pc.match_substring_regex(values, _INT_FIRST)
    if pc.all(is_int).as_py():
        # every value with 11 or more digits: an identifier (a phone or account number)
        return pa.int64() if pc.min(digits).as_py() <= 10 else pa.string()
    is_decimal = pc.and_(pc.match_substring_regex(values, _DECIMAL), pc.less_equal(digits, 16))
    if pc.all(pc.or_(is_int, is_decimal)).as_py():
        return pa.float64()
    return pa.string()


def _plain_digits(column: pa.Array) -> bool:
    """All values unsigned integers of at most 18 digits, no leading zero (a fast int check)."""
    if not pc.all(pc.fill_null(pc.ascii_is_decimal(column), True)).as_py():
        return False
    lengths = pc.binary_length(column)
    if (pc.max(lengths).as_py() or 0) > 18:
        return False
    return not pc.any(pc.and_(pc.starts_with(column, "0"), pc.greater(lengths, 1))).as_py()


def _float_fits(column: pa.Array) -> np.ndarray:
    """Which values parse as float64: plain decimals at once, the rest one by one."""
    plain = pc.fill_null(pc.match_substring_regex(column, _NUMBER), True)
    fits: np.ndarray = plain.to_numpy(zero_copy_only=False).copy()
    for row in np.flatnonzero(~fits):
        with contextlib.suppress(pa.ArrowInvalid):
            pa.scalar(column[row].as_py()).cast(pa.float64())
            fits[row] = True
    return fits


def _typed_column(column: pa.Array, kind: pa.DataType) -> tuple[pa.Array | None, np.ndarray | None]:
    """`column` (text) cast to `kind`, or (None, which values do not fit)."""
    if kind == pa.string():
        return column, None
    if kind == pa.int64():
        if _plain_digits(column):
            return pc.cast(column, kind), None
        fits = pc.fill_null(pc.match_substring_regex(column, _INT_LATER), True)
        fits = fits.to_numpy(zero_copy_only=False)
    else:
        try:
            return pc.cast(column, kind), None
        except pa.ArrowInvalid:
            fits = _float_fits(column)
    return (pc.cast(column, kind), None) if fits.all() else (None, ~fits)


def _apply_csv_types(
    schema: pa.Schema, batch: pa.RecordBatch
) -> tuple[pa.RecordBatch, list[tuple[int, int]]]:
    """`batch` (all text) cast to `schema` without the rows that do not fit.

    Returns the typed batch and the rows left out as (row, first column that does not fit).
    """
    typed = [_typed_column(batch.column(i), f.type) for i, f in enumerate(schema)]
    masks = [(i, unfit) for i, (_, unfit) in enumerate(typed) if unfit is not None]
    if not masks:
        return pa.RecordBatch.from_arrays([a for a, _ in typed], schema=schema), []
    bad = np.logical_or.reduce([mask for _, mask in masks])
    conflicts = [
        (int(row), next(i for i, mask in masks if mask[row])) for row in np.flatnonzero(bad)
    ]
    keep = pa.array(~bad)
    arrays = [
        pc.filter(array, keep)
        if array is not None
        else pc.cast(pc.filter(batch.column(i), keep), schema.field(i).type)
        for i, (array, _) in enumerate(typed)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema), conflicts


_BAD: Any = object()  # a value that does not fit its column


def _int_value(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return value if -(2**63) <= value < 2**63 else _BAD
    if kind is float:
        return int(value) if value.is_integer() and abs(value) < 2**53 else _BAD
    if kind is Decimal and value.is_finite() and value == value.to_integral_value():
        return _int_value(int(value))
    return _BAD


def _float_value(value: Any) -> Any:
    return float(value) if type(value) in (int, float, Decimal) else _BAD


def _bool_value(value: Any) -> Any:
    if type(value) is bool:
        return value
    return bool(value) if type(value) is int and value in (0, 1) else _BAD


def _date_value(value: Any) -> Any:
    if type(value) is date:
        return value
    if type(value) is datetime and value.tzinfo is None and value.time() == time():
        return value.date()
    return _BAD


def _timestamp_value(value: Any) -> Any:
    if type(value) is datetime:
        return value
    return datetime(value.year, value.month, value.day) if type(value) is date else _BAD


def _decimal_value(value: Any) -> Any:
    if type(value) is Decimal:
        return value
    return Decimal(value) if type(value) is int else _BAD


def _text_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _same_type(kinds: tuple[type, ...]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return value if type(value) in kinds else _BAD

    return convert


def _converter(kind: pa.DataType) -> Callable[[Any], Any]:
    """The function that turns one Python value into a value of `kind` (or `_BAD`)."""
    if pa.types.is_string(kind):
        return _text_value
    if pa.types.is_boolean(kind):
        return _bool_value
    if pa.types.is_integer(kind):
        return _int_value
    if pa.types.is_floating(kind):
        return _float_value
    if pa.types.is_decimal(kind):
        return _decimal_value
    if pa.types.is_timestamp(kind):
        return _timestamp_value
    if pa.types.is_date(kind):
        return _date_value
    if pa.types.is_time(kind):
        return _same_type((time,))
    if pa.types.is_duration(kind):
        return _same_type((timedelta,))
    return _same_type((bytes, bytearray, memoryview))


def _infer_value_type(values: Sequence[Any], *, empty_is_null: bool) -> pa.DataType:
    """The Arrow type of a column of Python values (mixed kinds become text)."""
    present = [v for v in values if v is not None and not (empty_is_null and v == "")]
    kinds = {type(v) for v in present}
    if not kinds or kinds - {bool, int, float, date, datetime, time, timedelta, bytes}:
        return pa.string()
    if kinds == {bool}:
        return pa.bool_()
    if kinds <= {int, float}:
        integral = all(_int_value(v) is not _BAD for v in present)
        return pa.int64() if integral else pa.float64()
    if kinds == {date}:
        return pa.date32()
    if kinds <= {date, datetime}:
        aware = any(getattr(v, "tzinfo", None) is not None for v in present)
        return pa.timestamp("us", tz="UTC" if aware else None)
    single = {time: pa.time64("us"), timedelta: pa.duration("us"), bytes: pa.binary()}
    return single[kinds.pop()] if len(kinds) == 1 and next(iter(kinds)) in single else pa.string()


def _join_row(values: Sequence[object], delimiter: str) -> str:
    """One row as CSV text, for the quarantine file."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow(
        "" if v is None else _text_value(v) for v in values
    )
    return buffer.getvalue()

"""Validators for dates written as digits or with month names, with an optional time."""

from __future__ import annotations

import polars as pl

from shugu.privacy._validators.base import (
    _MONTHS,
    C,
    V,
    _expand,
    _gate,
    _lookup,
    _staged,
    _ymd_valid,
)

_TIME = (
    r"(?:(?:[T\s]+|\s*)[0-9]{1,2}(?::[0-9]{2}|时|点)(?::[0-9]{2}|[0-9]{1,2}分)?"
    r"(?:[.,][0-9]{1,9}|[0-9]{1,2}秒)?"
    r"\s*(?:[AaPp]\.?[Mm]\.?)?\s*(?:Z|[+-][0-9]{2}:?[0-9]{2}|UTC|GMT)?)?$"
)
# (pattern, group numbers of year, month, day, form); "swap": day and month may be either way.
_DATE_FORMS: tuple[tuple[str, tuple[int, int, int], str], ...] = (
    (rf"^([0-9]{{4}})[-/.]([0-9]{{1,2}})[-/.]([0-9]{{1,2}}){_TIME}", (1, 2, 3), "digits"),
    (r"^([0-9]{4})([0-9]{2})([0-9]{2})$", (1, 2, 3), "digits"),
    (
        rf"^([0-9]{{4}})\s*年\s*([0-9]{{1,2}})\s*月\s*([0-9]{{1,2}})\s*[日号]?{_TIME}",
        (1, 2, 3),
        "digits",
    ),
    (rf"^([0-9]{{1,2}})[-/.]([0-9]{{1,2}})[-/.]([0-9]{{4}}){_TIME}", (3, 2, 1), "swap"),
    (
        rf"(?i)^([0-9]{{1,2}})(?:st|nd|rd|th)?[\s-]+({_MONTHS})[a-z]*\.?,?[\s-]+"
        rf"([0-9]{{4}}){_TIME}",
        (3, 2, 1),
        "words",
    ),
    (
        rf"(?i)^(?:[a-z]{{3,9}},?\s+)?({_MONTHS})[a-z]*\.?\s+([0-9]{{1,2}})(?:st|nd|rd|th)?,?\s+"
        rf"([0-9]{{4}}){_TIME}",
        (3, 1, 2),
        "words",
    ),
)


def _date_form(t: pl.Series, pattern: str, order: tuple[int, int, int], form: str) -> pl.Series:
    y, m, d = (C("g").struct.field(str(i)) for i in order)
    if form == "words":
        m = _lookup(m.str.to_lowercase(), "month", None, pl.Int32)
    parts = {k: c.cast(pl.Int32, strict=False) for k, c in zip("ymd", (y, m, d), strict=True)}
    y, m, d = C("y"), C("m"), C("d")
    ok = _ymd_valid(y, m, d)
    ok = ok | _ymd_valid(y, d, m) if form == "swap" else ok
    return _staged(t, [{"g": V.str.extract_groups(pattern)}, parts], ok)[0]


def _date_fixed(t: pl.Series) -> pl.Series:
    """Dates in the fixed-width forms YYYY-MM-DD (also / and .) and YYYYMMDD, by slicing."""
    dashed = V.str.contains(r"^[0-9]{4}[-/.][0-9][0-9][-/.][0-9][0-9]$")
    plain = V.str.contains(r"^[0-9]{8}$")
    parts = {
        "y": V.str.slice(0, 4).cast(pl.Int32, strict=False),
        "m": pl.when(dashed).then(V.str.slice(5, 2)).otherwise(V.str.slice(4, 2)),
        "d": pl.when(dashed).then(V.str.slice(8, 2)).otherwise(V.str.slice(6, 2)),
        "shape": dashed | plain,
    }
    ymd = {"m": C("m").cast(pl.Int32, strict=False), "d": C("d").cast(pl.Int32, strict=False)}
    return _staged(t, [parts, ymd], C("shape") & _ymd_valid(C("y"), C("m"), C("d")))[0]


def _check_date(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(
        s, V.str.contains(r"^(?:[0-9]|[A-Za-z]{3})") & V.str.len_bytes().is_between(8, 40)
    )
    if t.is_empty():
        return mask, None
    ok = _expand(mask, _date_fixed(t))
    todo, rest = _gate(s, pl.lit(mask & ~ok))
    for pattern, order, form in _DATE_FORMS:
        if rest.is_empty():
            break
        found = _expand(todo, _date_form(rest, pattern, order, form))
        ok = ok | found
        todo, rest = _gate(s, pl.lit(todo & ~found))
    return ok, None

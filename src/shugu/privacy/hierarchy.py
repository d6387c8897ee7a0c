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

import string
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.privacy._hierarchy_base import STAR as STAR  # re-exported
from shugu.privacy._hierarchy_base import (
    Hierarchy,
    InvalidValueError,
    Repair,
    _date_text_batch,
    _fingerprint,
    _on,
    ensure_valid,
    is_date_dtype,
    parse_dates,
)
from shugu.privacy._table_hierarchy import TableHierarchy
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
            labels = partial(_date_text_batch, form=_DATE_LEVELS[level], column=column)
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
        return pl.when(category.is_in(every.implode())).then(category)
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

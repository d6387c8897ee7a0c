"""Protection steps, built by `make_*` constructors and chained with `>>` (after opendp).

Each constructor checks its own arguments when called; a step (or chain) then checks itself
against the input schema before any data is read (`output_schema`), and runs as polars
expressions, so a whole chain applies lazily to a batch (`apply_lazy`) or a DataFrame (`apply`).
Nulls stay null in every step.

Pseudonyms: ``make_pseudonymize`` writes the lowercase hex of HMAC-SHA256 over the value's
*normalised text*, cut to `length` hex digits. The normalisation (stable across runs and
versions, and part of the definition of a pseudonym):

1. non-text values are cast to text by polars (integers as decimal digits);
2. Unicode NFKC (full-width ``１２３ＡＢＣ`` becomes ``123ABC``; the ideographic space a space);
3. leading and trailing Unicode White_Space removed (`WHITESPACE`);
4. ASCII letters upper-cased (the ``x`` of a resident ID, an e-mail's letters); other letters
   keep their case, since Unicode case mappings change between versions (Unicode 16 gave
   ``ɤ`` an upper case) and a pseudonym must not;
5. a value that is empty after this becomes null (a blank is missing, not a person).

The HMAC key is the holder key's text (`PseudonymKey.hmac_key()`, UTF-8), the message the
normalised text in UTF-8; `pseudonym()` is the same rule in plain Python, for one value.

Date shifts: ``make_date_shift`` moves every date of one subject by the same number of days,
``int(h[:15], 16) mod (2 * max_days + 1) - max_days`` where ``h`` is the hex HMAC-SHA256 of the
subject's normalised text (as above) under a key derived from the holder key
(`PseudonymKey.derive("date-shift")`), so a published pseudonym reveals nothing about the shift.

>>> import polars as pl
>>> from shugu.privacy.keys import PseudonymKey
from shugu.privacy.labels import CLASSIFICATION, Label
>>> key = PseudonymKey(bytes(32))
>>> chain = make_pseudonymize("id", key=key, length=16) >> make_mask("phone", keep_last=4)
>>> chain.apply(pl.DataFrame({"id": ["a1"], "phone": ["13800138000"]})).row(0)
('9c0dbb8cbfe3b1c6', '*******8000')
"""

from __future__ import annotations

import datetime as dt
import hmac
import string
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl
import polars_hash  # noqa: F401 - registers the `chash` expression namespace

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.privacy.hierarchy import Hierarchy, is_date_dtype, parse_dates
from shugu.privacy.keys import PseudonymKey
from shugu.privacy.labels import CLASSIFICATION, Label

__all__ = [
    "MAX_LENGTH",
    "MAX_SHIFT_DAYS",
    "MIN_LENGTH",
    "PLACEHOLDERS",
    "REDACT_MODES",
    "WHITESPACE",
    "Chain",
    "ColumnStep",
    "Step",
    "make_date_shift",
    "make_drop",
    "make_generalize",
    "make_keep",
    "make_mask",
    "make_pep_encrypt",
    "make_pseudonymize",
    "make_redact",
    "make_suppress",
    "make_top_bottom_code",
    "normalize_text",
    "pseudonym",
    "redactable_labels",
    "shorten_names",
]

MIN_LENGTH = 16
MAX_LENGTH = 64
MAX_SHIFT_DAYS = 36_500
DATE_SHIFT_PURPOSE = "date-shift"
# Unicode White_Space (Unicode 15), spelled out so the rule does not drift with library versions.
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)

_LOWER = list(string.ascii_lowercase)
_UPPER = list(string.ascii_uppercase)
_TO_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

Schema = Mapping[str, pl.DataType]


# -- shared rules --------------------------------------------------------------------------------


def normalize_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """The normalised text pseudonyms and date shifts hash (see the module docstring)."""
    if dtype.is_integer() or dtype == pl.Date:
        return expr.cast(pl.String)  # digits, "-": already normal (and never blank)
    text = expr if dtype == pl.String else expr.cast(pl.String)
    return text.map_batches(_normalize_batch, return_dtype=pl.String, is_elementwise=True)


def _normalize_batch(text: pl.Series) -> pl.Series:
    """Steps 2 to 5 of the normalisation over a batch; NFKC only for the values that need it.

    One Python callback (polars does not share the result of a callback between expressions,
    so the blank test is done here too, not by a `when` that would run it twice).
    """
    # plain ASCII, the fast path: Rust's White_Space trim is `WHITESPACE` on ASCII characters
    clean = text.str.strip_chars().str.to_uppercase()
    wide = (text.str.len_bytes() != text.str.len_chars()).fill_null(False)
    if wide.any():
        rows = wide.arg_true()
        rest = text.gather(rows).str.normalize("NFKC").str.strip_chars(WHITESPACE)
        clean = clean.scatter(rows, rest.str.replace_many(_LOWER, _UPPER))
    blank = clean == ""
    return clean.set(blank, None) if blank.any() else clean


def pseudonym(value: str, key: PseudonymKey, length: int = 32) -> str | None:
    """The pseudonym of one text value, in plain Python (the reference for the vectorised step).

    Agrees with `make_pseudonymize` on every value whose characters Python's Unicode database
    knows (Unicode 14 on Python 3.11); NFKC of characters assigned later may differ.

    >>> pseudonym(" ab ", PseudonymKey(bytes(32))) == pseudonym("AB", PseudonymKey(bytes(32)))
    True
    """
    clean = unicodedata.normalize("NFKC", value).strip(WHITESPACE).translate(_TO_UPPER)
    if not clean:
        return None
    digest = hmac.new(key.hmac_key().encode(), clean.encode(), "sha256").hexdigest()
    return digest[:length]


def _hashed(text: pl.Expr, key: PseudonymKey) -> pl.Expr:
    """Hex HMAC-SHA256 of `text` under `key`, by polars-hash (its `chash` namespace)."""
    namespace: Any = text.chash  # type: ignore[attr-defined]
    result: pl.Expr = namespace.hmac_sha256(key=key.hmac_key())
    return result


def _missing_column(column: str, transform: str, schema: Schema) -> InvalidInputError:
    return InvalidInputError(
        N_("{transform} needs column {column}, which the data lacks (columns: {known})"),
        transform=transform,
        column=column,
        known=shorten_names(list(schema)),
    )


def shorten_names(names: Sequence[str], shown: int = 30) -> str:
    """At most `shown` names, comma-separated ("-" for none)."""
    if not names:
        return "-"
    return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")


def _wrong_dtype(column: str, transform: str, dtype: pl.DataType) -> InvalidInputError:
    return InvalidInputError(
        N_("{transform} cannot apply to column {column} of type {dtype}"),
        transform=transform,
        column=column,
        dtype=str(dtype),
    )


def _check_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(
            N_("{field} must be a non-empty column name, got {value}"), field=field, value=value
        )
    return value


def _check_int(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            N_("{field} must be a whole number from {low} to {high}, got {value}"),
            field=field,
            low=low,
            high=high,
            value=value,
        )
    return value


# -- steps ---------------------------------------------------------------------------------------


class Step(ABC):
    """One protection step (or a chain of them) over a table.

    Attributes:
        columns_in: the input columns the step reads.
    """

    columns_in: frozenset[str]

    @abstractmethod
    def output_schema(self, schema: Schema) -> pl.Schema:
        """The schema after this step; raises `InvalidInputError` if `schema` does not fit."""

    @abstractmethod
    def apply_lazy(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """Add this step to a lazy plan (the schema is checked first; no data is read)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the step does, for the protect report (never a secret)."""

    @property
    def steps(self) -> tuple[Step, ...]:
        """The single steps, in order."""
        return (self,)

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Run the step over a DataFrame."""
        return self.apply_lazy(frame.lazy()).collect()

    def __rshift__(self, other: Step) -> Chain:
        return Chain([*self.steps, *other.steps])


class ColumnStep(Step):
    """A step that rewrites one column with one polars expression."""

    transform: str

    def __init__(self, column: str) -> None:
        self.column = _check_name(column, "column")
        self.columns_in = frozenset({self.column})

    @abstractmethod
    def accepts(self, dtype: pl.DataType) -> bool:
        """True when the step can rewrite a column of `dtype`."""

    @abstractmethod
    def expr(self, schema: Schema) -> pl.Expr:
        """The expression computing the new column (unnamed), for input of `schema`."""

    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """The step's parameters for `describe` (never a secret)."""

    def output_dtype(self, dtype: pl.DataType) -> pl.DataType:
        """The dtype of the rewritten column."""
        return pl.String()

    def check(self, schema: Schema) -> pl.DataType:
        """The column's dtype, after checking it exists and fits."""
        for column in sorted(self.columns_in):
            if column not in schema:
                raise _missing_column(column, self.transform, schema)
        dtype = schema[self.column]
        if not self.accepts(dtype):
            raise _wrong_dtype(self.column, self.transform, dtype)
        return dtype

    def output_schema(self, schema: Schema) -> pl.Schema:
        dtype = self.check(schema)
        out = pl.Schema(schema)
        out[self.column] = self.output_dtype(dtype)
        return out

    def apply_lazy(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        schema = frame.collect_schema()
        self.check(schema)
        return frame.with_columns(self.expr(schema).alias(self.column))

    def describe(self) -> dict[str, Any]:
        return {"column": self.column, "transform": self.transform, "parameters": self.parameters()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


class Chain(Step):
    """Steps run in order, each seeing the previous step's output, except that date shifts run
    first: they key on the subject's value as it comes in, even when a later step pseudonymises
    or drops the subject column (moving them is safe, as no other step reads a date column).

    Raises:
        InvalidInputError: a step reads a column an earlier step dropped, or a date shift comes
            after a step that rewrites its date column.
    """

    def __init__(self, steps: Iterable[Step]) -> None:
        given = [s for step in steps for s in step.steps]
        _check_order(given)
        shifts = [s for s in given if isinstance(s, _DateShift)]
        self._steps = tuple(shifts + [s for s in given if not isinstance(s, _DateShift)])
        self.columns_in = frozenset().union(*(s.columns_in for s in self._steps))

    @property
    def steps(self) -> tuple[Step, ...]:
        return self._steps

    def output_schema(self, schema: Schema) -> pl.Schema:
        out = pl.Schema(schema)
        for step in self._steps:
            out = step.output_schema(out)
        return out

    def apply_lazy(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        self.output_schema(frame.collect_schema())
        for step in self._steps:
            frame = step.apply_lazy(frame)
        return frame

    def describe(self) -> dict[str, Any]:
        return {"transform": "chain", "steps": [s.describe() for s in self._steps]}

    def __repr__(self) -> str:
        return f"Chain({list(self._steps)!r})"


def _check_order(steps: Sequence[Step]) -> None:
    dropped: dict[str, int] = {}
    rewritten: dict[str, int] = {}
    for index, step in enumerate(steps, start=1):
        reads = {step.column} if isinstance(step, _DateShift) else step.columns_in
        gone = sorted(reads & dropped.keys())
        if gone:
            raise InvalidInputError(
                N_("step {step} reads column {column}, which step {earlier} drops"),
                step=index,
                column=gone[0],
                earlier=dropped[gone[0]],
            )
        if isinstance(step, _DateShift) and step.column in rewritten:
            raise InvalidInputError(
                N_(
                    "step {step} shifts the dates in column {column}, which step {earlier}"
                    " rewrites first; put the date shift before it"
                ),
                step=index,
                column=step.column,
                earlier=rewritten[step.column],
            )
        if isinstance(step, _Drop | _Keep):
            dropped.update(dict.fromkeys(step.dropped_names(), index))
        elif isinstance(step, ColumnStep):
            rewritten.setdefault(step.column, index)


class _Pseudonymize(ColumnStep):
    transform = "pseudonymize"

    def __init__(self, column: str, key: PseudonymKey, length: int) -> None:
        super().__init__(column)
        self.key = key
        self.length = length

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype == pl.String or dtype.is_integer() or dtype == pl.Date

    def expr(self, schema: Schema) -> pl.Expr:
        text = normalize_text(pl.col(self.column), schema[self.column])
        return _hashed(text, self.key).str.slice(0, self.length)

    def parameters(self) -> dict[str, Any]:
        return {"length": self.length, "key_holder": self.key.holder, "key_id": self.key.key_id}


class _PepEncrypt(ColumnStep):
    transform = "pep_encrypt"

    def __init__(self, column: str, public_key: bytes) -> None:
        super().__init__(column)
        self.public_key = public_key

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype == pl.String or dtype.is_integer()

    def expr(self, schema: Schema) -> pl.Expr:
        from shugu.pep.group import GroupElement
        from shugu.pep.holder import encrypt_column

        key = GroupElement.from_bytes(self.public_key)
        return pl.col(self.column).map_batches(
            lambda values: encrypt_column(values, key), return_dtype=pl.String
        )

    def parameters(self) -> dict[str, Any]:
        return {"public_key": self.public_key.hex()}


def make_pep_encrypt(column: str, *, public_key: bytes) -> ColumnStep:
    """Encrypt each identifier for polymorphic pseudonymisation (`shugu.pep.holder`).

    Every value becomes the ElGamal encryption, under the space's PEP public key, of its
    normalised identifier hashed to the group (libpep's 88-character base64 text); only a job
    that the transcryptor re-keys for can turn it into a pseudonym. Random per value: the same
    identifier encrypts to different text each time. Nulls stay null.

    Raises:
        InvalidInputError: `public_key` is not a valid 32-byte Ristretto255 point.
    """
    from shugu.pep.group import GroupElement

    GroupElement.from_bytes(public_key)  # checks it now, not when the first batch arrives
    return _PepEncrypt(column, bytes(public_key))


def make_pseudonymize(column: str, *, key: PseudonymKey, length: int = 32) -> ColumnStep:
    """Replace each value by its keyed pseudonym: `length` lowercase hex digits of HMAC-SHA256.

    Equal values (after normalisation, see the module docstring) get equal pseudonyms under one
    key, in every run; another key gives unrelated ones. Reads text, integer or date columns.

    Args:
        column: the column to rewrite.
        key: the holder's pseudonym key.
        length: hex digits kept, 16 to 64 (16 digits = 64 bits; collisions stay negligible up
            to billions of distinct values).
    """
    if not isinstance(key, PseudonymKey):
        raise InvalidInputError(N_("pseudonymize needs a pseudonym key"))
    return _Pseudonymize(column, key, _check_int(length, "length", MIN_LENGTH, MAX_LENGTH))


class _Mask(ColumnStep):
    transform = "mask"

    def __init__(self, column: str, keep_first: int, keep_last: int, char: str) -> None:
        super().__init__(column)
        self.keep_first = keep_first
        self.keep_last = keep_last
        self.char = char

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype == pl.String or dtype.is_integer()

    def expr(self, schema: Schema) -> pl.Expr:
        text = _as_text(pl.col(self.column), schema[self.column])
        size = text.str.len_chars()
        reveal = size > self.keep_first + self.keep_last
        first = pl.when(reveal).then(pl.lit(self.keep_first)).otherwise(pl.lit(0))
        last = pl.when(reveal).then(pl.lit(self.keep_last)).otherwise(pl.lit(0))
        head = text.str.head(first).str.pad_end(size - last, self.char)
        return pl.concat_str([head, text.str.tail(last)])

    def parameters(self) -> dict[str, Any]:
        return {"keep_first": self.keep_first, "keep_last": self.keep_last, "char": self.char}


def make_mask(column: str, keep_first: int = 0, keep_last: int = 0, char: str = "*") -> ColumnStep:
    """Hide a value's characters behind `char`, keeping the first and last few.

    Counts characters, not bytes ("张三丰" with keep_first=1 → "张**"); the length is kept. A
    value no longer than keep_first + keep_last is masked entirely, so a short value is never
    shown whole.
    """
    first = _check_int(keep_first, "keep_first", 0, 1_000)
    last = _check_int(keep_last, "keep_last", 0, 1_000)
    if not isinstance(char, str) or len(char) != 1:
        raise InvalidInputError(
            N_("the mask character must be a single character, got {char}"), char=char
        )
    return _Mask(column, first, last, char)


class _Generalize(ColumnStep):
    transform = "generalize"

    def __init__(self, column: str, hierarchy: Hierarchy, level: int) -> None:
        super().__init__(column)
        self.hierarchy = hierarchy
        self.level = level

    def accepts(self, dtype: pl.DataType) -> bool:
        return self.hierarchy.accepts(dtype)

    def expr(self, schema: Schema) -> pl.Expr:
        return self.hierarchy.expr(self.column, schema[self.column], self.level)

    def output_dtype(self, dtype: pl.DataType) -> pl.DataType:
        return self.hierarchy.output_dtype(dtype, self.level)

    def parameters(self) -> dict[str, Any]:
        return {
            "hierarchy": self.hierarchy.name,
            "level": self.level,
            "hierarchy_fingerprint": self.hierarchy.fingerprint(),
        }


def make_generalize(column: str, hierarchy: Hierarchy, level: int) -> ColumnStep:
    """Replace each value by its value at `level` of `hierarchy` (0 keeps it as it is)."""
    if not isinstance(hierarchy, Hierarchy):
        raise InvalidInputError(N_("generalize needs a hierarchy"))
    hierarchy.check_level(level)
    return _Generalize(column, hierarchy, level)


class _Suppress(ColumnStep):
    transform = "suppress"

    def __init__(
        self, column: str, values: tuple[str, ...] | None, replacement: str | None
    ) -> None:
        super().__init__(column)
        self.values = values
        self.replacement = replacement

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype == pl.String or dtype.is_integer() or self.values is None

    def output_dtype(self, dtype: pl.DataType) -> pl.DataType:
        return dtype if self.replacement is None else pl.String()

    def expr(self, schema: Schema) -> pl.Expr:
        source, dtype = pl.col(self.column), schema[self.column]
        if self.replacement is None:
            hit = (
                source.is_not_null()
                if self.values is None
                else _as_text(source, dtype).is_in(self.values)
            )
            return pl.when(~hit).then(source)
        text = _as_text(source, dtype)
        hit = text.is_not_null() if self.values is None else text.is_in(self.values)
        return pl.when(hit).then(pl.lit(self.replacement)).otherwise(text)

    def parameters(self) -> dict[str, Any]:
        values = None if self.values is None else len(self.values)
        return {"values": values, "replacement": self.replacement}


def _as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return expr if dtype == pl.String else expr.cast(pl.String)


def make_suppress(
    column: str, *, values: Sequence[str | int] | None = None, replacement: str | None = "*"
) -> ColumnStep:
    """Replace every value (values=None) or only the listed ones by `replacement` (None = null).

    Listed values are compared with the column's text form (an integer 7 matches "7"). The
    report gives how many values are listed, not the values themselves.
    """
    listed: tuple[str, ...] | None = None
    if values is not None:
        if isinstance(values, str) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values
        ):
            raise InvalidInputError(
                N_("suppress values must be a list of texts or whole numbers, got {values}"),
                values=repr(values)[:80],
            )
        listed = tuple(str(v) for v in values)
    if replacement is not None and not isinstance(replacement, str):
        raise InvalidInputError(
            N_("the replacement must be text or null, got {replacement}"), replacement=replacement
        )
    return _Suppress(column, listed, replacement)


Bound = int | float | dt.date


class _TopBottomCode(ColumnStep):
    transform = "top_bottom_code"

    def __init__(self, column: str, bottom: Bound | None, top: Bound | None) -> None:
        super().__init__(column)
        self.bottom = bottom
        self.top = top

    def accepts(self, dtype: pl.DataType) -> bool:
        bounds = [b for b in (self.bottom, self.top) if b is not None]
        if dtype.is_integer():
            return all(
                isinstance(b, int) or (isinstance(b, float) and b.is_integer()) for b in bounds
            )
        if dtype.is_float():
            return all(isinstance(b, int | float) for b in bounds)
        if dtype == pl.Date:
            return all(isinstance(b, dt.date) and not isinstance(b, dt.datetime) for b in bounds)
        if isinstance(dtype, pl.Datetime):
            return all(isinstance(b, dt.date) for b in bounds)
        return False

    def output_dtype(self, dtype: pl.DataType) -> pl.DataType:
        return dtype

    def expr(self, schema: Schema) -> pl.Expr:
        dtype = schema[self.column]

        def bound(value: Bound | None) -> pl.Expr | None:
            if value is None:
                return None
            if dtype.is_integer() and isinstance(value, float):
                value = int(value)
            return pl.lit(value).cast(dtype)

        return pl.col(self.column).clip(bound(self.bottom), bound(self.top))

    def parameters(self) -> dict[str, Any]:
        def shown(value: Bound | None) -> Any:
            return value.isoformat() if isinstance(value, dt.date) else value

        return {"bottom": shown(self.bottom), "top": shown(self.top)}


def make_top_bottom_code(
    column: str, *, bottom: Bound | None = None, top: Bound | None = None
) -> ColumnStep:
    """Pull values below `bottom` up to `bottom` and values above `top` down to `top`.

    For numbers (integer columns need whole-number bounds) and dates (date bounds). The column
    keeps its type.
    """
    for name, value in (("bottom", bottom), ("top", top)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float | dt.date)
        ):
            raise InvalidInputError(
                N_("{field} must be a number or a date, got {value}"), field=name, value=value
            )
    if bottom is None and top is None:
        raise InvalidInputError(N_("top_bottom_code needs a bottom, a top, or both"))
    if bottom is not None and top is not None:
        try:
            ordered = bottom <= top  # type: ignore[operator]
        except TypeError:
            ordered = False
        if not ordered:
            raise InvalidInputError(
                N_("bottom {bottom} must not be above top {top} (and both of one kind)"),
                bottom=str(bottom),
                top=str(top),
            )
    return _TopBottomCode(column, bottom, top)


def _text_like(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype.is_integer() or dtype == pl.Date


class _DateShift(ColumnStep):
    transform = "date_shift"

    def __init__(self, column: str, subject: str, key: PseudonymKey, max_days: int) -> None:
        super().__init__(column)
        self.subject = subject
        self.key = key
        self.max_days = max_days
        self.columns_in = frozenset({column, subject})
        self._shift_key = key.derive(DATE_SHIFT_PURPOSE)

    def accepts(self, dtype: pl.DataType) -> bool:
        return is_date_dtype(dtype)

    def output_dtype(self, dtype: pl.DataType) -> pl.DataType:
        return dtype if isinstance(dtype, pl.Datetime) else pl.Date()

    def check(self, schema: Schema) -> pl.DataType:
        dtype = super().check(schema)
        if not _text_like(schema[self.subject]):
            raise _wrong_dtype(self.subject, self.transform, schema[self.subject])
        return dtype

    def shift_days(self, schema: Schema) -> pl.Expr:
        """Each row's shift in days (Int64), null where the subject is null or blank."""
        subject = normalize_text(pl.col(self.subject), schema[self.subject])
        number = _hashed(subject, self._shift_key).str.slice(0, 15).str.to_integer(base=16)
        return number % (2 * self.max_days + 1) - self.max_days

    def expr(self, schema: Schema) -> pl.Expr:
        source = pl.col(self.column)
        if schema[self.column] == pl.String:
            source = parse_dates(source, column=self.column)
        return source + pl.duration(days=self.shift_days(schema))

    def parameters(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "max_days": self.max_days,
            "key_holder": self.key.holder,
            "key_id": self.key.key_id,
        }


def make_date_shift(column: str, *, subject: str, key: PseudonymKey, max_days: int) -> ColumnStep:
    """Move each date by a secret whole number of days in [-max_days, max_days], fixed per subject.

    Every row of one subject (e.g. one patient) moves by the same amount, in every run, so
    intervals within a subject survive. A row whose subject is null or blank gets a null date
    (an unshifted date would leak). Text dates are read as in the date hierarchy and come out
    as dates; Datetime stays Datetime.

    Args:
        column: the date column.
        subject: the column naming whose date it is.
        key: the holder's pseudonym key (a subkey derived from it keys the shift).
        max_days: the largest shift, 1 to 36500.
    """
    if not isinstance(key, PseudonymKey):
        raise InvalidInputError(N_("date_shift needs a pseudonym key"))
    days = _check_int(max_days, "max_days", 1, MAX_SHIFT_DAYS)
    return _DateShift(column, _check_name(subject, "subject"), key, days)


class _Drop(Step):
    """Remove columns."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.columns_in = frozenset(columns)

    def dropped_names(self) -> Iterable[str]:
        return self.columns

    def output_schema(self, schema: Schema) -> pl.Schema:
        for column in self.columns:
            if column not in schema:
                raise _missing_column(column, "drop", schema)
        return pl.Schema({k: v for k, v in schema.items() if k not in self.columns_in})

    def apply_lazy(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        self.output_schema(frame.collect_schema())
        return frame.drop(self.columns)

    def describe(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "transform": "drop", "parameters": {}}

    def __repr__(self) -> str:
        return f"_Drop({list(self.columns)!r})"


class _Keep(_Drop):
    """Keep only the named columns (in their input order); drop every other one."""

    def dropped_names(self) -> Iterable[str]:
        return ()  # unknown until the schema is seen; `_check_order` only tracks named drops

    def output_schema(self, schema: Schema) -> pl.Schema:
        for column in self.columns:
            if column not in schema:
                raise _missing_column(column, "keep", schema)
        return pl.Schema({k: v for k, v in schema.items() if k in self.columns_in})

    def apply_lazy(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.select(list(self.output_schema(frame.collect_schema())))

    def describe(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "transform": "keep", "parameters": {}}

    def __repr__(self) -> str:
        return f"_Keep({list(self.columns)!r})"


def _check_names(columns: Sequence[str], transform: str) -> tuple[str, ...]:
    if isinstance(columns, str):
        columns = [columns]
    names = tuple(_check_name(c, "columns") for c in columns)
    if not names and transform == "drop":
        raise InvalidInputError(N_("drop needs at least one column"))
    if len(set(names)) != len(names):
        raise InvalidInputError(
            N_("{transform} names a column twice: {columns}"),
            transform=transform,
            columns=", ".join(names),
        )
    return names


def make_drop(columns: Sequence[str] | str) -> Step:
    """Remove the named columns (a name or a list of names)."""
    return _Drop(_check_names(columns, "drop"))


def make_keep(columns: Sequence[str]) -> Step:
    """Keep only the named columns, in their input order, and remove all others.

    A profile with ``unlisted = "drop"`` ends with this step.
    """
    return _Keep(_check_names(columns, "keep"))


# -- redaction of identifiers inside free text ---------------------------------------------------

# The typed placeholder written for each label the text finder can find (output data, the same in
# every language, so a protected file does not depend on who ran the step).
PLACEHOLDERS: dict[Label, str] = {
    Label.CN_RESIDENT_ID: "[身份证号]",
    Label.CN_MOBILE: "[手机号]",
    Label.CN_LANDLINE: "[固定电话]",
    Label.BANK_CARD: "[银行卡号]",
    Label.CN_USCC: "[统一社会信用代码]",
    Label.PASSPORT: "[护照号]",
    Label.EMAIL: "[电子邮箱]",
    Label.IP_ADDRESS: "[IP地址]",
    Label.CN_LICENSE_PLATE: "[车牌号]",
    Label.DATE: "[日期]",
    Label.IBAN: "[IBAN]",
    Label.PHONE_E164: "[电话号码]",
}
REDACT_MODES = ("placeholder", "pseudonym")
# Full-width forms of the characters identifier tokens are made of (digits, Latin letters and
# @ + - . _ %), folded before tokens are found, as the scanner folds them; full-width
# punctuation such as ，and ： is left alone.
_WIDE_TOKEN_CHARS = {
    chr(0xFF01 + i): chr(0x21 + i)
    for i in range(0x5E)
    if chr(0x21 + i).isalnum() or chr(0x21 + i) in "@+-._%"
}
_MARKERS = ("\x00", *(chr(c) for c in range(0xE000, 0xE010)))


def redactable_labels() -> list[Label]:
    """The labels `make_redact` can find inside text, in vocabulary order."""
    return [label for label in Label if label in PLACEHOLDERS]


def default_redact_labels() -> tuple[Label, ...]:
    """Every direct-identifier label the text finder can find (the default of `make_redact`)."""
    return tuple(lb for lb in redactable_labels() if CLASSIFICATION[lb].identifier)


def check_redact_labels(labels: Iterable[str] | None) -> tuple[Label, ...]:
    """The labels to redact: `labels` checked (None gives `default_redact_labels`).

    Raises:
        InvalidInputError: an unknown label, one the text finder cannot find, or no label.
    """
    if labels is None:
        return default_redact_labels()
    if isinstance(labels, str):
        labels = [labels]
    known = {str(lb): lb for lb in redactable_labels()}
    chosen: dict[Label, None] = {}
    for name in labels:
        if name not in known:
            raise InvalidInputError(
                N_("redact cannot find label {label} in text (use one of {allowed})"),
                label=str(name),
                allowed=", ".join(known),
            )
        chosen[known[name]] = None
    if not chosen:
        raise InvalidInputError(N_("redact needs at least one label"))
    return tuple(chosen)


class _Redact(ColumnStep):
    transform = "redact"

    def __init__(
        self, column: str, labels: tuple[Label, ...], key: PseudonymKey | None, length: int
    ) -> None:
        super().__init__(column)
        self.labels = labels
        self.key = key
        self.length = length
        self._names = [str(lb) for lb in labels]

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype == pl.String

    def expr(self, schema: Schema) -> pl.Expr:
        return pl.col(self.column).map_batches(
            self._redact_batch, return_dtype=pl.String, is_elementwise=True
        )

    def _redact_batch(self, text: pl.Series) -> pl.Series:
        """Cut every value into gaps and candidate tokens, label the tokens (one vectorised
        pass of the scanner's validators over the whole batch), replace, and join again."""
        from shugu.privacy.detect import TEXT_TOKEN, label_tokens

        if text.is_empty() or text.null_count() == len(text):
            return text
        if text.str.contains("[\uff01-\uff5e]").any():
            text = text.str.replace_many(_WIDE_TOKEN_CHARS)
        marker = next((m for m in _MARKERS if not text.str.contains(m, literal=True).any()), None)
        if marker is None:  # a batch holding NUL and 16 private-use characters
            raise InvalidInputError(
                N_("redact cannot cut column {column}: its text holds every marker character"),
                column=self.column,
            )
        marked = text.str.replace_all(TEXT_TOKEN, f"{marker}${{0}}{marker}")
        parts = (
            pl.DataFrame({"part": marked.str.split(marker, inclusive=False)})
            .with_row_index("row")
            .explode("part")
            .with_columns(pl.int_range(pl.len()).over("row").alias("at"))
        )
        tokens = parts["part"].filter((parts["at"] % 2 == 1).fill_null(False))
        labels = label_tokens(tokens)
        new = self._replacements(tokens, labels)
        token_rows = (parts["at"] % 2 == 1).fill_null(False).arg_true()
        replaced = parts["part"].scatter(token_rows, new)
        joined = (
            parts.with_columns(replaced.alias("part"))
            .group_by("row", maintain_order=True)
            .agg(pl.col("part").str.join(""))
            .sort("row")["part"]
        )
        return joined.set(text.is_null(), None).alias(text.name)

    def _replacements(self, tokens: pl.Series, labels: pl.Series) -> pl.Series:
        """Each token's text after redaction: itself unless its label is redacted."""
        frame = pl.DataFrame({"t": tokens, "l": labels})
        hit = pl.col("l").is_in(self._names).fill_null(False)
        if self.key is None:
            names = [str(lb) for lb in PLACEHOLDERS]
            typed = pl.col("l").replace_strict(names, list(PLACEHOLDERS.values()), default=None)
        else:
            text = normalize_text(pl.col("t"), pl.String())
            typed = _hashed(text, self.key).str.slice(0, self.length)
        return frame.select(pl.when(hit).then(typed).otherwise(pl.col("t")).alias("t"))["t"]

    def parameters(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labels": self._names, "mode": "placeholder"}
        if self.key is not None:
            out.update(
                mode="pseudonym",
                length=self.length,
                key_holder=self.key.holder,
                key_id=self.key.key_id,
            )
        return out


def make_redact(
    column: str,
    *,
    labels: Iterable[str] | None = None,
    mode: str = "placeholder",
    key: PseudonymKey | None = None,
    length: int = 32,
) -> ColumnStep:
    """Replace each identifier found inside a text column, keeping the text around it.

    Identifiers are found as `shugu privacy scan` finds them (`detect.label_tokens` over the
    `detect.TEXT_TOKEN` matches, every check of the label's validator). The step works a batch at
    a time (`map_batches`): the whole batch is cut into tokens and labelled in one vectorised
    pass, with no Python loop over rows. Full-width digits and Latin letters are folded to ASCII
    first (other full-width characters, such as ，, are kept). Nulls stay null.

    Args:
        column: a text column.
        labels: label tokens to redact (default: every direct identifier the finder knows:
            resident IDs, mobiles, bank cards, passports, e-mail, IBAN, E.164 numbers).
        mode: ``placeholder`` writes the label's `PLACEHOLDERS` text (``[身份证号]``);
            ``pseudonym`` writes the keyed pseudonym `make_pseudonymize` would give the same
            value (needs `key`).
        key: the holder's pseudonym key (pseudonym mode only).
        length: pseudonym hex digits, 16 to 64.
    """
    chosen = check_redact_labels(labels)
    if mode not in REDACT_MODES:
        raise InvalidInputError(
            N_("redact mode must be one of {allowed}, got {mode}"),
            allowed=", ".join(REDACT_MODES),
            mode=str(mode),
        )
    if mode == "pseudonym" and not isinstance(key, PseudonymKey):
        raise InvalidInputError(N_("redact in pseudonym mode needs a pseudonym key"))
    size = _check_int(length, "length", MIN_LENGTH, MAX_LENGTH)
    return _Redact(column, chosen, key if mode == "pseudonym" else None, size)

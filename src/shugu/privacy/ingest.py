"""Streaming readers and atomic writers: every table the privacy engine reads or writes.

`open_source` reads CSV/TSV, Parquet, JSON lines, spreadsheets (xlsx via calamine) and SQL tables
as a stream of Arrow record batches of `batch_rows` rows, with the schema known before the first
batch. `open_sink` writes Parquet, CSV, TSV or JSON lines through a temporary file that is renamed
over the target only on commit, so a failed job never leaves a partial output behind.

CSV files are read in bounded memory whatever their size: the raw bytes pass through a line-aware
reader that decodes them (UTF-8, UTF-8 with BOM, GBK or GB18030) and hands pyarrow's streaming
parser validated UTF-8 one block at a time, so a line of undecodable bytes is reported with its
exact line number. Encoding and delimiter are sniffed from the first MiB (a file whose first MiB
is ASCII settles its encoding at the first other byte). Every column is parsed as text, then
typed from the first batch:

- int64 when every value is a plain integer (an optional ``-``, no leading zero, at most 15
  digits) and at least one has at most 10 digits: a column of 11-digit phone numbers or longer
  account numbers stays text, as do ``0101`` and 18-digit resident IDs;
- float64 when every value is a plain integer or decimal of at most 15 digits;
- text otherwise. Empty fields are null.

Later batches must fit: an int64 column takes plain integers of up to 18 digits, a float64 column
anything Arrow parses as a number (``1e5`` and ``nan`` included).

Bad rows are never dropped silently. Line numbers are physical lines of the file (1 = the header;
blank lines and line breaks inside quoted fields counted; quoting is assumed to follow RFC 4180):

- ``bad_bytes``: a line the encoding cannot decode;
- ``ragged_row``: a row with more or fewer fields than the header (JSON lines: a field the first
  rows did not have);
- ``type_conflict``: a later value that does not fit the type inferred from the first batch;
- ``malformed_row``: a JSON line that is not a JSON object.

With `OnBadRow.REJECT` the first one raises `InputFileError` (file, line, column, reason); with
`OnBadRow.QUARANTINE` each bad row is written to a JSON-lines side file
(``<source>.quarantine.jsonl`` by default, mode 0600 since it holds raw personal data; records in
the order found) and reading goes on. Errors that make the whole file unusable (an empty file, a
broken header, an unknown encoding, a row longer than 1 MiB) always raise.

>>> OnBadRow("quarantine") is OnBadRow.QUARANTINE
True
>>> _sniff_delimiter('name;city;"a;b"\\nx;y;z\\n')
';'
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import csv
import io
import json
import os
import re
import sys
import tempfile
import threading
import weakref
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import chain, islice
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol, Self

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import sqlalchemy as sa
from python_calamine import CalamineError, CalamineWorkbook
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, NoSuchTableError, SQLAlchemyError

from shugu.errors import ConflictError, InvalidInputError, NotFoundError, UnavailableError
from shugu.i18n import N_

__all__ = [
    "InputFileError",
    "OnBadRow",
    "Problem",
    "Sink",
    "Source",
    "SourceFormat",
    "SourceInfo",
    "open_sink",
    "open_source",
]

_BLOCK_BYTES = 1 << 20  # unit of reading; pyarrow's CSV block, so also the longest CSV row
_MAX_JSON_LINE = 16 << 20  # the longest JSON line accepted
_SAMPLE_BYTES = 1 << 20  # bytes sniffed for the encoding and the delimiter
_INFER_BYTES = 64 << 20  # at most this much text goes into type inference
_KEEP_PROBLEMS = 10_000  # problems kept in memory; the quarantine file holds all of them
_DELIMITERS = (",", "\t", ";", "|")
_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
_CODEC = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "gbk": "gb18030", "gb18030": "gb18030"}
_INT_FIRST = r"^-?(0|[1-9][0-9]{0,14})$"  # what makes a column int64
_INT_LATER = r"^-?(0|[1-9][0-9]{0,17})$"  # what an int64 column accepts (fits without loss)
_DECIMAL = r"^-?(0|[1-9][0-9]*)\.[0-9]+$"
_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"  # plain numbers (a float64 column takes any)
_QUOTED = re.compile(r'"[^"]*"')
_SQL_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

_MSG_BAD_BYTES = N_(
    "{file}, line {line}: bytes not valid in {encoding} at byte {offset} of the line"
)
_MSG_ENCODING = N_("{file}: cannot tell the encoding; line {line} is not UTF-8, GBK or GB18030")
_MSG_RAGGED = N_("{file}, line {line}: {found} fields where the header has {expected}")
_MSG_CONFLICT = N_("{file}, line {line}, column {column}: {value} does not fit the type {type}")
_MSG_MALFORMED = N_("{file}, line {line}: not a JSON object")
_MSG_UNEXPECTED = N_("{file}, line {line}: field {column} does not appear in the first rows")
_MSG_EMPTY = N_("{file} is empty")
_MSG_DUPLICATE = N_("{file}, line {line}: the column name {column} appears more than once")
_MSG_TOO_LONG = N_("{file}, line {line}: the line is longer than {limit} bytes")
_MSG_ROW_TOO_LONG = N_("{file}: a row after line {after} is longer than {limit} bytes")
_MSG_UNREADABLE = N_("{file} cannot be read as {format}: {detail}")


class SourceFormat(StrEnum):
    """The kinds of table `open_source` reads."""

    CSV = "csv"
    PARQUET = "parquet"
    XLSX = "xlsx"
    JSONL = "jsonl"
    SQL = "sql"


class OnBadRow(StrEnum):
    """What to do with a row that cannot be read faithfully."""

    REJECT = "reject"
    QUARANTINE = "quarantine"


class InputFileError(InvalidInputError):
    """A source breaks its format at a known place.

    Params (also attributes): ``file``, ``line`` (physical line, 1 = header; row ordinal for SQL;
    None when unknown), ``column`` (None when the whole row is at fault), ``reason`` (a token:
    bad_bytes, ragged_row, type_conflict, malformed_row, empty, bad_header, row_too_large,
    unreadable) and ``detail`` (English, for logs and the quarantine file).
    """

    @property
    def file(self) -> str:
        """The file (or database URL without password) the error is about."""
        return str(self.params["file"])

    @property
    def line(self) -> int | None:
        """The physical line, or None."""
        line = self.params.get("line")
        return None if line is None else int(line)

    @property
    def column(self) -> str | None:
        """The column name, or None."""
        column = self.params.get("column")
        return None if column is None else str(column)

    @property
    def reason(self) -> str:
        """The reason token."""
        return str(self.params["reason"])

    @property
    def detail(self) -> str:
        """A short English description of what is wrong."""
        return str(self.params.get("detail", ""))


def _file_error(
    message: str,
    *,
    file: str,
    reason: str,
    detail: str,
    line: int | None = None,
    column: str | None = None,
    **extra: Any,
) -> InputFileError:
    return InputFileError(
        message, file=file, line=line, column=column, reason=reason, detail=detail, **extra
    )


@dataclass(frozen=True, slots=True)
class Problem:
    """One quarantined row: where it is and what is wrong with it."""

    file: str
    line: int | None
    column: str | None
    reason: str
    detail: str

    @classmethod
    def from_error(cls, error: InputFileError) -> Problem:
        """The problem an error describes."""
        return cls(error.file, error.line, error.column, error.reason, error.detail)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What was found out about a source when it was opened.

    Attributes:
        path: the file, or the database URL with its password hidden.
        format: the source format.
        encoding: utf-8, utf-8-sig, gbk or gb18030 for text formats, else None.
        delimiter: the CSV field delimiter, else None.
        columns: the column names, in order.
        size_bytes: the file size, None for SQL.
    """

    path: str
    format: SourceFormat
    encoding: str | None
    delimiter: str | None
    columns: tuple[str, ...]
    size_bytes: int | None


class _Problems:
    """Where bad rows go: raised (reject) or appended to the quarantine file (quarantine)."""

    def __init__(self, mode: OnBadRow, path: Path | None) -> None:
        self.mode = mode
        self.kept: list[Problem] = []
        self.count = 0
        self._lock = threading.Lock()  # bad bytes are found on pyarrow's read-ahead thread
        self._handle: io.TextIOWrapper | None = None
        if mode is OnBadRow.QUARANTINE and path is not None:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except FileNotFoundError as exc:
                raise NotFoundError(
                    N_("folder {folder} not found"), folder=str(path.parent)
                ) from exc
            self._handle = os.fdopen(fd, "w", encoding="utf-8")

    def report(self, error: InputFileError, raw: bytes | str | None) -> None:
        """Raise `error` (reject) or record the bad row and go on (quarantine)."""
        if self.mode is OnBadRow.REJECT:
            raise error
        problem = Problem.from_error(error)
        record: dict[str, Any] = {
            "file": problem.file,
            "line": problem.line,
            "column": problem.column,
            "reason": problem.reason,
            "detail": problem.detail,
        }
        if isinstance(raw, bytes):
            record["raw_hex"] = raw.hex()
        elif raw is not None:
            record["raw"] = raw
        with self._lock:
            self.count += 1
            if len(self.kept) < _KEEP_PROBLEMS:
                self.kept.append(problem)
            if self._handle is not None:
                self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


class _LineShift:
    """Lines left out of a numbering (bad lines, blank lines), to map numbers back.

    Keys are ``line - (entries before it)``: the kept line ``n`` is original line ``n`` plus the
    number of keys ``<= n``. Keys below every future query are folded into a count.
    """

    def __init__(self) -> None:
        self._keys: list[int] = []
        self._start = 0
        self._added = 0
        self._folded = 0
        self._lock = threading.Lock()  # pyarrow's read-ahead thread adds, the reader asks

    def add(self, line: int) -> None:
        """Record that original line `line` is left out (lines arrive in increasing order)."""
        with self._lock:
            self._keys.append(line - self._added)
            self._added += 1

    def restore(self, numbers: np.ndarray) -> np.ndarray:
        """The original line numbers of kept lines `numbers`."""
        with self._lock:
            keys = np.asarray(self._keys[self._start :], dtype=np.int64)
            return numbers + self._folded + np.searchsorted(keys, numbers, side="right")

    def fold_below(self, number: int) -> None:
        """Fold the keys at or below `number`: no later query asks about lines before it."""
        with self._lock:
            end = bisect_right(self._keys, number, lo=self._start)
            self._folded += end - self._start
            self._start = end
            if self._start > 4096:
                del self._keys[: self._start]
                self._start = 0


def _valid_utf8(data: bytes) -> bool:
    """Whether `data` is UTF-8, checked by Arrow (about ten times faster than decoding)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _newlines(data: bytes) -> np.ndarray:
    """Positions of the line feeds in `data`."""
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)


def _decodes(data: bytes, codec: str) -> bool:
    """True when `data` decodes, allowing a character cut off at the end."""
    try:
        codecs.getincrementaldecoder(codec)().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> bool:
    """Clearly UTF-8 text with a few bad bytes (rather than text in a GB encoding)."""
    text = data.decode("utf-8", errors="replace")
    errors = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return non_ascii - errors >= 4 * errors > 0


def _guess_encoding(data: bytes) -> str | None:
    """utf-8, gbk or gb18030 (the spec's order), None when none fits."""
    if _decodes(data, "utf-8") or _mostly_utf8(data):
        return "utf-8"
    for encoding in ("gbk", "gb18030"):
        if _decodes(data, encoding):
            return encoding
    return None


def _encoding_token(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = encoding
    name = {"gb2312": "gbk", "cp936": "gbk"}.get(name, name)
    if name not in _ENCODINGS:
        raise InvalidInputError(
            N_("unsupported encoding {encoding}; expected one of {expected}"),
            encoding=encoding,
            expected=", ".join(_ENCODINGS),
        )
    return name


def _sniff_delimiter(text: str) -> str:
    """The candidate delimiter found the same number of times on most of the first lines."""
    head = "\n".join(text.split("\n", 101)[:100])
    lines = [line for line in _QUOTED.sub("", head).splitlines() if line.strip()]
    best, best_score = ",", (0.0, 0)
    for candidate in _DELIMITERS:
        counts = [line.count(candidate) for line in lines]
        if not counts or counts[0] == 0:
            continue
        score = (sum(c == counts[0] for c in counts) / len(counts), counts[0])
        if score > best_score:
            best, best_score = candidate, score
    return best


class _LineReader(io.RawIOBase):
    """Cuts a byte stream into complete lines and hands on validated UTF-8.

    A line the encoding rejects goes to `on_bad` (as an `InputFileError` with its physical
    line number) and stays out of the stream; `removed` maps stream lines back to physical
    ones. With `csv=True` it also follows RFC 4180 quoting to record the blank lines outside
    quoted fields, which pyarrow skips without counting, in `blanks`; `quotes` says whether any
    quote was seen (else no field can hold a line break). `read` serves pyarrow.
    """

    def __init__(
        self,
        raw: BinaryIO,
        encoding: str,
        *,
        file: str,
        on_bad: Callable[[InputFileError, bytes], None],
        csv: bool,
        settle: bool = False,
        max_line: int = _BLOCK_BYTES,
    ) -> None:
        super().__init__()
        self.encoding = encoding
        self.removed = _LineShift()
        self.blanks = _LineShift()
        self.quotes = False
        self.bytes_in = 0
        self._raw = raw
        self._file = file
        self._on_bad = on_bad
        self._csv = csv
        self._settle = settle
        self._carry = b""
        self._eof = False
        self._lines_in = 0
        self._lines_out = 0
        self._content = False
        self._in_quote = False
        self._line_start = True
        self._pending: deque[memoryview] = deque()
        self._buffered = 0
        self._max_line = max_line

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """At most `size` bytes of whole lines, at least half a block unless at the end."""
        size = sys.maxsize if size < 0 else size
        while self._buffered < min(size, _BLOCK_BYTES // 2) and (chunk := self.next_chunk()):
            self._pending.append(memoryview(chunk[1]))
            self._buffered += len(chunk[1])
        parts: list[memoryview] = []
        need = size
        while need and self._pending:
            piece = self._pending.popleft()
            parts.append(piece[:need])
            if len(piece) > need:
                self._pending.appendleft(piece[need:])
            need -= len(parts[-1])
        out = b"".join(parts)
        if len(out) > 1 and out.endswith(b"\r"):
            # pyarrow drops the \n of a quoted \r\n split across two blocks: keep them together
            self._pending.appendleft(memoryview(b"\r"))
            out = out[:-1]
        self._buffered -= len(out)
        return out

    def next_chunk(self) -> tuple[int, bytes] | None:
        """The next run of complete lines as (first stream line, UTF-8 bytes); None at the end."""
        while (data := self._next_lines()) is not None:
            first, newlines = self._lines_in + 1, _newlines(data)
            self._lines_in += len(newlines)
            out = self._decode(data, first)
            if not out:
                continue
            newlines = newlines if out is data else _newlines(out)
            start = self._lines_out + 1
            if self._csv:
                self._scan(out, newlines, start)
            self._lines_out += len(newlines)
            if not self._content:
                self._content = bool(out.strip())
            return start, out
        return None

    def _next_lines(self) -> bytes | None:
        while not self._eof:
            block = self._raw.read(_BLOCK_BYTES)
            self.bytes_in += len(block)
            if not block:
                self._eof = True
                data, self._carry = self._carry, b""
                return data or None
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                self._carry += block
                if len(self._carry) > self._max_line:
                    raise _file_error(
                        _MSG_TOO_LONG,
                        file=self._file,
                        line=self._lines_in + 1,
                        reason="row_too_large",
                        detail=f"line longer than {self._max_line} bytes",
                        limit=self._max_line,
                    )
                continue
            data = self._carry + block[:cut] if self._carry else block[:cut]
            self._carry = block[cut:]
            return data
        return None

    def _decode(self, data: bytes, first: int) -> bytes:
        """`data` as UTF-8, without its bad lines (reported)."""
        if self._settle and not data.isascii():
            self._settle = False
            self.encoding = _guess_encoding(data) or "utf-8"
        codec = _CODEC[self.encoding]
        if codec == "utf-8" and (data.isascii() or _valid_utf8(data)):
            return data
        view, pieces, pos, line = memoryview(data), [], 0, first
        while pos < len(data):
            try:
                text = str(view[pos:], codec)
            except UnicodeDecodeError as exc:
                bad = pos + exc.start
                start = data.rfind(b"\n", pos, bad) + 1 or pos
                end = data.find(b"\n", bad) + 1 or len(data)
                if start > pos:
                    pieces.append(self._utf8(view[pos:start], codec))
                line += data.count(b"\n", pos, start)
                self._bad_line(line, data[start:end], bad - start, pieces)
                line, pos = line + 1, end
                continue
            pieces.append(data[pos:] if codec == "utf-8" else text.encode("utf-8"))
            break
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    @staticmethod
    def _utf8(view: memoryview, codec: str) -> bytes:
        return bytes(view) if codec == "utf-8" else str(view, codec).encode("utf-8")

    def _bad_line(self, line: int, raw: bytes, offset: int, before: list[bytes]) -> None:
        hex_bytes = raw[offset : offset + 4].hex(" ")
        error = _file_error(
            _MSG_BAD_BYTES,
            file=self._file,
            line=line,
            reason="bad_bytes",
            detail=f"bytes {hex_bytes} not valid in {self.encoding} at byte {offset} of the line",
            encoding=self.encoding,
            offset=offset,
        )
        if self._csv and not self._content and not any(p.strip() for p in before):
            raise error  # the header: nothing can be read without it
        self.removed.add(line)
        self._on_bad(error, raw)

    def _scan(self, out: bytes, newlines: np.ndarray, first: int) -> None:
        """Record the blank lines of `out` that lie outside quoted fields; follow the quoting."""
        arr = np.frombuffer(out, dtype=np.uint8)
        quoted = self._in_quote or b'"' in out
        quotes = int(np.count_nonzero(arr == 34)) if quoted else 0
        self.quotes = self.quotes or quotes > 0
        if len(newlines):
            previous = np.concatenate(([-1 if self._line_start else -3], newlines[:-1]))
            gap = newlines - previous
            blank = np.flatnonzero((gap == 1) | ((gap == 2) & (arr[newlines - 1] == 13)))
            if len(blank) and quoted:  # keep the blank lines outside quoted fields
                before = np.searchsorted(np.flatnonzero(arr == 34), newlines[blank])
                blank = blank[(before + self._in_quote) % 2 == 0]
            for i in blank:
                self.blanks.add(first + int(i))
        self._in_quote = (quotes + self._in_quote) % 2 == 1
        self._line_start = out.endswith(b"\n") and not self._in_quote


class _Reader(Protocol):
    """What each format's reader provides to `Source`."""

    schema: pa.Schema

    def info(self) -> SourceInfo: ...
    def batches(self) -> Iterator[pa.RecordBatch]: ...
    def progress(self) -> tuple[int, int | None]: ...
    def close(self) -> None: ...


def _short(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unreadable(
    file: str, kind: str, exc: BaseException, line: int | None = None
) -> InputFileError:
    detail = str(exc).strip() or type(exc).__name__
    return _file_error(
        _MSG_UNREADABLE, file=file, line=line, reason="unreadable", detail=detail, format=kind
    )


def _column_names(file: str, line: int, values: Sequence[str | None]) -> list[str]:
    """Header cells as column names: empty ones become ``column_<n>``; duplicates are errors."""
    names = [value or f"column_{i}" for i, value in enumerate(values, start=1)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise _file_error(
                _MSG_DUPLICATE,
                file=file,
                line=line,
                column=name,
                reason="bad_header",
                detail=f"column name {name!r} appears more than once",
            )
        seen.add(name)
    return names


def _join_row(values: Sequence[object], delimiter: str) -> str:
    """One row as CSV text, for the quarantine file."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow(
        "" if v is None else _text_value(v) for v in values
    )
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------- CSV


def _infer_csv_type(column: pa.ChunkedArray) -> pa.DataType:
    """int64, float64 or string for a column of CSV text (see the module docstring)."""
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


def _line_breaks(column: pa.Array) -> int:
    """Line breaks in the values of a string column, counted over its data buffer at once."""
    _, offsets, data = column.buffers()
    if data is None or len(column) == 0:
        return 0
    first, last = np.frombuffer(offsets, dtype=np.int32)[
        [column.offset, column.offset + len(column)]
    ]
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8)[first:last] == 10))


def _check_delimiter(delimiter: str) -> str:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise InvalidInputError(
            N_("the delimiter must be one character, not a quote or line break: {delimiter}"),
            delimiter=repr(delimiter),
        )
    return delimiter


_LIVE_PARSERS: weakref.WeakSet[_CsvReader] = weakref.WeakSet()


@atexit.register
def _drop_parsers() -> None:
    """Free pyarrow readers still open at exit: freed later, they abort the interpreter."""
    for reader in list(_LIVE_PARSERS):
        reader.release()


class _CsvReader:
    """CSV through `_LineReader` and pyarrow's streaming parser, with exact line numbers.

    Line bookkeeping: pyarrow numbers records (1 = header) and skips blank lines. A record's
    "dense" line is its first line when blank lines are not counted; `_LineReader.blanks` and
    `.removed` map dense lines to stream lines and stream lines to physical ones. The cursor
    (`_record`, `_dense`) moves over each batch by the rows' spans (1 + quoted line breaks) and
    over the rows pyarrow skipped as ragged.
    """

    def __init__(
        self,
        path: Path,
        problems: _Problems,
        encoding: str | None,
        delimiter: str | None,
        batch_rows: int,
    ) -> None:
        self._file = str(path)
        self._problems = problems
        self._size = path.stat().st_size
        self._skipped: list[tuple[int, str, int, int]] = []
        self._skipped_lock = threading.Lock()
        with ExitStack() as stack:
            raw = stack.enter_context(path.open("rb"))
            stack.callback(self.release)  # before the file closes
            sample = raw.read(_SAMPLE_BYTES)
            if not sample:
                raise _file_error(_MSG_EMPTY, file=self._file, reason="empty", detail="empty file")
            head = sample if self._size <= len(sample) else sample[: sample.rfind(b"\n") + 1]
            token, settle = self._sniff_encoding(head or sample, encoding)
            bom = sample.startswith(codecs.BOM_UTF8) and token.startswith("utf-8")
            token = "utf-8-sig" if bom else token
            text = (head or sample).decode(_CODEC[token], errors="replace").lstrip("\ufeff")
            if delimiter is not None:
                self.delimiter = _check_delimiter(delimiter)
            elif path.suffix.lower() in (".tsv", ".tab"):
                self.delimiter = "\t"
            else:
                self.delimiter = _sniff_delimiter(text)
            raw.seek(3 if bom else 0)
            self._lines = _LineReader(
                raw, token, file=self._file, on_bad=problems.report, csv=True, settle=settle
            )
            self._record, self._dense = 1, 1
            self._parser = self._open_parser(self._count_fields(text))
            _LIVE_PARSERS.add(self)
            self._sample = self._read_head(batch_rows)
            self._stack = stack.pop_all()

    def _sniff_encoding(self, head: bytes, encoding: str | None) -> tuple[str, bool]:
        """The encoding token and whether it is only a guess from ASCII text so far."""
        if encoding is not None:
            return _encoding_token(encoding), False
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", False
        if head.isascii():
            return "utf-8", self._size > len(head)
        guess = _guess_encoding(head)
        if guess is None:
            try:
                head.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = head.count(b"\n", 0, exc.start) + 1
                raise _file_error(
                    _MSG_ENCODING,
                    file=self._file,
                    line=line,
                    reason="bad_bytes",
                    detail="not valid UTF-8, GBK or GB18030",
                ) from exc
        return guess or "utf-8", False

    def _count_fields(self, text: str) -> int:
        """About how many fields a row has (pyarrow needs a type for each column up front)."""
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
        try:
            return max((len(row) for row in rows if row), default=1)
        except csv.Error:
            return max(line.count(self.delimiter) for line in text.splitlines() or [""]) + 1

    def _open_parser(self, fields: int) -> Any:
        text = {f"f{i}": pa.string() for i in range(fields + 64)}
        try:
            return pacsv.open_csv(
                self._lines,
                read_options=pacsv.ReadOptions(
                    block_size=_BLOCK_BYTES, use_threads=False, autogenerate_column_names=True
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=True,
                    invalid_row_handler=self._on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=text,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    null_values=[""],
                    check_utf8=False,
                ),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                raise _file_error(
                    _MSG_EMPTY, file=self._file, reason="empty", detail="no header row"
                ) from exc
            raise _unreadable(self._file, "CSV", exc) from exc

    def _on_invalid(self, row: Any) -> str:
        if row.number is None:
            return "error"
        with self._skipped_lock:
            self._skipped.append((row.number, row.text, row.actual_columns, row.expected_columns))
        return "skip"

    def _next_raw(self) -> pa.RecordBatch | None:
        if self._parser is None:
            raise ConflictError(N_("{file} is already closed"), file=self._file)
        try:
            return self._parser.read_next_batch()
        except StopIteration:
            return None
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise _unreadable(self._file, "CSV", exc) from exc
            after = int(self._physical(np.array([self._dense]))[0]) - 1
            raise _file_error(
                _MSG_ROW_TOO_LONG,
                file=self._file,
                reason="row_too_large",
                detail=f"a row after line {after} is longer than {_BLOCK_BYTES} bytes",
                after=after,
                limit=_BLOCK_BYTES,
            ) from exc

    def _read_head(self, batch_rows: int) -> list[pa.RecordBatch]:
        """Read the header and the rows types are inferred from; set the schema."""
        first = self._next_raw()
        if first is None or first.num_rows == 0:
            raise _file_error(_MSG_EMPTY, file=self._file, reason="empty", detail="no header row")
        if not all(pa.types.is_string(t) for t in first.schema.types):
            raise _unreadable(self._file, "CSV", ValueError("the header row has too many fields"))
        header = [first.column(i)[0].as_py() for i in range(first.num_columns)]
        header_line = int(self._physical(np.array([1]))[0])
        names = _column_names(self._file, header_line, header)
        self._text = pa.schema([(name, pa.string()) for name in names])
        self._record, self._dense = 2, 2 + sum((h or "").count("\n") for h in header)
        sample, rows, size = [first.slice(1)], first.num_rows - 1, first.nbytes
        while rows < batch_rows and size < _INFER_BYTES and (batch := self._next_raw()):
            sample.append(batch)
            rows, size = rows + batch.num_rows, size + batch.nbytes
        table = pa.Table.from_batches([self._as_text(b) for b in sample], self._text)
        table = table.slice(0, batch_rows)  # the first batch
        types = [_infer_csv_type(table.column(i)) for i in range(table.num_columns)]
        self.schema = pa.schema(list(zip(names, types, strict=True)))
        return sample

    def _as_text(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays(batch.columns, schema=self._text)

    def info(self) -> SourceInfo:
        return SourceInfo(
            self._file,
            SourceFormat.CSV,
            self._lines.encoding,
            self.delimiter,
            tuple(self.schema.names),
            self._size,
        )

    def progress(self) -> tuple[int, int | None]:
        return min(self._lines.bytes_in, self._size), self._size

    def release(self) -> None:
        """Free pyarrow's reader (it reads on a thread of its own) while Python still runs."""
        self._parser = None
        self._sample = []

    def close(self) -> None:
        self._stack.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        sample, self._sample = self._sample, []
        for batch in chain(sample, iter(self._next_raw, None)):
            yield self._process(self._as_text(batch))
        self._process(None)  # ragged rows after the last good one

    def _process(self, batch: pa.RecordBatch | None) -> pa.RecordBatch:
        """Type one parsed batch; report its ragged and conflicting rows; move the cursor."""
        if batch is None:
            batch = pa.RecordBatch.from_pylist([], schema=self._text)
            taken = self._take_skipped(0, everything=True)
        else:
            taken = self._take_skipped(batch.num_rows)
        spans = self._spans(batch) if self._lines.quotes else None
        typed, conflicts = _apply_csv_types(self.schema, batch)
        if taken or conflicts:
            self._report(batch, spans, taken, conflicts)
        sizes = [1 + text.count("\n") for _, text, _, _ in taken]
        self._record += batch.num_rows + len(taken)
        self._dense += (batch.num_rows if spans is None else int(spans.sum())) + sum(sizes)
        self._lines.blanks.fold_below(self._dense)
        stream = self._lines.blanks.restore(np.array([self._dense]))
        self._lines.removed.fold_below(int(stream[0]))
        return typed

    def _take_skipped(
        self, rows: int, *, everything: bool = False
    ) -> list[tuple[int, str, int, int]]:
        """The skipped records that fall among the next `rows` rows (or all that are left)."""
        with self._skipped_lock:
            self._skipped.sort()
            end, count = self._record + rows, 0
            for number, *_ in self._skipped:
                if number >= end and not everything:
                    break
                end, count = end + 1, count + 1
            taken, self._skipped = self._skipped[:count], self._skipped[count:]
        return taken

    @staticmethod
    def _spans(batch: pa.RecordBatch) -> np.ndarray | None:
        """Lines each row takes (1 + line breaks in its quoted fields); None if all take one."""
        spans = None
        for column in batch.columns:
            if _line_breaks(column):
                breaks = pc.fill_null(pc.count_substring(column, "\n"), 0)
                spans = (1 if spans is None else spans) + breaks.to_numpy(zero_copy_only=False)
        return spans

    def _physical(self, dense: np.ndarray) -> np.ndarray:
        return self._lines.removed.restore(self._lines.blanks.restore(dense))

    def _report(
        self,
        batch: pa.RecordBatch,
        spans: np.ndarray | None,
        taken: list[tuple[int, str, int, int]],
        conflicts: list[tuple[int, int]],
    ) -> None:
        """Report this batch's bad rows in line order."""
        rows = batch.num_rows + len(taken)
        sizes = np.ones(rows, dtype=np.int64)
        skipped_at = np.array([number - self._record for number, *_ in taken], dtype=np.int64)
        is_row = np.ones(rows, dtype=bool)
        is_row[skipped_at] = False
        if spans is not None:
            sizes[is_row] = spans
        sizes[skipped_at] = [1 + text.count("\n") for _, text, _, _ in taken]
        starts = self._physical(self._dense + np.cumsum(sizes) - sizes)
        found: list[tuple[int, InputFileError, str]] = []
        for (_, text, actual, expected), line in zip(taken, starts[skipped_at], strict=True):
            error = self._ragged(int(line), actual, expected)
            found.append((int(line), error, text))
        row_lines = starts[is_row]
        for row, column in conflicts:
            error = self._conflict(int(row_lines[row]), batch, row, column)
            found.append((error.line or 0, error, self._row_text(batch, row)))
        for _, error, raw in sorted(found, key=lambda item: item[0]):
            self._problems.report(error, raw)

    def _ragged(self, line: int, actual: int, expected: int) -> InputFileError:
        return _file_error(
            _MSG_RAGGED,
            file=self._file,
            line=line,
            reason="ragged_row",
            detail=f"expected {expected} fields, found {actual}",
            found=actual,
            expected=expected,
        )

    def _conflict(self, line: int, batch: pa.RecordBatch, row: int, column: int) -> InputFileError:
        value = _short(batch.column(column)[row].as_py())
        kind = str(self.schema.field(column).type)
        return _file_error(
            _MSG_CONFLICT,
            file=self._file,
            line=line,
            column=self.schema.names[column],
            reason="type_conflict",
            detail=f"value {value!r} does not fit {kind}",
            value=value,
            type=kind,
        )

    def _row_text(self, batch: pa.RecordBatch, row: int) -> str:
        values = [column[row].as_py() for column in batch.columns]
        return _join_row(values, self.delimiter)


# ---------------------------------------------------------------------------------- JSON lines


def _plain_json_type(kind: pa.DataType) -> pa.DataType:
    """The inferred type with timestamps and all-null fields read as text instead."""
    if pa.types.is_timestamp(kind) or pa.types.is_null(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _plain_json_type(f.type)) for f in kind])
    if pa.types.is_list(kind):
        return pa.list_(_plain_json_type(kind.value_type))
    return kind


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class _JsonlReader:
    """JSON lines, one chunk of complete lines at a time; bad lines found by bisection."""

    def __init__(self, path: Path, problems: _Problems, batch_rows: int) -> None:
        self._file = str(path)
        self._problems = problems
        self._size = path.stat().st_size
        with ExitStack() as stack:
            raw = stack.enter_context(path.open("rb"))
            bom = raw.read(3) == codecs.BOM_UTF8
            raw.seek(3 if bom else 0)
            encoding = "utf-8-sig" if bom else "utf-8"
            self._lines = _LineReader(
                raw,
                encoding,
                file=self._file,
                on_bad=problems.report,
                csv=False,
                max_line=_MAX_JSON_LINE,
            )
            self._sample = self._read_sample(batch_rows)
            data = b"".join(data for _, data in self._sample)
            self.schema = self._infer(data.split(b"\n")[:batch_rows])
            self._stack = stack.pop_all()

    def _read_sample(self, rows: int) -> list[tuple[int, bytes]]:
        sample: list[tuple[int, bytes]] = []
        lines = size = 0
        while lines < rows and size < _INFER_BYTES and (chunk := self._lines.next_chunk()):
            sample.append(chunk)
            lines, size = lines + chunk[1].count(b"\n"), size + len(chunk[1])
        return sample

    def _parse(self, data: bytes, schema: pa.Schema | None) -> pa.Table:
        options = (
            pajson.ParseOptions()
            if schema is None
            else pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        )
        return pajson.read_json(
            pa.BufferReader(data),
            read_options=pajson.ReadOptions(block_size=max(len(data), _BLOCK_BYTES) + 1),
            parse_options=options,
        )

    def _parses(self, lines: list[bytes]) -> bool:
        try:
            self._parse(b"\n".join(lines), None)
        except pa.ArrowInvalid:
            return False
        return True

    def _infer(self, lines: list[bytes]) -> pa.Schema:
        """The schema of the longest run of lines that parses together, from the first good one."""
        if not any(line.strip() for line in lines):
            raise _file_error(_MSG_EMPTY, file=self._file, reason="empty", detail="no rows")
        for start, line in enumerate(lines):
            if not line.strip() or not self._parses([line]):
                continue  # a bad line is reported when the rows are read
            good, bad = start + 1, len(lines) + 1
            if self._parses(lines[start:]):
                good = len(lines)
            while bad - good > 1:
                middle = (good + bad) // 2
                good, bad = (middle, bad) if self._parses(lines[start:middle]) else (good, middle)
            table = self._parse(b"\n".join(lines[start:good]), None)
            return pa.schema([pa.field(f.name, _plain_json_type(f.type)) for f in table.schema])
        raise _file_error(
            _MSG_UNREADABLE,
            file=self._file,
            reason="unreadable",
            detail="no line of the first rows is a JSON object",
            format="JSON lines",
        )

    def info(self) -> SourceInfo:
        columns = tuple(self.schema.names)
        return SourceInfo(
            self._file, SourceFormat.JSONL, self._lines.encoding, None, columns, self._size
        )

    def progress(self) -> tuple[int, int | None]:
        return min(self._lines.bytes_in, self._size), self._size

    def close(self) -> None:
        self._stack.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        sample, self._sample = self._sample, []
        for first, data in chain(sample, iter(self._lines.next_chunk, None)):
            for table in self._tables(first, data.split(b"\n"), 0, data.count(b"\n") + 1):
                yield from table.to_batches()

    def _tables(self, first: int, lines: list[bytes], lo: int, hi: int) -> Iterator[pa.Table]:
        """Tables of lines[lo:hi], halving around the lines that do not parse."""
        data = b"\n".join(lines[lo:hi])
        if not data.strip():
            return
        try:
            table = self._parse(data, self.schema)
        except pa.ArrowInvalid as exc:
            if hi - lo == 1:
                self._report(first + lo, lines[lo], exc)
                return
            middle = (lo + hi) // 2
            yield from self._tables(first, lines, lo, middle)
            yield from self._tables(first, lines, middle, hi)
        else:
            yield table

    def _report(self, stream_line: int, raw: bytes, exc: pa.ArrowInvalid) -> None:
        line = int(self._lines.removed.restore(np.array([stream_line]))[0])
        text = raw.decode("utf-8").rstrip("\r")
        self._problems.report(self._classify(line, text, exc), text)

    def _classify(self, line: int, text: str, exc: pa.ArrowInvalid) -> InputFileError:
        """Why one line does not parse: malformed, an unexpected field or a type conflict."""
        where: dict[str, Any] = {"file": self._file, "line": line}
        try:
            value = json.loads(text, parse_constant=_reject_constant)
        except ValueError as error:
            return _file_error(_MSG_MALFORMED, reason="malformed_row", detail=str(error), **where)
        if not isinstance(value, dict):
            detail = "not a JSON object"
            return _file_error(_MSG_MALFORMED, reason="malformed_row", detail=detail, **where)
        for key, item in value.items():
            if key not in self.schema.names:
                detail = f"unexpected field {key!r}"
                return _file_error(
                    _MSG_UNEXPECTED, column=key, reason="ragged_row", detail=detail, **where
                )
            field = self.schema.field(key)
            try:
                self._parse(json.dumps({key: item}).encode(), pa.schema([field]))
            except pa.ArrowInvalid:
                shown, kind = _short(json.dumps(item, ensure_ascii=False)), str(field.type)
                return _file_error(
                    _MSG_CONFLICT,
                    column=key,
                    reason="type_conflict",
                    detail=f"value {shown} does not fit {kind}",
                    value=shown,
                    type=kind,
                    **where,
                )
        return _file_error(_MSG_MALFORMED, reason="malformed_row", detail=str(exc), **where)


# ------------------------------------------------------------------ spreadsheets and SQL rows

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


class _RowBuilder:
    """Record batches from rows of Python values; rows with a value that does not fit go out."""

    def __init__(
        self, file: str, schema: pa.Schema, problems: _Problems, *, empty_is_null: bool
    ) -> None:
        self.schema = schema
        self._file = file
        self._problems = problems
        self._empty_is_null = empty_is_null
        self._convert = [_converter(field.type) for field in schema]

    def build(self, rows: Sequence[Sequence[Any]], lines: list[int]) -> pa.RecordBatch:
        """The batch of `rows` (found at `lines`), less the rows reported as conflicts."""
        width = len(self.schema)
        columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * width
        converted = [self._column(c, f) for c, f in zip(columns, self._convert, strict=True)]
        while True:
            rows, lines, converted = self._drop_bad(rows, lines, converted)
            try:
                arrays = [
                    pa.array(values, type=field.type)
                    for values, field in zip(converted, self.schema, strict=True)
                ]
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                converted = [
                    self._mark_unfit(v, f.type) for v, f in zip(converted, self.schema, strict=True)
                ]
                continue
            return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _column(self, values: list[Any], convert: Callable[[Any], Any]) -> list[Any]:
        empty = self._empty_is_null
        return [None if v is None or (empty and v == "") else convert(v) for v in values]

    @staticmethod
    def _mark_unfit(values: list[Any], kind: pa.DataType) -> list[Any]:
        def fits(value: Any) -> bool:
            try:
                pa.array([value], type=kind)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                return False
            return True

        try:
            pa.array(values, type=kind)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return [v if fits(v) else _BAD for v in values]
        return values

    def _drop_bad(
        self, rows: Sequence[Sequence[Any]], lines: list[int], converted: list[list[Any]]
    ) -> tuple[Sequence[Sequence[Any]], list[int], list[list[Any]]]:
        bad: dict[int, int] = {}
        for index, values in enumerate(converted):
            for row in (i for i, v in enumerate(values) if v is _BAD):
                bad.setdefault(row, index)
        if not bad:
            return rows, lines, converted
        for row in sorted(bad):
            field = self.schema.field(bad[row])
            value = _short(rows[row][bad[row]])
            error = _file_error(
                _MSG_CONFLICT,
                file=self._file,
                line=lines[row],
                column=field.name,
                reason="type_conflict",
                detail=f"value {value!r} does not fit {field.type}",
                value=value,
                type=str(field.type),
            )
            self._problems.report(error, _join_row(rows[row], ","))
        keep = [i for i in range(len(rows)) if i not in bad]
        return (
            [rows[i] for i in keep],
            [lines[i] for i in keep],
            [[values[i] for i in keep] for values in converted],
        )


class _SheetReader:
    """The first (or the named) sheet of a spreadsheet; the first non-empty row is the header."""

    def __init__(
        self, path: Path, problems: _Problems, sheet: str | int | None, batch_rows: int
    ) -> None:
        self._file = str(path)
        self._size = path.stat().st_size
        self._batch_rows = batch_rows
        self._done = 0
        self._rows: Iterator[tuple[int, list[Any]]] = iter(())
        self._sample: list[tuple[int, list[Any]]] = []
        try:
            self._book = CalamineWorkbook.from_path(str(path))
        except CalamineError as exc:
            raise _unreadable(self._file, "a spreadsheet", exc) from exc
        try:
            self.schema = self._read_head(self._worksheet(sheet), batch_rows)
        except BaseException:
            self._book.close()
            raise
        self._builder = _RowBuilder(self._file, self.schema, problems, empty_is_null=True)

    def _read_head(self, worksheet: Any, batch_rows: int) -> pa.Schema:
        """Find the header, read the rows types are inferred from, return the schema."""
        rows = (
            (line, row)
            for line, row in enumerate(worksheet.iter_rows(), start=1)
            if any(v != "" for v in row)
        )
        header_line, header = next(rows, (0, []))
        if not header:
            raise _file_error(_MSG_EMPTY, file=self._file, reason="empty", detail="no header row")
        names = _column_names(
            self._file, header_line, [None if v == "" else _text_value(v) for v in header]
        )
        width = len(names)
        self._total = max(worksheet.height - header_line + worksheet.start[0], 0)
        self._rows = ((line, (row + [""] * width)[:width]) for line, row in rows)
        self._sample = list(islice(self._rows, batch_rows))
        columns = list(zip(*(row for _, row in self._sample), strict=True)) or [()] * width
        types = [_infer_value_type(column, empty_is_null=True) for column in columns]
        return pa.schema(list(zip(names, types, strict=True)))

    def _worksheet(self, sheet: str | int | None) -> Any:
        try:
            if isinstance(sheet, str):
                return self._book.get_sheet_by_name(sheet)
            return self._book.get_sheet_by_index(sheet or 0)
        except (CalamineError, IndexError) as exc:
            raise NotFoundError(
                N_("sheet {sheet} not found in {file}; its sheets are: {sheets}"),
                sheet=str(sheet),
                file=self._file,
                sheets=", ".join(self._book.sheet_names),
            ) from exc

    def info(self) -> SourceInfo:
        columns = tuple(self.schema.names)
        return SourceInfo(self._file, SourceFormat.XLSX, None, None, columns, self._size)

    def progress(self) -> tuple[int, int | None]:
        return self._done, self._total

    def close(self) -> None:
        self._book.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        rows = chain(self._sample, self._rows)
        self._sample = []
        while chunk := list(islice(rows, self._batch_rows)):
            self._done += len(chunk)
            yield self._builder.build([row for _, row in chunk], [line for line, _ in chunk])


def _sql_arrow_type(kind: sa.types.TypeEngine[Any]) -> pa.DataType | None:
    """The Arrow type for a declared SQL column type; None to infer it from the values."""
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.Numeric):
        precision, scale = kind.precision, kind.scale
        if precision is not None and scale is not None and 0 < precision <= 38:
            return pa.decimal128(precision, scale)
        return pa.float64()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if kind.timezone else None)
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, sa.Time):
        return pa.time64("us")
    if isinstance(kind, sa.Interval):
        return pa.duration("us")
    if isinstance(kind, sa.LargeBinary | sa.BINARY | sa.VARBINARY):
        return pa.binary()
    if isinstance(kind, sa.String | sa.JSON):
        return pa.string()
    return None


class _SqlReader:
    """A table behind a SQLAlchemy URL, streamed with a server-side cursor."""

    def __init__(self, url: str, table: str | None, problems: _Problems, batch_rows: int) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise InvalidInputError(
                N_("{url} is not a database URL: {detail}"), url=url, detail=str(exc)
            ) from exc
        self._url = parsed.render_as_string(hide_password=True)
        if not table:
            raise InvalidInputError(N_("a SQL source needs a table name (table=...)"))
        database = parsed.database or ""
        local = database not in ("", ":memory:") and not database.startswith("file:")
        if parsed.get_backend_name() == "sqlite" and local and not Path(database).is_file():
            raise NotFoundError(N_("file {file} not found"), file=database)
        self._done = 0
        with ExitStack() as stack:
            try:
                engine = sa.create_engine(parsed)
            except (NoSuchModuleError, ArgumentError) as exc:
                raise InvalidInputError(
                    N_("{url} is not a database URL: {detail}"), url=self._url, detail=str(exc)
                ) from exc
            stack.callback(engine.dispose)
            with self._translate():
                columns = self._reflect(engine, table)
                connection = stack.enter_context(engine.connect())
                statement = sa.select(columns).order_by(*columns.primary_key.columns)
                result = connection.execution_options(
                    stream_results=True, yield_per=batch_rows
                ).execute(statement)
                self._parts = result.partitions()
            first = self._next_part()
            types = [
                _sql_arrow_type(column.type)
                or _infer_value_type([row[i] for row in first], empty_is_null=False)
                for i, column in enumerate(columns.columns)
            ]
            self.schema = pa.schema(list(zip(columns.columns.keys(), types, strict=True)))
            self._first = first
            self._builder = _RowBuilder(self._url, self.schema, problems, empty_is_null=False)
            self._stack = stack.pop_all()

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise UnavailableError(
                N_("the database {url} cannot be reached: {detail}"),
                url=self._url,
                detail=str(exc.orig),
            ) from exc
        except sa.exc.DBAPIError as exc:
            raise _unreadable(self._url, "a SQL table", exc.orig or exc) from exc

    def _reflect(self, engine: sa.Engine, table: str) -> sa.Table:
        schema, _, name = table.rpartition(".")
        try:
            return sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
        except NoSuchTableError as exc:
            raise NotFoundError(
                N_("table {table} not found in {url}"), table=table, url=self._url
            ) from exc

    def _next_part(self) -> list[Sequence[Any]]:
        try:
            with self._translate():
                return list(next(self._parts, []))
        except (SQLAlchemyError, ValueError) as exc:
            raise _unreadable(self._url, "a SQL table", exc, line=self._done + 1) from exc

    def info(self) -> SourceInfo:
        columns = tuple(self.schema.names)
        return SourceInfo(self._url, SourceFormat.SQL, None, None, columns, None)

    def progress(self) -> tuple[int, int | None]:
        return self._done, None

    def close(self) -> None:
        self._stack.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        part, self._first = self._first, []
        while part:
            lines = list(range(self._done + 1, self._done + len(part) + 1))
            self._done += len(part)
            yield self._builder.build(part, lines)
            part = self._next_part()


class _ParquetReader:
    """A Parquet file, row group by row group."""

    def __init__(self, path: Path, batch_rows: int) -> None:
        self._file = str(path)
        self._batch_rows = batch_rows
        self._done = 0
        try:
            self._parquet = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(self._file, "Parquet", exc) from exc
        self.schema = self._parquet.schema_arrow
        self._total = self._parquet.metadata.num_rows
        self._size = path.stat().st_size

    def info(self) -> SourceInfo:
        columns = tuple(self.schema.names)
        return SourceInfo(self._file, SourceFormat.PARQUET, None, None, columns, self._size)

    def progress(self) -> tuple[int, int | None]:
        return self._done, self._total

    def close(self) -> None:
        self._parquet.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        batches = self._parquet.iter_batches(batch_size=self._batch_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as exc:
                raise _unreadable(self._file, "Parquet", exc) from exc
            self._done += batch.num_rows
            yield batch


# -------------------------------------------------------------------------------- the source


def _rebatch(
    batches: Iterable[pa.RecordBatch], rows: int, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Batches of exactly `rows` rows (the last one may be shorter); empty ones dropped."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == rows and not pending:
            yield batch
            continue
        if batch.num_rows:
            pending.append(batch)
            count += batch.num_rows
        if count >= rows:
            table = pa.Table.from_batches(pending, schema).combine_chunks()
            full = count - count % rows
            yield from table.slice(0, full).to_batches(max_chunksize=rows)
            pending = table.slice(full).to_batches() if count > full else []
            count -= full
    if pending:
        yield pa.Table.from_batches(pending, schema).combine_chunks().to_batches()[0]


class Source:
    """An open table: its schema before any row is read, then its rows as record batches.

    Use it as a context manager (or call `close`). `batches` can be iterated once.

    Attributes:
        info: what was found out about the source (the encoding of a CSV file whose first MiB
            is ASCII is settled when the first other byte is read).
        schema: the Arrow schema every batch has.
        problems: the bad rows quarantined so far (the first 10,000; the quarantine file has all).
        quarantined: how many rows were quarantined so far.
    """

    def __init__(self, reader: _Reader, problems: _Problems, batch_rows: int) -> None:
        self._reader = reader
        self._problems = problems
        self._batch_rows = batch_rows
        self._started = False
        self._closed = False
        self.schema: pa.Schema = reader.schema

    @property
    def info(self) -> SourceInfo:
        """What was found out about the source."""
        return self._reader.info()

    @property
    def problems(self) -> list[Problem]:
        """The bad rows quarantined so far (at most the first 10,000)."""
        return self._problems.kept

    @property
    def quarantined(self) -> int:
        """How many rows were quarantined so far."""
        return self._problems.count

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, `batch_rows` at a time (the last batch may be shorter).

        Raises:
            InputFileError: a bad row when bad rows are rejected, or a broken file.
            ConflictError: the batches were already asked for.
        """
        if self._started:
            raise ConflictError(
                N_("the rows of {file} can be read only once"), file=self._reader.info().path
            )
        self._started = True
        return _rebatch(self._reader.batches(), self._batch_rows, self.schema)

    def progress(self) -> tuple[int, int | None]:
        """(bytes or rows read so far, the total or None) for a progress bar."""
        return self._reader.progress()

    def close(self) -> None:
        """Release the file or connection and finish the quarantine file (once)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._reader.close()
        finally:
            self._problems.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


_SUFFIXES = {
    ".csv": SourceFormat.CSV,
    ".tsv": SourceFormat.CSV,
    ".tab": SourceFormat.CSV,
    ".txt": SourceFormat.CSV,
    ".parquet": SourceFormat.PARQUET,
    ".pq": SourceFormat.PARQUET,
    ".jsonl": SourceFormat.JSONL,
    ".ndjson": SourceFormat.JSONL,
    ".xlsx": SourceFormat.XLSX,
    ".xlsm": SourceFormat.XLSX,
    ".xlsb": SourceFormat.XLSX,
    ".xls": SourceFormat.XLSX,
    ".ods": SourceFormat.XLSX,
}


def _source_format(source: str | Path, given: SourceFormat | str | None) -> SourceFormat:
    if given is not None:
        return SourceFormat(given)
    if isinstance(source, str) and _SQL_URL.match(source):
        return SourceFormat.SQL
    suffix = Path(source).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InvalidInputError(
            N_("unknown file type {suffix} for {file}; expected one of {expected}"),
            suffix=suffix or "(none)",
            file=str(source),
            expected=", ".join(_SUFFIXES),
        )
    return _SUFFIXES[suffix]


def _existing_file(path: Path) -> Path:
    if not path.exists():
        raise NotFoundError(N_("file {file} not found"), file=str(path))
    if not path.is_file():
        raise InvalidInputError(N_("{file} is not a file"), file=str(path))
    return path


def open_source(
    source: str | Path,
    *,
    format: SourceFormat | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    on_bad_row: OnBadRow = OnBadRow.REJECT,
    quarantine: Path | None = None,
    table: str | None = None,
    sheet: str | int | None = None,
    batch_rows: int = 65_536,
) -> Source:
    """Open a table for streaming.

    Args:
        source: a file path, or a SQLAlchemy URL (``sqlite:///x.db``, ``postgresql+psycopg://...``).
        format: the format; by default from the suffix (.csv .tsv .tab .txt, .parquet .pq,
            .jsonl .ndjson, .xlsx .xlsm .xlsb .xls .ods) or SQL for a URL.
        encoding: CSV only: utf-8, utf-8-sig, gbk or gb18030 (aliases such as cp936 accepted);
            sniffed when None. GBK text is decoded with the GB18030 codec (a superset that
            agrees on every GBK sequence).
        delimiter: CSV only: one character; by default tab for .tsv/.tab, else sniffed among
            comma, tab, semicolon and pipe.
        on_bad_row: reject (raise on the first bad row) or quarantine (set it aside, go on).
        quarantine: the quarantine file; default ``<source>.quarantine.jsonl`` (required for SQL).
        table: SQL only: the table, optionally ``schema.table``.
        sheet: spreadsheets only: a sheet name or 0-based index (default the first sheet).
        batch_rows: rows per batch, also the rows types are inferred from.

    Raises:
        NotFoundError: the file, table or sheet does not exist.
        InvalidInputError: an unknown suffix or a bad argument; `InputFileError` when the file
            itself is broken (empty, bad header, unknown encoding) or, with reject, has a bad
            row among the first batch.
        UnavailableError: the database cannot be reached.
    """
    if batch_rows < 1:
        raise InvalidInputError(
            N_("batch_rows must be at least 1, not {batch_rows}"), batch_rows=batch_rows
        )
    mode = OnBadRow(on_bad_row)
    kind = _source_format(source, format)
    if kind is SourceFormat.SQL:
        if mode is OnBadRow.QUARANTINE and quarantine is None:
            raise InvalidInputError(N_("a SQL source needs a quarantine file (quarantine=...)"))
        problems = _Problems(mode, quarantine)
        return _open(
            problems, batch_rows, lambda: _SqlReader(str(source), table, problems, batch_rows)
        )
    path = _existing_file(Path(source))
    side = Path(quarantine) if quarantine else path.with_name(path.name + ".quarantine.jsonl")
    problems = _Problems(mode, side)
    readers: dict[SourceFormat, Callable[[], _Reader]] = {
        SourceFormat.CSV: lambda: _CsvReader(path, problems, encoding, delimiter, batch_rows),
        SourceFormat.JSONL: lambda: _JsonlReader(path, problems, batch_rows),
        SourceFormat.XLSX: lambda: _SheetReader(path, problems, sheet, batch_rows),
        SourceFormat.PARQUET: lambda: _ParquetReader(path, batch_rows),
    }
    return _open(problems, batch_rows, readers[kind])


def _open(problems: _Problems, batch_rows: int, build: Callable[[], _Reader]) -> Source:
    try:
        reader = build()
    except BaseException:
        problems.close()
        raise
    return Source(reader, problems, batch_rows)


# ---------------------------------------------------------------------------------- the sink


class _Writer(Protocol):
    def write(self, data: pa.RecordBatch | pa.Table) -> None: ...
    def close(self) -> None: ...


class _ParquetWriter:
    def __init__(self, path: str, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        if isinstance(data, pa.RecordBatch):
            self._writer.write_batch(data)
        else:
            self._writer.write_table(data)

    def close(self) -> None:
        self._writer.close()


class _CsvWriter:
    def __init__(self, path: str, schema: pa.Schema, delimiter: str) -> None:
        options = pacsv.WriteOptions(include_header=True, delimiter=delimiter)
        self._writer = pacsv.CSVWriter(path, schema, write_options=options)

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        self._writer.write(data)

    def close(self) -> None:
        self._writer.close()


class _JsonlWriter:
    def __init__(self, path: str) -> None:
        self._handle = Path(path).open("wb")  # noqa: SIM115 - closed in close()

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        frame = pl.from_arrow(data)
        assert isinstance(frame, pl.DataFrame)
        frame.write_ndjson(self._handle)

    def close(self) -> None:
        self._handle.close()


_SINK_SUFFIXES = {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Sink:
    """An output table written to a temporary file next to it and renamed into place on commit.

    As a context manager it commits when the block ends normally and aborts (removing the
    temporary file, leaving any existing output untouched) when it raises. The output file is
    created with mode 0600.

    Attributes:
        path: the output file.
        schema: the schema every batch must have (batches whose columns have the same names and
            castable types are cast to it).
        format: parquet, csv, tsv or jsonl.
        rows: rows written so far.
    """

    def __init__(self, path: Path, schema: pa.Schema, format: str) -> None:
        self.path = path
        self.schema = schema
        self.format = format
        self.rows = 0
        if format in ("csv", "tsv"):
            for field in schema:
                if pa.types.is_nested(field.type):
                    raise InvalidInputError(
                        N_("column {column} of type {type} cannot be written to {format}"),
                        column=field.name,
                        type=str(field.type),
                        format=format.upper(),
                    )
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.close(fd)
        self._temporary = Path(temporary)
        self._cleanup = weakref.finalize(self, _unlink, self._temporary)
        self._closed = False
        try:
            self._writer = self._open_writer(temporary)
        except BaseException:
            self._cleanup()
            raise

    def _open_writer(self, temporary: str) -> _Writer:
        if self.format == "parquet":
            return _ParquetWriter(temporary, self.schema)
        if self.format == "jsonl":
            return _JsonlWriter(temporary)
        return _CsvWriter(temporary, self.schema, "\t" if self.format == "tsv" else ",")

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append rows.

        Raises:
            InvalidInputError: the batch does not match the schema.
            ConflictError: the sink was already committed or aborted.
        """
        self._check_open()
        self._writer.write(self._conform(batch))
        self.rows += batch.num_rows

    def _conform(self, batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
        if batch.schema.equals(self.schema):
            return batch
        detail = f"got {batch.schema.names}, expected {self.schema.names}"
        if batch.schema.names == self.schema.names:
            try:
                return batch.cast(self.schema)
            except (pa.ArrowException, TypeError, ValueError) as exc:
                detail = str(exc)
        raise InvalidInputError(
            N_("the batch does not match the output schema of {file}: {detail}"),
            file=str(self.path),
            detail=detail,
        )

    def commit(self) -> None:
        """Finish the file and rename it over `path` (atomically, then synced to disk)."""
        self._check_open()
        self._closed = True
        try:
            self._writer.close()
            _fsync(self._temporary)
            self._temporary.replace(self.path)
        except BaseException:
            self._cleanup()
            raise
        self._cleanup.detach()
        with contextlib.suppress(OSError):
            _fsync(self.path.parent)

    def abort(self) -> None:
        """Drop what was written; `path` is left as it was. Does nothing once closed."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._writer.close()
        self._cleanup()

    def _check_open(self) -> None:
        if self._closed:
            raise ConflictError(
                N_("the output {file} is already committed or aborted"), file=str(self.path)
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def open_sink(path: Path, schema: pa.Schema, *, format: str | None = None) -> Sink:
    """Open an output table; the format comes from the suffix (.parquet .csv .tsv .jsonl).

    Raises:
        InvalidInputError: an unknown format, a folder as path, or a type CSV cannot hold.
        NotFoundError: the folder does not exist.
    """
    path = Path(path)
    kind = format or _SINK_SUFFIXES.get(path.suffix.lower())
    if kind not in _SINK_SUFFIXES.values():
        raise InvalidInputError(
            N_("unknown output type {suffix} for {file}; expected one of {expected}"),
            suffix=format or path.suffix or "(none)",
            file=str(path),
            expected=", ".join(_SINK_SUFFIXES),
        )
    if not path.parent.is_dir():
        raise NotFoundError(N_("folder {folder} not found"), folder=str(path.parent))
    if path.is_dir():
        raise InvalidInputError(N_("{file} is not a file"), file=str(path))
    return Sink(path, schema, str(kind))

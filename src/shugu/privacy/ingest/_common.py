"""What every reader shares: the formats, the bad-row policy, `InputFileError`, `Problem`,
`SourceInfo`, the messages, and `_Problems`, which raises bad rows or writes them to the
quarantine file.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_

_INFER_BYTES = 64 << 20  # at most this much text goes into type inference
_KEEP_PROBLEMS = 10_000  # problems kept in memory; the quarantine file holds all of them

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

"""`Source` and `open_source`: pick the reader for a file or URL and stream its rows."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import pyarrow as pa

from shugu.errors import ConflictError, InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.privacy.ingest._common import (
    OnBadRow,
    Problem,
    SourceFormat,
    SourceInfo,
    _Problems,
    _Reader,
)
from shugu.privacy.ingest._csv import _CsvReader
from shugu.privacy.ingest._jsonl import _JsonlReader
from shugu.privacy.ingest._parquet import _ParquetReader
from shugu.privacy.ingest._rows import _SheetReader, _SqlReader

__all__ = ["Source", "open_source"]

_SQL_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


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

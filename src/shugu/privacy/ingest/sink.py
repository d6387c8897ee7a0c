"""`Sink` and `open_sink`: output tables written to a temporary file and renamed on commit."""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, cast

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shugu.errors import ConflictError, InvalidInputError, NotFoundError
from shugu.i18n import N_

__all__ = ["Sink", "open_sink"]


class _Writer(Protocol):
    def write(self, data: pa.RecordBatch | pa.Table) -> None: ...
    def close(self) -> None: ...


_MOSTLY_DISTINCT = 0.5
"""A column whose first batch is more than this share distinct values gets no dictionary."""


def _mostly_distinct(column: pa.ChunkedArray | pa.Array) -> bool:
    present: int = len(column) - column.null_count
    distinct: int = pc.count_distinct(column).as_py()
    return present > 0 and distinct > _MOSTLY_DISTINCT * present


class _ParquetWriter:
    """zstd Parquet; the encodings are chosen per column from the first batch written.

    A dictionary only pays for columns that repeat: for mostly distinct ones (pseudonyms,
    amounts) the writer would build one per page and then fall back to plain. Mostly distinct
    text is written DELTA_LENGTH_BYTE_ARRAY (all lengths, then all bytes): cheaper to compress
    and smaller than plain, and a standard encoding every Parquet reader knows.
    """

    def __init__(self, path: str, schema: pa.Schema) -> None:
        self._path = path
        self._schema = schema
        self._writer: pq.ParquetWriter | None = None

    def _open(self, data: pa.RecordBatch | pa.Table | None) -> pq.ParquetWriter:
        dictionary: list[str] = []
        encoding: dict[str, str] = {}
        for index, field in enumerate(self._schema):
            kind = field.type
            distinct = data is not None and not pa.types.is_nested(kind)
            if not (distinct and data is not None and _mostly_distinct(data.column(index))):
                dictionary.append(field.name)
            elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
                encoding[field.name] = "DELTA_LENGTH_BYTE_ARRAY"
        return pq.ParquetWriter(
            self._path,
            self._schema,
            compression="zstd",
            use_dictionary=dictionary,
            column_encoding=encoding or None,
        )

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        if self._writer is None:
            self._writer = self._open(data)
        if isinstance(data, pa.RecordBatch):
            self._writer.write_batch(data)
        else:
            self._writer.write_table(data)

    def close(self) -> None:
        if self._writer is None:
            self._writer = self._open(None)
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
        frame = cast(pl.DataFrame, pl.from_arrow(data))  # a batch or table gives a frame
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

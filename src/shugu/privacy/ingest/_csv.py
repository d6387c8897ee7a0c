"""CSV and TSV: delimiter sniffing and `_CsvReader`, pyarrow's streaming parser fed by
`_LineReader`, with exact physical line numbers for every bad row.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import io
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from shugu.errors import ConflictError, InvalidInputError
from shugu.i18n import N_
from shugu.privacy.ingest import _lines  # `_lines._BLOCK_BYTES` read through it: tests shrink it
from shugu.privacy.ingest._common import (
    _INFER_BYTES,
    _MSG_CONFLICT,
    _MSG_EMPTY,
    _MSG_ENCODING,
    _MSG_RAGGED,
    _MSG_ROW_TOO_LONG,
    InputFileError,
    SourceFormat,
    SourceInfo,
    _column_names,
    _file_error,
    _Problems,
    _short,
    _unreadable,
)
from shugu.privacy.ingest._lines import _CODEC, _encoding_token, _guess_encoding, _LineReader
from shugu.privacy.ingest._types import _apply_csv_types, _infer_csv_type, _join_row

_SAMPLE_BYTES = 1 << 20  # bytes sniffed for the encoding and the delimiter
_DELIMITERS = (",", "\t", ";", "|")
_QUOTED = re.compile(r'"[^"]*"')


def _sniff_delimiter(text: str) -> str:
    """The candidate delimiter found the same number of times on most of the first lines.

    >>> _sniff_delimiter('name;city;"a;b"\\nx;y;z\\n')
    ';'
    """
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
                    block_size=_lines._BLOCK_BYTES,
                    use_threads=False,
                    autogenerate_column_names=True,
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
                detail=f"a row after line {after} is longer than {_lines._BLOCK_BYTES} bytes",
                after=after,
                limit=_lines._BLOCK_BYTES,
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

"""JSON lines: `_JsonlReader` parses chunks of whole lines with pyarrow and finds the bad lines
by bisection.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from shugu.privacy.ingest import _lines  # `_lines._BLOCK_BYTES` read through it: tests shrink it
from shugu.privacy.ingest._common import (
    _INFER_BYTES,
    _MSG_CONFLICT,
    _MSG_EMPTY,
    _MSG_MALFORMED,
    _MSG_UNEXPECTED,
    _MSG_UNREADABLE,
    InputFileError,
    SourceFormat,
    SourceInfo,
    _file_error,
    _Problems,
    _short,
)
from shugu.privacy.ingest._lines import _LineReader

_MAX_JSON_LINE = 16 << 20  # the longest JSON line accepted


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
            read_options=pajson.ReadOptions(block_size=max(len(data), _lines._BLOCK_BYTES) + 1),
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

"""Tables read as rows of Python values: spreadsheets (calamine) and SQL tables (SQLAlchemy),
turned into record batches by `_RowBuilder`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from python_calamine import CalamineError, CalamineWorkbook
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, NoSuchTableError, SQLAlchemyError

from shugu.errors import InvalidInputError, NotFoundError, UnavailableError
from shugu.i18n import N_
from shugu.privacy.ingest._common import (
    _MSG_CONFLICT,
    _MSG_EMPTY,
    SourceFormat,
    SourceInfo,
    _column_names,
    _file_error,
    _Problems,
    _short,
    _unreadable,
)
from shugu.privacy.ingest._types import _BAD, _converter, _infer_value_type, _join_row, _text_value


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

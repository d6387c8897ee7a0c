"""Parquet: `_ParquetReader` hands on pyarrow's batches as they are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shugu.privacy.ingest._common import SourceFormat, SourceInfo, _unreadable


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

"""`protect`: stream a source through a protection profile into a protected file, with a report.

The profile is checked against the source's columns before any row is read; the output is written
to a temporary file and only renamed into place when every row went through, so a failure leaves
no output behind. The report says what was done to each column (never with key material), how many
rows went in and out, which hierarchy registry (by fingerprint) and which holder's key were used,
and the SHA-256 of the output file.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl
import pyarrow as pa

from shugu.privacy.hierarchy import HierarchyRegistry
from shugu.privacy.ingest import Problem, Source, open_sink
from shugu.privacy.keys import PseudonymKey
from shugu.privacy.profile import Profile

__all__ = ["ProtectReport", "protect_source"]

Progress = Callable[[int, int | None], None]

READ_AHEAD = 2
"""Batches the reader thread may parse ahead of the transform."""
WRITE_BEHIND = 2
"""Transformed batches that may wait for the writer thread."""


def _read_ahead(batches: Iterator[pa.RecordBatch], *, depth: int) -> Iterator[pa.RecordBatch]:
    """Iterate `batches` on a helper thread, at most `depth` ahead; errors are re-raised here."""
    slots: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(None)  # the end
        except BaseException as error:  # handed to the consumer, which re-raises it
            slots.put(error)

    thread = threading.Thread(target=produce, name="shugu-protect-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


@dataclass(frozen=True, slots=True)
class ProtectReport:
    """What `protect` did."""

    source: str
    output: str
    output_sha256: str
    profile: str
    rows_in: int
    rows_out: int
    quarantined: int
    steps: list[dict[str, Any]]
    columns_out: list[str]
    registry_fingerprint: str
    key_holder: str | None
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        return {
            "source": self.source,
            "output": self.output,
            "output_sha256": self.output_sha256,
            "profile": self.profile,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "quarantined": self.quarantined,
            "steps": self.steps,
            "columns_out": self.columns_out,
            "hierarchy_registry": self.registry_fingerprint,
            "key_holder": self.key_holder,
        }


def _empty_frame(schema: pa.Schema) -> pl.DataFrame:
    return cast(pl.DataFrame, pl.from_arrow(schema.empty_table()))  # a table gives a frame


def protect_source(
    source: Source,
    profile: Profile,
    out: Path,
    *,
    registry: HierarchyRegistry,
    key: PseudonymKey | None,
    key_holder: str | None = None,
    pep_public_key: bytes | None = None,
    output_format: str | None = None,
    progress: Progress | None = None,
) -> ProtectReport:
    """Apply `profile` to every row of `source` and write the result to `out`.

    Raises:
        InvalidInputError: the profile names a column the source lacks, needs a key that was not
            given, or a value cannot be transformed (nothing is written).
    """
    profile.check_columns(list(source.info.columns))
    chain = profile.build(registry, key, pep_public_key)
    out_schema = chain.apply(_empty_frame(source.schema)).to_arrow().schema
    # The empty frame fixes the output types; every batch is cast to them.
    rows_in = rows_out = 0
    # Three stages overlap on separate threads (parsing, transforming and encoding all release
    # the GIL): the reader runs ahead by a few batches and one writer thread keeps the output in
    # order. Any error stops the run and the sink removes its temporary file.
    with (
        open_sink(out, out_schema, format=output_format) as sink,
        ThreadPoolExecutor(1, thread_name_prefix="shugu-protect-writer") as writer,
    ):
        pending: list[Future[None]] = []
        for batch in _read_ahead(source.batches(), depth=READ_AHEAD):
            rows_in += batch.num_rows
            frame = cast(pl.DataFrame, pl.from_arrow(batch))  # a record batch gives a frame
            result = chain.apply(frame).to_arrow().cast(out_schema)
            rows_out += result.num_rows
            pending.append(writer.submit(sink.write, result))
            while len(pending) > WRITE_BEHIND or (pending and pending[0].done()):
                pending.pop(0).result()
            if progress is not None:
                progress(*source.progress())
        for future in pending:
            future.result()
    return ProtectReport(
        source=source.info.path,
        output=str(out),
        output_sha256=_sha256(out),
        profile=profile.name,
        rows_in=rows_in,
        rows_out=rows_out,
        quarantined=source.quarantined,
        steps=list(chain.describe()["steps"]),
        columns_out=list(out_schema.names),
        registry_fingerprint=registry.fingerprint(),
        key_holder=key_holder,
        problems=list(source.problems),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def report_text(report: ProtectReport) -> str:
    """The report as indented JSON (for a side file next to the output)."""
    return json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n"

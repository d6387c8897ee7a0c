"""`scan`: stream a source, detect what each column holds, classify it and grade the dataset.

Every row is read (so the row count is exact and every malformed row is reported); detection looks
at the first `sample_rows` values of each column, or at all of them with `full=True`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shugu.privacy.detect import ColumnDetector, ColumnVerdict
from shugu.privacy.grading import Catalogue, ColumnGrade, DatasetGrade, load_catalogue
from shugu.privacy.ingest import Problem, Source

__all__ = ["DEFAULT_SAMPLE_ROWS", "ScanColumn", "ScanReport", "scan_source"]

DEFAULT_SAMPLE_ROWS = 10_000

Progress = Callable[[int, int | None], None]
"""Called after each batch with (done, total) in the source's progress unit (bytes or rows)."""


@dataclass(frozen=True, slots=True)
class ScanColumn:
    """What one column holds and how it is classified."""

    verdict: ColumnVerdict
    grade: ColumnGrade

    def to_json(self) -> dict[str, Any]:
        """The column as the `--json` output names it."""
        v = self.verdict
        return {
            "name": v.name,
            "label": None if v.label is None else str(v.label),
            "confidence": round(v.confidence, 4),
            "rows_checked": v.rows_checked,
            "rows_valid": v.rows_valid,
            "personal": self.grade.personal,
            "sensitive": self.grade.sensitive,
            "gdpr_special": self.grade.gdpr_special,
            "level": self.grade.level,
            "grade_reasons": list(self.grade.reasons),
            "labels_in_text": {str(k): n for k, n in sorted(v.labels_in_text.items())},
        }


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The result of scanning one source."""

    source: str
    format: str
    encoding: str | None
    rows: int
    columns: list[ScanColumn]
    dataset: DatasetGrade
    full: bool
    quarantined: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON object (the `--json` contract of `shugu privacy scan`)."""
        return {
            "columns": [c.to_json() for c in self.columns],
            "dataset": {
                "grade": str(self.dataset.grade),
                "level": self.dataset.level,
                "catalogue": self.dataset.catalogue,
                "escalated_by": list(self.dataset.reasons),
                "rows": self.rows,
                "encoding": self.encoding,
                "format": self.format,
                "full_pass": self.full,
                "quarantined": self.quarantined,
            },
        }


def scan_source(
    source: Source,
    *,
    full: bool = False,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    catalogue: Catalogue | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Scan an open source to the end and report on each column.

    Args:
        source: from `ingest.open_source`; its bad-row policy applies while reading.
        full: check every value instead of the first `sample_rows` of each column.
        sample_rows: values per column to check when not `full`.
        catalogue: grading catalogue (default: `default`).
        progress: called after every batch.
    """
    catalogue = catalogue or load_catalogue("default")
    names = list(source.info.columns)
    detectors = [ColumnDetector(n, sample_rows=None if full else sample_rows) for n in names]
    rows = 0
    for batch in source.batches():
        rows += batch.num_rows
        for index, detector in enumerate(detectors):
            if not detector.done:
                detector.update(batch.column(index))
        if progress is not None:
            progress(*source.progress())
    columns = []
    for detector in detectors:
        verdict = detector.verdict()
        columns.append(
            ScanColumn(verdict, ColumnGrade.of(verdict.label, catalogue, verdict.labels_in_text))
        )
    return ScanReport(
        source=source.info.path,
        format=str(source.info.format),
        encoding=source.info.encoding,
        rows=rows,
        columns=columns,
        dataset=catalogue.grade([c.grade for c in columns], rows),
        full=full,
        quarantined=source.quarantined,
        problems=list(source.problems),
    )

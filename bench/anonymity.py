"""The anonymity benchmark: optimal k-anonymity, l-diversity and t-closeness on Adult, next to
ARX 3.9.2's medians measured beside shugu.

    uv run --frozen python -m bench.anonymity            # 7 repetitions of every run
    uv run --frozen python -m bench.anonymity --reps 3

The four reference runs are those of ../shared/data/adult/README.md (all 9 columns as
quasi-identifiers, k = 5); ARX's medians are those of issue 11: ARX 3.9.2 rebuilt from its
source and timed beside shugu on one core of this project's 2-core test machine in one session,
the JVM warmed up, data loading not timed (this command does not run ARX). Ours is `search_ms`:
the search alone, in this process, after the table is loaded and encoded, pinned to one core.
The l-diversity and t-closeness runs (salary-class sensitive, the other 8 columns
quasi-identifiers) have no ARX figure. Each figure is the median of the repetitions; the table is
printed as Markdown and the record written to ``bench/results/anonymity-<date>.json`` (every
repetition, the load average before and after).
"""

from __future__ import annotations

import os

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {0})

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from shugu.privacy.anonymity import (
    DistinctLDiversity,
    EntropyLDiversity,
    EqualDistanceTCloseness,
    HierarchicalTCloseness,
    KAnonymity,
    PrivacyModel,
    RecursiveCLDiversity,
    anonymize,
    read_hierarchies,
)

RESULTS = Path(__file__).parent / "results"
ADULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adult"
QI = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
    "salary-class",
]
SENSITIVE = "salary-class"
QI8 = [c for c in QI if c != SENSITIVE]


@dataclass(frozen=True)
class Run:
    """One configuration; `arx_ms` is ARX's median search time and `expected` its information
    loss."""

    name: str
    models: list[PrivacyModel]
    suppression: float
    metric: str
    qi: list[str] = field(default_factory=lambda: QI)
    sensitive: str | None = None
    arx_ms: float | None = None
    expected: float | None = None


def _k5(*extra: PrivacyModel) -> list[PrivacyModel]:
    return [KAnonymity(5), *extra]


RUNS = [
    Run("k=5, entropy, 4 %", _k5(), 0.04, "entropy", arx_ms=723, expected=255559.85),
    Run("k=5, entropy, 0 %", _k5(), 0.0, "entropy", arx_ms=25.3, expected=407289.54),
    Run("k=5, loss, 0 %", _k5(), 0.0, "loss", arx_ms=45.9, expected=0.57315097),
    Run("k=5, loss, 4 %", _k5(), 0.04, "loss", arx_ms=766, expected=0.26611082),
    Run(
        "k=5 + distinct 2-diversity, loss, 0 %",
        _k5(DistinctLDiversity(2)),
        0.0,
        "loss",
        QI8,
        SENSITIVE,
    ),
    Run(
        "k=5 + distinct 2-diversity, loss, 4 %",
        _k5(DistinctLDiversity(2)),
        0.04,
        "loss",
        QI8,
        SENSITIVE,
    ),
    Run(
        "k=5 + entropy 1.5-diversity, entropy, 4 %",
        _k5(EntropyLDiversity(1.5)),
        0.04,
        "entropy",
        QI8,
        SENSITIVE,
    ),
    Run(
        "k=5 + recursive (4,2)-diversity, loss, 4 %",
        _k5(RecursiveCLDiversity(4, 2)),
        0.04,
        "loss",
        QI8,
        SENSITIVE,
    ),
    Run(
        "k=5 + 0.15-closeness (equal), loss, 0 %",
        _k5(EqualDistanceTCloseness(0.15)),
        0.0,
        "loss",
        QI8,
        SENSITIVE,
    ),
    Run(
        "k=5 + 0.15-closeness (hierarchical), entropy, 4 %",
        _k5(HierarchicalTCloseness(0.15)),
        0.04,
        "entropy",
        QI8,
        SENSITIVE,
    ),
]


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, fixed arguments
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _measure(
    run: Run, frame: pl.DataFrame, hierarchies: dict[str, Any], reps: int
) -> dict[str, Any]:
    searches, totals = [], []
    result = None
    for _ in range(reps):
        started = time.perf_counter()
        result = anonymize(
            frame,
            run.qi,
            hierarchies,
            models=run.models,
            sensitive=run.sensitive,
            suppression=run.suppression,
            metric=run.metric,
        )
        totals.append((time.perf_counter() - started) * 1000)
        searches.append(result.search_ms)
    assert result is not None
    median = statistics.median(searches)
    record: dict[str, Any] = {
        "run": run.name,
        "models": [repr(m) for m in run.models],
        "sensitive": run.sensitive,
        "suppression": run.suppression,
        "metric": run.metric,
        "search_ms": searches,
        "search_ms_median": median,
        "anonymize_ms_median": statistics.median(totals),
        "transformation": result.transformation,
        "information_loss": result.information_loss,
        "information_loss_relative": result.information_loss_relative,
        "suppressed": result.suppressed,
        "equivalence_classes": result.equivalence_classes,
        "nodes_checked": result.nodes_checked,
        "arx_median_ms": run.arx_ms,
        "arx_information_loss": run.expected,
    }
    if run.expected is not None:
        record["same_loss_6_digits"] = f"{result.information_loss:.6g}" == f"{run.expected:.6g}"
    if run.arx_ms is not None:
        record["ratio_to_arx"] = median / run.arx_ms
    return record


def _table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| run | ours: search ms (median) | ARX 3.9.2 median ms | ratio | loss "
        "| same loss (6 digits) | transformation | suppressed | nodes checked |",
        "|---|---:|---:|---:|---:|:-:|---|---:|---:|",
    ]
    for r in records:
        arx = r["arx_median_ms"]
        arx_text = f"{arx:,.1f}" if arx else "—"
        ratio = f"{r['ratio_to_arx']:.2f}" if arx else "—"
        same = {True: "yes", False: "NO", None: "—"}[r.get("same_loss_6_digits")]
        levels = ",".join(str(v) for v in r["transformation"].values())
        lines.append(
            f"| {r['run']} | {r['search_ms_median']:,.1f} | {arx_text} | {ratio} "
            f"| {r['information_loss']:.8g} | {same} | [{levels}] | {r['suppressed']:,} "
            f"| {r['nodes_checked']:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=7, help="repetitions per run (default 7)")
    args = parser.parse_args(argv)
    if not (ADULT / "adult.csv").is_file():
        sys.exit(f"the Adult data set is not at {ADULT}")
    frame = pl.read_csv(ADULT / "adult.csv", separator=";", infer_schema=False)
    hierarchies = read_hierarchies(ADULT)
    load_before = os.getloadavg()
    records = []
    for run in RUNS:
        print(f"{run.name} ...", file=sys.stderr, flush=True)
        anonymize(
            frame,
            run.qi,
            hierarchies,
            models=run.models,
            sensitive=run.sensitive,
            suppression=run.suppression,
            metric=run.metric,
        )  # warm-up
        records.append(_measure(run, frame, hierarchies, args.reps))
    load_after = os.getloadavg()
    print(_table(records))
    print(
        f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
        f"{args.reps} repetitions, one core; ratio = ours / ARX (issue 11's medians)"
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC)
    out = RESULTS / f"anonymity-{stamp:%Y-%m-%d}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "anonymity",
                "when": stamp.isoformat(),
                "commit": _git_commit(),
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                    "polars": pl.__version__,
                    "cpus": os.cpu_count(),
                    "pinned_to": sorted(os.sched_getaffinity(0))
                    if hasattr(os, "sched_getaffinity")
                    else None,
                },
                "load_average_before": load_before,
                "load_average_after": load_after,
                "reps": args.reps,
                "data": str(ADULT),
                "runs": records,
            },
            indent=2,
            default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o),
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwritten to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

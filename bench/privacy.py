"""The privacy engine benchmark: pseudonyms, generalisation, scan and protect, each next to a
baseline measured in the same run.

    uv run python -m bench.privacy            # full: protect on a 10-million-row file (~5 min)
    uv run python -m bench.privacy --quick    # 1-million-row files (~1 min)

Per-core figures: the process pins itself to one CPU before polars starts (and polars' pool to
one thread), so every number is what one core does. Each figure is the median of several
repetitions; the table is printed as Markdown and written to ``bench/results/privacy-<date>.json``.
"""

from __future__ import annotations

import os

ALL_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
os.environ.setdefault("POLARS_MAX_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse
import hashlib
import hmac
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import polars_hash  # noqa: F401
import pyarrow as pa

from bench.privacy_data import COLUMNS, frame, write_csv
from shugu.privacy.hierarchy import HierarchyRegistry
from shugu.privacy.ingest import open_source
from shugu.privacy.keys import PseudonymKey
from shugu.privacy.scan import scan_source
from shugu.privacy.transforms import make_pseudonymize

RESULTS = Path(__file__).parent / "results"
PROFILE = """
[profile]
name = "bench-clinic"
unlisted = "keep"

[[steps]]
column = "patient_id"
transform = "pseudonymize"

[[steps]]
column = "name"
transform = "drop"

[[steps]]
column = "mobile"
transform = "mask"
keep_first = 3
keep_last = 2

[[steps]]
column = "email"
transform = "pseudonymize"

[[steps]]
column = "birth_date"
transform = "generalize"
hierarchy = "date"
level = 2

[[steps]]
column = "age"
transform = "generalize"
hierarchy = "age"
level = 1

[[steps]]
column = "region"
transform = "generalize"
hierarchy = "region"
level = 1

[[steps]]
column = "diagnosis"
transform = "generalize"
hierarchy = "icd10"
level = 1

[[steps]]
column = "visit_date"
transform = "date_shift"
subject = "patient_id"
max_days = 30

[[steps]]
column = "amount"
transform = "top_bottom_code"
top = 5000

[[steps]]
column = "notes"
transform = "drop"
"""


@dataclass(frozen=True, slots=True)
class Result:
    """One measured figure and its same-run baseline."""

    measure: str
    unit: str
    value: float
    reps: list[float]
    baseline_name: str = ""
    baseline: float | None = None
    target: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value >= self.target


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def rate(count: int, work: Callable[[], object], reps: int) -> list[float]:
    """Items per second of `work` over `reps` runs."""
    rates = []
    for _ in range(reps):
        start = time.perf_counter()
        work()
        rates.append(count / (time.perf_counter() - start))
    return rates


# -- pseudonyms ---------------------------------------------------------------------------------


def bench_pseudonyms(rows: int, reps: int) -> list[Result]:
    ids = frame(rows).select("patient_id")
    key = PseudonymKey.generate(holder="bench")
    step = make_pseudonymize("patient_id", key=key)
    shugu = rate(rows, lambda: step.apply(ids), reps)
    bare = rate(
        rows,
        lambda: ids.select(pl.col("patient_id").chash.hmac_sha256(key=key.hmac_key())),
        reps,
    )
    sample = ids["patient_id"].head(min(rows, 500_000)).to_list()
    secret = key.hmac_key().encode()

    def loop() -> list[str]:
        return [hmac.new(secret, v.encode(), hashlib.sha256).hexdigest()[:32] for v in sample]

    python = rate(len(sample), loop, reps)
    say(
        f"pseudonyms: shugu {statistics.median(shugu):,.0f}/s, "
        f"Python loop {statistics.median(python):,.0f}/s"
    )
    return [
        Result(
            "keyed pseudonymisation (make_pseudonymize, HMAC-SHA256, normalised, one core)",
            "rows/s",
            statistics.median(shugu),
            shugu,
            "Python hmac loop",
            statistics.median(python),
            2_500_000,
        ),
        Result(
            "bare polars-hash HMAC-SHA256, no normalisation (physical reference)",
            "rows/s",
            statistics.median(bare),
            bare,
            "Python hmac loop",
            statistics.median(python),
        ),
    ]


# -- generalisation -----------------------------------------------------------------------------


def bench_generalisation(rows: int, reps: int) -> list[Result]:
    data = frame(rows).select("age", "region", "birth_date", "diagnosis")
    registry = HierarchyRegistry.builtin()
    cases = [
        ("age", "age", 1),
        ("region", "region", 1),
        ("birth_date", "date", 1),
        ("diagnosis", "icd10", 2),
    ]
    results = []
    for column, name, level in cases:
        hierarchy = registry.get(name)
        values = data[column]
        ours = rate(rows, lambda h=hierarchy, v=values, lv=level: h.generalize(v, lv), reps)
        sample = values.head(min(rows, 500_000)).to_list()
        python = rate(
            len(sample), lambda s=sample, n=name, lv=level: _python_generalize(n, s, lv), reps
        )
        say(
            f"generalise {name}: {statistics.median(ours):,.0f}/s, "
            f"Python {statistics.median(python):,.0f}/s"
        )
        results.append(
            Result(
                f"generalisation by hierarchy: {name} level {level} (one core)",
                "values/s",
                statistics.median(ours),
                ours,
                "Python loop",
                statistics.median(python),
                10_000_000,
            )
        )
    return results


def _python_generalize(name: str, values: list[Any], level: int) -> list[Any]:
    """The same generalisation one value at a time (the baseline)."""
    if name == "age":
        return [None if v is None else f"{v // 5 * 5}-{v // 5 * 5 + 4}" for v in values]
    if name == "region":
        return [None if v is None else v[:4] + "00" for v in values]
    if name == "date":
        return [None if v is None else v[:7] for v in values]
    chapters = {}
    out = []
    for v in values:
        category = v[:3]
        if category not in chapters:
            from shugu.privacy.reference import icd10_chapter_of

            found = icd10_chapter_of(category)
            chapters[category] = found.chapter if found else None
        out.append(chapters[category])
    return out


# -- scan -----------------------------------------------------------------------------------------


_ID = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _python_scan(path: Path, limit: int) -> int:
    """A per-cell Python check of every value (resident-ID shape + check digit, mobile, email)."""
    import csv

    cells = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for number, row in enumerate(reader):
            if number >= limit:
                break
            for value in row:
                cells += 1
                if _ID.match(value):
                    total = sum(int(c) * w for c, w in zip(value, _WEIGHTS, strict=False))
                    _ = "10X98765432"[total % 11] == value[-1]
                elif value.isdigit() and len(value) == 11:
                    _ = value[:3]
                elif "@" in value:
                    _ = value.split("@")
    return cells


def bench_scan(path: Path, rows: int, reps: int) -> list[Result]:
    cells = rows * len(COLUMNS)

    def full() -> None:
        with open_source(path) as source:
            scan_source(source, full=True)

    ours = rate(cells, full, reps)
    limit = min(rows, 200_000)
    python = rate(limit * len(COLUMNS), lambda: _python_scan(path, limit), reps)
    say(f"scan: {statistics.median(ours):,.0f} cells/s, Python {statistics.median(python):,.0f}")
    return [
        Result(
            f"scan --full, {rows:,} rows x {len(COLUMNS)} columns CSV, end to end (one core)",
            "cells/s",
            statistics.median(ours),
            ours,
            "Python csv + per-cell checks",
            statistics.median(python),
            1_000_000,
        )
    ]


# -- protect --------------------------------------------------------------------------------------


def bench_protect(path: Path, rows: int, reps: int, work: Path) -> list[Result]:
    """`shugu privacy protect` in a child process, timed end to end, peak RSS read; once pinned
    to one core and once on every core of the machine."""
    profile = work / "profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    home = work / "home"
    env = os.environ | {"SHUGU_HOME": str(home), "POLARS_MAX_THREADS": "1"}
    shugu = [sys.executable, "-m", "shugu"]
    if not home.exists():
        subprocess.run([*shugu, "init"], env=env, check=True, capture_output=True)  # noqa: S603
        keygen = [*shugu, "privacy", "keygen", "clinic"]
        subprocess.run(keygen, env=env, check=True, capture_output=True)  # noqa: S603
    results: list[Result] = []
    for cores in (1, len(ALL_CPUS) or 1):
        child_env = dict(env)
        if cores > 1:
            child_env.pop("POLARS_MAX_THREADS")
        rates, peaks = [], []
        for rep in range(reps):
            out = work / f"protected-{rep}.parquet"
            command = [
                *shugu,
                "privacy",
                "protect",
                str(path),
                "--profile",
                str(profile),
                "--out",
                str(out),
                "--key-from",
                "clinic",
                "--json",
            ]
            log = work / "protect.log"
            with log.open("wb") as sink:
                start = time.perf_counter()
                child = subprocess.Popen(  # noqa: S603
                    command,
                    env=child_env,
                    stdout=sink,
                    stderr=sink,
                    preexec_fn=_on_cores(cores),
                )
                _, status, usage = os.wait4(child.pid, 0)
                elapsed = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"protect failed: {log.read_text(errors='replace')[-2000:]}")
            peaks.append(usage.ru_maxrss / 1024)
            rates.append(rows / elapsed)
            out.unlink()
            say(
                f"protect on {cores} core(s), rep {rep + 1}: {rows / elapsed:,.0f} rows/s, "
                f"peak RSS {peaks[-1]:,.0f} MiB"
            )
        results.append(
            Result(
                f"protect, {rows:,}-row 12-column CSV to Parquet, end to end incl. start-up "
                f"({cores} core{'s' if cores > 1 else ''})",
                "rows/s",
                statistics.median(rates),
                rates,
                "Python csv + hmac loop (one core)",
                None,
                1_000_000,
            )
        )
        results.append(Result(f"protect peak RSS ({cores} cores)", "MiB", max(peaks), peaks))
    limit = min(rows, 200_000)
    python = rate(limit, lambda: _python_protect(path, limit, work / "python.csv"), 1)
    baseline = statistics.median(python)
    return [
        Result(r.measure, r.unit, r.value, r.reps, r.baseline_name, baseline, r.target)
        if r.unit == "rows/s"
        else r
        for r in results
    ]


def _on_cores(cores: int) -> Callable[[], None]:
    """A pre-exec hook giving the child `cores` CPUs (the benchmark itself runs on one)."""
    chosen = set(ALL_CPUS[:cores]) if ALL_CPUS else set()

    def apply() -> None:
        if chosen and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, chosen)

    return apply


def _python_protect(path: Path, limit: int, out: Path) -> None:
    import csv

    secret = b"k" * 43
    with path.open(encoding="utf-8", newline="") as src, out.open("w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for number, row in enumerate(reader):
            if number >= limit:
                break
            row[0] = hmac.new(secret, row[0].upper().encode(), hashlib.sha256).hexdigest()[:32]
            row[4] = row[4][:4]
            row[6] = row[6][:4] + "00"
            writer.writerow(row)


# -- report ---------------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    lines = [
        "| Measure | Result | Baseline (same run) | Ratio | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        base = f"{r.baseline_name}: {r.baseline:,.0f}" if r.baseline else ""
        ratio = f"{r.ratio:.1f}x" if r.ratio else ""
        target = f">= {r.target:,.0f} {r.unit}" if r.target else ""
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(
            f"| {r.measure} | {r.value:,.0f} {r.unit} | {base} | {ratio} | {target} | {met} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.privacy", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1-million-row files, fewer reps")
    parser.add_argument("--rows", type=int, help="rows of the protect file (default 10,000,000)")
    parser.add_argument("--reps", type=int, help="repetitions (default 5, quick 3)")
    parser.add_argument("--workdir", type=Path, help="where the temporary files go")
    args = parser.parse_args(argv)
    reps = args.reps or (3 if args.quick else 5)
    protect_rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    load = os.getloadavg()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="shugu-bench-") as folder:
        work = Path(folder)
        results += bench_pseudonyms(5_000_000 if not args.quick else 2_000_000, reps)
        results += bench_generalisation(5_000_000 if not args.quick else 2_000_000, reps)
        scan_rows = 1_000_000
        say(f"writing a {scan_rows:,}-row CSV")
        scan_file = write_csv(work / "scan.csv", scan_rows)
        results += bench_scan(scan_file, scan_rows, reps)
        if protect_rows == scan_rows:
            protect_file = scan_file
        else:
            say(f"writing a {protect_rows:,}-row CSV")
            protect_file = write_csv(work / "protect.csv", protect_rows)
        say(f"protect input: {protect_file.stat().st_size / 1e9:.2f} GB")
        results += bench_protect(protect_file, protect_rows, reps, work)
    print(table(results))
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if args.quick else ""
    path = RESULTS / f"privacy-{datetime.now(UTC).date().isoformat()}{suffix}.json"
    record = {
        "environment": {
            "python": platform.python_version(),
            "polars": pl.__version__,
            "pyarrow": pa.__version__,
            "cpu_affinity": sorted(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None,
            "load_average_before": list(load),
            "load_average_after": list(os.getloadavg()),
            "machine": platform.machine(),
        },
        "results": [asdict(r) | {"ratio": r.ratio, "met": r.met} for r in results],
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    say(f"results written to {path}")


if __name__ == "__main__":
    main()

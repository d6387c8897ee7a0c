"""Re-identification risk under the prosecutor, journalist and marketer attacker models.

Records sharing their quasi-identifier values form a class of size f (in the released sample)
and F (in the population the sample is drawn from). Following El Emam & Dankar (2008,
"Protecting privacy using k-anonymity") and ARX's risk analysis:

- **prosecutor** (the attacker knows the target is in the sample): a record's risk is 1/f;
  the highest risk is 1/min f, the average is the number of classes divided by the number of
  records.
- **journalist** (the attacker knows the target is in the population): a record's risk is
  1/F. With a population table, F is counted there (at least f); without one, the sample is
  taken as the population (F = f), which makes journalist and prosecutor risk equal: the
  cautious choice, since F >= f always.
- **marketer** (the attacker re-identifies as many records as possible): the expected share of
  records re-identified, ``(1/n) * sum over classes f/F``; with the sample as population, the
  number of classes over the number of records.

Records at risk: the share of records whose risk exceeds the threshold (0.2 by default, the
risk of a 5-anonymous class). Sample uniqueness: the share of records alone in their class;
population uniqueness: the share alone in the population (only with a population table).

>>> report = risk_of_sizes(np.array([1, 2, 2, 3, 3, 3]))
>>> report.classes, report.prosecutor.highest, round(report.prosecutor.average, 6)
(3, 1.0, 0.5)
>>> round(report.sample_uniqueness, 6)
0.166667
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import polars as pl
import pyarrow as pa

from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.privacy.anonymity.data import FloatArray, IntArray, dense_ids

__all__ = ["RiskMeasures", "RiskReport", "risk", "risk_of_sizes"]

DEFAULT_THRESHOLD = 0.2


@dataclass(frozen=True)
class RiskMeasures:
    """Risk of one attacker model.

    Attributes:
        highest: the highest risk of any record.
        average: the mean risk over records.
        records_at_risk: the share of records whose risk exceeds the threshold.
    """

    highest: float
    average: float
    records_at_risk: float


@dataclass(frozen=True)
class RiskReport:
    """Re-identification risk of a table's records.

    Attributes:
        records: records assessed (suppressed records excluded).
        classes: equivalence classes.
        threshold: the risk above which a record counts as at risk.
        prosecutor: prosecutor-model risk.
        journalist: journalist-model risk.
        marketer: the marketer model's expected share of records re-identified.
        sample_uniqueness: the share of records unique in the sample.
        population_uniqueness: the share unique in the population (None without one).
        population: "sample" when the sample stood in for the population, else "table".
    """

    records: int
    classes: int
    threshold: float
    prosecutor: RiskMeasures
    journalist: RiskMeasures
    marketer: float
    sample_uniqueness: float
    population_uniqueness: float | None
    population: str


def _measures(risks: FloatArray, threshold: float) -> RiskMeasures:
    if risks.size == 0:
        return RiskMeasures(0.0, 0.0, 0.0)
    return RiskMeasures(
        highest=float(risks.max()),
        average=float(risks.mean()),
        records_at_risk=float(np.count_nonzero(risks > threshold) / risks.size),
    )


def risk_of_sizes(
    sample: IntArray,
    population: IntArray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> RiskReport:
    """The risk report of records given the size of each record's class.

    Args:
        sample: per record, the size of its class in the sample.
        population: per record, the size of its class in the population (None: the sample).
        threshold: the risk above which a record is at risk.
    """
    f = sample.astype(np.float64)
    big_f = f if population is None else np.maximum(population.astype(np.float64), f)
    n = f.size
    classes = float((1.0 / f).sum()) if n else 0.0
    return RiskReport(
        records=n,
        classes=round(classes),
        threshold=threshold,
        prosecutor=_measures(1.0 / f, threshold),
        journalist=_measures(1.0 / big_f, threshold),
        marketer=float((1.0 / big_f).mean()) if n else 0.0,
        sample_uniqueness=float(np.count_nonzero(f == 1) / n) if n else 0.0,
        population_uniqueness=None
        if population is None
        else (float(np.count_nonzero(big_f == 1) / n) if n else 0.0),
        population="sample" if population is None else "table",
    )


def _frame(table: pl.DataFrame | pa.Table) -> pl.DataFrame:
    if isinstance(table, pa.Table):
        return cast(pl.DataFrame, pl.from_arrow(table))  # a table gives a frame
    return table


def _check_columns(frame: pl.DataFrame, qi: Sequence[str]) -> None:
    if not qi:
        raise InvalidInputError(N_("name at least one quasi-identifier"))
    for name in qi:
        if name not in frame.columns:
            raise NotFoundError(
                N_("column {column} not found (columns: {columns})"),
                column=name,
                columns=", ".join(frame.columns),
            )


def _class_ids(frame: pl.DataFrame, qi: Sequence[str]) -> tuple[IntArray, int]:
    codes, cards = [], []
    for name in qi:
        text = frame[name].cast(pl.String).fill_null("\x00null")
        physical = text.rank("dense").to_numpy().astype(np.int64) - 1
        codes.append(physical)
        cards.append(int(physical.max()) + 1 if physical.size else 1)
    return dense_ids(codes, cards)


def risk(
    table: pl.DataFrame | pa.Table,
    qi: Sequence[str],
    *,
    population: pl.DataFrame | pa.Table | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> RiskReport:
    """Re-identification risk of `table`'s records with respect to the quasi-identifiers `qi`.

    Args:
        table: the sample (a released or to-be-released table).
        qi: the quasi-identifier columns.
        population: a table of the population with the same columns; None takes the sample.
        threshold: the risk above which a record is at risk (0 to 1).

    Raises:
        NotFoundError: a column is missing.
        InvalidInputError: no quasi-identifier, or a threshold outside 0..1.
    """
    if not 0 <= threshold <= 1:
        raise InvalidInputError(
            N_("the risk threshold must be between 0 and 1, not {threshold}"), threshold=threshold
        )
    frame = _frame(table)
    _check_columns(frame, qi)
    ids, n = _class_ids(frame, qi)
    sizes = np.bincount(ids, minlength=n)[ids]
    if population is None:
        return risk_of_sizes(sizes, None, threshold)
    people = _frame(population)
    _check_columns(people, qi)
    keys = [pl.col(c).cast(pl.String) for c in qi]
    counts = people.group_by(keys).agg(pl.len().alias("__size"))
    joined = frame.select(keys).join(
        counts, on=list(qi), how="left", nulls_equal=True, maintain_order="left"
    )
    pop = joined["__size"].fill_null(0).to_numpy().astype(np.int64)
    return risk_of_sizes(sizes, pop, threshold)

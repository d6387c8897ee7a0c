"""Optimal anonymisation by global recoding: k-anonymity, l-diversity, t-closeness, risk.

The engine finds, over the full lattice of generalisation levels given by ARX-style
hierarchies, the transformation of least information loss whose release satisfies the privacy
models with at most a given share of records suppressed, with ARX's definitions of the models
and metrics, and measures re-identification risk before and after.

Modules: `hierarchies` (ARX hierarchy tables), `data` (integer encoding, mixed-radix keys),
`models` (privacy models), `metrics` (information loss), `search` (the lattice search), `risk`
(prosecutor, journalist, marketer risk) and `service` (`anonymize`, the operation callers use).

>>> import polars as pl
>>> table = pl.DataFrame({"age": ["31", "32", "33", "34"], "zip": ["a", "a", "b", "b"]})
>>> age = Hierarchy.from_rows([["31", "31-32", "*"], ["32", "31-32", "*"],
...                            ["33", "33-34", "*"], ["34", "33-34", "*"]])
>>> zips = Hierarchy.from_rows([["a", "*"], ["b", "*"]])
>>> result = anonymize(table, ["age", "zip"], {"age": age, "zip": zips},
...                    models=[KAnonymity(2)], metric="loss")
>>> result.transformation, result.suppressed, round(result.information_loss, 4)
({'age': 1, 'zip': 0}, 0, 0.1547)
>>> result.table["age"].to_list()
['31-32', '31-32', '33-34', '33-34']
"""

from shugu.privacy.anonymity.hierarchies import (
    Hierarchy,
    HierarchyLike,
    coerce_hierarchy,
    read_hierarchies,
)
from shugu.privacy.anonymity.metrics import Metric
from shugu.privacy.anonymity.models import (
    DistinctLDiversity,
    EntropyLDiversity,
    EqualDistanceTCloseness,
    HierarchicalTCloseness,
    KAnonymity,
    PrivacyModel,
    RecursiveCLDiversity,
)
from shugu.privacy.anonymity.risk import RiskMeasures, RiskReport, risk
from shugu.privacy.anonymity.service import AnonymizationResult, anonymize

__all__ = [
    "AnonymizationResult",
    "DistinctLDiversity",
    "EntropyLDiversity",
    "EqualDistanceTCloseness",
    "HierarchicalTCloseness",
    "Hierarchy",
    "HierarchyLike",
    "KAnonymity",
    "Metric",
    "PrivacyModel",
    "RecursiveCLDiversity",
    "RiskMeasures",
    "RiskReport",
    "anonymize",
    "coerce_hierarchy",
    "read_hierarchies",
    "risk",
]

"""Catalog vocabulary and the views the catalog service returns.

A **product** (数据产品) has a stable id and persistent identifier; its content lives in numbered
**versions**. Each version goes through the listing workflow on its own; a product is visible to
everyone while one of its versions is `listed`. A new version keeps the product's id, identifier and
table name; when it is approved, the version it replaces is delisted as superseded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

__all__ = [
    "TRANSITIONS",
    "CheckResult",
    "Column",
    "Contact",
    "Offer",
    "Price",
    "Product",
    "ProductKind",
    "ProductState",
    "Quality",
    "Sample",
    "Temporal",
    "Text",
    "Transition",
    "UpdateFrequency",
]


class ProductKind(StrEnum):
    """What a product is. Services and compute offerings are `dcat:DataService` in DCAT-AP;
    datasets, models and applications are `dcat:Dataset` (with `dct:type`)."""

    DATASET = "dataset"
    DATA_SERVICE = "data_service"
    MODEL = "model"
    APPLICATION = "application"
    COMPUTE = "compute"


class ProductState(StrEnum):
    """Where a product version stands in the listing workflow (挂牌流程)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    LISTED = "listed"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    DELISTED = "delisted"


class Transition(StrEnum):
    """The workflow's moves, named as the CLI and API name them."""

    SUBMIT = "submit"
    REVIEW = "review"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    DELIST = "delist"


TRANSITIONS: dict[Transition, tuple[frozenset[ProductState], ProductState]] = {
    Transition.SUBMIT: (
        frozenset({ProductState.DRAFT, ProductState.CHANGES_REQUESTED}),
        ProductState.SUBMITTED,
    ),
    Transition.REVIEW: (frozenset({ProductState.SUBMITTED}), ProductState.IN_REVIEW),
    Transition.APPROVE: (frozenset({ProductState.IN_REVIEW}), ProductState.LISTED),
    Transition.REJECT: (frozenset({ProductState.IN_REVIEW}), ProductState.REJECTED),
    Transition.REQUEST_CHANGES: (
        frozenset({ProductState.IN_REVIEW}),
        ProductState.CHANGES_REQUESTED,
    ),
    Transition.SUSPEND: (frozenset({ProductState.LISTED}), ProductState.SUSPENDED),
    Transition.REINSTATE: (frozenset({ProductState.SUSPENDED}), ProductState.LISTED),
    Transition.DELIST: (
        frozenset({ProductState.LISTED, ProductState.SUSPENDED}),
        ProductState.DELISTED,
    ),
}
"""Each move: the states it may start from, and the state it leads to. A submission whose
automated checks fail does not move (the version stays where it was)."""


class UpdateFrequency(StrEnum):
    """How often a product is updated (mapped to the EU frequency vocabulary in DCAT-AP)."""

    CONTINUOUS = "continuous"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    IRREGULAR = "irregular"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Text:
    """A text in both languages of the space."""

    zh: str
    en: str

    def to_json(self) -> dict[str, str]:
        """`{"zh": ..., "en": ...}`."""
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True, slots=True)
class Contact:
    """Who answers questions about a product. `country` is ISO 3166-1 alpha-2."""

    name: str
    email: str
    country: str = "CN"


@dataclass(frozen=True, slots=True)
class Temporal:
    """The period the data covers (either end may be open)."""

    start: date | None
    end: date | None


@dataclass(frozen=True, slots=True)
class Price:
    """A price: an exact decimal amount in a currency (ISO 4217) per unit of use."""

    amount: Decimal
    currency: str
    unit: str
    """`per_job`, `per_query`, `per_month`, `per_year`, `per_row`, `once` or `free`."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a dataset as the catalog shows it.

    `label` is the detected personal-data label (`shugu.privacy.labels.Label` token) or None;
    `grade` is the column's sub-level from the grading catalogue.
    """

    name: str
    type: str
    label: str | None
    grade: int
    personal: bool = False
    sensitive: bool = False


@dataclass(frozen=True, slots=True)
class Quality:
    """Quality measures computed from the data by the holder's connector, each in [0, 1]
    (None when a measure does not apply, e.g. timeliness without a date column)."""

    completeness: float | None
    validity: float | None
    uniqueness: float | None
    timeliness: float | None
    consistency: float | None
    rows: int
    measured_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The measures as JSON (datetimes ISO 8601)."""
        return {
            "completeness": self.completeness,
            "validity": self.validity,
            "uniqueness": self.uniqueness,
            "timeliness": self.timeliness,
            "consistency": self.consistency,
            "rows": self.rows,
            "measured_at": None if self.measured_at is None else self.measured_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Sample:
    """Protected sample rows: what a profile made of the first rows, values as text."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]
    profile: str | None = None
    """The protection profile's name."""


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer: an ODRL policy document (JSON-LD) under which the product may be contracted."""

    id: str
    policy: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One automated check of a submission."""

    name: str
    """`sample_identifiers`, `declared_grade`, `required_metadata`, `cross_border`, ..."""
    passed: bool
    message: str
    """English template (`N_`), rendered with `params`."""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Product:
    """One version of a product, as the catalog service returns it."""

    id: str
    identifier: str
    """Persistent identifier under the space's prefix (resolvable at `/id/{identifier}`)."""
    table: str
    """The name a job's SQL uses for the product: lower-case ASCII, unique in the space."""
    kind: ProductKind
    holder_id: str
    holder_name: str
    version: int
    state: ProductState
    title: Text
    description: Text
    keywords: tuple[str, ...]
    themes: tuple[str, ...]
    contact: Contact
    licence: str
    temporal: Temporal | None
    spatial: tuple[str, ...]
    """Regions covered: ISO 3166-1 alpha-2 or ISO 3166-2 codes (`CN`, `CN-ZJ`)."""
    update_frequency: UpdateFrequency
    declared_grade: str
    """The grade the holder declares (`general`, `important`, `core`)."""
    detected_grade: str
    """The grade the detected labels imply."""
    cross_border: bool
    price: Price | None
    schema: tuple[Column, ...]
    quality: Quality | None
    sample: Sample | None
    offers: tuple[Offer, ...]
    checks: tuple[CheckResult, ...]
    created_at: datetime
    updated_at: datetime
    listed_at: datetime | None
    """When this version was (last) listed."""
    delisted_at: datetime | None
    reason: str | None
    """The last reviewer's or operator's reason (rejection, changes, suspension, delisting)."""
    dataset: str | None = None
    """The connector dataset the version was drafted from (its name in the holder's home)."""

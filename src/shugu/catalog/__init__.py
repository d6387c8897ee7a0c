"""The catalog: data products, the listing workflow, persistent identifiers, search, and the
catalog in the standards other data spaces read (DCAT-AP 3, the Dataspace Protocol)."""

from shugu.catalog.models import (
    TRANSITIONS,
    CheckResult,
    Column,
    Contact,
    Offer,
    Price,
    Product,
    ProductKind,
    ProductState,
    Quality,
    Sample,
    Temporal,
    Text,
    Transition,
    UpdateFrequency,
)

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

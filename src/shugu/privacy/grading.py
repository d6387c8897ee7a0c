"""Grades for columns and datasets, from grading catalogues kept as data files.

GB/T 43697-2024 grades data as core (核心), important (重要) or general (一般); general data is
split into sub-levels that industry catalogues define. A catalogue
(`reference/grading/<id>.toml`, with its citation) gives:

- the sub-level of a column from its classification (`sensitive`, `personal`, `organisation`,
  `none`), with per-label overrides;
- escalation rules that lift the whole dataset to `important` at a scale (rows holding sensitive
  or any personal information).

A dataset's grade is the highest column sub-level unless a rule escalates it. Core data is never
assigned automatically: only the competent authority designates it. Grades are ASCII tokens
(`general`, `important`, `core`) in JSON; people see them translated (`describe_grade`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.privacy.labels import CLASSIFICATION, Label

__all__ = [
    "Catalogue",
    "ColumnGrade",
    "DatasetGrade",
    "Grade",
    "catalogue_names",
    "describe_grade",
    "load_catalogue",
]


class Grade(StrEnum):
    """The three levels of GB/T 43697-2024."""

    GENERAL = "general"
    IMPORTANT = "important"
    CORE = "core"


_GRADE_NAMES = {
    Grade.GENERAL: N_("general data"),
    Grade.IMPORTANT: N_("important data"),
    Grade.CORE: N_("core data"),
}


def describe_grade(grade: Grade) -> str:
    """The grade's name for people, as an `N_` template."""
    return _GRADE_NAMES[grade]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Header(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    title_en: str
    title_zh: str
    citation: str


class _ColumnLevels(_Strict):
    sensitive: int = Field(ge=1, le=9)
    personal: int = Field(ge=1, le=9)
    organisation: int = Field(ge=1, le=9)
    none: int = Field(ge=1, le=9)


class _Escalation(_Strict):
    when: Literal["sensitive_rows", "personal_rows"]
    at_least: int = Field(ge=1)
    grade: Literal["important"]


class Catalogue(_Strict):
    """One grading catalogue, as read from its TOML file."""

    catalogue: _Header
    column: _ColumnLevels
    labels: dict[Label, int] = Field(default_factory=dict)
    escalate: list[_Escalation] = Field(default_factory=list)

    @property
    def id(self) -> str:
        """The catalogue's identifier (its file stem)."""
        return self.catalogue.id

    def column_level(self, label: Label | None) -> int:
        """The general-data sub-level of a column of `label` values (None: nothing found)."""
        if label is None:
            return self.column.none
        if label in self.labels:
            return self.labels[label]
        kind = CLASSIFICATION[label]
        if kind.sensitive:
            return self.column.sensitive
        if kind.personal:
            return self.column.personal
        return self.column.organisation

    def grade(self, columns: list[ColumnGrade], rows: int) -> DatasetGrade:
        """The dataset's grade from its columns' grades and its row count."""
        level = max((c.level for c in columns), default=self.column.none)
        facts = {
            "sensitive_rows": rows if any(c.sensitive for c in columns) else 0,
            "personal_rows": rows if any(c.personal for c in columns) else 0,
        }
        reasons = [
            f"{rule.when} >= {rule.at_least}"
            for rule in self.escalate
            if facts[rule.when] >= rule.at_least
        ]
        grade = Grade.IMPORTANT if reasons else Grade.GENERAL
        return DatasetGrade(grade, level, self.id, tuple(reasons))


@dataclass(frozen=True, slots=True)
class ColumnGrade:
    """A column's classification and general-data sub-level.

    Attributes:
        reasons: why the grade is above what the column's own label gives: ASCII tokens such as
            ``labels_in_text: cn_mobile, cn_resident_id`` (free text holding identifiers).
    """

    personal: bool
    sensitive: bool
    gdpr_special: bool
    level: int
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        label: Label | None,
        catalogue: Catalogue,
        in_text: Mapping[Label, int] | None = None,
    ) -> ColumnGrade:
        """Grade a column by what it holds: its values' `label` (None when nothing was found)
        and the identifiers found inside its text (`in_text`, label to count).

        A column whose text holds identifiers gets at least the classification and sub-level the
        most sensitive of them would give a column of such values.
        """
        own = cls._of_label(label, catalogue)
        found = sorted(lb for lb, n in (in_text or {}).items() if n > 0)
        if not found:
            return own
        grades = [cls._of_label(lb, catalogue) for lb in found]
        lifted = cls(
            any(g.personal for g in grades) or own.personal,
            any(g.sensitive for g in grades) or own.sensitive,
            any(g.gdpr_special for g in grades) or own.gdpr_special,
            max([own.level, *(g.level for g in grades)]),
        )
        if lifted == own:
            return own
        reason = "labels_in_text: " + ", ".join(str(lb) for lb in found)
        return cls(lifted.personal, lifted.sensitive, lifted.gdpr_special, lifted.level, (reason,))

    @classmethod
    def _of_label(cls, label: Label | None, catalogue: Catalogue) -> ColumnGrade:
        if label is None:
            return cls(False, False, False, catalogue.column_level(None))
        kind = CLASSIFICATION[label]
        return cls(kind.personal, kind.sensitive, kind.gdpr_special, catalogue.column_level(label))


@dataclass(frozen=True, slots=True)
class DatasetGrade:
    """A dataset's grade: the GB/T 43697 level, the general-data sub-level, why it escalated."""

    grade: Grade
    level: int
    catalogue: str
    reasons: tuple[str, ...]


def _grading_folder() -> Path:
    return Path(str(resources.files(__package__).joinpath("reference", "grading")))


def catalogue_names() -> list[str]:
    """The identifiers of the bundled catalogues."""
    return sorted(p.stem for p in _grading_folder().glob("*.toml"))


def load_catalogue(name_or_path: str = "default") -> Catalogue:
    """Load a bundled catalogue by id, or a catalogue file by path.

    Raises:
        NotFoundError: no such catalogue.
        InvalidInputError: the file is not a valid catalogue (the message names the field).
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        return _bundled(name_or_path)
    return _read(path, name_or_path)


@cache
def _bundled(name: str) -> Catalogue:
    path = _grading_folder() / f"{name}.toml"
    if not path.is_file() or not name.replace("-", "").replace("_", "").isalnum():
        raise NotFoundError(
            N_("no grading catalogue {name} (bundled: {known})"),
            name=name,
            known=", ".join(catalogue_names()),
        )
    return _read(path, name)


def _read(path: Path, name_or_path: str) -> Catalogue:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFoundError(
            N_("no grading catalogue {name} (bundled: {known})"),
            name=name_or_path,
            known=", ".join(catalogue_names()),
        ) from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(
            N_("cannot read grading catalogue {path}: {reason}"), path=str(path), reason=str(exc)
        ) from exc
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInputError(
            N_("grading catalogue {path}: {field}: {reason}"),
            path=str(path),
            field=".".join(str(p) for p in first["loc"]),
            reason=first["msg"],
        ) from exc

"""Protection profiles: which transform each column gets, read from TOML or JSON.

A profile is checked completely before any data is read: its shape when loaded (`load_profile`),
its columns against the input's column names (`Profile.check_columns`), its hierarchies and keys
when built into a chain (`Profile.build`). Every error names the profile, the step (numbered from
1 in file order), its column and the field at fault.

.. code-block:: toml

    [profile]
    name = "clinic-visits"
    unlisted = "drop"            # columns no step names: "drop" (default) or "keep"

    [[steps]]
    column = "patient_id"
    transform = "pseudonymize"   # pseudonymize|mask|generalize|suppress|top_bottom_code|
    length = 32                  # date_shift|redact|drop|keep|pep_encrypt

    [[steps]]
    column = "notes"
    transform = "redact"         # identifiers inside free text
    labels = ["cn_resident_id", "cn_mobile"]   # default: every direct identifier
    mode = "placeholder"         # or "pseudonym" (needs the holder key)

    [[steps]]
    column = "age"
    transform = "generalize"
    hierarchy = "age"
    level = 1

Steps run in file order, each seeing the previous one's output; several steps may name one
column (top-code, then generalise). ``keep`` passes a column through unchanged (needed when
``unlisted = "drop"``) and stands alone; nothing may follow a ``drop`` of the same column; a
``date_shift`` comes before other steps on its date column. Date shifts run first whatever
their place, so they key on the subject's raw value even if a step pseudonymises it.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator
from pydantic_core import ErrorDetails

from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.privacy.hierarchy import HierarchyRegistry
from shugu.privacy.keys import PseudonymKey
from shugu.privacy.transforms import (
    MAX_LENGTH,
    MAX_SHIFT_DAYS,
    MIN_LENGTH,
    Chain,
    Step,
    make_date_shift,
    make_drop,
    make_generalize,
    make_keep,
    make_mask,
    make_pep_encrypt,
    make_pseudonymize,
    make_redact,
    make_suppress,
    make_top_bottom_code,
    redactable_labels,
    shorten_names,
)

__all__ = [
    "TRANSFORMS",
    "DateShiftSpec",
    "DropSpec",
    "GeneralizeSpec",
    "KeepSpec",
    "MaskSpec",
    "Profile",
    "ProfileHeader",
    "PseudonymizeSpec",
    "RedactSpec",
    "StepSpec",
    "SuppressSpec",
    "TopBottomCodeSpec",
    "load_profile",
    "parse_profile",
]

TRANSFORMS = (
    "pseudonymize",
    "mask",
    "generalize",
    "suppress",
    "top_bottom_code",
    "date_shift",
    "drop",
    "keep",
    "pep_encrypt",
    "redact",
)
_MISSING_COLUMN = N_(
    "profile {profile}, step {step}: column {column} is not in the data (columns: {known})"
)
_NO_PEP_KEY = N_(
    "profile {profile}, step {step} (column {column}): pep_encrypt needs the space's PEP public"
    " key (--pep-public-key), and none was given"
)
_NO_KEY = N_(
    "profile {profile}, step {step} (column {column}): {transform} needs a pseudonym key,"
    " and none was given"
)
_UNKNOWN_HIERARCHY = N_(
    "profile {profile}, step {step} (column {column}): unknown hierarchy {hierarchy}"
    " (known: {known})"
)
_LEVEL_RANGE = N_(
    "profile {profile}, step {step} (column {column}): level {level} is out of range"
    " for hierarchy {hierarchy} (0 to {top})"
)
_AFTER_DROP = N_(
    "profile {profile}, step {step} (column {column}): step {earlier} already drops this column"
)
_KEEP_ALONE = N_(
    "profile {profile}, step {step} (column {column}): keep cannot be combined with"
    " step {earlier} on the same column"
)
_SHIFT_FIRST = N_(
    "profile {profile}, step {step} (column {column}): the date shift must come before"
    " step {earlier}, which rewrites this column"
)
_UNKNOWN_TRANSFORM = N_(
    "profile {profile}, step {step} (column {column}): unknown transform {transform}"
    " (use one of {allowed})"
)
_NO_BOUND = N_(
    "profile {profile}, step {step} (column {column}): top_bottom_code needs bottom, top or both"
)
_NOT_A_STEP = N_(
    "profile {profile}, step {step}: a step must be a table with column, transform and"
    " the transform's fields"
)
_NOT_A_PROFILE = N_("profile {profile}: the file must hold a [profile] table and [[steps]]")
_UNKNOWN_LABEL = N_(
    "profile {profile}, step {step} (column {column}): redact cannot find label {label}"
    " in text (use one of {allowed})"
)
_FIELD_MISSING = N_("profile {profile}, step {step} (column {column}): field {field} is missing")
_FIELD_UNKNOWN = N_(
    "profile {profile}, step {step} (column {column}): unknown field {field}"
    " for transform {transform}"
)
_FIELD_INVALID = N_(
    "profile {profile}, step {step} (column {column}): field {field} is invalid: {detail}"
)

# -- the file's shape ----------------------------------------------------------------------------


class _RuleError(ValueError):
    """A rule broken inside validation (pydantic wraps it), turned into an InvalidInputError."""

    def __init__(self, message: str, step: int | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.step = step
        self.params = params


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProfileHeader(_Strict):
    """The ``[profile]`` table."""

    name: str = Field(min_length=1, max_length=200)
    unlisted: Literal["keep", "drop"] = "drop"
    description: str | None = None


class _StepSpec(_Strict):
    column: str = Field(min_length=1)


class PseudonymizeSpec(_StepSpec):
    """``transform = "pseudonymize"``: keyed HMAC-SHA256 pseudonyms (`make_pseudonymize`)."""

    transform: Literal["pseudonymize"]
    length: int = Field(32, ge=MIN_LENGTH, le=MAX_LENGTH)


class MaskSpec(_StepSpec):
    """``transform = "mask"``: hide characters (`make_mask`)."""

    transform: Literal["mask"]
    keep_first: int = Field(0, ge=0, le=1_000)
    keep_last: int = Field(0, ge=0, le=1_000)
    char: str = Field("*", min_length=1, max_length=1)


class GeneralizeSpec(_StepSpec):
    """``transform = "generalize"``: a hierarchy level (`make_generalize`)."""

    transform: Literal["generalize"]
    hierarchy: str = Field(min_length=1)
    level: int = Field(ge=0)


class SuppressSpec(_StepSpec):
    """``transform = "suppress"``: replace all or the listed values (`make_suppress`)."""

    transform: Literal["suppress"]
    values: list[str | int] | None = None
    replacement: str | None = "*"


_Bound = int | float | Annotated[dt.date, Strict(False)]


class TopBottomCodeSpec(_StepSpec):
    """``transform = "top_bottom_code"``: clip to bounds (`make_top_bottom_code`).

    Bounds are numbers or dates (TOML dates, or ISO text in JSON).
    """

    transform: Literal["top_bottom_code"]
    bottom: _Bound | None = None
    top: _Bound | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> TopBottomCodeSpec:
        if self.bottom is None and self.top is None:
            raise _RuleError(_NO_BOUND, column=self.column)
        return self


class DateShiftSpec(_StepSpec):
    """``transform = "date_shift"``: shift dates per subject (`make_date_shift`)."""

    transform: Literal["date_shift"]
    subject: str = Field(min_length=1)
    max_days: int = Field(ge=1, le=MAX_SHIFT_DAYS)


class RedactSpec(_StepSpec):
    """``transform = "redact"``: replace identifiers inside free text (`make_redact`)."""

    transform: Literal["redact"]
    labels: list[str] | None = None
    mode: Literal["placeholder", "pseudonym"] = "placeholder"
    length: int = Field(32, ge=MIN_LENGTH, le=MAX_LENGTH)

    @model_validator(mode="after")
    def _known_labels(self) -> RedactSpec:
        allowed = [str(lb) for lb in redactable_labels()]
        for label in self.labels or []:
            if label not in allowed:
                raise _RuleError(
                    _UNKNOWN_LABEL, column=self.column, label=label, allowed=", ".join(allowed)
                )
        if self.labels == []:
            raise _RuleError(
                _FIELD_INVALID, column=self.column, field="labels", detail="no label given"
            )
        return self


class DropSpec(_StepSpec):
    """``transform = "drop"``: remove the column."""

    transform: Literal["drop"]


class PepEncryptSpec(_StepSpec):
    """``transform = "pep_encrypt"``: encrypt identifiers for polymorphic pseudonymisation."""

    transform: Literal["pep_encrypt"]


class KeepSpec(_StepSpec):
    """``transform = "keep"``: pass the column through unchanged."""

    transform: Literal["keep"]


StepSpec = Annotated[
    PseudonymizeSpec
    | MaskSpec
    | GeneralizeSpec
    | SuppressSpec
    | TopBottomCodeSpec
    | DateShiftSpec
    | DropSpec
    | KeepSpec
    | PepEncryptSpec
    | RedactSpec,
    Field(discriminator="transform"),
]


# -- the profile ---------------------------------------------------------------------------------


class Profile(_Strict):
    """A protection profile (the whole file). Build it with `load_profile` or `parse_profile`."""

    profile: ProfileHeader
    steps: list[StepSpec] = Field(default_factory=list)

    @property
    def name(self) -> str:
        """The profile's name."""
        return self.profile.name

    @property
    def unlisted(self) -> Literal["keep", "drop"]:
        """What happens to columns no step names."""
        return self.profile.unlisted

    def columns(self) -> list[str]:
        """Every column the profile reads (step columns and date-shift subjects), in order."""
        names: dict[str, None] = {}
        for spec in self.steps:
            names[spec.column] = None
            if isinstance(spec, DateShiftSpec):
                names[spec.subject] = None
        return list(names)

    def check_columns(self, columns: Sequence[str]) -> None:
        """Raise `InvalidInputError` naming the first step whose column the data lacks."""
        present = set(columns)
        for index, spec in enumerate(self.steps, start=1):
            needed = [spec.column] + ([spec.subject] if isinstance(spec, DateShiftSpec) else [])
            for column in needed:
                if column not in present:
                    raise self._error(
                        _MISSING_COLUMN, index, column=column, known=shorten_names(columns)
                    )

    def build(
        self,
        registry: HierarchyRegistry,
        key: PseudonymKey | None,
        pep_public_key: bytes | None = None,
    ) -> Chain:
        """The chain of steps this profile describes, checked against `registry` and `key`.

        With ``unlisted = "drop"`` the chain ends by keeping only the columns the steps name
        (and have not dropped).

        Raises:
            InvalidInputError: an unknown hierarchy, a level out of range, or a pseudonymize or
                date_shift step without a key (naming the step).
        """
        steps = [
            self._step(index, spec, registry, key, pep_public_key)
            for index, spec in enumerate(self.steps, 1)
        ]
        chain = Chain([s for s in steps if s is not None])
        if self.unlisted == "drop":
            chain = Chain([*chain.steps, make_keep(self._kept())])
        return chain

    def output_schema(
        self, schema: Mapping[str, pl.DataType], registry: HierarchyRegistry
    ) -> pl.Schema:
        """The output schema for an input `schema` (checks columns, hierarchies and types)."""
        self.check_columns(list(schema))
        return self.build(registry, PseudonymKey.generate()).output_schema(schema)

    def describe(self) -> dict[str, Any]:
        """The profile for the protect report: name, unlisted, and each step's parameters."""
        steps = [
            {"step": index, **spec.model_dump(mode="json")}
            for index, spec in enumerate(self.steps, start=1)
        ]
        for step in steps:
            if isinstance(step.get("values"), list):
                step["values"] = len(step["values"])  # how many, not which (they may be personal)
        return {"name": self.name, "unlisted": self.unlisted, "steps": steps}

    # -- helpers --

    def _need_key(
        self,
        key: PseudonymKey | None,
        index: int,
        spec: PseudonymizeSpec | DateShiftSpec | RedactSpec,
    ) -> PseudonymKey:
        """`key`, which step `index` (pseudonymize or date_shift) cannot do without."""
        if key is None:
            raise self._error(_NO_KEY, index, column=spec.column, transform=spec.transform)
        return key

    def _error(self, message: str, index: int, **params: Any) -> InvalidInputError:
        return InvalidInputError(message, profile=self.name, step=index, **params)

    def _kept(self) -> list[str]:
        kept: dict[str, None] = {}
        for spec in self.steps:
            if isinstance(spec, DropSpec):
                kept.pop(spec.column, None)
            else:
                kept[spec.column] = None
        return list(kept)

    def _step(
        self,
        index: int,
        spec: Any,
        registry: HierarchyRegistry,
        key: PseudonymKey | None,
        pep_public_key: bytes | None,
    ) -> Step | None:
        column = spec.column
        if isinstance(spec, PepEncryptSpec):
            if pep_public_key is None:
                raise self._error(_NO_PEP_KEY, index, column=column)
            return make_pep_encrypt(column, public_key=pep_public_key)
        match spec:
            case PseudonymizeSpec():
                key = self._need_key(key, index, spec)
                return make_pseudonymize(column, key=key, length=spec.length)
            case MaskSpec():
                return make_mask(column, spec.keep_first, spec.keep_last, spec.char)
            case GeneralizeSpec():
                return self._generalize(index, spec, registry)
            case SuppressSpec():
                return make_suppress(column, values=spec.values, replacement=spec.replacement)
            case TopBottomCodeSpec():
                return make_top_bottom_code(column, bottom=spec.bottom, top=spec.top)
            case DateShiftSpec():
                key = self._need_key(key, index, spec)
                return make_date_shift(
                    column, subject=spec.subject, key=key, max_days=spec.max_days
                )
            case RedactSpec():
                chosen = None if spec.labels is None else tuple(spec.labels)
                if spec.mode == "pseudonym":
                    key = self._need_key(key, index, spec)
                    return make_redact(
                        column, labels=chosen, mode=spec.mode, key=key, length=spec.length
                    )
                return make_redact(column, labels=chosen, length=spec.length)
            case DropSpec():
                return make_drop([column])
        return None  # keep

    def _generalize(self, index: int, spec: GeneralizeSpec, registry: HierarchyRegistry) -> Step:
        if spec.hierarchy not in registry:
            raise self._error(
                _UNKNOWN_HIERARCHY,
                index,
                column=spec.column,
                hierarchy=spec.hierarchy,
                known=", ".join(registry.names()),
            )
        hierarchy = registry.get(spec.hierarchy)
        if spec.level > hierarchy.levels:
            raise self._error(
                _LEVEL_RANGE,
                index,
                column=spec.column,
                level=spec.level,
                hierarchy=spec.hierarchy,
                top=hierarchy.levels,
            )
        return make_generalize(spec.column, hierarchy, spec.level)

    @model_validator(mode="after")
    def _check_order(self) -> Profile:
        _check_order(self.steps)
        return self


def _check_order(steps: Sequence[Any]) -> None:
    """Nothing after a drop; keep alone on its column; a date shift before other steps on its
    column. (A date shift may follow steps on its subject: it keys on the raw subject anyway.)"""
    dropped: dict[str, int] = {}
    rewritten: dict[str, int] = {}
    kept: dict[str, int] = {}
    for index, spec in enumerate(steps, start=1):
        column = spec.column
        if column in dropped:
            raise _RuleError(_AFTER_DROP, index, column=column, earlier=dropped[column])
        clash = kept.get(column)
        if isinstance(spec, KeepSpec):
            clash = clash or rewritten.get(column)
        if clash is not None:
            raise _RuleError(_KEEP_ALONE, index, column=column, earlier=clash)
        if isinstance(spec, DateShiftSpec) and column in rewritten:
            raise _RuleError(_SHIFT_FIRST, index, column=column, earlier=rewritten[column])
        if isinstance(spec, DropSpec):
            dropped[column] = index
        elif isinstance(spec, KeepSpec):
            kept[column] = index
        else:
            rewritten.setdefault(column, index)


# -- loading -------------------------------------------------------------------------------------


def load_profile(path: Path) -> Profile:
    """Read and validate a profile from a ``.toml`` or ``.json`` file.

    Raises:
        NotFoundError: no such file.
        InvalidInputError: unreadable syntax, an unknown transform, a missing or unknown field,
            a wrong type or value, or steps in an impossible order (naming step and field).
    """
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise InvalidInputError(N_("profile {file}: use a .toml or .json file"), file=path.name)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(N_("profile {file} not found"), file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(N_("profile {file} is not UTF-8 text"), file=path.name) from exc
    return parse_profile(text, format="toml" if suffix == ".toml" else "json", source=path.name)


def parse_profile(text: str, *, format: Literal["toml", "json"], source: str = "<text>") -> Profile:
    """Validate a profile given as TOML or JSON text (`source` names it in errors)."""
    data = _decode(text, format, source)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc.errors(), data, source) from None


def _decode(text: str, format: str, source: str) -> Any:
    if format == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(
                N_("profile {file} is not valid TOML: {detail}"), file=source, detail=str(exc)
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            N_("profile {file} is not valid JSON: line {line}, column {col}: {detail}"),
            file=source,
            line=exc.lineno,
            col=exc.colno,
            detail=exc.msg,
        ) from None


def _translate(errors: list[ErrorDetails], data: Any, source: str) -> InvalidInputError:
    """The first validation error as an `InvalidInputError` naming the step and field.

    Errors come in file order; within one place an unknown field wins over a missing one (a
    misspelt field name shows as both).
    """
    first = errors[0]["loc"][:2]
    same_place = [e for e in errors if e["loc"][:2] == first]
    error = next((e for e in same_place if e["type"] == "extra_forbidden"), errors[0])
    loc = error["loc"]
    name = _profile_name(data) or source
    ctx = error.get("ctx") or {}
    rule = ctx.get("error")
    if isinstance(rule, _RuleError):
        step = rule.step if rule.step is not None else int(loc[1]) + 1
        return InvalidInputError(rule.message, **{"profile": name, "step": step, **rule.params})
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        return _step_error(error, data, name, loc[1])
    if not loc:
        return InvalidInputError(_NOT_A_PROFILE, profile=name)
    field = ".".join(str(part) for part in loc)
    if error["type"] == "missing":
        return InvalidInputError(
            N_("profile {profile}: {field} is missing"), profile=name, field=field
        )
    if error["type"] == "extra_forbidden":
        return InvalidInputError(
            N_("profile {profile}: unknown field {field}"), profile=name, field=field
        )
    return InvalidInputError(
        N_("profile {profile}: field {field} is invalid: {detail}"),
        profile=name,
        field=field,
        detail=error["msg"],
    )


def _step_error(error: ErrorDetails, data: Any, profile: str, position: int) -> InvalidInputError:
    loc = error["loc"]
    raw = data["steps"][position] if isinstance(data, dict) else None
    raw = raw if isinstance(raw, dict) else {}
    params = {"profile": profile, "step": position + 1, "column": raw.get("column", "?")}
    kind = error["type"]
    if kind == "union_tag_invalid":
        transform = raw.get("transform")
        allowed = ", ".join(TRANSFORMS)
        return InvalidInputError(_UNKNOWN_TRANSFORM, transform=transform, allowed=allowed, **params)
    if len(loc) <= 3 and kind != "union_tag_not_found":
        return InvalidInputError(_NOT_A_STEP, profile=profile, step=position + 1)
    field = str(loc[3]) if len(loc) > 3 else "transform"
    if kind in ("missing", "union_tag_not_found"):
        return InvalidInputError(_FIELD_MISSING, field=field, **params)
    if kind == "extra_forbidden":
        return InvalidInputError(
            _FIELD_UNKNOWN, field=field, transform=raw.get("transform"), **params
        )
    return InvalidInputError(_FIELD_INVALID, field=field, detail=error["msg"], **params)


def _profile_name(data: Any) -> str | None:
    header = data.get("profile") if isinstance(data, dict) else None
    name = header.get("name") if isinstance(header, dict) else None
    return name if isinstance(name, str) and name else None

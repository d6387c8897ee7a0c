"""The error hierarchy: rendering, pickling, and the API and CLI mapping tables."""

from __future__ import annotations

import pickle

import pytest

from shugu.api.errors import status_for
from shugu.cli.output import exit_code_for
from shugu.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ShuguError,
    UnavailableError,
    error_class_for_code,
)
from shugu.i18n import N_

KINDS = [
    (InvalidInputError, 400, 3),
    (PayloadTooLargeError, 413, 3),
    (AuthenticationError, 401, 5),
    (ForbiddenError, 403, 5),
    (RateLimitedError, 429, 5),
    (NotFoundError, 404, 4),
    (ConflictError, 409, 6),
    (UnavailableError, 503, 7),
    (ShuguError, 500, 1),
]


@pytest.mark.parametrize(("cls", "status", "exit_code"), KINDS, ids=[k[0].__name__ for k in KINDS])
def test_each_kind_has_a_status_and_an_exit_code(
    cls: type[ShuguError], status: int, exit_code: int
) -> None:
    error = cls(N_("participant {participant} not found"), participant="p1")
    assert status_for(error) == status
    assert exit_code_for(error) == exit_code
    assert error_class_for_code(error.code) is cls


def test_exit_codes_are_distinct_per_kind() -> None:
    codes = {
        InvalidInputError: 3,
        NotFoundError: 4,
        ForbiddenError: 5,
        ConflictError: 6,
        UnavailableError: 7,
    }
    assert len(set(codes.values())) == len(codes)


@pytest.mark.parametrize(("cls", "status", "exit_code"), KINDS, ids=[k[0].__name__ for k in KINDS])
def test_errors_survive_pickling_with_their_inputs(
    cls: type[ShuguError], status: int, exit_code: int
) -> None:
    error = cls(N_("participant {participant} not found"), participant="p1")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert copy.params == {"participant": "p1"}
    assert str(copy) == "participant p1 not found"


def test_errors_render_in_chinese() -> None:
    error = NotFoundError(N_("participant {participant} not found"), participant="p1")
    assert error.render("zh_CN") == "未找到参与方 p1"
    assert error.render("en") == "participant p1 not found"


def test_transient_errors_are_marked() -> None:
    assert UnavailableError.transient and RateLimitedError.transient
    assert not InvalidInputError.transient and not ConflictError.transient

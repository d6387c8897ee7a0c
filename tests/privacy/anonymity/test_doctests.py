"""The examples in the anonymity modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "shugu.privacy.anonymity",
    "shugu.privacy.anonymity.data",
    "shugu.privacy.anonymity.hierarchies",
    "shugu.privacy.anonymity.metrics",
    "shugu.privacy.anonymity.risk",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0

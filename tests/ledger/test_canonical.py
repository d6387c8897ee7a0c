"""RFC 8785: our fast path gives exactly the bytes of the reference implementation."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from shugu.errors import InvalidInputError
from shugu.ledger.canonical import canonical_json

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_fast_path_matches_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(InvalidInputError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_keys_sort_by_utf16_code_units_outside_the_bmp() -> None:
    value = {"\U0001f600": 1, "\ufb01": 2}  # UTF-16 puts the surrogate pair first
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).startswith('{"\U0001f600"'.encode())


def test_floats_follow_rfc8785() -> None:
    assert canonical_json({"x": 1.5, "y": 1e21}) == b'{"x":1.5,"y":1e+21}'


@pytest.mark.parametrize("value", [float("nan"), 2**60, "\ud800"])
def test_unrepresentable_values_are_refused(value: object) -> None:
    with pytest.raises(InvalidInputError):
        canonical_json({"v": value})

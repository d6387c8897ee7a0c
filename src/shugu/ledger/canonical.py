"""JSON Canonicalization Scheme (RFC 8785) for ledger entries and signed documents.

`canonical_json` takes a fast path through the standard library when the value cannot be
serialised differently by the two (no floats, integers within ±(2^53 − 1), strings and keys in the
Basic Multilingual Plane, where UTF-16 and code point order agree) and otherwise calls the `rfc8785`
package. A property test checks that both paths give the same bytes.

>>> canonical_json({"b": [1, "二"], "a": None})
b'{"a":null,"b":[1,"\\xe4\\xba\\x8c"]}'
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from shugu.errors import InvalidInputError
from shugu.i18n import N_

_MAX_SAFE = 2**53 - 1
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _bmp(text: str) -> bool:
    return text.isascii() or max(map(ord, text)) <= 0xD7FF or _bmp_slow(text)


def _bmp_slow(text: str) -> bool:
    return all(ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFF for c in text)


def _simple(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return _bmp(value)
    if isinstance(value, int):
        return -_MAX_SAFE <= value <= _MAX_SAFE
    if isinstance(value, list | tuple):
        return all(_simple(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _bmp(k) and _simple(v) for k, v in value.items())
    return False


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises:
        InvalidInputError: the value cannot be represented (NaN, huge integers, bad strings).
    """
    if _simple(value):
        return _encoder.encode(value).encode("utf-8")
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        raise InvalidInputError(
            N_("the value cannot be canonicalised as JSON: {reason}"), reason=str(exc)
        ) from exc

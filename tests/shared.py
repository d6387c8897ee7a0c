"""The `../shared/` folder beside the checkout (conformance material, benchmark data).

Tests that need it call `require_shared`: without it they skip on a developer's machine and fail
in CI (``CI`` set), so a missing folder is never a silent green run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ADULT = SHARED / "data" / "adult"


def require_shared(path: Path) -> Path:
    """`path` (under `SHARED`) if it exists; else fail in CI, skip elsewhere."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have ../shared/ beside the checkout")
        pytest.skip(f"{path} is not there (../shared/ is not beside this checkout)")
    return path

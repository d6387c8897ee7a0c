"""The state folder (`--home` / `SHUGU_HOME`): its layout, the CLI's identities (keyring),
`shugu init`, and encrypted backup and restore.

Only the layout loads with the package; `keyring`, `init` and `backup` are imported where used.
"""

from __future__ import annotations

from shugu.home.layout import Home

__all__ = ["Home"]

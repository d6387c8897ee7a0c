"""The hub's HTTP API: the app factory, routers per domain, auth dependencies, error mapping.

`create_app` and `HubState` are imported on first use, so that the CLI, which only needs small
helpers from this package (`shugu.api.pagination`), does not load FastAPI on every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shugu.api.app import HubState, create_app

__all__ = ["HubState", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from shugu.api import app

        return getattr(app, name)
    raise AttributeError(name)

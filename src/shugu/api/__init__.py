"""The hub's HTTP API: the app factory, routers per domain, auth dependencies, error mapping."""

from shugu.api.app import HubState, create_app

__all__ = ["HubState", "create_app"]

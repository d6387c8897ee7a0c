"""The typed HTTP client of the hub API, used by the CLI, connectors and witnesses (an edge, like
`shugu.api`)."""

from __future__ import annotations

from shugu.client.hub import HubClient, SigningAuth, applicant_auth, raise_for_problem

__all__ = ["HubClient", "SigningAuth", "applicant_auth", "raise_for_problem"]
